//! Reading `rootfs.tar.gz` back: every entry is checked (a relative name
//! without `..`; only directories, regular files and symlinks) before the
//! stage writes anything, so a crafted archive is refused whole.

use std::io::Read as _;
use std::path::{Component, Path};

use crate::contract::{Entry, Kind};
use crate::error::{Error, Result};

/// Reads and checks every tarball entry: relative names without `..`, and
/// only directories, regular files and symlinks (no devices, no hard links).
pub(super) fn read(bytes: &[u8]) -> Result<Vec<Entry>> {
    let bad = |m: String| Error::data(format!("rootfs.tar.gz: {m}"));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut out = Vec::new();
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8(raw).map_err(|_| bad("an entry name is not UTF-8".into()))?;
        let path = name.trim_end_matches('/');
        if path.is_empty()
            || path.starts_with('/')
            || !Path::new(path)
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(bad(format!("entry {name:?} would land outside the rootfs")));
        }
        let mode = entry.header().mode().map_err(|e| bad(e.to_string()))?;
        let kind = match entry.header().entry_type() {
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Regular => {
                let mut data = Vec::new();
                entry
                    .read_to_end(&mut data)
                    .map_err(|e| bad(e.to_string()))?;
                Kind::File(data)
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| bad(e.to_string()))?
                    .ok_or_else(|| bad(format!("symlink {name:?} has no target")))?;
                Kind::Symlink(target.to_string_lossy().into_owned())
            }
            other => {
                return Err(bad(format!(
                    "entry {name:?} is a {other:?}, which a skeleton never holds"
                )))
            }
        };
        out.push(Entry {
            path: path.to_string(),
            // No setuid/setgid from an archive: the skeleton has none.
            mode: mode & 0o1777,
            kind,
        });
    }
    Ok(out)
}
