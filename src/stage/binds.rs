//! The bind mounts' host sources, checked before the first write.
//!
//! A bind whose source is missing on the host makes `lxc-start` fail long
//! after `lxc-create` said the container was made. The stage reads every
//! `lxc.mount.entry` of the config it is about to write (the existing
//! container config, or the static one, plus its own lines), and refuses
//! the container, naming each missing source, unless the entry is
//! `optional` (LXC then skips it at start). Only `stat` is used: nothing is
//! opened, and the host paths are the host's to resolve, as `mount` does.

use std::path::Path;

use crate::error::{Error, Result};

/// One bind entry as LXC will read it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Bind {
    pub(super) source: String,
    pub(super) target: String,
    pub(super) optional: bool,
}

/// The bind entries of `lines` (config lines, comments and other keys
/// ignored): entries whose options hold `bind` or `rbind`.
pub(super) fn binds<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<Bind> {
    lines
        .into_iter()
        .filter_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "lxc.mount.entry").then_some(value)
        })
        .filter_map(|value| {
            let mut fields = value.split_whitespace();
            let (source, target, _fstype, options) = (
                fields.next()?,
                fields.next()?,
                fields.next()?,
                fields.next()?,
            );
            let options: Vec<&str> = options.split(',').collect();
            options
                .iter()
                .any(|o| matches!(*o, "bind" | "rbind"))
                .then(|| Bind {
                    source: crate::lxc::fstab_unescape(source),
                    target: crate::lxc::fstab_unescape(target),
                    optional: options.contains(&"optional"),
                })
        })
        .collect()
}

/// Refuses (exit [`crate::error::exit::MISSING_SOURCE`]) when the absolute
/// source of a bind in `lines` that is not optional is missing on the host.
/// Sources in `exempt` are made by the stage itself (the shared bin dir).
pub(super) fn check<'a>(lines: impl IntoIterator<Item = &'a str>, exempt: &[&str]) -> Result<()> {
    let missing: Vec<String> = binds(lines)
        .into_iter()
        .filter(|b| !b.optional && b.source.starts_with('/'))
        .filter(|b| !exempt.contains(&b.source.as_str()))
        .filter_map(|b| match std::fs::metadata(Path::new(&b.source)) {
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound) => {
                Some(format!("{} (on /{}): {e}", b.source, b.target))
            }
            // ENOTDIR: a parent of the source is a file.
            Err(e) if e.raw_os_error() == Some(20) => {
                Some(format!("{} (on /{}): {e}", b.source, b.target))
            }
            _ => None,
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::missing_source(format!(
        "the container's config binds {} missing on this host, so lxc-start would fail: {}",
        if missing.len() == 1 {
            "a source that is"
        } else {
            "sources that are"
        },
        missing.join("; ")
    ))
    .with_help(
        "install what provides it, or mark the mount optional in the profile \
         (`options = [\"ro\", \"bind\", \"optional\"]`) if the container may start without it",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_entries_are_parsed_and_unescaped() {
        let text = "# lxc.mount.entry = /x x none bind 0 0\n\
                    lxc.mount.entry = /a\\040b a none ro,bind 0 0\n\
                    lxc.mount.entry=/l lib64 none ro,bind,optional 0 0\n\
                    lxc.mount.entry = tmpfs tmp tmpfs rw 0 0\n\
                    lxc.mount.auto = proc sys\n";
        let got = binds(text.lines());
        assert_eq!(
            got,
            vec![
                Bind {
                    source: "/a b".into(),
                    target: "a".into(),
                    optional: false
                },
                Bind {
                    source: "/l".into(),
                    target: "lib64".into(),
                    optional: true
                },
            ]
        );
        let line = crate::lxc::mount_entry_value("/p q\\r\t", "t", "none", "bind");
        assert_eq!(
            binds([format!("lxc.mount.entry = {line}").as_str()])[0].source,
            "/p q\\r\t"
        );
    }
}
