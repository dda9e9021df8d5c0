//! The skeleton store of overlay containers: how a store and a published
//! skeleton are trusted, the tree digest in a skeleton's stamp, and the
//! housekeeping behind `scgen skeletons list|prune`.
//!
//! Layout: `<store>/<name>/{stamp,rootfs/}`, where `<name>` is 32 hex
//! digits of the SHA-256 of the stamp's key lines (see `overlay.rs`), and
//! `<store>/.<name>.*` are fills in progress (each holds an exclusive
//! `flock` while its stage lives) or left by a killed one.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read as _;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use crate::contract::sha256_hex;
use crate::error::{Error, Result};

/// The tree the containers see, below a skeleton's directory.
pub(super) const ROOTFS: &str = "rootfs";
/// What a skeleton was made from, and the digest of its tree.
pub(super) const STAMP: &str = "stamp";
/// A stamp is a few short lines; anything longer is not one.
const STAMP_MAX: u64 = 4096;

const DIR: OFlags = OFlags::DIRECTORY
    .union(OFlags::RDONLY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW);

/// Who owns skeletons made by this process: its effective ids, which in a
/// user namespace are the container's root (the mapped root on the host).
pub(super) fn effective_owner() -> (u32, u32) {
    (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    )
}

/// Opens the store if it exists. It must be a real directory (not a
/// symlink), owned by root or by `owner`, and writable by nobody else:
/// whoever can write it can put a tree under any container.
pub(super) fn open_store(path: &Path, owner: (u32, u32)) -> Result<Option<OwnedFd>> {
    let fd = match rustix::fs::open(path, DIR, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(e @ (Errno::LOOP | Errno::NOTDIR)) => {
            return Err(Error::unsafe_target(format!(
                "skeleton store {} is not a directory ({e}); a symlink is never followed",
                path.display()
            )))
        }
        Err(e) => return Err(Error::io(path, e.into())),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::io(path, e.into()))?;
    if (st.st_uid != 0 && st.st_uid != owner.0) || st.st_mode & 0o022 != 0 {
        return Err(Error::unsafe_target(format!(
            "skeleton store {} is owned by uid {} with mode {:04o}; it must belong to root (or to uid {}) and be writable by no one else",
            path.display(),
            st.st_uid,
            st.st_mode & 0o7777,
            owner.0
        ))
        .with_help("for user-namespaced containers, give them a store of their own owned by the mapped root"));
    }
    Ok(Some(fd))
}

/// Creates the store (mode 0755 whatever the umask) and opens it.
pub(super) fn create_store(path: &Path, owner: (u32, u32)) -> Result<OwnedFd> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::create(parent, e))?;
    }
    let made = match rustix::fs::mkdir(path, Mode::from_raw_mode(0o755)) {
        Ok(()) => true,
        Err(Errno::EXIST) => false,
        Err(e) => return Err(Error::create(path, e.into())),
    };
    if made {
        let fd = rustix::fs::open(path, DIR, Mode::empty())
            .map_err(|e| Error::create(path, e.into()))?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o755))
            .map_err(|e| Error::create(path, e.into()))?;
    }
    open_store(path, owner)?.ok_or_else(|| Error::create(path, std::io::ErrorKind::NotFound.into()))
}

/// Checks the skeleton `name` in the store: `Ok(false)` if there is none;
/// an error if it is there but not to be trusted (a symlink, the wrong
/// owner, writable by others, or a stamp that does not match its name).
pub(super) fn open_checked(
    store: &OwnedFd,
    store_path: &Path,
    name: &str,
    key: &str,
    owner: (u32, u32),
) -> Result<bool> {
    let path = store_path.join(name);
    let dir = match rustix::fs::openat(store, name, DIR, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(false),
        Err(e) => return Err(refused(&path, e)),
    };
    owned(&dir, &path, owner)?;
    let stamp = read_stamp(&dir, &path, owner)?;
    let well_formed = stamp
        .strip_prefix(key)
        .and_then(|rest| rest.strip_prefix("tree "))
        .and_then(|rest| rest.strip_suffix('\n'))
        .is_some_and(is_hex64);
    if !well_formed {
        return Err(Error::data(format!(
            "skeleton {} fails its stamp check: its stamp is not the one its name stands for; it is never used",
            path.display()
        ))
        .with_help("check it with `scgen skeletons list`; remove it by hand once no container uses it"));
    }
    let rootfs = rustix::fs::openat(&dir, ROOTFS, DIR, Mode::empty())
        .map_err(|e| refused(&path.join(ROOTFS), e))?;
    owned(&rootfs, &path.join(ROOTFS), owner)?;
    Ok(true)
}

fn refused(path: &Path, e: Errno) -> Error {
    match e {
        Errno::LOOP | Errno::NOTDIR | Errno::NOENT => Error::unsafe_target(format!(
            "skeleton {} is not a directory ({e}); a symlink is never followed",
            path.display()
        )),
        e => Error::io(path, e.into()),
    }
}

/// The skeleton's directories must be its owner's and writable by no one
/// else, or another user could change what every container sees.
fn owned(fd: impl AsFd, path: &Path, owner: (u32, u32)) -> Result<()> {
    let st = rustix::fs::fstat(fd).map_err(|e| Error::io(path, e.into()))?;
    if (st.st_uid, st.st_gid) != owner || st.st_mode & 0o022 != 0 {
        return Err(Error::unsafe_target(format!(
            "skeleton {} is owned by {}:{} with mode {:04o}; expected {}:{} and writable by no one else",
            path.display(),
            st.st_uid,
            st.st_gid,
            st.st_mode & 0o7777,
            owner.0,
            owner.1
        )));
    }
    Ok(())
}

/// Reads the stamp: a regular, singly-linked file of the owner's, small.
fn read_stamp(dir: &OwnedFd, path: &Path, owner: (u32, u32)) -> Result<String> {
    let stamp_path = path.join(STAMP);
    let bad = |why: &str| {
        Error::data(format!(
            "skeleton {} fails its stamp check: {why}; it is never used",
            path.display()
        ))
    };
    let fd = rustix::fs::openat(
        dir,
        STAMP,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map_err(|e| bad(&format!("cannot open its stamp ({e})")))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::io(&stamp_path, e.into()))?;
    let regular = st.st_mode & 0o170000 == 0o100000;
    if !regular || st.st_nlink != 1 || st.st_uid != owner.0 || st.st_size as u64 > STAMP_MAX {
        return Err(bad("the stamp is not a small regular file of its owner's"));
    }
    let mut text = String::new();
    fs::File::from(fd)
        .take(STAMP_MAX)
        .read_to_string(&mut text)
        .map_err(|e| Error::io(&stamp_path, e))?;
    Ok(text)
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// SHA-256 over a canonical listing of the tree below `dir`, without
/// following links: each entry's path, type, mode, owner, and its content's
/// SHA-256 or its link target. What the stamp records and `list` rechecks.
pub(super) fn tree_digest(dir: &Path) -> std::io::Result<String> {
    let mut listing = String::new();
    walk(dir, "", &mut listing)?;
    Ok(sha256_hex(listing.as_bytes()))
}

fn walk(dir: &Path, rel: &str, out: &mut String) -> std::io::Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir.join(rel))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()?;
    names.sort();
    for name in names {
        let name = name.to_string_lossy();
        let path = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        let full = dir.join(&path);
        let m = fs::symlink_metadata(&full)?;
        let t = m.file_type();
        let what = if t.is_dir() {
            "dir".to_string()
        } else if t.is_symlink() {
            format!("link {}", fs::read_link(&full)?.display())
        } else if t.is_file() {
            format!("file {}", sha256_hex(&fs::read(&full)?))
        } else {
            "special".to_string()
        };
        out.push_str(&format!(
            "{path:?} {:o} {}:{} {what}\n",
            m.mode(),
            m.uid(),
            m.gid()
        ));
        if t.is_dir() {
            walk(dir, &path, out)?;
        }
    }
    Ok(())
}

/// One entry of the store, as `scgen skeletons` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    pub state: State,
    /// Containers (`<lxcpath>/<name>`) whose config names this skeleton.
    pub users: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Stamp and tree digest match.
    Ok,
    /// Fails a check; never used by a stage. The reason.
    Bad(String),
    /// A fill in progress (`live`) or left by a killed stage.
    Temp { live: bool },
}

/// Lists the store, checking each skeleton's stamp and tree digest, with
/// the containers under `lxcpaths` that use it.
pub fn list(store: &Path, lxcpaths: &[PathBuf]) -> Result<Vec<Item>> {
    let Some(fd) = open_store(store, effective_owner())? else {
        return Ok(Vec::new());
    };
    rustix::fs::flock(&fd, FlockOperation::LockShared).map_err(|e| Error::io(store, e.into()))?;
    scan(store, lxcpaths)
}

fn scan(store: &Path, lxcpaths: &[PathBuf]) -> Result<Vec<Item>> {
    let users = users(lxcpaths)?;
    let mut out = Vec::new();
    let mut names: Vec<String> = fs::read_dir(store)
        .map_err(|e| Error::io(store, e))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    for name in names {
        let path = store.join(&name);
        let state = if name.starts_with('.') {
            State::Temp {
                live: is_locked(&path),
            }
        } else {
            check(&path, &name)
        };
        let id = fs::metadata(path.join(ROOTFS)).map(|m| (m.dev(), m.ino()));
        let used_by = match (&state, id) {
            (State::Temp { .. }, _) | (_, Err(_)) => Vec::new(),
            (_, Ok(id)) => users.get(&id).cloned().unwrap_or_default(),
        };
        out.push(Item {
            name,
            state,
            users: used_by,
        });
    }
    Ok(out)
}

/// Whether a live stage holds the lock of the temp dir at `path`.
fn is_locked(path: &Path) -> bool {
    match rustix::fs::open(path, DIR, Mode::empty()) {
        Ok(fd) => rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive).is_err(),
        Err(_) => false,
    }
}

/// The full check of one published skeleton: trust rules, stamp, name and
/// the tree digest recomputed.
fn check(path: &Path, name: &str) -> State {
    let owner = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => (m.uid(), m.gid()),
        Ok(_) => return State::Bad("not a directory (a symlink?)".into()),
        Err(e) => return State::Bad(e.to_string()),
    };
    let result = (|| -> Result<State> {
        let dir = rustix::fs::open(path, DIR, Mode::empty()).map_err(|e| refused(path, e))?;
        owned(&dir, path, owner)?;
        let stamp = read_stamp(&dir, path, owner)?;
        let Some((key, tree)) = stamp
            .strip_suffix('\n')
            .and_then(|s| s.rsplit_once('\n'))
            .map(|(k, t)| (format!("{k}\n"), t))
        else {
            return Ok(State::Bad("the stamp has no tree line".into()));
        };
        if sha256_hex(key.as_bytes())[..32] != *name {
            return Ok(State::Bad(
                "the stamp does not match the skeleton's name".into(),
            ));
        }
        let actual = tree_digest(&path.join(ROOTFS)).map_err(|e| Error::io(path, e))?;
        if tree.strip_prefix("tree ") != Some(actual.as_str()) {
            return Ok(State::Bad(format!(
                "the tree changed since it was published (digest {actual})"
            )));
        }
        Ok(State::Ok)
    })();
    result.unwrap_or_else(|e| State::Bad(e.diagnostic().message))
}

/// Removes every skeleton no container under `lxcpaths` uses, and the temp
/// dirs of killed fills. Holds the store's lock exclusively, so no stage
/// is between finding a skeleton and writing the config that names it.
/// Returns the store as it was, each item marked removed or not.
pub fn prune(store: &Path, lxcpaths: &[PathBuf]) -> Result<Vec<(Item, bool)>> {
    let Some(fd) = open_store(store, effective_owner())? else {
        return Ok(Vec::new());
    };
    rustix::fs::flock(&fd, FlockOperation::LockExclusive)
        .map_err(|e| Error::io(store, e.into()))?;
    let mut out = Vec::new();
    for item in scan(store, lxcpaths)? {
        let remove = match item.state {
            State::Temp { live } => !live,
            _ => item.users.is_empty(),
        };
        if remove {
            // Out of sight first (one rename), then deleted; a delete cut
            // short leaves a dead temp dir for the next prune.
            let gone = store.join(format!(".{}.pruned", item.name.trim_start_matches('.')));
            let _ = fs::remove_dir_all(&gone);
            fs::rename(store.join(&item.name), &gone)
                .map_err(|e| Error::io(store.join(&item.name), e))?;
            fs::remove_dir_all(&gone).map_err(|e| Error::io(&gone, e))?;
        }
        out.push((item, remove));
    }
    Ok(out)
}

/// Containers under `lxcpaths` by the (device, inode) of the overlay lower
/// dir their config names: compared by inode, so another spelling of the
/// store's path still counts as a use. An lxcpath or a config that cannot
/// be read is an error: prune must never guess that nothing uses a
/// skeleton.
fn users(lxcpaths: &[PathBuf]) -> Result<BTreeMap<(u64, u64), Vec<PathBuf>>> {
    let mut out: BTreeMap<(u64, u64), Vec<PathBuf>> = BTreeMap::new();
    for lxcpath in lxcpaths {
        let entries = fs::read_dir(lxcpath).map_err(|e| Error::io(lxcpath, e))?;
        let mut containers: Vec<PathBuf> =
            entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        containers.sort();
        for c in containers {
            let config = c.join("config");
            match fs::symlink_metadata(&config) {
                Ok(m) if m.is_file() && m.len() <= 1 << 20 => {}
                _ => continue,
            }
            let text = fs::read_to_string(&config).map_err(|e| Error::io(&config, e))?;
            let Some(lower) = overlay_lower(&text) else {
                continue;
            };
            if let Ok(m) = fs::metadata(lower) {
                out.entry((m.dev(), m.ino())).or_default().push(c);
            }
        }
    }
    Ok(out)
}

/// The lower dir of the last `lxc.rootfs.path` (the one LXC uses) when it
/// is an overlay: `overlay:<lower>:<upper>`.
pub fn overlay_lower(config: &str) -> Option<&str> {
    let value = config
        .lines()
        .rev()
        .filter_map(|l| l.trim().split_once('='))
        .find(|(k, _)| k.trim() == "lxc.rootfs.path")
        .map(|(_, v)| v.trim())?;
    let rest = value
        .strip_prefix("overlay:")
        .or_else(|| value.strip_prefix("overlayfs:"))?;
    rest.split_once(':').map(|(lower, _)| lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_rootfs_line_names_the_lower_dir() {
        let conf =
            "lxc.rootfs.path = dir:/c/rootfs\nlxc.rootfs.path = overlay:/s/x/rootfs:/c/rootfs\n";
        assert_eq!(overlay_lower(conf), Some("/s/x/rootfs"));
        assert_eq!(overlay_lower("lxc.rootfs.path = dir:/c/rootfs\n"), None);
        assert_eq!(
            overlay_lower("lxc.rootfs.path = overlay:/a:/b\nlxc.rootfs.path = dir:/r\n"),
            None
        );
    }
}
