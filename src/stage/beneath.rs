//! Writing beneath a directory without ever leaving it, and without
//! trusting anything already there.
//!
//! [`Root`] holds a descriptor of the rootfs (or another directory the
//! stage fills) and resolves every path below it with `openat2(BENEATH |
//! NO_SYMLINKS)`, or where the kernel lacks that call, the walk of
//! [`super::walk`]: a `..`, an absolute link or any symlink already there
//! is an error, not a way onto the host. What it finds is
//! looked at with `fstatat(AT_SYMLINK_NOFOLLOW)` before anything is opened:
//!
//! * a regular file with one link and the wanted bytes, mode and owner is
//!   kept; anything else at a file's path (a hard link to a host file, a
//!   device node, a FIFO, a symlink) is replaced by a temp file renamed
//!   over it, never opened or written through;
//! * a directory is opened (never followed) and set with fchmod/fchown on
//!   that descriptor, so the umask never shows and nothing is changed by
//!   path.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Stat, Uid};
use rustix::io::Errno;

use super::walk;
use crate::contract::{Entry, Kind};
use crate::error::{Error, Result};

/// A directory opened once; every path below it is resolved by the kernel
/// beneath this descriptor, refusing symlinks.
pub(super) struct Root {
    path: PathBuf,
    fd: OwnedFd,
    owner: Option<(u32, u32)>,
    /// Whether new entries need a chown: not when the owner wanted is the
    /// one the kernel gives them anyway (saves a syscall per applet link).
    chown_new: bool,
    /// The owner new entries get without a chown.
    ours: (u32, u32),
    /// Directories opened so far, by path relative to the root.
    dirs: HashMap<String, OwnedFd>,
    pub(super) created: usize,
    pub(super) kept: usize,
}

const DIR_FLAGS: OFlags = OFlags::DIRECTORY
    .union(OFlags::RDONLY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NONBLOCK);

/// The largest file the stage reads back from a target (machine-id): more
/// is not what it wrote, so it is replaced unread.
const READ_MAX: i64 = 4096;

impl Root {
    /// Opens `path` (never following a symlink at its last component) and
    /// gives it `mode` and the owner: the rootfs is the container's `/`.
    pub(super) fn open(path: &Path, owner: Option<(u32, u32)>, mode: u32) -> Result<Self> {
        let fd = rustix::fs::open(path, DIR_FLAGS, Mode::empty()).map_err(|e| {
            Error::unsafe_target(format!(
                "cannot open {} as a directory without following a symlink: {e}",
                path.display()
            ))
        })?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))
            .map_err(|e| Error::io(path, e.into()))?;
        chown(&fd, owner).map_err(|e| Error::io(path, e.into()))?;
        // New entries belong to our fsuid and, unless a set-group-id
        // directory hands its group down, our fsgid.
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
            ours,
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
                walk::open_beneath(&self.fd, dir, DIR_FLAGS, Mode::empty())
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
        // O_DIRECTORY|O_NOFOLLOW: a file, FIFO or symlink there is refused
        // without being opened for I/O.
        let fd = walk::open_beneath(parent, name, DIR_FLAGS, Mode::empty()).map_err(fail)?;
        // mkdir applied the umask; the mode in the archive is the one wanted.
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(fail)?;
        chown(&fd, self.owner_for(made)).map_err(fail)?;
        self.dirs.insert(rel.to_string(), fd);
        Ok(made)
    }

    /// Writes a regular file. A new one is created exclusively; an
    /// existing one is kept only if it is already exactly right, else
    /// replaced by a temp file renamed over it: whatever was there (a hard
    /// link to a host file, a device, a FIFO, a symlink) is never opened.
    fn write(&self, rel: &str, data: &[u8], mode: u32) -> Result<bool> {
        let (dir, name) = split(rel);
        let parent = &self.dirs[dir];
        let fail = |e| unsafe_or_io(&self.path, rel, e);
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
        let m = Mode::from_raw_mode(mode);
        let owner = self.owner_for(true);
        match walk::open_beneath(parent, name, flags, m) {
            Ok(fd) => {
                fill(fd, data, mode, owner).map_err(fail)?;
                return Ok(true);
            }
            Err(Errno::EXIST) => {}
            Err(e) => return Err(fail(e)),
        }
        if !self.is_exactly(parent, name, data, mode) {
            replace(parent, name, data, mode, owner).map_err(fail)?;
        }
        Ok(false)
    }

    /// Whether `name` is a regular, singly-linked file with exactly `data`,
    /// `mode` and the wanted owner (looked at before it is opened, and
    /// again on the descriptor).
    fn is_exactly(&self, parent: &OwnedFd, name: &str, data: &[u8], mode: u32) -> bool {
        let want = |st: &Stat| {
            plain(st)
                && st.st_size == data.len() as i64
                && st.st_mode & 0o7777 == mode
                && (st.st_uid, st.st_gid) == self.owner.unwrap_or(self.ours)
        };
        read_plain(parent, name, &want, READ_MAX).is_some_and(|bytes| bytes == data)
    }

    /// Links `rel` to `target`. An entry already there is kept as it is:
    /// the placeholders (`bin/iptables`) must not become applet links, and
    /// nothing in a rootfs is ever followed. Only a link the stage made, or
    /// a lone symlink, gets the owner: a chown by path of anything else
    /// could reach a host file through a hard link.
    fn symlink(&self, rel: &str, target: &str) -> Result<bool> {
        let (dir, name) = split(rel);
        let parent = &self.dirs[dir];
        let fail = |e| unsafe_or_io(&self.path, rel, e);
        let made = match rustix::fs::symlinkat(target, parent, name) {
            Ok(()) => true,
            Err(Errno::EXIST) => false,
            Err(e) => return Err(fail(e)),
        };
        let lone_link = || {
            rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|st| {
                FileType::from_raw_mode(st.st_mode) == FileType::Symlink && st.st_nlink == 1
            })
        };
        if let Some((u, g)) = self.owner_for(made) {
            if made || lone_link() {
                let (u, g) = (Some(Uid::from_raw(u)), Some(Gid::from_raw(g)));
                rustix::fs::chownat(parent, name, u, g, AtFlags::SYMLINK_NOFOLLOW).map_err(fail)?;
            }
        }
        Ok(made)
    }

    /// A small file the stage wrote earlier (machine-id), if it is still a
    /// plain file; anything else reads as absent and is later replaced.
    pub(super) fn read_file(&mut self, rel: &str) -> Option<Vec<u8>> {
        self.open_parent(rel).ok()?;
        let (dir, name) = split(rel);
        read_plain(&self.dirs[dir], name, &plain, READ_MAX)
    }
}

/// Whether `st` is a regular file with one link: the only kind of entry
/// the stage ever opens in a target.
pub(super) fn plain(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::RegularFile && st.st_nlink == 1
}

/// The bytes of `name` below `parent` if `check` holds for it before and
/// after it is opened (so only plain files are ever opened), at most `max`.
pub(super) fn read_plain(
    parent: &OwnedFd,
    name: &str,
    check: &dyn Fn(&Stat) -> bool,
    max: i64,
) -> Option<Vec<u8>> {
    let st = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
    if !check(&st) || st.st_size > max {
        return None;
    }
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK;
    let fd = walk::open_beneath(parent, name, flags, Mode::empty()).ok()?;
    let again = rustix::fs::fstat(&fd).ok()?;
    if again.st_ino != st.st_ino || !check(&again) {
        return None;
    }
    let mut out = Vec::new();
    std::fs::File::from(fd)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// Puts `data` at `name` below `parent` by a temp file renamed over it:
/// whatever was there is replaced, never opened. Mode and owner are set on
/// the temp file's descriptor before the rename.
pub(super) fn replace(
    parent: &OwnedFd,
    name: &str,
    data: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> rustix::io::Result<()> {
    let tmp = temp_name(name);
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
    let fd = walk::open_beneath(parent, tmp.as_str(), flags, Mode::from_raw_mode(mode))?;
    let done = fill(fd, data, mode, owner)
        .and_then(|()| rustix::fs::renameat(parent, tmp.as_str(), parent, name));
    if done.is_err() {
        let _ = rustix::fs::unlinkat(parent, tmp.as_str(), AtFlags::empty());
    }
    done
}

/// Writes `data` into a file just created, then sets its mode and owner on
/// the descriptor.
fn fill(fd: OwnedFd, data: &[u8], mode: u32, owner: Option<(u32, u32)>) -> rustix::io::Result<()> {
    let mut file = std::fs::File::from(fd);
    file.write_all(data).map_err(errno)?;
    rustix::fs::fchmod(&file, Mode::from_raw_mode(mode))?;
    chown(&file, owner)
}

/// A temp name beside `name`, unique to this process and call.
pub(super) fn temp_name(name: &str) -> String {
    let mut r = [0u8; 6];
    let _ = rustix::rand::getrandom(&mut r, rustix::rand::GetRandomFlags::empty());
    format!(".{name}.{}.tmp", hex::encode(r))
}

fn errno(e: std::io::Error) -> Errno {
    Errno::from_io_error(&e).unwrap_or(Errno::IO)
}

/// Parent directory (relative, `""` for the root itself) and file name.
fn split(rel: &str) -> (&str, &str) {
    rel.rsplit_once('/').unwrap_or(("", rel))
}

pub(super) fn chown(fd: impl AsFd, owner: Option<(u32, u32)>) -> rustix::io::Result<()> {
    match owner {
        Some((u, g)) => rustix::fs::fchown(fd, Some(Uid::from_raw(u)), Some(Gid::from_raw(g))),
        None => Ok(()),
    }
}

/// A refused symlink (ELOOP), an escape (EXDEV), a file where a directory
/// should be (ENOTDIR) or a directory where a file should be (EISDIR) is a
/// safety refusal; anything else is plain I/O.
fn unsafe_or_io(root: &Path, rel: &str, e: Errno) -> Error {
    let path = root.join(rel);
    match e {
        Errno::LOOP | Errno::XDEV | Errno::NOTDIR | Errno::ISDIR => Error::unsafe_target(format!(
            "refusing to write {}: a symlink or an entry of the wrong type is in the way ({e}); scgen never follows links inside a rootfs",
            path.display()
        )),
        e => Error::io(path, e.into()),
    }
}
