//! Writing beneath a directory without ever leaving it.
//!
//! [`Root`] holds a descriptor of the rootfs (or the shared bin directory)
//! and resolves every path below it with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)`: a `..`, an absolute link or any symlink already
//! there is an error from the kernel, not a way onto the host. Modes are
//! set with fchmod, so the umask never shows.

use std::collections::HashMap;
use std::fs;
use std::io::Read as _;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Gid, Mode, OFlags, ResolveFlags, Uid};
use rustix::io::Errno;

use crate::contract::{Entry, Kind};
use crate::error::{Error, Result};

/// A rootfs opened once; every path below it is resolved by the kernel
/// beneath this descriptor, refusing symlinks.
pub(super) struct Root {
    path: PathBuf,
    fd: OwnedFd,
    owner: Option<(u32, u32)>,
    /// Whether new entries need a chown: not when the owner wanted is the
    /// one the kernel gives them anyway (saves a syscall per applet link).
    chown_new: bool,
    /// Directories opened so far, by path relative to the rootfs.
    dirs: HashMap<String, OwnedFd>,
    pub(super) created: usize,
    pub(super) kept: usize,
}

const BENEATH: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

impl Root {
    pub(super) fn open(path: &Path, owner: Option<(u32, u32)>) -> Result<Self> {
        let fd = rustix::fs::open(
            path,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(|e| {
            Error::unsafe_target(format!(
                "cannot open rootfs {} without following a symlink: {e}",
                path.display()
            ))
        })?;
        // The rootfs is the container's `/`: its root must own it too.
        chown(&fd, owner).map_err(|e| Error::io(path, e.into()))?;
        // New entries belong to our fsuid and, unless a set-group-id
        // directory hands its group down, our fsgid. Skeleton directories
        // never have that bit; the rootfs itself might.
        let setgid = rustix::fs::fstat(&fd).is_ok_and(|st| st.st_mode & 0o2000 != 0);
        let ours = (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        );
        Ok(Root {
            path: path.to_path_buf(),
            fd,
            owner,
            chown_new: setgid || owner.is_some_and(|o| o != ours),
            dirs: HashMap::new(),
            created: 0,
            kept: 0,
        })
    }

    /// The owner to give an entry, if it needs a chown at all.
    fn owner_for(&self, made: bool) -> Option<(u32, u32)> {
        if made && !self.chown_new {
            None
        } else {
            self.owner
        }
    }

    /// Opens (once) the parent directory of `rel`, refusing symlinks.
    fn open_parent(&mut self, rel: &str) -> Result<()> {
        let dir = split(rel).0;
        if !self.dirs.contains_key(dir) {
            let fd = if dir.is_empty() {
                self.fd.try_clone().map_err(|e| Error::io(&self.path, e))?
            } else {
                rustix::fs::openat2(&self.fd, dir, DIR_FLAGS, Mode::empty(), BENEATH)
                    .map_err(|e| unsafe_or_io(&self.path, dir, e))?
            };
            self.dirs.insert(dir.to_string(), fd);
        }
        Ok(())
    }

    pub(super) fn put(&mut self, e: &Entry) -> Result<()> {
        self.open_parent(&e.path)?;
        let made = match &e.kind {
            Kind::Dir => self.mkdir(&e.path, e.mode)?,
            Kind::File(data) => self.write(&e.path, data, e.mode)?,
            Kind::Symlink(target) => self.symlink(&e.path, target)?,
        };
        if made {
            self.created += 1;
        } else {
            self.kept += 1;
        }
        Ok(())
    }

    pub(super) fn write_file(&mut self, rel: &str, data: &[u8], mode: u32) -> Result<()> {
        self.put(&Entry {
            path: rel.to_string(),
            mode,
            kind: Kind::File(data.to_vec()),
        })
    }

    fn mkdir(&mut self, rel: &str, mode: u32) -> Result<bool> {
        let (dir, name) = split(rel);
        let parent = &self.dirs[dir];
        let fail = |e| unsafe_or_io(&self.path, rel, e);
        let made = match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(mode)) {
            Ok(()) => true,
            Err(Errno::EXIST) => false,
            Err(e) => return Err(fail(e)),
        };
        let fd =
            rustix::fs::openat2(parent, name, DIR_FLAGS, Mode::empty(), BENEATH).map_err(fail)?;
        // mkdir applied the umask; the mode in the archive is the one wanted.
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(fail)?;
        chown(&fd, self.owner_for(made)).map_err(fail)?;
        self.dirs.insert(rel.to_string(), fd);
        Ok(made)
    }

    fn write(&self, rel: &str, data: &[u8], mode: u32) -> Result<bool> {
        let (dir, name) = split(rel);
        let parent = &self.dirs[dir];
        let fail = |e| unsafe_or_io(&self.path, rel, e);
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let m = Mode::from_raw_mode(mode);
        let (fd, made) = match rustix::fs::openat2(parent, name, flags | OFlags::EXCL, m, BENEATH) {
            Ok(fd) => (fd, true),
            Err(Errno::EXIST) => {
                let fd = rustix::fs::openat2(parent, name, flags | OFlags::TRUNC, m, BENEATH)
                    .map_err(fail)?;
                (fd, false)
            }
            Err(e) => return Err(fail(e)),
        };
        let mut written = 0;
        while written < data.len() {
            written += rustix::io::write(&fd, &data[written..]).map_err(fail)?;
        }
        rustix::fs::fchmod(&fd, m).map_err(fail)?;
        chown(&fd, self.owner_for(made)).map_err(fail)?;
        Ok(made)
    }

    /// Links `rel` to `target`. An entry already there is kept as it is:
    /// the placeholders (`bin/iptables`) must not become applet links, and
    /// nothing in a rootfs is ever followed. Either way it gets the owner
    /// (never following it): a run killed between the link and its chown
    /// must not leave a link of the wrong owner behind.
    fn symlink(&self, rel: &str, target: &str) -> Result<bool> {
        let (dir, name) = split(rel);
        let parent = &self.dirs[dir];
        let fail = |e| unsafe_or_io(&self.path, rel, e);
        let made = match rustix::fs::symlinkat(target, parent, name) {
            Ok(()) => true,
            Err(Errno::EXIST) => false,
            Err(e) => return Err(fail(e)),
        };
        if let Some((u, g)) = self.owner_for(made) {
            let (u, g) = (Some(Uid::from_raw(u)), Some(Gid::from_raw(g)));
            rustix::fs::chownat(parent, name, u, g, AtFlags::SYMLINK_NOFOLLOW).map_err(fail)?;
        }
        Ok(made)
    }

    pub(super) fn read_file(&mut self, rel: &str) -> Option<Vec<u8>> {
        self.open_parent(rel).ok()?;
        let (dir, name) = split(rel);
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let fd = rustix::fs::openat2(&self.dirs[dir], name, flags, Mode::empty(), BENEATH).ok()?;
        let mut out = Vec::new();
        fs::File::from(fd).read_to_end(&mut out).ok()?;
        Some(out)
    }
}

const DIR_FLAGS: OFlags = OFlags::DIRECTORY
    .union(OFlags::RDONLY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW);

/// Parent directory (relative, `""` for the rootfs itself) and file name.
fn split(rel: &str) -> (&str, &str) {
    rel.rsplit_once('/').unwrap_or(("", rel))
}

fn chown(fd: impl AsFd, owner: Option<(u32, u32)>) -> rustix::io::Result<()> {
    match owner {
        Some((u, g)) => rustix::fs::fchown(fd, Some(Uid::from_raw(u)), Some(Gid::from_raw(g))),
        None => Ok(()),
    }
}

/// A refused symlink (ELOOP), an escape (EXDEV) or a file where a directory
/// should be (ENOTDIR) is a safety refusal; anything else is plain I/O.
fn unsafe_or_io(root: &Path, rel: &str, e: Errno) -> Error {
    let path = root.join(rel);
    match e {
        Errno::LOOP | Errno::XDEV | Errno::NOTDIR => Error::unsafe_target(format!(
            "refusing to write {}: a symlink or non-directory is in the way ({e}); scgen never follows links inside a rootfs",
            path.display()
        )),
        e => Error::io(path, e.into()),
    }
}
