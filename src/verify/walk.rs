//! Reading a tree without trusting it: every entry is looked at with
//! `fstatat(AT_SYMLINK_NOFOLLOW)` from its directory's descriptor, a
//! directory is opened `O_NOFOLLOW` and checked to be the inode just seen,
//! a symlink is read with `readlinkat` and never followed, and nothing but
//! a regular file is ever opened for reading: a file whose digest is wanted
//! is first opened `O_PATH` (which opens nothing: a FIFO cannot block it,
//! a device driver never sees it), checked, and only then reopened through
//! `/proc/self/fd` for reading, so an entry swapped for a FIFO or a device
//! between the look and the open is never opened. Depth is bounded (a
//! descriptor per level).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};

use crate::error::{Error, Result};

/// Directories deeper than this are listed, not entered.
pub(super) const MAX_DEPTH: usize = 128;

/// What is at a path of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Kind {
    Dir,
    /// Size, and the SHA-256 when it was asked for.
    File(u64, Option<String>),
    Link(String),
    /// A FIFO, device or socket: never opened. mtree's type name.
    Other(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Found {
    pub(super) kind: Kind,
    pub(super) mode: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
}

/// Everything below `root` by path relative to it (`a/b`), and the dirs
/// not entered for depth. Files in `digest` of the size it gives get their
/// SHA-256.
pub(super) struct Walk {
    pub(super) found: BTreeMap<String, Found>,
    pub(super) too_deep: Vec<String>,
}

const DIR: OFlags = OFlags::DIRECTORY
    .union(OFlags::RDONLY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NONBLOCK);

/// Opens `root` (never through a symlink at its last component) and walks it.
pub(super) fn walk(root: &Path, digest: &BTreeMap<String, u64>) -> Result<Walk> {
    let fd = rustix::fs::open(root, DIR, Mode::empty()).map_err(|e| {
        Error::io(
            root,
            std::io::Error::other(format!(
                "cannot open as a directory without following a symlink: {e}"
            )),
        )
    })?;
    let mut w = Walk {
        found: BTreeMap::new(),
        too_deep: Vec::new(),
    };
    dir(&fd, root, "", 0, digest, &mut w)?;
    Ok(w)
}

fn dir(
    fd: &OwnedFd,
    root: &Path,
    rel: &str,
    depth: usize,
    digest: &BTreeMap<String, u64>,
    w: &mut Walk,
) -> Result<()> {
    let io = |e: rustix::io::Errno| Error::io(root.join(rel), e.into());
    let mut names = Vec::new();
    for e in rustix::fs::Dir::read_from(fd).map_err(io)? {
        let e = e.map_err(io)?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name != "." && name != ".." {
            names.push((name, e.file_name().to_owned()));
        }
    }
    names.sort();
    for (name, raw) in names {
        let child = match rel {
            "" => name.clone(),
            _ => format!("{rel}/{name}"),
        };
        let Ok(st) = rustix::fs::statat(fd, raw.as_c_str(), AtFlags::SYMLINK_NOFOLLOW) else {
            continue; // gone meanwhile
        };
        let kind = match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => Kind::Dir,
            FileType::RegularFile => {
                let sum = (digest.get(&child) == Some(&(st.st_size as u64)))
                    .then(|| sha256(fd, raw.as_c_str(), &st))
                    .flatten();
                Kind::File(st.st_size as u64, sum)
            }
            FileType::Symlink => match rustix::fs::readlinkat(fd, raw.as_c_str(), Vec::new()) {
                Ok(t) => Kind::Link(t.to_string_lossy().into_owned()),
                Err(_) => continue,
            },
            FileType::Fifo => Kind::Other("fifo"),
            FileType::CharacterDevice => Kind::Other("char"),
            FileType::BlockDevice => Kind::Other("block"),
            FileType::Socket => Kind::Other("socket"),
            FileType::Unknown => Kind::Other("unknown"),
        };
        let is_dir = kind == Kind::Dir;
        w.found.insert(child.clone(), found(kind, &st));
        if !is_dir {
            continue;
        }
        if depth + 1 >= MAX_DEPTH {
            w.too_deep.push(child);
            continue;
        }
        let Ok(sub) = rustix::fs::openat(fd, raw.as_c_str(), DIR, Mode::empty()) else {
            continue; // swapped for something else: listed as seen
        };
        match rustix::fs::fstat(&sub) {
            Ok(again) if again.st_ino == st.st_ino && again.st_dev == st.st_dev => {
                dir(&sub, root, &child, depth + 1, digest, w)?
            }
            _ => continue,
        }
    }
    Ok(())
}

fn found(kind: Kind, st: &Stat) -> Found {
    Found {
        kind,
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
    }
}

/// Opens a regular file without ever opening anything else: `O_PATH`
/// first (opens nothing), checked to be the inode `st` describes, then
/// reopened for reading through `/proc/self/fd` and checked again.
fn open_checked(dir: &OwnedFd, name: &std::ffi::CStr, st: &Stat) -> Option<std::fs::File> {
    let path = rustix::fs::openat(
        dir,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let same = |s: &Stat| {
        FileType::from_raw_mode(s.st_mode) == FileType::RegularFile
            && s.st_ino == st.st_ino
            && s.st_dev == st.st_dev
    };
    if !same(&rustix::fs::fstat(&path).ok()?) {
        return None;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc_nonblock())
        .open(format!("/proc/self/fd/{}", path.as_raw_fd()))
        .ok()?;
    same(&rustix::fs::fstat(&file).ok()?).then_some(file)
}

/// The bytes of a small regular file (see [`open_checked`]).
fn read_checked(dir: &OwnedFd, name: &std::ffi::CStr, st: &Stat) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    open_checked(dir, name, st)?
        .take(4097)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// The SHA-256 of a regular file, streamed, or `None` if it is not the
/// regular file `st` describes any more.
fn sha256(dir: &OwnedFd, name: &std::ffi::CStr, st: &Stat) -> Option<String> {
    use sha2::Digest as _;
    let mut file = open_checked(dir, name, st)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(_) => return None,
        }
    }
    Some(hex::encode(h.finalize()))
}

/// O_NONBLOCK | O_CLOEXEC as `open(2)` flags (no O_NOFOLLOW: the
/// `/proc/self/fd` link is the one link that must be followed, to the
/// inode already checked).
fn libc_nonblock() -> i32 {
    (OFlags::NONBLOCK | OFlags::CLOEXEC).bits() as i32
}

/// A small regular file `name` in directory `dir` (neither followed if a
/// symlink), read as text; `None` for anything else.
pub(super) fn small_file(dir: &Path, name: &str) -> Option<String> {
    let fd = rustix::fs::open(dir, DIR, Mode::empty()).ok()?;
    let st = rustix::fs::statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile || st.st_size > 4096 {
        return None;
    }
    let cname = std::ffi::CString::new(name).ok()?;
    let mut text = String::new();
    let bytes = read_checked(&fd, &cname, &st)?;
    text.push_str(std::str::from_utf8(&bytes).ok()?);
    Some(text)
}
