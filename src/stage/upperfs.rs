//! Whether an overlay container's rootfs can be its overlayfs upper dir,
//! found out before anything is written.
//!
//! Two cases stop an overlay rootfs from working, and lxc-start would only
//! find out later ("filesystem on ... not supported as upperdir"):
//!
//! * the rootfs is itself a mount point, as when SoftwareContainer's agent
//!   (write buffer on) mounts its own overlayfs there before lxc-create.
//!   The upper dir and LXC's work dir beside it would be on two mounts, and
//!   an overlayfs cannot be an upper dir anyway. The user wants the
//!   container's writes in that mount: the container gets a plain `dir:`
//!   rootfs there instead ([`Upper::Mounted`]);
//! * the rootfs is a plain directory on a filesystem that cannot hold an
//!   upper dir (an lxcpath on overlayfs, NFS, FAT, ...): refused, exit 71.

use std::path::Path;

use rustix::fs::{AtFlags, StatxFlags};

use crate::error::{Error, Result};

/// What the stage does with an overlay container's rootfs.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Upper {
    /// The rootfs is the overlay's upper dir, as the profile says.
    Overlay,
    /// The rootfs is a mount point of this filesystem: a `dir:` rootfs.
    Mounted(String),
}

/// Filesystems overlayfs refuses as an upper dir (no whiteouts, xattrs
/// or `d_type`, or read-only), by `statfs` magic.
const NO_UPPER: &[(u64, &str)] = &[
    (0x794c_7630, "overlayfs"),
    (0x6969, "nfs"),
    (0x517b, "smb"),
    (0xff53_4d42, "cifs"),
    (0xfe53_4d42, "smb2"),
    (0x4d44, "vfat"),
    (0x2011_bab0, "exfat"),
    (0x5346_544e, "ntfs"),
    (0x7366_746e, "ntfs3"),
    (0x9660, "iso9660"),
    (0x7371_7368, "squashfs"),
    (0xe0f5_e1e2, "erofs"),
    (0x28cd_3d45, "cramfs"),
    (0xf15f, "ecryptfs"),
    (0x0102_1997, "9p"),
];

/// The filesystem `path` is on: its name if overlayfs refuses it as an
/// upper dir, else `None`; and the raw magic, for messages.
fn fs_of(path: &Path) -> Option<(u64, Option<&'static str>)> {
    let st = rustix::fs::statfs(path).ok()?;
    let magic = (st.f_type as u64) & 0xffff_ffff;
    Some((
        magic,
        NO_UPPER.iter().find(|(m, _)| *m == magic).map(|(_, n)| *n),
    ))
}

fn mount_id(path: &Path) -> Option<u64> {
    rustix::fs::statx(
        rustix::fs::CWD,
        path,
        AtFlags::SYMLINK_NOFOLLOW,
        StatxFlags::MNT_ID,
    )
    .ok()
    .map(|s| s.stx_mnt_id)
}

/// The filesystem mounted on `rootfs` (in the container dir `container`),
/// if it is a mount point: the agent's write buffer, or a mount of the
/// integrator's. Whoever mounted it chose where the container's writes go.
pub(super) fn mounted(container: &Path, rootfs: &Path) -> Option<String> {
    let parent = rootfs.parent().unwrap_or(container);
    match (mount_id(rootfs), mount_id(parent)) {
        (Some(r), Some(p)) if r != p => Some(match fs_of(rootfs) {
            Some((_, Some(n))) => n.to_string(),
            Some((m, None)) => format!("filesystem 0x{m:x}"),
            None => "filesystem".to_string(),
        }),
        _ => None,
    }
}

/// Decides, before any write, what an overlay container's `rootfs` can
/// be; `mounted` is what [`mounted`] found on it.
pub(super) fn decide(rootfs: &Path, mounted: Option<&str>) -> Result<Upper> {
    if let Some(name) = mounted {
        return Ok(Upper::Mounted(name.to_string()));
    }
    // The rootfs, or the nearest directory above it that exists: where
    // the upper dir and LXC's work dir will be.
    let Some(on) = rootfs.ancestors().find(|p| p.exists()) else {
        return Ok(Upper::Overlay);
    };
    match fs_of(on) {
        Some((_, Some(name))) => Err(Error::upper_fs(format!(
            "rootfs {} would be an overlayfs upper dir on {name} ({}), which overlayfs cannot use as one; lxc-start would fail",
            rootfs.display(),
            on.display()
        ))
        .with_help(format!(
            "put the lxcpath on ext4, xfs, btrfs or tmpfs, mount such a filesystem (or your own overlay) on {} before lxc-create, or use `container.rootfs = \"dir\"`",
            rootfs.display()
        ))),
        _ => Ok(Upper::Overlay),
    }
}
