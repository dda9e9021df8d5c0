//! What a valid value is, key type by key type: paths, host and interface
//! names, signals, mount tokens and options, modes, applet names and
//! busybox.links files. Each check either returns the value in the form
//! the templates render, or a [`Problem`] naming the key, so no value that
//! could end, add or comment out an LXC config line gets through.

use std::collections::BTreeSet;
use std::path::Path;

use super::{problem, Mount, Problem, RawMount};
use crate::diag::{self, Source};

/// Rejects characters that would end or break an LXC config line.
pub(super) fn no_control(key: &str, value: &str) -> Result<(), Problem> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(problem(
            key,
            format!("must not contain the control character {c:?}"),
            Some("an LXC config value ends at a newline; control characters cannot be written"),
        ));
    }
    Ok(())
}

/// A normalised absolute path: no `.`, `..`, empty or trailing components.
pub(crate) fn abs_path(key: &str, value: &str) -> Result<String, Problem> {
    no_control(key, value)?;
    if !value.starts_with('/') {
        return Err(problem(
            key,
            format!("`{value}` is not an absolute path"),
            Some("write it from the root, e.g. `/usr/local`"),
        ));
    }
    normalise(key, value).map(|p| format!("/{p}"))
}

/// Joins the components of `value` with single slashes, refusing `..`.
pub(super) fn normalise(key: &str, value: &str) -> Result<String, Problem> {
    let mut parts = Vec::new();
    for part in value.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(problem(
                    key,
                    format!("`{value}` contains `..`"),
                    Some("write the path without `..`; scgen does not resolve it for you"),
                ))
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if joined.len() > 4000 {
        return Err(problem(key, "is longer than a Linux path may be", None));
    }
    Ok(joined)
}

pub(super) fn rel_path(key: &str, value: &str) -> Result<String, Problem> {
    no_control(key, value)?;
    if value.starts_with('/') {
        return Err(problem(
            key,
            format!("`{value}` must be relative to the container's rootfs"),
            Some(&format!("write `{}`", value.trim_start_matches('/'))),
        ));
    }
    let p = normalise(key, value)?;
    if p.is_empty() {
        return Err(problem(key, "must name a directory below the rootfs", None));
    }
    Ok(p)
}

pub(super) fn uts_name(value: &str) -> Result<String, Problem> {
    let ok = (1..=64).contains(&value.len())
        && !value.starts_with('-')
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if ok {
        Ok(value.into())
    } else {
        Err(problem(
            "container.uts-name",
            format!("{value:?} is not a host name"),
            Some("use 1 to 64 letters, digits, `-` or `.`, not starting with `-`"),
        ))
    }
}

pub(super) fn ifname(key: &str, value: &str) -> Result<String, Problem> {
    // Linux's dev_valid_name() also refuses `.` and `..`.
    let ok = (1..=15).contains(&value.len())
        && value != "."
        && value != ".."
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(value.into())
    } else {
        Err(problem(
            key,
            format!("{value:?} is not a network interface name"),
            Some("use 1 to 15 letters, digits, `-`, `_` or `.`"),
        ))
    }
}

/// Signal names (without `SIG`) that LXC's `sig_parse` knows.
pub const SIGNALS: &[&str] = &[
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV",
    "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
    "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR", "SYS",
];

/// A signal as LXC's `sig_parse` takes it: a number, or `SIG` + a name.
pub(super) fn signal(value: &str) -> Result<String, Problem> {
    let key = "container.halt-signal";
    if !value.is_empty() && value.chars().all(|c| c.is_ascii_digit()) {
        return match value.parse::<u32>() {
            Ok(n) if (1..=64).contains(&n) => Ok(n.to_string()),
            _ => Err(problem(
                key,
                format!("signal number {value} is out of range"),
                Some("use 1 to 64"),
            )),
        };
    }
    let upper = value.to_ascii_uppercase();
    let Some(name) = upper.strip_prefix("SIG") else {
        return Err(problem(
            key,
            format!("`{value}` is not a signal LXC accepts"),
            Some("LXC needs the `SIG` prefix, e.g. `SIGKILL`, or a number"),
        ));
    };
    // liblxc's rt_sig_num() wants `MIN+` or `MAX-` and then a digit: a bare
    // SIGRTMIN, or SIGRTMIN++3 (which Rust's u8 parser would take), fails.
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
        Ok(upper)
    } else {
        let hint = diag::did_you_mean(name, SIGNALS.iter().copied())
            .map(|s| format!("did you mean `SIG{s}`?"))
            .unwrap_or_else(|| {
                "use e.g. `SIGKILL`, `SIGRTMIN+3`, `SIGRTMAX-1`, or a number from 1 to 64".into()
            });
        Err(problem(
            key,
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

pub(super) fn mount_auto(tokens: Vec<String>) -> Result<Vec<String>, Problem> {
    for (i, t) in tokens.iter().enumerate() {
        if !MOUNT_AUTO.contains(&t.as_str()) {
            let hint = diag::did_you_mean(t, MOUNT_AUTO.iter().copied())
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| "e.g. `proc`, `sys`, `cgroup:mixed`".into());
            return Err(problem(
                &format!("container.mount-auto[{i}]"),
                format!("`{t}` is not an lxc.mount.auto token"),
                Some(&hint),
            ));
        }
    }
    Ok(tokens)
}

pub(super) fn mount(i: usize, m: RawMount) -> Result<Mount, Problem> {
    let key = |k: &str| format!("mounts[{i}].{k}");
    let word = |k: &str, v: &str| -> Result<String, Problem> {
        let ok = !v.is_empty()
            && v.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '=' | '.' | ':' | '+' | '/')
            });
        if ok {
            Ok(v.to_string())
        } else {
            Err(problem(
                &key(k),
                format!("{v:?} is not a single fstab word"),
                Some("one option per array item, without spaces, commas or `#`"),
            ))
        }
    };
    let options = m
        .options
        .unwrap_or_else(|| vec!["ro".into(), "bind".into()]);
    Ok(Mount {
        source: abs_path(&key("source"), &m.source)?,
        target: rel_path(&key("target"), &m.target)?,
        fstype: word("fstype", m.fstype.as_deref().unwrap_or("none"))?,
        options: options
            .iter()
            .enumerate()
            .map(|(j, o)| word(&format!("options[{j}]"), o))
            .collect::<Result<_, _>>()?,
    })
}

pub(super) fn mode(key: &str, value: &str) -> Result<u32, Problem> {
    let digits = value.strip_prefix("0o").unwrap_or(value);
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o7777 && (3..=4).contains(&digits.len()) => Ok(m),
        _ => Err(problem(
            key,
            format!("`{value}` is not an octal file mode"),
            Some("write it as a string of octal digits, e.g. \"0777\" or \"0755\""),
        )),
    }
}

/// Checks one applet name; `None` for `busybox` itself, which never gets a
/// link (it would replace the binary's own mount point).
pub(crate) fn applet(name: &str) -> Result<Option<String>, String> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.len() > 255
        || name
            .chars()
            .any(|c| c == '/' || c.is_control() || c.is_whitespace())
    {
        return Err(format!(
            "{name:?} is not a file name busybox could answer to"
        ));
    }
    Ok((name != "busybox").then(|| name.to_string()))
}

pub(super) fn applet_list(list: Vec<String>) -> Result<Vec<String>, Problem> {
    let mut out = BTreeSet::new();
    for (i, name) in list.iter().enumerate() {
        match applet(name) {
            Ok(Some(a)) => {
                out.insert(a);
            }
            Ok(None) => {}
            Err(m) => {
                return Err(problem(
                    &format!("busybox.applets[{i}]"),
                    m,
                    Some("an applet is a file name in bin/: no `/`, spaces or control characters"),
                ))
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// Reads a Yocto `busybox.links` file: one absolute path per line. Every
/// applet lands in `bin/` as the seed put them; the directory is dropped.
pub(super) fn links_file(path: &Path) -> Result<Vec<String>, Problem> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        problem(
            "busybox.links-file",
            format!("cannot read {}: {e}", path.display()),
            Some("the path is relative to the profile that sets it"),
        )
    })?;
    let source = Source {
        name: path.display().to_string(),
        dir: None,
        text: text.clone(),
    };
    let mut out = BTreeSet::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let span = offset..offset + line.trim_end().len();
        offset += line.len();
        let entry = line.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        let fail = |message: String, hint: &str| Problem {
            key: "busybox.links-file".into(),
            message,
            hint: Some(hint.into()),
            at: Some(Box::new((source.clone(), span.clone()))),
        };
        if !entry.starts_with('/') {
            return Err(fail(
                format!("`{entry}` is not an absolute path"),
                "busybox.links lists one absolute path per line, e.g. `/bin/ls`",
            ));
        }
        let base = entry.rsplit('/').next().unwrap_or("");
        match applet(base) {
            Ok(Some(a)) => {
                out.insert(a);
            }
            Ok(None) => {}
            Err(m) => return Err(fail(m, "each line must end in an applet name")),
        }
    }
    Ok(out.into_iter().collect())
}
