//! The bound on what a container writes (`security.disk-max`): its rootfs
//! becomes an LXC overlay whose upper dir lies in a tmpfs of that size,
//! which `scgen mount-writes`, LXC's pre-mount hook, mounts in the
//! container's own mount namespace just before LXC mounts the rootfs.
//!
//! Why this mechanism: it bounds both rootfs kinds the same way, costs one
//! tmpfs mount a start (no mkfs, no loop device, nothing asked of the
//! host's filesystem, as a project quota would ask `prjquota` of it), and
//! leaves nothing behind: the tmpfs exists only in the container's mount
//! namespace and goes with it. The tree the stage made stays on the
//! host's disk, read-only below: the dir kind's rootfs, or the overlay
//! kind's per-container dir over the shared skeleton. LXC puts overlayfs's
//! work dir beside the upper dir, so both are in the tmpfs. The tmpfs's
//! pages are charged to the container's memory cgroup, so `memory-max`
//! bounds them too, and they are gone when the container stops.

use std::os::fd::AsFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use super::beneath::Root;
use super::host::{self, config_path, overlay_path};
use crate::contract::{Entry, Kind};
use crate::error::{Error, Result};
use crate::lxc::{self, Dialect};

/// The directory in the container dir the tmpfs is mounted on (empty on
/// the host but for `upper`, which `lxc-destroy` removes as the overlay's
/// upper dir).
const DIR: &str = "writes";
/// The overlay's upper dir, in the tmpfs.
const UPPER: &str = "upper";
/// The name the tmpfs shows in /proc/self/mountinfo.
const SOURCE: &str = "scgen-writes";
/// `statfs` magic of tmpfs.
const TMPFS_MAGIC: u64 = 0x0102_1994;

/// The first Linux whose overlayfs a user namespace's root may mount
/// (`FS_USERNS_MOUNT`, 5.11): an id-mapped container's overlay rootfs, the
/// bound's or the overlay kind's, needs it, because LXC mounts the rootfs
/// in the container's user namespace.
const USERNS_OVERLAY: (u32, u32) = (5, 11);

/// A note for an id-mapped container with an overlay rootfs on a kernel
/// (`release`, as uname gives it) older than [`USERNS_OVERLAY`]: LXC's
/// rootfs mount will be refused at every start, and the note says so at
/// create time, with the way out. Only a note: vendor kernels backport the
/// feature. `None` for a newer kernel or a release that does not parse.
pub(super) fn old_kernel_note(release: &str) -> Option<String> {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().ok());
    let version = (parts.next()??, parts.next()??);
    (version < USERNS_OVERLAY).then(|| {
        format!(
            "Linux {release} runs here, and this id-mapped container's rootfs is an overlay (security.disk-max, container.skeleton-store), which LXC mounts in the container's user namespace: Linux lets it from {}.{} on, so unless this kernel has that backported, the container will not start; generate with `--set security.disk-max=max` and without container.skeleton-store, or make it privileged (`container.idmap = []`)",
            USERNS_OVERLAY.0, USERNS_OVERLAY.1
        )
    })
}

/// One container's bound: where its tmpfs goes and how big it is.
pub(super) struct Writes {
    dir: String,
    size: u64,
    /// This scgen, which LXC runs as the hook.
    scgen: String,
}

impl Writes {
    /// Checks every path that goes into the config lines. Writes nothing.
    pub(super) fn plan(container: &Path, rootfs: &Path, size: u64) -> Result<Self> {
        let help = "use a container path without `:`, `,` or `\\` (security.disk-max puts the rootfs on an overlay), or generate with `--set security.disk-max=max`";
        let dir =
            overlay_path("writes dir", &container.join(DIR)).map_err(|e| e.with_help(help))?;
        overlay_path("rootfs", rootfs).map_err(|e| e.with_help(help))?;
        let exe = std::env::current_exe().map_err(|e| Error::io("/proc/self/exe", e))?;
        let scgen = config_path("scgen, the pre-mount hook,", &exe)?;
        Ok(Writes { dir, size, scgen })
    }

    /// The overlay's upper dir, as the rootfs value names it.
    pub(super) fn upper(&self) -> String {
        format!("{}/{UPPER}", self.dir)
    }

    /// The hook line that mounts the tmpfs.
    pub(super) fn hook_line(&self, d: Dialect) -> String {
        let size = self.size.to_string();
        let words = [
            self.scgen.as_str(),
            "mount-writes",
            "--size",
            &size,
            &self.dir,
        ];
        format!(
            "{} = {}",
            d.keys().hook_pre_mount,
            lxc::hook_command(&words)
        )
    }

    /// Makes the mount point, and `upper` in it for `lxc-destroy`.
    pub(super) fn make(&self) -> Result<()> {
        host::make_dir(Path::new(&self.dir))?;
        let mut dir = Root::open(Path::new(&self.dir), host::owner(), 0o755)?;
        dir.put(&Entry {
            path: UPPER.to_string(),
            mode: 0o755,
            kind: Kind::Dir,
        })
    }
}

/// `scgen mount-writes`: mounts a tmpfs of `size` bytes on `dir` and makes
/// the overlay's upper dir in it, 0755 whatever the umask (it becomes the
/// mode of the container's `/`). `hook_type` is what LXC says it runs
/// (`pre-mount`); anything else is refused, as a mount made from the
/// host's own mount namespace would stay on the host.
pub fn mount(dir: &Path, size: u64, hook_type: Option<&str>) -> Result<()> {
    if hook_type != Some("pre-mount") {
        return Err(Error::usage(format!(
            "mount-writes is LXC's pre-mount hook (security.disk-max) and mounts only when LXC runs it as one; it was run as {}",
            hook_type.map_or("no hook".to_string(), |t| format!("a {t} hook"))
        ))
        .with_help("`scgen stage` names it in the container config as `lxc.hook.pre-mount`; run in the host's mount namespace it would leave a tmpfs on the host"));
    }
    if size == 0 {
        return Err(Error::usage("--size must be at least 1 byte"));
    }
    const DIR_FLAGS: OFlags = OFlags::DIRECTORY
        .union(OFlags::RDONLY)
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC);
    let open = |what: &str| {
        rustix::fs::open(dir, DIR_FLAGS, Mode::empty()).map_err(|e| {
            Error::unsafe_target(format!(
                "cannot open {} {what} as a directory without following a symlink: {e}",
                dir.display()
            ))
        })
    };
    let below = open("before the mount")?;
    let before = rustix::fs::fstat(&below).map_err(|e| Error::io(dir, e.into()))?;
    // Through the descriptor: the tmpfs lands on the directory checked,
    // whatever the path names by now.
    let target = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&below));
    let data = std::ffi::CString::new(format!("size={size},mode=0700")).expect("no NUL");
    rustix::mount::mount(
        SOURCE,
        target.as_str(),
        "tmpfs",
        rustix::mount::MountFlags::empty(),
        Some(data.as_c_str()),
    )
    .map_err(|e| Error::io(dir, e.into()))?;
    let tmpfs = open("after the mount")?;
    let st = rustix::fs::fstat(&tmpfs).map_err(|e| Error::io(dir, e.into()))?;
    let fs = rustix::fs::fstatfs(&tmpfs).map_err(|e| Error::io(dir, e.into()))?;
    if st.st_dev == before.st_dev || (fs.f_type as u64) & 0xffff_ffff != TMPFS_MAGIC {
        return Err(Error::unsafe_target(format!(
            "{} is not the tmpfs just mounted on it",
            dir.display()
        )));
    }
    let upper = dir.join(UPPER);
    rustix::fs::mkdirat(tmpfs.as_fd(), UPPER, Mode::from_raw_mode(0o755))
        .map_err(|e| Error::create(&upper, e.into()))?;
    let fd = rustix::fs::openat(tmpfs.as_fd(), UPPER, DIR_FLAGS, Mode::empty())
        .map_err(|e| Error::io(&upper, e.into()))?;
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o755)).map_err(|e| Error::io(&upper, e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hook_line_quotes_every_word() {
        let w = Writes {
            dir: "/var/lib/lxc/SC-1/writes".into(),
            size: 100 << 20,
            scgen: "/usr/bin/scgen".into(),
        };
        assert_eq!(
            w.hook_line(Dialect::Lxc3),
            "lxc.hook.pre-mount = /usr/bin/scgen mount-writes --size 104857600 /var/lib/lxc/SC-1/writes"
        );
        assert_eq!(w.upper(), "/var/lib/lxc/SC-1/writes/upper");
    }

    #[test]
    fn a_path_that_splits_the_overlay_value_is_refused() {
        for (c, r) in [("/l/a:b", "/l/a:b/rootfs"), ("/l/c", "/l/c/r,oot")] {
            let e = Writes::plan(Path::new(c), Path::new(r), 1)
                .err()
                .expect("refused");
            assert_eq!(e.exit_code(), crate::error::exit::UNSAFE, "{c} {r}");
        }
        assert!(Writes::plan(Path::new("/l/c"), Path::new("/l/c/rootfs"), 1).is_ok());
    }

    #[test]
    fn kernels_before_5_11_get_the_note() {
        for old in ["5.10.0-28-amd64", "4.19.255", "2.6.78-fc-v1045", "5.4"] {
            let n = old_kernel_note(old).unwrap_or_else(|| panic!("{old}: no note"));
            assert!(n.contains(old) && n.contains("disk-max=max"), "{n}");
        }
        for new in [
            "5.11.0",
            "5.15.0-91-generic",
            "6.18.44-fc-v1045",
            "10.0",
            "",
            "x.y",
        ] {
            assert_eq!(old_kernel_note(new), None, "{new}");
        }
    }

    #[test]
    fn mount_refuses_to_run_outside_a_pre_mount_hook() {
        for t in [None, Some("start"), Some("pre-start")] {
            let e = mount(Path::new("/nonexistent"), 1, t).unwrap_err();
            assert_eq!(e.exit_code(), crate::error::exit::USAGE, "{t:?}");
        }
    }
}
