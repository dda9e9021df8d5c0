//! The checked names: host and interface names, signals, mount tokens and
//! fstab words, and busybox applets. Each is a word that goes into an LXC
//! config line or a file name in `bin/` as it is, so each parser admits
//! only what LXC (or the kernel) reads back the same way.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{short, Invalid};

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
                format!("{:?} is not a host name", short(value)),
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
                format!("{:?} is not a network interface name", short(value)),
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
                    format!("signal number {} is out of range", short(value)),
                    Some("use 1 to 64"),
                )),
            };
        }
        let upper = value.to_ascii_uppercase();
        let Some(name) = upper.strip_prefix("SIG") else {
            return Err(Invalid::new(
                format!("`{}` is not a signal LXC accepts", short(value)),
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
            format!("`{}` is not a signal LXC accepts", short(value)),
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
            format!("`{}` is not an lxc.mount.auto token", short(value)),
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
                format!("{:?} is not a single fstab word", short(value)),
                Some("one option per array item, without spaces, commas or `#`"),
            ))
        }
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
                .any(|c| c == '/' || super::breaks_line(c) || c.is_whitespace())
        {
            return Err(Invalid::new(
                format!(
                    "{:?} is not a file name busybox could answer to",
                    short(name)
                ),
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
}
