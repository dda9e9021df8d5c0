//! The shared bin directory (profile `busybox.shared-bin`): a host
//! directory bound read-only on `bin` in every container, holding the
//! placeholders and the applet links once for all of them. A stamp file
//! records which busybox and which applet list the links were made from,
//! so the links are remade only when those change.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::applet_link;
use std::os::fd::OwnedFd;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use super::beneath::{plain, read_plain, Root};
use super::host::{make_dir, Tools};
use super::store;
use crate::contract::{self, Entry, Kind, StageSpec};
use crate::error::{Error, Result};
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
    /// Reads what is there before anything is written. The directory must
    /// be one scgen made: missing, empty, or holding scgen's stamp. A
    /// system directory with binaries in it is refused, never filled.
    pub(super) fn plan(
        dir: &AbsPath,
        spec: &StageSpec,
        tools: &Tools,
        wait: Duration,
    ) -> Result<Self> {
        let dir = PathBuf::from(dir.as_str());
        let existing = match rustix::fs::open(&dir, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => Some(fd),
            Err(Errno::NOENT) => None,
            Err(e) => {
                return Err(Error::unsafe_target(format!(
                    "shared bin {} is not a directory (a symlink is never followed): {e}",
                    dir.display()
                )))
            }
        };
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
        let stamp = format!("busybox {}\napplets {source}\n", tools.busybox_identity()?);
        let mut current = false;
        if let Some(fd) = &existing {
            // Wait for a stage that is filling it, then look.
            let _lock = lock(&dir, false, wait)?;
            match read_plain(fd, STAMP, &plain, 4096) {
                Some(old) => current = old == stamp.as_bytes(),
                None if is_empty(fd) => {}
                None => {
                    return Err(Error::unsafe_target(format!(
                        "shared bin {} is not empty and has no scgen stamp ({STAMP}); scgen fills only a directory it made",
                        dir.display()
                    ))
                    .with_help("name a new directory in busybox.shared-bin, e.g. /var/lib/softwarecontainer/bin"))
                }
            }
        }
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
        wait: Duration,
    ) -> Result<(usize, usize)> {
        // One stage fills it at a time; the others wait in `plan`.
        make_dir(&self.dir)?;
        let _lock = lock(&self.dir, true, wait)?;
        let mut root = Root::open(&self.dir, owner, 0o755)?;
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
            root.write_file(STAMP, self.stamp.as_bytes(), 0o644)?;
        }
        Ok((root.created, root.kept))
    }
}

/// The shared bin's lock: `.<name>.lock` beside it, a 0600 file no one
/// else can open (the directory itself is 0755 and bound into every
/// container, so anyone could `flock` it). Where the stage cannot make the
/// file (a user namespace below a parent of root's), the directory.
fn lock(dir: &Path, exclusive: bool, wait: Duration) -> Result<OwnedFd> {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return Err(Error::unsafe_target(format!(
            "shared bin {} has no parent",
            dir.display()
        )));
    };
    let name = format!(".{}.lock", name.to_string_lossy());
    let shown = parent.join(&name);
    let flags =
        OFlags::RDONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let fd = rustix::fs::open(parent, DIR_FLAGS, Mode::empty())
        .and_then(|p| rustix::fs::openat(&p, name.as_str(), flags, Mode::from_raw_mode(0o600)));
    let fd = match fd {
        Ok(fd) => {
            let st = rustix::fs::fstat(&fd).map_err(|e| Error::io(&shown, e.into()))?;
            let me = rustix::process::geteuid().as_raw();
            if !plain(&st) || !(st.st_uid == me || st.st_uid == 0) || st.st_mode & 0o077 != 0 {
                return Err(Error::unsafe_target(format!(
                    "{} is not scgen's lock file (a regular 0600 file of root's)",
                    shown.display()
                ))
                .with_help("remove it; the next stage makes a new one"));
            }
            fd
        }
        Err(Errno::ACCESS | Errno::PERM | Errno::ROFS) => {
            rustix::fs::open(dir, DIR_FLAGS, Mode::empty()).map_err(|e| Error::io(dir, e.into()))?
        }
        Err(Errno::LOOP) => {
            return Err(Error::unsafe_target(format!(
                "{} is a symlink; the shared bin's lock is never followed",
                shown.display()
            )))
        }
        Err(e) => return Err(Error::io(&shown, e.into())),
    };
    store::flock_within(&fd, exclusive, wait, dir)?;
    Ok(fd)
}

/// Whether the directory holds nothing but `.` and `..`.
fn is_empty(fd: &OwnedFd) -> bool {
    rustix::fs::Dir::read_from(fd).is_ok_and(|d| {
        d.flatten()
            .all(|e| matches!(e.file_name().to_bytes(), b"." | b".."))
    })
}

const DIR_FLAGS: OFlags = OFlags::DIRECTORY
    .union(OFlags::RDONLY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NONBLOCK);
