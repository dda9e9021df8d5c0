//! A published skeleton's stamp, and the one judgement of a skeleton that
//! the stage, `skeletons list` and `skeletons prune` all make ([`judge`]):
//! a real directory and `rootfs` of one owner, writable by no one else,
//! and a stamp that is exactly the one its name stands for.
//!
//! The stamp: the key lines (what the tree depends on, hashed into the
//! name; see `overlay.rs`), then one `upper MODE HEXPATH` line per
//! directory the containers' upper dirs must hold (a directory others may
//! write, such as `tmp`, is 0755 in the shared skeleton and gets its real
//! mode in each container's upper dir, which overlayfs shows), then `tree
//! DIGEST`.

use std::fs;
use std::io::Read as _;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use super::store::{Store, DIR};
use crate::contract::sha256_hex;
use crate::error::{Error, Result};

/// The tree the containers see, below a skeleton's directory.
pub(super) const ROOTFS: &str = "rootfs";
/// What a skeleton was made from, and the digest of its tree.
pub(super) const STAMP: &str = "stamp";
/// A stamp is a few short lines; anything longer is not one.
const STAMP_MAX: u64 = 64 * 1024;

/// Directories each upper dir holds: path below the rootfs, and mode.
pub(super) type Upper = Vec<(String, u32)>;

/// A skeleton that passed [`judge`].
pub(super) struct Judged {
    pub(super) key: String,
    /// Directories each upper dir holds: path below the rootfs, and mode.
    pub(super) upper: Vec<(String, u32)>,
    /// The tree digest the stamp records.
    pub(super) tree: String,
    pub(super) rootfs: OwnedFd,
}

/// The stamp's text for `key`, `upper` and `tree`.
pub(super) fn text(key: &str, upper: &[(String, u32)], tree: &str) -> String {
    let mut s = key.to_string();
    for (path, mode) in upper {
        s.push_str(&format!("upper {mode:o} {}\n", hex::encode(path)));
    }
    s.push_str(&format!("tree {tree}\n"));
    s
}

/// A skeleton's directory name: 32 hex digits of its key's SHA-256.
pub(super) fn name_of(key: &str) -> String {
    sha256_hex(key.as_bytes())[..32].to_string()
}

/// Whether `name` has the form of a skeleton's name.
pub(super) fn is_name(name: &str) -> bool {
    name.len() == 32 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Judges the skeleton `name` in `store`: `Ok(None)` if there is none.
/// With `want`, it must belong to that owner (the stage's); without, to
/// the owner its stamp names. Unsafe (77) for a symlink, a wrong owner or
/// mode; data (65) for a stamp that does not match the name.
pub(super) fn judge(store: &Store, name: &str, want: Option<(u32, u32)>) -> Result<Option<Judged>> {
    let path = store.path.join(name);
    let dir = match rustix::fs::openat(&store.fd, name, DIR, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(refused(&path, e)),
    };
    let st = rustix::fs::fstat(&dir).map_err(|e| Error::io(&path, e.into()))?;
    let owner = want.unwrap_or((st.st_uid, st.st_gid));
    owned(&st, &path, owner)?;
    if !(store.owner.0 == 0 || store.owner.0 == owner.0) {
        return Err(Error::unsafe_target(format!(
            "skeleton {} belongs to uid {} in a store of uid {}",
            path.display(),
            owner.0,
            store.owner.0
        )));
    }
    let stamp = read_stamp(&dir, &path, owner)?;
    let bad = |why: &str| {
        Error::data(format!(
            "skeleton {} fails its stamp check: {why}; it is never used",
            path.display()
        ))
        .with_help(
            "check it with `scgen skeletons list`; remove it by hand once no container uses it",
        )
    };
    let (key, upper, tree) = parse(&stamp).ok_or_else(|| bad("its stamp is not scgen's"))?;
    if name_of(&key) != name {
        return Err(bad("its stamp is not the one its name stands for"));
    }
    if !key.contains(&format!("\nowner {}:{}\n", owner.0, owner.1)) {
        return Err(bad("its stamp names another owner"));
    }
    let rootfs = rustix::fs::openat(&dir, ROOTFS, DIR, Mode::empty())
        .map_err(|e| refused(&path.join(ROOTFS), e))?;
    let rst = rustix::fs::fstat(&rootfs).map_err(|e| Error::io(&path, e.into()))?;
    owned(&rst, &path.join(ROOTFS), owner)?;
    Ok(Some(Judged {
        key,
        upper,
        tree,
        rootfs,
    }))
}

/// Splits a stamp into its key, upper lines and tree digest.
fn parse(stamp: &str) -> Option<(String, Upper, String)> {
    let body = stamp.strip_suffix('\n')?;
    let mut key = String::new();
    let mut upper = Vec::new();
    let mut tree = None;
    for line in body.split('\n') {
        if tree.is_some() {
            return None;
        }
        if let Some(rest) = line.strip_prefix("upper ") {
            let (mode, path) = rest.split_once(' ')?;
            let path = String::from_utf8(hex::decode(path).ok()?).ok()?;
            if path.is_empty() || path.split('/').any(|c| matches!(c, "" | "." | "..")) {
                return None;
            }
            upper.push((path, u32::from_str_radix(mode, 8).ok()? & 0o7777));
        } else if let Some(t) = line.strip_prefix("tree ") {
            tree = Some(t.to_string());
        } else if upper.is_empty() {
            key.push_str(line);
            key.push('\n');
        } else {
            return None;
        }
    }
    let tree = tree.filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))?;
    key.starts_with("scgen skeleton ")
        .then_some((key, upper, tree))
}

pub(super) fn refused(path: &Path, e: Errno) -> Error {
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
fn owned(st: &rustix::fs::Stat, path: &Path, owner: (u32, u32)) -> Result<()> {
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
    let bad = |why: &str| {
        Error::data(format!(
            "skeleton {} fails its stamp check: {why}; it is never used",
            path.display()
        ))
    };
    let fd = rustix::fs::openat(
        dir,
        STAMP,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| bad(&format!("cannot open its stamp ({e})")))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::io(path.join(STAMP), e.into()))?;
    let regular = FileType::from_raw_mode(st.st_mode) == FileType::RegularFile;
    if !regular || st.st_nlink != 1 || st.st_uid != owner.0 || st.st_size as u64 > STAMP_MAX {
        return Err(bad("the stamp is not a small regular file of its owner's"));
    }
    let mut text = String::new();
    fs::File::from(fd)
        .take(STAMP_MAX)
        .read_to_string(&mut text)
        .map_err(|_| bad("the stamp is not text"))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_reads_back() {
        let key = "scgen skeleton 2\nowner 0:0\n";
        let upper = vec![("tmp".to_string(), 0o1777), ("var/tmp".to_string(), 0o1777)];
        let t = text(key, &upper, &"a".repeat(64));
        assert_eq!(parse(&t), Some((key.to_string(), upper, "a".repeat(64))));
        assert_eq!(parse("scgen skeleton 2\ntree x\n"), None);
        let dotdot = text(key, &[("..".to_string(), 0o755)], &"a".repeat(64));
        assert_eq!(parse(&dotdot), None);
    }
}
