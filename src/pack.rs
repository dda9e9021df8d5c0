//! Packing: the skeleton becomes `rootfs.tar.gz`, the same bytes on every
//! machine.
//!
//! Every header field is set here (path, type, mode, uid/gid 0 with empty
//! owner names, mtime, size, link) rather than taken from a filesystem or
//! from the tar crate's `HeaderMode::Deterministic`, which would force
//! 0644/0755 and lose /tmp's 1777. The gzip header carries no name and
//! mtime 0, from the pinned pure-Rust backend.

use std::io::Write;

use flate2::{Compression, GzBuilder};

use crate::contract::{Entry, Kind};

/// The gzip OS byte for "unknown", so the host OS is not recorded.
const GZIP_OS_UNKNOWN: u8 = 255;

/// Packs `entries` (already sorted) into a gzip-compressed GNU tar.
pub fn tar_gz(entries: &[Entry], mtime: u64) -> Vec<u8> {
    let gz = GzBuilder::new()
        .mtime(0)
        .operating_system(GZIP_OS_UNKNOWN)
        .write(Vec::new(), Compression::best());
    let mut tar = tar::Builder::new(gz);
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(e.mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        // Writing into a Vec cannot fail.
        let result = match &e.kind {
            Kind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                tar.append_data(&mut h, format!("{}/", e.path), std::io::empty())
            }
            Kind::File(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                tar.append_data(&mut h, &e.path, data.as_slice())
            }
            Kind::Symlink(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                tar.append_link(&mut h, &e.path, target)
            }
        };
        result.expect("writing a tar into memory");
    }
    let gz = tar.into_inner().expect("finishing a tar in memory");
    let mut bytes = gz.finish().expect("finishing gzip in memory");
    bytes.flush().expect("flushing a Vec");
    bytes
}
