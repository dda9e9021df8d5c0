//! The shared bin directory (profile `busybox.shared-bin`): a host
//! directory bound read-only on `bin` in every container, holding the
//! placeholders and the applet links once for all of them. A stamp file
//! records which busybox and which applet list the links were made from,
//! so the links are remade only when those change.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use super::applet_link;
use super::beneath::Root;
use super::host::Tools;
use crate::contract::{self, Entry, Kind, StageSpec};
use crate::error::{Error, Result};
use crate::files::write_atomic;
use crate::values::{AbsPath, Applet};

/// The host directory bound on `bin` that holds the placeholders and the
/// applet links once for all containers (profile `busybox.shared-bin`).
pub(super) struct SharedBin {
    dir: PathBuf,
    /// What the links were made from: the busybox binary's identity and the
    /// applet source. Equal to the stamp file: the links are current.
    stamp: String,
    pub(super) current: bool,
}

/// Records what the shared directory's links were made from.
const STAMP: &str = ".scgen-stamp";

impl SharedBin {
    pub(super) fn plan(dir: &AbsPath, spec: &StageSpec, tools: &Tools) -> Result<Self> {
        let dir = PathBuf::from(dir.as_str());
        if fs::symlink_metadata(&dir).is_ok_and(|m| !m.is_dir()) {
            return Err(Error::unsafe_target(format!(
                "shared bin {} is not a directory (a symlink is never followed)",
                dir.display()
            )));
        }
        let bb = fs::metadata(&tools.busybox).map_err(|e| Error::io(&tools.busybox, e))?;
        let source = match &spec.applets {
            Some(list) => format!(
                "list {}",
                contract::sha256_hex(
                    list.iter()
                        .map(Applet::as_str)
                        .collect::<Vec<_>>()
                        .join("\n")
                        .as_bytes()
                )
            ),
            None => "busybox --list".to_string(),
        };
        let stamp = format!(
            "busybox {} dev={} ino={} size={} mtime={}.{}\napplets {source}\n",
            tools.busybox,
            bb.dev(),
            bb.ino(),
            bb.size(),
            bb.mtime(),
            bb.mtime_nsec()
        );
        let stamp_path = dir.join(STAMP);
        let current = fs::symlink_metadata(&stamp_path).is_ok_and(|m| m.is_file())
            && fs::read(&stamp_path).is_ok_and(|old| old == stamp.as_bytes());
        Ok(SharedBin {
            dir,
            stamp,
            current,
        })
    }

    /// Makes sure the placeholders exist, links the applets when the stamp
    /// is stale, then writes the stamp. Safe to run from several stages at
    /// once: every step tolerates the other's result.
    pub(super) fn fill(
        &self,
        spec: &StageSpec,
        listed: Option<&[Applet]>,
        owner: Option<(u32, u32)>,
    ) -> Result<(usize, usize)> {
        fs::create_dir_all(&self.dir).map_err(|e| Error::create(&self.dir, e))?;
        let mut root = Root::open(&self.dir, owner)?;
        for path in contract::placeholders(spec.init_lxc, spec.iptables) {
            let name = path.trim_start_matches("bin/");
            root.put(&Entry {
                path: name.to_string(),
                mode: 0o755,
                kind: Kind::File(Vec::new()),
            })?;
        }
        if !self.current {
            let applets = listed.or(spec.applets.as_deref()).unwrap_or_default();
            for a in applets {
                root.put(&applet_link(a.as_str()))?;
            }
            write_atomic(&self.dir.join(STAMP), self.stamp.as_bytes(), 0o644)?;
        }
        Ok((root.created, root.kept))
    }
}
