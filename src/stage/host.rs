//! What the stage takes from the host, all checked before the first
//! write: the busybox, init.lxc and iptables to bind, the gateway
//! directory, the container and rootfs paths, and `busybox --list`.
//! Every path that reaches a config line passes [`AbsPath`]'s parser.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use super::Options;
use rustix::fs::OFlags;

use crate::contract::StageSpec;
use crate::error::{Error, Result};
use crate::values::{AbsPath, Applet};

/// Host binaries bound into the container.
pub(super) struct Tools {
    pub(super) busybox: String,
    pub(super) init_lxc: Option<String>,
    pub(super) iptables: Option<String>,
    /// The verified `seccomp.policy` artifact, by the absolute path the
    /// container config names it with, when the profile wants it.
    pub(super) seccomp: Option<String>,
}

impl Tools {
    pub(super) fn resolve(spec: &StageSpec, opts: &Options) -> Result<Self> {
        Ok(Tools {
            busybox: tool("busybox", opts.busybox.as_deref(), "apt-get install busybox-static")?,
            init_lxc: spec
                .init_lxc
                .then(|| tool("init.lxc", opts.init_lxc.as_deref(), "install LXC, or set `container.init-lxc = false` in the profile (LXC >= 4.0.10 does not use it)"))
                .transpose()?,
            iptables: spec
                .iptables
                .then(|| tool("iptables", opts.iptables.as_deref(), "install iptables, or turn the network gateway off in the profile"))
                .transpose()?,
            seccomp: spec
                .seccomp_builtin
                .then(|| {
                    let dir = std::path::absolute(&opts.artifacts)
                        .map_err(|e| Error::io(&opts.artifacts, e))?;
                    config_path("seccomp policy", &dir.join(crate::contract::SECCOMP))
                })
                .transpose()?,
        })
    }
}

impl Tools {
    /// The busybox binary's identity (path, device, inode, size, mtime):
    /// what links made from its `--list` depend on. A stamp holding it goes
    /// stale when the host's busybox is replaced.
    pub(super) fn busybox_identity(&self) -> Result<String> {
        use std::os::unix::fs::MetadataExt as _;
        let bb = fs::metadata(&self.busybox).map_err(|e| Error::io(&self.busybox, e))?;
        Ok(format!(
            "{} dev={} ino={} size={} mtime={}.{}",
            self.busybox,
            bb.dev(),
            bb.ino(),
            bb.size(),
            bb.mtime(),
            bb.mtime_nsec()
        ))
    }
}

/// Finds `name` (or takes the caller's path), as an absolute path that can
/// go into a config line.
fn tool(name: &str, given: Option<&Path>, hint: &str) -> Result<String> {
    let found = match given {
        Some(p) => {
            if !p.is_file() {
                return Err(Error::unavailable(format!(
                    "{name}: {} is not a file",
                    p.display()
                )));
            }
            std::path::absolute(p).map_err(|e| Error::io(p, e))?
        }
        None => find(name).ok_or_else(|| {
            Error::unavailable(format!(
                "{name} not found in the absolute PATH entries or the sbin directories"
            ))
            .with_help(hint)
        })?,
    };
    config_path(name, &found)
}

/// Looks `name` up as a host tool: in PATH and, since lxc-create may run
/// templates with a short PATH, in the sbin directories too, where
/// init.lxc and iptables live. Only absolute entries: an empty or relative
/// one names the current directory, and the stage runs as root from
/// wherever lxc-create was called (a user's busybox would run as root and
/// be bound into the container).
pub(super) fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let fixed = [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ];
    std::env::split_paths(&path)
        .chain(fixed.iter().map(PathBuf::from))
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| executable(p))
}

/// A regular file someone may execute (following links, as exec does).
fn executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A host path as it may appear in an LXC config value: UTF-8, absolute,
/// without control characters (which would end the line).
pub(super) fn config_path(what: &str, path: &Path) -> Result<String> {
    let s = path.to_str().ok_or_else(|| {
        Error::unsafe_target(format!(
            "{what}: {} is not UTF-8; LXC configs cannot name it",
            path.display()
        ))
    })?;
    AbsPath::parse(s).map(String::from).map_err(|p| {
        Error::unsafe_target(format!(
            "{what}: {s:?} cannot go into an LXC config line: {}",
            p.message
        ))
    })
}

/// [`config_path`] for a path that goes into LXC's `overlay:` rootfs value
/// and so into the overlay's mount options, which `:`, `,` and `\` would
/// split.
pub(super) fn overlay_path(what: &str, path: &Path) -> Result<String> {
    let s = config_path(what, path)?;
    match s.chars().find(|c| matches!(c, ':' | ',' | '\\')) {
        Some(c) => Err(Error::unsafe_target(format!(
            "{what} {s} holds `{c}`, which would split LXC's `overlay:<lower>:<upper>` value or the overlay mount options"
        ))),
        None => Ok(s),
    }
}

/// The gateway directory, opened once: its path as it goes into the config
/// line, and the descriptor every later change is made through, so a swap
/// of the path for a symlink after the check wins nothing.
pub(super) struct GatewayDir {
    pub(super) path: String,
    fd: OwnedFd,
}

impl GatewayDir {
    /// Gives the directory `mode` (the seed's `chmod 777`), on the
    /// descriptor. Left alone when already right: in a user namespace the
    /// stage may not own the directory, and then it may not chmod it.
    pub(super) fn set_mode(&self, mode: u32) -> Result<()> {
        let st = rustix::fs::fstat(&self.fd).map_err(|e| Error::io(&self.path, e.into()))?;
        if st.st_mode & 0o7777 != mode {
            rustix::fs::fchmod(&self.fd, rustix::fs::Mode::from_raw_mode(mode))
                .map_err(|e| Error::io(&self.path, e.into()))?;
        }
        Ok(())
    }
}

pub(super) fn gateway_dir(spec: &StageSpec, opts: &Options) -> Result<Option<GatewayDir>> {
    let chosen = opts
        .gateway_dir
        .clone()
        .or_else(|| {
            opts.gateway_dir_env
                .clone()
                .filter(|p| !p.as_os_str().is_empty())
        })
        .or_else(|| {
            spec.gateways_dir
                .as_ref()
                .map(|d| PathBuf::from(d.as_str()))
        });
    let Some(given) = chosen else { return Ok(None) };
    // `link/`, `link/.` and `link//` make the kernel follow `link` whatever
    // O_NOFOLLOW says: the path is normalised first, so its last component
    // is the directory itself, and `..` is refused outright.
    let abs = std::path::absolute(&given).map_err(|e| Error::io(&given, e))?;
    if abs.components().any(|c| c == Component::ParentDir) {
        return Err(Error::unsafe_target(format!(
            "gateway dir {} contains `..`",
            given.display()
        )));
    }
    let dir: PathBuf = abs.components().collect();
    let fd = rustix::fs::open(
        &dir,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| match e {
        rustix::io::Errno::NOENT => {
            Error::unavailable(format!("gateway dir {}: {e}", given.display()))
                .with_help("create it before the container")
        }
        _ => Error::unsafe_target(format!(
            "gateway dir {} is not a directory (symlinks are not followed): {e}",
            dir.display()
        )),
    })?;
    if is_host_root_fd(&fd) {
        return Err(Error::unsafe_target(format!(
            "gateway dir {} is the host's /; refusing to bind it and change its mode",
            dir.display()
        )));
    }
    // By inode, as `/` is: the stage gives the dir `gateways.mode` (0777
    // by default), which on /tmp would drop its sticky bit.
    if let Some(sys) = system_dir_of(&fd) {
        return Err(Error::unsafe_target(format!(
            "gateway dir {} is the system directory {sys}; refusing to bind it into a container and change its mode",
            dir.display()
        ))
        .with_help("give each container a directory of its own, as the agent does (`<shared-mounts-dir>/SC-<id>/gateways`)"));
    }
    let path = config_path("gateway dir", &dir)?;
    Ok(Some(GatewayDir { path, fd }))
}

/// Whether `fd` is the directory `/` is (same device and inode).
fn is_host_root_fd(fd: &OwnedFd) -> bool {
    match (rustix::fs::fstat(fd), rustix::fs::stat("/")) {
        (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
        _ => false,
    }
}

/// The system directory (`/tmp`, `/usr`, ...) `fd` is, by device and inode.
fn system_dir_of(fd: &OwnedFd) -> Option<&'static str> {
    let st = rustix::fs::fstat(fd).ok()?;
    crate::values::system_dirs().find(|d| {
        rustix::fs::stat(*d).is_ok_and(|s| s.st_dev == st.st_dev && s.st_ino == st.st_ino)
    })
}

/// Creates `dir` (and its parents) 0755 whatever the umask, and opens it
/// without following a symlink at its last component.
pub(super) fn make_dir(dir: &Path) -> Result<OwnedFd> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|e| Error::create(dir, e))?;
    rustix::fs::open(
        dir,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| {
        Error::unsafe_target(format!(
            "cannot open {} as a directory without following a symlink: {e}",
            dir.display()
        ))
    })
}

/// The container directory and rootfs, absolute and refused when they are
/// empty, `/`, hold `..`, or are symlinks themselves.
pub(super) fn targets(opts: &Options) -> Result<(PathBuf, PathBuf)> {
    let container = checked_target("--path", &opts.path)?;
    let rootfs = match &opts.rootfs {
        Some(r) => checked_target("--rootfs", r)?,
        None => container.join("rootfs"),
    };
    if let Ok(meta) = fs::symlink_metadata(&rootfs) {
        if !meta.is_dir() {
            return Err(Error::unsafe_target(format!(
                "rootfs {} exists and is not a directory (a symlink is never followed)",
                rootfs.display()
            )));
        }
    }
    // By inode, not by name: a symlink in a parent or a bind mount can make
    // any path the host's /.
    for (what, p) in [("--path", &container), ("rootfs", &rootfs)] {
        if is_host_root(p) {
            return Err(Error::unsafe_target(format!(
                "{what} {} is the host's /",
                p.display()
            )));
        }
    }
    Ok((container, rootfs))
}

/// Whether `p` (following symlinks) is the directory `/` is: same device
/// and inode, which also catches bind mounts of `/`.
fn is_host_root(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (fs::metadata(p), fs::metadata("/")) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn checked_target(flag: &str, p: &Path) -> Result<PathBuf> {
    if p.as_os_str().is_empty() {
        return Err(Error::unsafe_target(format!(
            "{flag} is empty; refusing to write into the host's /"
        )));
    }
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(Error::unsafe_target(format!(
            "{flag} {} contains `..`",
            p.display()
        )));
    }
    let abs = std::path::absolute(p).map_err(|e| Error::io(p, e))?;
    let normal: PathBuf = abs
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect();
    if normal == Path::new("/") {
        return Err(Error::unsafe_target(format!(
            "{flag} {} is the host's /",
            p.display()
        )));
    }
    config_path(flag, &normal)?;
    Ok(normal)
}

/// Owner of everything in the rootfs: root where the stage runs (the
/// container's root in a user namespace), or whoever runs it otherwise.
pub(super) fn owner() -> Option<(u32, u32)> {
    rustix::process::geteuid().is_root().then_some((0, 0))
}

/// A running `busybox --list`.
pub(super) struct BusyboxList {
    busybox: String,
    child: std::process::Child,
}

impl BusyboxList {
    pub(super) fn spawn(busybox: &str) -> Result<Self> {
        let child = Command::new(busybox)
            .arg("--list")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| Error::unavailable(format!("cannot run {busybox} --list: {e}")))?;
        Ok(BusyboxList {
            busybox: busybox.to_string(),
            child,
        })
    }

    /// The applet names, checked; never `busybox` itself.
    pub(super) fn finish(self) -> Result<Vec<Applet>> {
        let busybox = self.busybox;
        let out = self
            .child
            .wait_with_output()
            .map_err(|e| Error::unavailable(format!("{busybox} --list: {e}")))?;
        if !out.status.success() {
            return Err(Error::unavailable(format!(
                "{busybox} --list failed: {}",
                out.status
            )));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut list = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match Applet::parse(line) {
                Ok(a) if a.is_busybox() => {}
                Ok(a) => list.push(a),
                Err(m) => return Err(Error::data(format!("{busybox} --list: {m}"))),
            }
        }
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_refuse_root_empty_and_dotdot() {
        for bad in ["", "/", "//", "/./", "/tmp/../"] {
            let opts = Options {
                path: PathBuf::from(bad),
                ..Default::default()
            };
            assert!(
                matches!(targets(&opts), Err(Error::Unsafe(_))),
                "{bad:?} accepted"
            );
        }
        let opts = Options {
            path: "/tmp/c".into(),
            rootfs: Some("/".into()),
            ..Default::default()
        };
        assert!(matches!(targets(&opts), Err(Error::Unsafe(_))));
    }
}
