//! What scgen knows about LXC's config language: the two key dialects, the
//! fstab escaping of mount fields, and the shape of a mount entry line.
//!
//! A leaf module: render (build time) and stage (run time) both write LXC
//! lines, and must write them the same way.

use serde::{Deserialize, Serialize};

/// Which generation of LXC config keys to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// LXC >= 3.0 keys (`lxc.uts.name`, `lxc.net.0.*`): what LXC 5 accepts.
    Lxc3,
    /// LXC 1.x/2.x keys (`lxc.utsname`, `lxc.network.*`), as in the seed.
    Lxc2,
}

/// The config key names of one dialect, by role.
#[derive(Debug, Serialize)]
pub struct Keys {
    pub uts_name: &'static str,
    pub autodev: &'static str,
    pub tty: &'static str,
    pub pty: &'static str,
    pub halt_signal: &'static str,
    pub mount_auto: &'static str,
    pub mount_entry: &'static str,
    pub net_type: &'static str,
    pub net_link: &'static str,
    pub net_name: &'static str,
    pub rootfs: &'static str,
    pub cap_keep: &'static str,
    pub cap_drop: &'static str,
    pub seccomp: &'static str,
    pub no_new_privs: &'static str,
    /// One user-namespace id range (`u|g NSID HOSTID RANGE`).
    pub idmap: &'static str,
    /// The prefix of a cgroup2 controller key (`memory.max` follows).
    pub cgroup2: &'static str,
    /// The prefix of a cgroup v1 controller key.
    pub cgroup: &'static str,
    /// The hook run in the container's mount namespace before its rootfs
    /// is mounted.
    pub hook_pre_mount: &'static str,
}

/// LXC 3.0 renamed these keys (lxc-update-config's table).
const LXC3: Keys = Keys {
    uts_name: "lxc.uts.name",
    autodev: "lxc.autodev",
    tty: "lxc.tty.max",
    pty: "lxc.pty.max",
    halt_signal: "lxc.signal.halt",
    mount_auto: "lxc.mount.auto",
    mount_entry: "lxc.mount.entry",
    net_type: "lxc.net.0.type",
    net_link: "lxc.net.0.link",
    net_name: "lxc.net.0.name",
    rootfs: "lxc.rootfs.path",
    cap_keep: "lxc.cap.keep",
    cap_drop: "lxc.cap.drop",
    seccomp: "lxc.seccomp.profile",
    no_new_privs: "lxc.no_new_privs",
    idmap: "lxc.idmap",
    cgroup2: "lxc.cgroup2.",
    cgroup: "lxc.cgroup.",
    hook_pre_mount: "lxc.hook.pre-mount",
};

const LXC2: Keys = Keys {
    uts_name: "lxc.utsname",
    autodev: "lxc.autodev",
    tty: "lxc.tty",
    pty: "lxc.pts",
    halt_signal: "lxc.haltsignal",
    mount_auto: "lxc.mount.auto",
    mount_entry: "lxc.mount.entry",
    net_type: "lxc.network.type",
    net_link: "lxc.network.link",
    net_name: "lxc.network.name",
    rootfs: "lxc.rootfs",
    cap_keep: "lxc.cap.keep",
    cap_drop: "lxc.cap.drop",
    seccomp: "lxc.seccomp",
    no_new_privs: "lxc.no_new_privs",
    idmap: "lxc.id_map",
    cgroup2: "lxc.cgroup.",
    cgroup: "lxc.cgroup.",
    hook_pre_mount: "lxc.hook.pre-mount",
};

impl Dialect {
    pub fn keys(self) -> &'static Keys {
        match self {
            Dialect::Lxc3 => &LXC3,
            Dialect::Lxc2 => &LXC2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Lxc3 => "lxc3",
            Dialect::Lxc2 => "lxc2",
        }
    }

    /// The rootfs value: LXC 3 wants a `dir:` prefix, since a plain path
    /// holding a `:` is misread as `type:path`.
    pub fn rootfs_value(self, path: &str) -> String {
        match self {
            Dialect::Lxc3 => format!("dir:{path}"),
            Dialect::Lxc2 => path.to_string(),
        }
    }
}

/// The LXC 3+ rootfs value of an overlay: `lowers` read-only below, the
/// first on top, and the container's own `upper` dir over them all. LXC
/// takes the last `:/` as the start of the upper dir and puts overlayfs's
/// work dir beside it. No path may hold `:` (checked by the callers).
pub fn overlay_rootfs(lowers: &[&str], upper: &str) -> String {
    format!("overlay:{}:{upper}", lowers.join(":"))
}

/// A hook's value: LXC runs `exec <value> NAME SECTION TYPE` through
/// `/bin/sh -c`, so a word with anything but `[A-Za-z0-9/._=+:@%,-]` is
/// quoted for the shell. LXC's config parser drops one pair of matching
/// quotes around a whole value (`parse_line` in confile.c): a value that
/// would begin and end with the same quote gets one more pair around it.
pub fn hook_command(words: &[&str]) -> String {
    let plain = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/._=+:@%,-".contains(&b))
    };
    let value = words
        .iter()
        .map(|w| match plain(w) {
            true => w.to_string(),
            false => sh_quote(w),
        })
        .collect::<Vec<_>>()
        .join(" ");
    match (value.chars().next(), value.chars().last()) {
        (Some(a), Some(b)) if a == b && matches!(a, '\'' | '"') => format!("\"{value}\""),
        _ => value,
    }
}

/// `s` as one shell word, whatever it holds.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// LXC's mount tunnel: the `lxc.mount.auto` token that binds `host` on
/// `container` and, after pivot_root, makes it a slave mount
/// (`make_shmount_dependent_mount` in liblxc's conf.c). LXC splits the
/// token list at blanks, the token at its first `:`, and builds an fstab
/// line from the paths unescaped: a path holding any of those, or `\`,
/// cannot be said; the character is the error.
pub fn shmounts(host: &str, container: &str) -> Result<String, char> {
    match host
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, ':' | '\\'))
    {
        Some(c) => Err(c),
        None => Ok(format!("shmounts:{host}:{container}")),
    }
}

/// Escapes one fstab field the way glibc's getmntent reads it back, so a
/// space in a path cannot split the field.
pub fn fstab_escape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    for c in field.chars() {
        match c {
            ' ' => out.push_str("\\040"),
            '\t' => out.push_str("\\011"),
            '\n' => out.push_str("\\012"),
            '\\' => out.push_str("\\134"),
            c => out.push(c),
        }
    }
    out
}

/// Reads one fstab field (or an mtree name, which escapes the same way)
/// back as getmntent does: `\` and three octal digits is that byte;
/// anything else is kept as it is.
pub fn fstab_unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).filter(|d| {
            b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)) && d[0] <= b'3'
        });
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The longest `lxc.mount.entry` value liblxc reads whole. It parses mount
/// entries with getmntent_r() into a 4096-byte buffer, which holds 4095
/// bytes of a line with its newline; a longer entry is cut without a word,
/// and a `bind,ro` cut to `bind` mounts the host directory writable
/// (measured on LXC 5.0.2: 4094 bytes stay read-only, 4100 do not).
pub const MOUNT_ENTRY_MAX: usize = 4094;

/// The value of one `lxc.mount.entry` line, fields escaped.
pub fn mount_entry_value(source: &str, target: &str, fstype: &str, options: &str) -> String {
    format!(
        "{} {} {fstype} {options} 0 0",
        fstab_escape(source),
        fstab_escape(target)
    )
}

/// One `lxc.mount.entry` line (without newline), or the length of its value
/// when that is over [`MOUNT_ENTRY_MAX`].
pub fn mount_entry(
    dialect: Dialect,
    source: &str,
    target: &str,
    fstype: &str,
    options: &str,
) -> Result<String, usize> {
    let value = mount_entry_value(source, target, fstype, options);
    match value.len() <= MOUNT_ENTRY_MAX {
        true => Ok(format!("{} = {value}", dialect.keys().mount_entry)),
        false => Err(value.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_quote_survives_quotes_and_dollars() {
        assert_eq!(sh_quote("/a b/$x'y"), "'/a b/$x'\\''y'");
        assert_eq!(
            hook_command(&["/usr/bin/scgen", "a-b", "/c/w"]),
            "/usr/bin/scgen a-b /c/w"
        );
        assert_eq!(hook_command(&["/s g", "x"]), "'/s g' x");
        assert_eq!(hook_command(&["/s g", "$x"]), "\"'/s g' '$x'\"");
    }

    #[test]
    fn overlay_lowers_stack_first_on_top() {
        assert_eq!(
            overlay_rootfs(&["/c/rootfs", "/s/k"], "/c/w/upper"),
            "overlay:/c/rootfs:/s/k:/c/w/upper"
        );
    }

    #[test]
    fn fstab_escapes_what_getmntent_decodes() {
        assert_eq!(fstab_escape("/a b\tc\\d"), "/a\\040b\\011c\\134d");
        assert_eq!(fstab_escape("/plain"), "/plain");
    }

    #[test]
    fn rootfs_prefix_only_in_lxc3() {
        assert_eq!(Dialect::Lxc3.rootfs_value("/r"), "dir:/r");
        assert_eq!(Dialect::Lxc2.rootfs_value("/r"), "/r");
    }
}
