//! Walking and removing a skeleton's tree through descriptors only, with
//! bounded depth, descriptors and memory: what a hostile tree (a FIFO
//! swapped in for a file, a sparse file of gigabytes, a chain of 100,000
//! directories) can do to `skeletons list|prune` is make them report it.

use std::io::Read as _;
use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;
use sha2::Digest as _;

use super::store::DIR;

/// The deepest a skeleton's tree may go: a tarball path is at most 4095
/// bytes, and the shipped trees are 3 deep. Bounds the descriptors held.
pub(super) const MAX_DEPTH: usize = 128;

/// SHA-256 over a canonical listing of the tree below `root`, without
/// following links: each entry's path, type, mode, owner, and its
/// content's SHA-256 or its link target. `Err`: why the tree is not one
/// the stage made (writable by others, too deep) or cannot be read.
pub(super) fn digest(root: &OwnedFd) -> Result<String, String> {
    let mut listing = sha2::Sha256::new();
    walk(root, "", 0, &mut listing)?;
    Ok(hex::encode(listing.finalize()))
}

fn names(dir: &OwnedFd) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for e in rustix::fs::Dir::read_from(dir).map_err(|e| e.to_string())? {
        let e = e.map_err(|e| e.to_string())?;
        let n = e.file_name().to_string_lossy().into_owned();
        if n != "." && n != ".." {
            names.push(n);
        }
    }
    names.sort();
    Ok(names)
}

fn walk(dir: &OwnedFd, rel: &str, depth: usize, out: &mut sha2::Sha256) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("{rel} is more than {MAX_DEPTH} levels deep"));
    }
    for name in names(dir)? {
        let path = match rel.is_empty() {
            true => name.clone(),
            false => format!("{rel}/{name}"),
        };
        let fail = |e: Errno| format!("{path}: {e}");
        let st = rustix::fs::statat(dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW).map_err(fail)?;
        let kind = FileType::from_raw_mode(st.st_mode);
        if kind != FileType::Symlink && st.st_mode & 0o022 != 0 {
            return Err(format!(
                "{path} is writable by others (mode {:04o})",
                st.st_mode & 0o7777
            ));
        }
        let mut sub = None;
        let what = match kind {
            FileType::Symlink => {
                let target =
                    rustix::fs::readlinkat(dir, name.as_str(), Vec::new()).map_err(fail)?;
                format!("link {}", target.to_string_lossy())
            }
            FileType::Directory => {
                let fd =
                    rustix::fs::openat(dir, name.as_str(), DIR, Mode::empty()).map_err(fail)?;
                same(&fd, &st, &path, FileType::Directory)?;
                sub = Some(fd);
                "dir".to_string()
            }
            FileType::RegularFile => {
                // Never blocks (a FIFO swapped in opens at once and fails
                // the type check on the descriptor); streamed, never held.
                let flags = OFlags::RDONLY
                    | OFlags::NOFOLLOW
                    | OFlags::NONBLOCK
                    | OFlags::NOCTTY
                    | OFlags::CLOEXEC;
                let fd =
                    rustix::fs::openat(dir, name.as_str(), flags, Mode::empty()).map_err(fail)?;
                same(&fd, &st, &path, FileType::RegularFile)?;
                format!("file {}", stream(fd).map_err(|e| format!("{path}: {e}"))?)
            }
            _ => "special".to_string(),
        };
        out.update(
            format!(
                "{path:?} {:o} {}:{} {what}\n",
                st.st_mode, st.st_uid, st.st_gid
            )
            .as_bytes(),
        );
        if let Some(fd) = sub {
            walk(&fd, &path, depth + 1, out)?;
        }
    }
    Ok(())
}

/// The descriptor is the entry that was looked at: same inode, same type.
fn same(fd: &OwnedFd, st: &rustix::fs::Stat, path: &str, kind: FileType) -> Result<(), String> {
    let again = rustix::fs::fstat(fd).map_err(|e| format!("{path}: {e}"))?;
    if again.st_ino != st.st_ino || FileType::from_raw_mode(again.st_mode) != kind {
        return Err(format!("{path} changed while it was read"));
    }
    Ok(())
}

fn stream(fd: OwnedFd) -> std::io::Result<String> {
    let mut file = std::fs::File::from(fd);
    let mut hash = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf)? {
            0 => return Ok(hex::encode(hash.finalize())),
            n => hash.update(&buf[..n]),
        }
    }
}

/// Removes `name` below `parent` (a directory tree or one entry), never
/// following a link. Directories deeper than [`MAX_DEPTH`] are moved up to
/// the top of the tree being removed and taken on from there, so neither
/// the depth of the recursion nor the descriptors held grow with the tree.
pub(super) fn remove(parent: &OwnedFd, name: &str) -> Result<(), String> {
    let top = match rustix::fs::openat(parent, name, DIR, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOTDIR | Errno::LOOP) => {
            return rustix::fs::unlinkat(parent, name, AtFlags::empty()).map_err(|e| e.to_string())
        }
        Err(e) => return Err(e.to_string()),
    };
    let mut moved = 0u64;
    loop {
        empty(&top, &top, 0, &mut moved)?;
        if names(&top)?.is_empty() {
            break;
        }
    }
    drop(top);
    rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR).map_err(|e| e.to_string())
}

/// Empties `dir`, except for subdirectories at the depth bound, which are
/// moved to `top` (and emptied by the caller's next pass).
fn empty(dir: &OwnedFd, top: &OwnedFd, depth: usize, moved: &mut u64) -> Result<(), String> {
    for name in names(dir)? {
        let st = match rustix::fs::statat(dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(format!("{name}: {e}")),
        };
        if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
            rustix::fs::unlinkat(dir, name.as_str(), AtFlags::empty())
                .map_err(|e| format!("{name}: {e}"))?;
            continue;
        }
        if depth >= MAX_DEPTH {
            loop {
                *moved += 1;
                let to = format!(".deep.{moved}");
                match rustix::fs::renameat_with(
                    dir,
                    name.as_str(),
                    top,
                    to.as_str(),
                    RenameFlags::NOREPLACE,
                ) {
                    Ok(()) => break,
                    Err(Errno::EXIST) => continue,
                    Err(e) => {
                        return Err(format!("{name}: {}", super::walk::describe("renameat2", e)))
                    }
                }
            }
            continue;
        }
        let sub = rustix::fs::openat(dir, name.as_str(), DIR, Mode::empty())
            .map_err(|e| format!("{name}: {e}"))?;
        let sst = rustix::fs::fstat(&sub).map_err(|e| format!("{name}: {e}"))?;
        if sst.st_mode & 0o700 != 0o700 {
            // A directory of its owner's without write permission for
            // them (only matters when prune does not run as root).
            let _ = rustix::fs::fchmod(&sub, Mode::from_raw_mode(0o700));
        }
        empty(&sub, top, depth + 1, moved)?;
        drop(sub);
        rustix::fs::unlinkat(dir, name.as_str(), AtFlags::REMOVEDIR)
            .map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}
