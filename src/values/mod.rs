//! Checked values: the small types every string that reaches an LXC config
//! line, a path on the host or a file name in the rootfs becomes.
//!
//! A leaf module. Each type has one parser, used by the profile loader
//! (which adds the key and the caret) and by serde's `try_from` when the
//! stage reads `stage.toml` (which adds the file name), so build time and
//! run time can never disagree on what a valid value is. Holding the type
//! proves the check was made: nothing that could end, add or comment out
//! a config line gets through.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value was refused, and how to write it instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub message: String,
    pub hint: Option<String>,
}

impl Invalid {
    pub(crate) fn new(message: impl Into<String>, hint: Option<&str>) -> Self {
        Invalid {
            message: message.into(),
            hint: hint.map(str::to_string),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Gives a string newtype its serde form and its `Display`/`AsRef<str>`.
/// The serde form is a plain string that must already be in the parser's
/// normal form: scgen writes it so, and a hand-edited `//usr/local` in a
/// generated file is a sign of tampering, not a path to tidy up.
macro_rules! string_value {
    ($ty:ident) => {
        impl TryFrom<String> for $ty {
            type Error = Invalid;
            fn try_from(s: String) -> Result<Self, Invalid> {
                let v = $ty::parse(&s)?;
                if v.0 != s {
                    return Err(Invalid::new(
                        format!("{:?} is not in normal form ({:?})", short(&s), short(&v.0)),
                        None,
                    ));
                }
                Ok(v)
            }
        }
        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.0
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl $ty {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

// After the macro: `names` uses it.
mod names;
pub use names::{Applet, FstabWord, IfName, MountAuto, Signal, UtsName, MOUNT_AUTO, SIGNALS};
mod idmap;
pub use idmap::{check_map, IdMap, MAX_EXTENTS};
mod security;
pub use security::{
    Capability, CpuMax, DeviceRule, IoRule, Limit, CAPABILITIES, CPU_PERIOD_US, IO_KEYS,
};

/// At most this much of a value is quoted in a message: a 20 MB value must
/// not become 20 MB of error text.
const SHOWN: usize = 64;

/// `value` as a message quotes it: cut at [`SHOWN`] bytes (on a character
/// boundary) with `…` and the full length.
pub fn short(value: &str) -> std::borrow::Cow<'_, str> {
    if value.len() <= SHOWN {
        return value.into();
    }
    let mut end = SHOWN;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &value[..end], value.len()).into()
}

/// Whether `c` ends or breaks a line somewhere: control characters (which
/// include U+0085, VT and FF) and Unicode's line and paragraph separators,
/// which editors and some parsers treat as newlines.
pub fn breaks_line(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Refuses characters that would end or break an LXC config line.
pub fn no_control(value: &str) -> Result<(), Invalid> {
    if let Some(c) = value.chars().find(|c| breaks_line(*c)) {
        return Err(Invalid::new(
            format!("must not contain the control character {c:?}"),
            Some("an LXC config value ends at a newline; control characters cannot be written"),
        ));
    }
    Ok(())
}

/// Directories of the FHS (and their usual binary directories) that must
/// never become a shared bin: the stage fills it with links and
/// placeholders, and binds it over every container's `/bin`; nor a
/// skeleton store, which the stage fills and `skeletons prune` empties.
const SYSTEM_DIRS: &[&str] = &[
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/media",
    "/mnt",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/usr/bin",
    "/usr/games",
    "/usr/include",
    "/usr/lib",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/local",
    "/usr/local/bin",
    "/usr/local/lib",
    "/usr/local/sbin",
    "/usr/local/share",
    "/usr/sbin",
    "/usr/share",
    "/usr/src",
    "/var",
    "/var/lib",
    "/var/local",
    "/var/tmp",
    "/dev/shm",
];

/// `/` and the [`SYSTEM_DIRS`].
pub fn system_dirs() -> impl Iterator<Item = &'static str> {
    std::iter::once("/").chain(SYSTEM_DIRS.iter().copied())
}

/// Whether `dir` is `/` or one of [`SYSTEM_DIRS`].
pub fn is_system_dir(dir: &str) -> bool {
    dir == "/" || SYSTEM_DIRS.contains(&dir)
}

/// A normalised absolute path: no `.`, `..`, empty or trailing components.
/// `/` itself is a valid `AbsPath`; the keys that must not be `/` say so.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AbsPath(String);
string_value!(AbsPath);

impl AbsPath {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        no_control(value)?;
        if !value.starts_with('/') {
            return Err(Invalid::new(
                format!("`{}` is not an absolute path", short(value)),
                Some("write it from the root, e.g. `/usr/local`"),
            ));
        }
        normalise(value).map(|p| AbsPath(format!("/{p}")))
    }

    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// The same path relative to `/` (`usr/local`), as a rootfs target.
    pub fn relative(&self) -> &str {
        &self.0[1..]
    }

    /// `self/rel`.
    pub fn join(&self, rel: &RelPath) -> AbsPath {
        match self.is_root() {
            true => AbsPath(format!("/{rel}")),
            false => AbsPath(format!("{self}/{rel}")),
        }
    }
}

/// Linux's NAME_MAX: the longest file name a directory entry can hold.
pub const NAME_MAX: usize = 255;
/// Linux's PATH_MAX, the terminating NUL included.
pub const PATH_MAX: usize = 4096;

/// Joins the components of `value` with single slashes, refusing `..`,
/// components over NAME_MAX and paths over PATH_MAX (which no system call
/// takes, and which bsdtar and GNU tar cannot extract).
fn normalise(value: &str) -> Result<String, Invalid> {
    let mut parts = Vec::new();
    for part in value.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(Invalid::new(
                    format!("`{}` contains `..`", short(value)),
                    Some("write the path without `..`; scgen does not resolve it for you"),
                ))
            }
            p if p.len() > NAME_MAX => {
                return Err(Invalid::new(
                    format!(
                        "has a component of {} bytes; Linux and tar take at most {NAME_MAX}",
                        p.len()
                    ),
                    Some("shorten that directory or file name"),
                ))
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if joined.len() + 1 > PATH_MAX {
        return Err(Invalid::new(
            format!(
                "is {} bytes long; a Linux path takes at most {}",
                joined.len() + 1,
                PATH_MAX - 1
            ),
            Some("use a shorter path"),
        ));
    }
    Ok(joined)
}

/// A normalised path below the rootfs (`usr/lib`, never `/usr` or `.`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RelPath(String);
string_value!(RelPath);

impl RelPath {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        no_control(value)?;
        if value.starts_with('/') {
            return Err(Invalid::new(
                format!(
                    "`{}` must be relative to the container's rootfs",
                    short(value)
                ),
                Some(&format!("write `{}`", short(value.trim_start_matches('/')))),
            ));
        }
        let p = normalise(value)?;
        if p.is_empty() {
            return Err(Invalid::new("must name a directory below the rootfs", None));
        }
        Ok(RelPath(p))
    }
}

/// A file mode, written as a string of octal digits (`"0777"`) so that TOML
/// cannot read it as a decimal number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mode(u32);

impl Mode {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let digits = value.strip_prefix("0o").unwrap_or(value);
        match u32::from_str_radix(digits, 8) {
            Ok(m) if m <= 0o7777 && (3..=4).contains(&digits.len()) => Ok(Mode(m)),
            _ => Err(Invalid::new(
                format!("`{}` is not an octal file mode", short(value)),
                Some("write it as a string of octal digits, e.g. \"0777\" or \"0755\""),
            )),
        }
    }

    pub fn bits(self) -> u32 {
        self.0
    }
}

impl TryFrom<String> for Mode {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        Mode::parse(&s)
    }
}

impl From<Mode> for String {
    fn from(m: Mode) -> String {
        format!("{:04o}", m.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalise_or_fail() {
        assert_eq!(
            AbsPath::parse("//usr/./local/").unwrap().as_str(),
            "/usr/local"
        );
        assert!(AbsPath::parse("usr").is_err());
        assert!(AbsPath::parse("/usr/../etc").is_err());
        assert!(AbsPath::parse("/a\nlxc.x = 1").is_err());
        assert!(AbsPath::parse("/").unwrap().is_root());
        assert_eq!(RelPath::parse("a//b/").unwrap().as_str(), "a/b");
        assert!(RelPath::parse("/abs").is_err());
        assert!(RelPath::parse(".").is_err());
    }

    #[test]
    fn modes_are_octal_strings_both_ways() {
        assert_eq!(Mode::parse("0777").unwrap().bits(), 0o777);
        assert_eq!(Mode::parse("1777").unwrap().bits(), 0o1777);
        assert_eq!(String::from(Mode::parse("755").unwrap()), "0755");
        assert!(Mode::parse("777777").is_err());
        assert!(Mode::parse("0999").is_err());
    }

    #[test]
    fn serde_uses_the_same_parser() {
        #[derive(Deserialize)]
        struct T {
            #[allow(dead_code)]
            p: AbsPath,
        }
        let e = toml::from_str::<T>("p = \"rel\"").err().unwrap();
        assert!(e.message().contains("not an absolute path"), "{e}");
    }
}
