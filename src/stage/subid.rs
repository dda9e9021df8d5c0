//! Root's subordinate ids, checked before the stage writes anything for an
//! id-mapped container. Where `newuidmap` and `newgidmap` are installed
//! (setuid root, or with file capabilities), LXC maps a container's ids
//! through them even when root starts it, and they refuse any range that
//! /etc/subuid or /etc/subgid does not give the caller: `lxc-create` still
//! succeeds, and every `lxc-start` then fails with "newuidmap failed to
//! write mapping". Without those tools LXC, as root, writes the maps
//! itself and needs nothing. Saying so at create time (the stage checks
//! when LXC runs it as an id-mapped container's template), with the line to
//! add, beats a container that never starts. [`provision`] adds those
//! lines (`scgen subids`), for a CMake install or an image build to call.

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
                    "add `root:{}:{}` to {file} (e.g. `usermod --add-sub{}ids {}-{last} root`), as docs/security.md \"Id-mapped containers and the agent\" says; or make the container privileged with `container.idmap = []`",
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

/// What [`provision`] did, or found to do, for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provision {
    /// The file, below the given root.
    pub file: std::path::PathBuf,
    /// The lines root lacked (added, unless only checking).
    pub missing: Vec<String>,
}

/// Gives root the host ranges of `idmap` in `<root>/etc/subuid` and
/// `<root>/etc/subgid`: each missing range becomes a `root:START:COUNT`
/// line appended to the file (made 0644 if it is missing), written through
/// a temp file renamed into place. A range another user already holds is
/// refused (two owners of one host id could enter each other's
/// containers). With `check`, nothing is written and missing lines are an
/// error. Returns, per file, what was (or would be) added.
pub fn provision(idmap: &[IdMap], root: &Path, check: bool) -> Result<Vec<Provision>> {
    let mut out = Vec::new();
    for (kind, _, file) in SUBID {
        let path = root.join(file.trim_start_matches('/'));
        let text = match crate::files::read_existing(&path, 1 << 20)? {
            crate::files::Found::Missing => String::new(),
            crate::files::Found::File { bytes, .. } => String::from_utf8(bytes)
                .map_err(|_| Error::no_subids(format!("{}: not UTF-8", path.display())))?,
            crate::files::Found::Other(what) => {
                return Err(Error::unsafe_target(format!(
                    "{}: {what}, not a plain file; not read or replaced",
                    path.display()
                )))
            }
        };
        let ranges = root_ranges(&text);
        let mut missing = Vec::new();
        for m in idmap.iter().filter(|m| m.kind == kind) {
            let (start, len) = (u64::from(m.host), u64::from(m.range));
            if covered(&ranges, start, len) {
                continue;
            }
            if let Some(other) = others(&text)
                .into_iter()
                .find(|(_, s, e)| *s < start + len && start < *e)
            {
                return Err(Error::no_subids(format!(
                    "{}: host ids {start}-{} of the container's map `{m}` are {}'s ({}-{})",
                    path.display(),
                    start + len - 1,
                    other.0,
                    other.1,
                    other.2 - 1
                ))
                .with_help("choose a `container.idmap` range no user holds"));
            }
            missing.push(format!("root:{start}:{len}"));
        }
        if !missing.is_empty() {
            if check {
                return Err(Error::no_subids(format!(
                    "{}: root lacks {}",
                    path.display(),
                    missing.join(", ")
                ))
                .with_help(
                    "run `scgen subids` with the same arguments and without --check to add them",
                ));
            }
            let mut new = text.clone();
            if !new.is_empty() && !new.ends_with('\n') {
                new.push('\n');
            }
            for l in &missing {
                new.push_str(l);
                new.push('\n');
            }
            // An install root being staged may have no etc/ yet.
            let etc = path.parent().expect("below the root");
            std::fs::create_dir_all(etc).map_err(|e| Error::create(etc, e))?;
            crate::files::write_atomic(&path, new.as_bytes(), 0o644)?;
        }
        out.push(Provision {
            file: path,
            missing,
        });
    }
    Ok(out)
}

/// Every line `WHO:START:COUNT`, as `(who, start, end)`.
fn entries(text: &str) -> Vec<(String, u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let (who, start, count) = (f.next()?, f.next()?, f.next()?);
            let start: u64 = start.parse().ok()?;
            let count: u64 = count.parse().ok()?;
            Some((who.to_string(), start, start + count))
        })
        .collect()
}

fn is_root(who: &str) -> bool {
    matches!(who, "root" | "0")
}

/// Every other user's range, as `(user, start, end)`.
fn others(text: &str) -> Vec<(String, u64, u64)> {
    entries(text)
        .into_iter()
        .filter(|(w, _, _)| !is_root(w))
        .collect()
}

/// The ranges of root's lines (`root:START:COUNT` or `0:START:COUNT`), as
/// `(start, end)`.
fn root_ranges(text: &str) -> Vec<(u64, u64)> {
    entries(text)
        .into_iter()
        .filter(|(w, _, _)| is_root(w))
        .map(|(_, s, e)| (s, e))
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

    fn map() -> Vec<IdMap> {
        ["u 0 100000 65536", "g 0 100000 65536"]
            .iter()
            .map(|m| IdMap::parse(m).unwrap())
            .collect()
    }

    #[test]
    fn provision_adds_roots_lines_once_and_refuses_anothers_range() {
        let root = tempfile::tempdir().unwrap();
        let etc = root.path().join("etc");
        std::fs::create_dir(&etc).unwrap();
        std::fs::write(etc.join("subuid"), "alice:200000:65536").unwrap();
        assert!(provision(&map(), root.path(), true).is_err());
        let done = provision(&map(), root.path(), false).unwrap();
        assert_eq!(done[0].missing, ["root:100000:65536"]);
        assert_eq!(
            std::fs::read_to_string(etc.join("subuid")).unwrap(),
            "alice:200000:65536\nroot:100000:65536\n"
        );
        assert_eq!(
            std::fs::read_to_string(etc.join("subgid")).unwrap(),
            "root:100000:65536\n"
        );
        // Again: nothing to add, nothing rewritten, and --check passes.
        let again = provision(&map(), root.path(), false).unwrap();
        assert!(again.iter().all(|p| p.missing.is_empty()));
        provision(&map(), root.path(), true).unwrap();
        std::fs::write(etc.join("subgid"), "bob:150000:10\n").unwrap();
        let e = provision(&map(), root.path(), false).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit::NO_SUBIDS);
        assert!(e.to_string().contains("are bob's (150000-150009)"), "{e}");
    }

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
