//! Root's subordinate ids, checked before the stage writes anything for an
//! id-mapped container. Where `newuidmap` and `newgidmap` are installed
//! (setuid root, or with file capabilities), LXC maps a container's ids
//! through them even when root starts it, and they refuse any range that
//! /etc/subuid or /etc/subgid does not give the caller: `lxc-create` still
//! succeeds, and every `lxc-start` then fails with "newuidmap failed to
//! write mapping". Without those tools LXC, as root, writes the maps
//! itself and needs nothing. Saying so at create time, with the line to
//! add, beats a container that never starts.

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use crate::error::{Error, Result};
use crate::values::IdMap;

/// The files newuidmap and newgidmap read, as `(kind, tool, file)`.
const SUBID: [(char, &str, &str); 2] = [
    ('u', "newuidmap", "/etc/subuid"),
    ('g', "newgidmap", "/etc/subgid"),
];

/// Checks that root holds every host range of `idmap`, where LXC will ask
/// newuidmap/newgidmap. `find` looks a tool up as the stage finds host
/// tools.
pub(super) fn check(
    idmap: &[IdMap],
    find: impl Fn(&str) -> Option<std::path::PathBuf>,
) -> Result<()> {
    if idmap.is_empty() {
        return Ok(());
    }
    let tools: Vec<_> = SUBID.iter().map(|(_, tool, _)| find(tool)).collect();
    // LXC uses the shadow tools only when it finds both, privileged.
    if !tools.iter().all(|t| t.as_deref().is_some_and(privileged)) {
        return Ok(());
    }
    for (kind, tool, file) in SUBID {
        let text = crate::files::read_input_bytes(Path::new(file), 1 << 20).unwrap_or_default();
        let ranges = root_ranges(&String::from_utf8_lossy(&text));
        for m in idmap.iter().filter(|m| m.kind == kind) {
            if !covered(&ranges, u64::from(m.host), u64::from(m.range)) {
                let last = u64::from(m.host) + u64::from(m.range) - 1;
                return Err(Error::no_subids(format!(
                    "root has no subordinate ids {}-{last} in {file}, which this container's map `{m}` needs: LXC maps ids with {tool} here, which refuses them, so the container would never start",
                    m.host
                ))
                .with_help(format!(
                    "add `root:{}:{}` to {file} (e.g. `usermod --add-sub{}ids {}-{last} root`), as the README's \"Id-mapped containers\" says; or make the container privileged with `container.idmap = []`",
                    m.host,
                    m.range,
                    if kind == 'u' { "u" } else { "g" },
                    m.host
                )));
            }
        }
    }
    Ok(())
}

/// The ranges of root's lines (`root:START:COUNT` or `0:START:COUNT`), as
/// `(start, end)`.
fn root_ranges(text: &str) -> Vec<(u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let (who, start, count) = (f.next()?, f.next()?, f.next()?);
            let start: u64 = start.parse().ok()?;
            let count: u64 = count.parse().ok()?;
            matches!(who, "root" | "0").then_some((start, start + count))
        })
        .collect()
}

/// Whether `[start, start + len)` lies within the union of `ranges`.
fn covered(ranges: &[(u64, u64)], start: u64, len: u64) -> bool {
    let end = start + len;
    let mut at = start;
    // Extend the covered prefix until no range extends it further.
    loop {
        if at >= end {
            return true;
        }
        match ranges
            .iter()
            .filter(|(s, e)| *s <= at && *e > at)
            .map(|(_, e)| *e)
            .max()
        {
            Some(e) => at = e,
            None => return false,
        }
    }
}

/// Setuid root, or carrying file capabilities: what LXC takes as a tool
/// it can use.
fn privileged(p: &Path) -> bool {
    let setuid_root = std::fs::metadata(p).is_ok_and(|m| m.mode() & 0o4000 != 0 && m.uid() == 0);
    let mut buf = [0u8; 64];
    setuid_root || rustix::fs::getxattr(p, "security.capability", &mut buf).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_roots_and_cover_by_union() {
        let r = root_ranges("alice:100000:65536\nroot:200000:10\n0:200010:5\nbad\nroot:x:1\n");
        assert_eq!(r, vec![(200000, 200010), (200010, 200015)]);
        assert!(covered(&r, 200000, 15));
        assert!(covered(&r, 200005, 10));
        assert!(!covered(&r, 200000, 16));
        assert!(!covered(&r, 100000, 1));
    }
}
