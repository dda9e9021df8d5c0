//! Careful file access shared by `gen` and the stage.
//!
//! Writing: a temp file beside the target, then a rename, so readers see
//! the old file or the new one, never a part, and a symlink, FIFO or hard
//! link found at the target is replaced, never written through.
//!
//! Reading what may have been planted (an output dir, an input path):
//! never through a symlink, never a FIFO or device (which can block for
//! ever or never end), never more than a bound.

use std::fs;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use crate::error::{Error, Result};

/// Writes `bytes` to `path` through a temp file in the same directory
/// (`.NAME.XXXXXX.tmp`), with `mode` set on the file before the rename.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::create(path, e))?;
    // Errors name `path`, the file the caller knows: the temp file is
    // removed when `tmp` drops.
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// What [`read_existing`] found at a path.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    Missing,
    /// A regular file with one link: its bytes and permission bits.
    File {
        bytes: Vec<u8>,
        mode: u32,
    },
    /// Something that is not read: a symlink, FIFO, device, socket,
    /// directory, a file with several hard links, or one over the bound.
    Other(&'static str),
}

/// Reads `path` if it is a regular, singly-linked file of at most `limit`
/// bytes; says what else it is otherwise, without opening a special file
/// or following a link.
pub fn read_existing(path: &Path, limit: u64) -> Result<Found> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(e) => return Err(Error::io(path, e)),
    };
    if let Some(kind) = not_plain(&meta, limit) {
        return Ok(Found::Other(kind));
    }
    // Opened without following a link and without blocking, then checked
    // again on the descriptor: the path may have changed since the lstat.
    let fd = match rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::LOOP) => return Ok(Found::Other("a symlink")),
        Err(rustix::io::Errno::NOENT) => return Ok(Found::Missing),
        Err(e) => return Err(Error::io(path, e.into())),
    };
    let file = fs::File::from(fd);
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if let Some(kind) = not_plain(&meta, limit) {
        return Ok(Found::Other(kind));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Ok(Found::Other("a file over the size bound"));
    }
    Ok(Found::File {
        bytes,
        mode: meta.permissions().mode() & 0o7777,
    })
}

/// Why a file must not be read as a plain file, if it must not.
fn not_plain(meta: &fs::Metadata, limit: u64) -> Option<&'static str> {
    let t = meta.file_type();
    let kind = if t.is_symlink() {
        "a symlink"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device node"
    } else if t.is_socket() {
        "a socket"
    } else if meta.nlink() != 1 {
        "a file with several hard links"
    } else if meta.len() > limit {
        "a file over the size bound"
    } else {
        return None;
    };
    Some(kind)
}

/// Reads an input the user named (a profile, a links file, a template) as
/// text: a regular file of at most `limit` bytes. Symlinks are followed
/// here, since they are the user's own; FIFOs and devices are refused.
pub fn read_input(path: &Path, limit: u64) -> std::result::Result<String, String> {
    String::from_utf8(read_input_bytes(path, limit)?).map_err(|_| "not UTF-8".into())
}

/// [`read_input`] without the UTF-8 check.
pub fn read_input_bytes(path: &Path, limit: u64) -> std::result::Result<Vec<u8>, String> {
    let meta = fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > limit {
        return Err(format!("{} bytes, over the {limit}-byte bound", meta.len()));
    }
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
    // writer.
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| e.to_string())?;
    // Checked again on the descriptor: the path may have been swapped for a
    // FIFO since the stat, and reading one would block for ever.
    if !file.metadata().map_err(|e| e.to_string())?.is_file() {
        return Err("not a regular file".into());
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > limit {
        return Err(format!("over the {limit}-byte bound"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_fifos_and_hard_links_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(d.join("secret"), d.join("link")).unwrap();
        fs::hard_link(d.join("secret"), d.join("hard")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            d.join("fifo"),
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        for (name, kind) in [
            ("link", "a symlink"),
            ("hard", "a file with several hard links"),
            ("fifo", "a FIFO"),
        ] {
            assert_eq!(
                read_existing(&d.join(name), 10).unwrap(),
                Found::Other(kind)
            );
        }
        assert_eq!(read_existing(&d.join("none"), 10).unwrap(), Found::Missing);
        fs::write(d.join("big"), "0123456789x").unwrap();
        assert_eq!(
            read_existing(&d.join("big"), 10).unwrap(),
            Found::Other("a file over the size bound")
        );
    }
}
