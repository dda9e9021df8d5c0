//! Trusting the skeleton store: its path, its lock, and the judgement of
//! one published skeleton, made by the same code for the stage and for
//! `scgen skeletons list|prune`.
//!
//! A container config names its lower dir by path, so a store is only as
//! safe as every directory above it: whoever can replace a component can
//! put a tree under an existing container. The path is therefore walked
//! from `/` one component at a time through descriptors, never following
//! a symlink, and each directory on it must belong to root or to the
//! store's owner and be writable by no one else (a sticky directory such
//! as `/tmp` is fine when the entry below it is theirs). Everything after
//! that goes through the store's descriptor.
//!
//! The lock is an `flock` of the store directory, which is 0711: no other
//! user can open it, so no other user can take the lock, and every wait
//! for it is bounded (exit 75 past the bound).

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, Mode, OFlags, Stat};
use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::values::{is_system_dir, AbsPath};

pub(super) const DIR: OFlags = OFlags::DIRECTORY
    .union(OFlags::RDONLY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NONBLOCK);
const PATH: OFlags = OFlags::PATH
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW);

/// A store whose whole path was checked, opened once.
pub(super) struct Store {
    pub(super) path: PathBuf,
    pub(super) fd: OwnedFd,
    /// The store directory's owner.
    pub(super) owner: (u32, u32),
}

/// The uids a directory on a store's path may belong to: root, the
/// store's owner and, inside a user namespace, the namespace's view of the
/// host's root (and the overflow uid, which is how a namespace sees owners
/// it has no mapping for: the stage cannot tell those apart, so `skeletons
/// list` on the host, as root, is the full check).
fn trusted(uid: u32, owner: u32) -> bool {
    if uid == 0 || uid == owner {
        return true;
    }
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    let initial = map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"];
    if initial {
        return false;
    }
    let host_root = map.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() == 3 && f[1] == "0" && f[0] == uid.to_string()
    });
    let overflow = std::fs::read_to_string("/proc/sys/kernel/overflowuid")
        .is_ok_and(|s| s.trim() == uid.to_string());
    host_root || overflow
}

/// Refuses a store path that `gen` would refuse: not absolute and normal,
/// `/`, a system directory, or holding `:`, `,` or `\`.
pub(super) fn check_path(path: &Path) -> Result<String> {
    let s = path.to_str().unwrap_or("");
    let parsed = AbsPath::parse(s).map_err(|p| {
        Error::unsafe_target(format!("skeleton store {}: {}", path.display(), p.message))
    })?;
    if is_system_dir(parsed.as_str()) {
        return Err(Error::unsafe_target(format!(
            "skeleton store {s} is `/` or a system directory; scgen fills and prunes only a store of its own"
        ))
        .with_help("name the store itself, e.g. --store /var/lib/softwarecontainer/skeletons"));
    }
    if let Some(c) = s.chars().find(|c| matches!(c, ':' | ',' | '\\')) {
        return Err(Error::unsafe_target(format!(
            "skeleton store {s} holds `{c}`, which LXC's overlay value cannot carry"
        )));
    }
    Ok(s.to_string())
}

/// Opens the store at `path` (creating it 0711 and its missing parents
/// 0755, whatever the umask, when `create`), checking every directory on its
/// path. `Ok(None)`: it does not exist and `create` is false.
/// `owner`: the uid the store may belong to besides root (the stage's);
/// `None` for the store's own owner (`skeletons list|prune`, run by root
/// on the store of a user-namespaced root).
pub(super) fn open(path: &Path, owner: Option<u32>, create: bool) -> Result<Option<Store>> {
    check_path(path)?;
    let owner = match owner {
        Some(uid) => uid,
        None => match rustix::fs::lstat(path) {
            Ok(st) => st.st_uid,
            // Checked below all the same: a missing store's parent must be safe.
            Err(Errno::NOENT) => rustix::process::geteuid().as_raw(),
            Err(e) => return Err(Error::io(path, e.into())),
        },
    };
    let names: Vec<_> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    let mut here = PathBuf::from("/");
    let mut parent =
        rustix::fs::open("/", PATH, Mode::empty()).map_err(|e| Error::io("/", e.into()))?;
    let mut parent_st = rustix::fs::fstat(&parent).map_err(|e| Error::io("/", e.into()))?;
    for (i, name) in names.iter().enumerate() {
        let last = i + 1 == names.len();
        let child_path = here.join(name);
        let flags = if last { DIR } else { PATH };
        let child = match rustix::fs::openat(&parent, *name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) if !create => {
                // Not there yet: where it will be made must be safe too.
                let writable = parent_st.st_mode & 0o022 != 0;
                let sticky = parent_st.st_mode & 0o1000 != 0;
                if trusted(parent_st.st_uid, owner) && (!writable || sticky) {
                    return Ok(None);
                }
                return Err(replaceable(&here, &parent_st, &child_path, path));
            }
            Err(Errno::NOENT) => {
                let mode = if last { 0o711 } else { 0o755 };
                make(&parent, name, &child_path, flags, mode)?
            }
            Err(e @ (Errno::LOOP | Errno::NOTDIR)) => {
                return Err(Error::unsafe_target(format!(
                    "skeleton store {}: {} is a symlink or not a directory ({e}); no link on a store's path is followed",
                    path.display(),
                    child_path.display()
                ))
                .with_help("name the store by its real path"))
            }
            Err(e) => return Err(Error::io(&child_path, e.into())),
        };
        let st = rustix::fs::fstat(&child).map_err(|e| Error::io(&child_path, e.into()))?;
        ancestor(&here, &parent_st, &child_path, &st, owner, path)?;
        here = child_path;
        parent = child;
        parent_st = st;
    }
    if !(parent_st.st_uid == 0 || parent_st.st_uid == owner) || parent_st.st_mode & 0o022 != 0 {
        return Err(Error::unsafe_target(format!(
            "skeleton store {} is owned by uid {} with mode {:04o}; it must belong to root (or to uid {}) and be writable by no one else",
            path.display(),
            parent_st.st_uid,
            parent_st.st_mode & 0o7777,
            owner
        ))
        .with_help("for user-namespaced containers, give them a store of their own owned by the mapped root"));
    }
    Ok(Some(Store {
        path: path.to_path_buf(),
        fd: parent,
        owner: (parent_st.st_uid, parent_st.st_gid),
    }))
}

/// Makes one missing directory of the store's path, `mode` on its
/// descriptor (the umask never shows), and opens it with `flags`.
fn make(
    parent: &OwnedFd,
    name: &std::ffi::OsStr,
    shown: &Path,
    flags: OFlags,
    mode: u32,
) -> Result<OwnedFd> {
    match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(mode)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(Error::create(shown, e.into())),
    }
    let fd = rustix::fs::openat(parent, name, DIR, Mode::empty())
        .map_err(|e| Error::create(shown, e.into()))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::create(shown, e.into()))?;
    if st.st_uid == rustix::process::geteuid().as_raw() && st.st_mode & 0o7777 != mode {
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))
            .map_err(|e| Error::create(shown, e.into()))?;
    }
    match flags == DIR {
        true => Ok(fd),
        false => rustix::fs::openat(parent, name, flags, Mode::empty())
            .map_err(|e| Error::create(shown, e.into())),
    }
}

/// Whether `dir` (holding `child`) lets no one but root or the owner
/// replace `child`.
fn ancestor(dir: &Path, d: &Stat, child: &Path, c: &Stat, owner: u32, store: &Path) -> Result<()> {
    let writable = d.st_mode & 0o022 != 0;
    let sticky = d.st_mode & 0o1000 != 0;
    let safe = trusted(d.st_uid, owner) && (!writable || (sticky && trusted(c.st_uid, owner)));
    match safe {
        true => Ok(()),
        false => Err(replaceable(dir, d, child, store)),
    }
}

fn replaceable(dir: &Path, d: &Stat, child: &Path, store: &Path) -> Error {
    Error::unsafe_target(format!(
        "skeleton store {}: {} (uid {}, mode {:04o}) lets another user replace {}; a store is trusted only when no one but root or its owner can replace any part of its path",
        store.display(),
        dir.display(),
        d.st_uid,
        d.st_mode & 0o7777,
        child.display()
    ))
    .with_help(format!(
        "make {} root's and writable by root only (chown root; chmod go-w), or put the store below such a directory",
        dir.display()
    ))
}

impl Store {
    /// Takes the store's lock (an `flock` of the store directory), shared
    /// or exclusive, waiting at most `wait`. Others cannot open a 0711
    /// store, so they cannot take it; an older store that others may read
    /// is made 0711 first when it is ours.
    pub(super) fn lock(&self, exclusive: bool, wait: Duration) -> Result<()> {
        let st = rustix::fs::fstat(&self.fd).map_err(|e| Error::io(&self.path, e.into()))?;
        if st.st_mode & 0o044 != 0 && st.st_uid == rustix::process::geteuid().as_raw() {
            let mode = Mode::from_raw_mode(st.st_mode & 0o7711);
            // A read-only store cannot be tightened, nor pruned either.
            match rustix::fs::fchmod(&self.fd, mode) {
                Ok(()) | Err(Errno::ROFS) => {}
                Err(e) => return Err(Error::io(&self.path, e.into())),
            }
        }
        flock_within(&self.fd, exclusive, wait, &self.path)
    }
}

/// `flock` without waiting for ever: retried until `wait` has passed, then
/// an error naming what is locked.
pub(super) fn flock_within(
    fd: impl AsFd,
    exclusive: bool,
    wait: Duration,
    what: &Path,
) -> Result<()> {
    let op = match exclusive {
        true => FlockOperation::NonBlockingLockExclusive,
        false => FlockOperation::NonBlockingLockShared,
    };
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        match rustix::fs::flock(fd.as_fd(), op) {
            Ok(()) => return Ok(()),
            Err(Errno::WOULDBLOCK | Errno::INTR) if start.elapsed() < wait => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(Errno::WOULDBLOCK) => {
                return Err(Error::busy(format!(
                    "{} has been locked by another scgen stage or prune for {}s; giving up",
                    what.display(),
                    wait.as_secs()
                ))
                .with_help("find the holder with `fuser -v` on the lock, or wait longer with SCGEN_LOCK_WAIT=<seconds>"))
            }
            Err(e) => return Err(Error::io(what, e.into())),
        }
    }
}
