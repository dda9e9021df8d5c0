//! Writing output files so that readers never see a part: a temp file
//! beside the target, then a rename. Shared by `gen` (artifacts, depfile)
//! and the stage (the container config), so both leave either the old
//! file or the new one.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` through a temp file in the same directory
/// (`.NAME.XXXXXX.tmp`), with `mode` set on the file before the rename.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
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
