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
    fn new(message: impl Into<String>, hint: Option<&str>) -> Self {
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
                        format!("{s:?} is not in normal form ({:?})", v.0),
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

/// Refuses characters that would end or break an LXC config line.
pub fn no_control(value: &str) -> Result<(), Invalid> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(Invalid::new(
            format!("must not contain the control character {c:?}"),
            Some("an LXC config value ends at a newline; control characters cannot be written"),
        ));
    }
    Ok(())
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
                format!("`{value}` is not an absolute path"),
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

/// Joins the components of `value` with single slashes, refusing `..`.
fn normalise(value: &str) -> Result<String, Invalid> {
    let mut parts = Vec::new();
    for part in value.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(Invalid::new(
                    format!("`{value}` contains `..`"),
                    Some("write the path without `..`; scgen does not resolve it for you"),
                ))
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if joined.len() > 4000 {
        return Err(Invalid::new("is longer than a Linux path may be", None));
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
                format!("`{value}` must be relative to the container's rootfs"),
                Some(&format!("write `{}`", value.trim_start_matches('/'))),
            ));
        }
        let p = normalise(value)?;
        if p.is_empty() {
            return Err(Invalid::new("must name a directory below the rootfs", None));
        }
        Ok(RelPath(p))
    }
}

/// A host name for `lxc.uts.name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UtsName(String);
string_value!(UtsName);

impl UtsName {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let ok = (1..=64).contains(&value.len())
            && !value.starts_with('-')
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if ok {
            Ok(UtsName(value.into()))
        } else {
            Err(Invalid::new(
                format!("{value:?} is not a host name"),
                Some("use 1 to 64 letters, digits, `-` or `.`, not starting with `-`"),
            ))
        }
    }
}

/// A network interface name as Linux's `dev_valid_name()` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IfName(String);
string_value!(IfName);

impl IfName {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let ok = (1..=15).contains(&value.len())
            && value != "."
            && value != ".."
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            Ok(IfName(value.into()))
        } else {
            Err(Invalid::new(
                format!("{value:?} is not a network interface name"),
                Some("use 1 to 15 letters, digits, `-`, `_` or `.`"),
            ))
        }
    }
}

/// Signal names (without `SIG`) that LXC's `sig_parse` knows.
pub const SIGNALS: &[&str] = &[
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV",
    "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
    "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR", "SYS",
];

/// A signal as LXC's `sig_parse` takes it: a number, or `SIG` + a name,
/// kept upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Signal(String);
string_value!(Signal);

impl Signal {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        if !value.is_empty() && value.chars().all(|c| c.is_ascii_digit()) {
            return match value.parse::<u32>() {
                Ok(n) if (1..=64).contains(&n) => Ok(Signal(n.to_string())),
                _ => Err(Invalid::new(
                    format!("signal number {value} is out of range"),
                    Some("use 1 to 64"),
                )),
            };
        }
        let upper = value.to_ascii_uppercase();
        let Some(name) = upper.strip_prefix("SIG") else {
            return Err(Invalid::new(
                format!("`{value}` is not a signal LXC accepts"),
                Some("LXC needs the `SIG` prefix, e.g. `SIGKILL`, or a number"),
            ));
        };
        // liblxc's rt_sig_num() wants `MIN+` or `MAX-` and then a digit: a
        // bare SIGRTMIN, or SIGRTMIN++3 (which Rust's u8 parser would
        // take), fails.
        let rt = |base: &str, sign: char| {
            name.strip_prefix(base)
                .and_then(|rest| rest.strip_prefix(sign))
                .is_some_and(|n| {
                    !n.is_empty()
                        && n.bytes().all(|b| b.is_ascii_digit())
                        && n.parse::<u8>().is_ok_and(|n| n <= 30)
                })
        };
        if SIGNALS.contains(&name) || rt("RTMIN", '+') || rt("RTMAX", '-') {
            return Ok(Signal(upper));
        }
        let hint = crate::diag::did_you_mean(name, SIGNALS.iter().copied())
            .map(|s| format!("did you mean `SIG{s}`?"))
            .unwrap_or_else(|| {
                "use e.g. `SIGKILL`, `SIGRTMIN+3`, `SIGRTMAX-1`, or a number from 1 to 64".into()
            });
        Err(Invalid::new(
            format!("`{value}` is not a signal LXC accepts"),
            Some(&hint),
        ))
    }
}

/// The `lxc.mount.auto` tokens scgen accepts (all of them liblxc's).
pub const MOUNT_AUTO: &[&str] = &[
    "proc",
    "proc:mixed",
    "proc:rw",
    "sys",
    "sys:ro",
    "sys:mixed",
    "sys:rw",
    "cgroup",
    "cgroup:mixed",
    "cgroup:ro",
    "cgroup:rw",
    "cgroup:force",
    "cgroup:mixed:force",
    "cgroup:ro:force",
    "cgroup:rw:force",
    "cgroup-full",
    "cgroup-full:mixed",
    "cgroup-full:ro",
    "cgroup-full:rw",
    "cgroup-full:force",
    "cgroup-full:mixed:force",
    "cgroup-full:ro:force",
    "cgroup-full:rw:force",
];

/// One `lxc.mount.auto` token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MountAuto(String);
string_value!(MountAuto);

impl MountAuto {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        if MOUNT_AUTO.contains(&value) {
            return Ok(MountAuto(value.into()));
        }
        let hint = crate::diag::did_you_mean(value, MOUNT_AUTO.iter().copied())
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| "e.g. `proc`, `sys`, `cgroup:mixed`".into());
        Err(Invalid::new(
            format!("`{value}` is not an lxc.mount.auto token"),
            Some(&hint),
        ))
    }
}

/// One field of an fstab line that needs no escaping: a filesystem type or
/// one mount option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FstabWord(String);
string_value!(FstabWord);

impl FstabWord {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let ok = !value.is_empty()
            && value.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '=' | '.' | ':' | '+' | '/')
            });
        if ok {
            Ok(FstabWord(value.to_string()))
        } else {
            Err(Invalid::new(
                format!("{value:?} is not a single fstab word"),
                Some("one option per array item, without spaces, commas or `#`"),
            ))
        }
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
                format!("`{value}` is not an octal file mode"),
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

/// A busybox applet: a file name in `bin/` that busybox answers to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Applet(String);
string_value!(Applet);

impl Applet {
    pub fn parse(name: &str) -> Result<Self, Invalid> {
        if name.is_empty()
            || name == "."
            || name == ".."
            || name.len() > 255
            || name
                .chars()
                .any(|c| c == '/' || c.is_control() || c.is_whitespace())
        {
            return Err(Invalid::new(
                format!("{name:?} is not a file name busybox could answer to"),
                Some("an applet is a file name in bin/: no `/`, spaces or control characters"),
            ));
        }
        Ok(Applet(name.to_string()))
    }

    /// `busybox` itself never gets a link: it would replace the binary's
    /// own mount point.
    pub fn is_busybox(&self) -> bool {
        self.0 == "busybox"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_follow_lxc() {
        let ok = |s: &str| Signal::parse(s).unwrap().to_string();
        assert_eq!(ok("sigkill"), "SIGKILL");
        assert_eq!(ok("9"), "9");
        assert_eq!(ok("SIGRTMIN+3"), "SIGRTMIN+3");
        assert_eq!(ok("sigrtmax-30"), "SIGRTMAX-30");
        // liblxc 5.0.2 refuses these (checked with lxc-info).
        for bad in [
            "SIGRTMIN",
            "SIGRTMAX",
            "SIGRTMIN++3",
            "SIGRTMIN+31",
            "KILL",
            "0",
            "65",
        ] {
            assert!(Signal::parse(bad).is_err(), "{bad}");
        }
        let hint = Signal::parse("SIGKIL").unwrap_err().hint.unwrap();
        assert!(hint.contains("SIGKILL"), "{hint}");
    }

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
