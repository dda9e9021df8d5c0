//! The runtime stage: turns verified build-time artifacts into one
//! container, doing only what depends on the host.
//!
//! It replaces the seed's lxc-create template and accepts the same calling
//! convention (`--path= --name= --rootfs=`, `--mapped-uid/--mapped-gid`).
//! Everything that can fail for a reason other than I/O is checked before
//! the first write: the artifacts against `SHA256SUMS`, the host binaries,
//! the gateway directory and the target paths. The seed's template, run by
//! LXC 5, computed an empty rootfs and wrote into the host's `/`; here every
//! write inside the rootfs goes through `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)` from a descriptor of the rootfs, so neither a `..`
//! nor a symlink already in the rootfs can lead a write out of it.

use std::fs;
use std::io::Read as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use crate::artifacts::{self, StageSpec};
use crate::error::{Error, Result};
use crate::lxc;
use crate::profile;
use crate::skeleton;

mod beneath;
use beneath::Root;

/// What the caller asked for: the command line of `scgen stage`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The installed artifact directory (with `SHA256SUMS`).
    pub artifacts: PathBuf,
    /// The container directory; its `config` is written.
    pub path: PathBuf,
    /// The rootfs [default: `<path>/rootfs`].
    pub rootfs: Option<PathBuf>,
    /// Host directory bound on `/gateways`; beats `$GATEWAY_DIR` and the
    /// profile's fixed one.
    pub gateway_dir: Option<PathBuf>,
    /// `$GATEWAY_DIR`, read by the CLI so the library does not read the
    /// environment.
    pub gateway_dir_env: Option<PathBuf>,
    /// Override the busybox, init.lxc and iptables found on PATH.
    pub busybox: Option<PathBuf>,
    pub init_lxc: Option<PathBuf>,
    pub iptables: Option<PathBuf>,
    /// The resolv.conf to copy [default: /etc/resolv.conf]; missing: none.
    pub resolv_conf: Option<PathBuf>,
    /// For user-namespaced containers LXC runs the template as the
    /// container's root inside the namespace and passes, as these, the
    /// namespace ids of the user who called lxc-create. The rootfs belongs
    /// to the container's root (ids 0 where the stage runs); the container
    /// `config` is given to the caller, as LXC's own templates do.
    pub mapped_uid: Option<u32>,
    pub mapped_gid: Option<u32>,
}

/// What the stage did, for its one-line summary and the benchmark.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub rootfs: PathBuf,
    /// Directory entries created (dirs, files, symlinks).
    pub created: usize,
    /// Entries that were already there and kept.
    pub kept: usize,
    /// Whether the container config was written.
    pub config_written: bool,
}

/// Markers around the lines the stage owns in the container config, so a
/// second run replaces them instead of appending again.
const BEGIN: &str = "# >>> scgen stage: host-dependent lines, rewritten by every run";
const END: &str = "# <<< scgen stage";

/// Runs the stage.
pub fn stage(opts: &Options) -> Result<Report> {
    let verified = artifacts::load_verified(&opts.artifacts)?;
    let spec = &verified.spec;
    let tools = Tools::resolve(spec, opts)?;
    let gateway_dir = gateway_dir(spec, opts)?;
    let gateway_mode = spec.gateways_mode_bits().map_err(Error::Data)?;
    let (container, rootfs) = targets(opts)?;
    let shared = spec
        .shared_bin
        .as_deref()
        .map(|dir| SharedBin::plan(dir, spec, &tools))
        .transpose()?;
    let links_wanted = shared.as_ref().is_none_or(|s| !s.current);
    // `busybox --list` is a process start: let it run while the tarball is
    // read. Its answer is checked with everything else, before any write.
    let applets = (spec.applets_at_stage && links_wanted)
        .then(|| BusyboxList::spawn(&tools.busybox))
        .transpose()?;
    let entries = read_tarball(&verified.tarball)?;
    let lines = config_lines(spec, &rootfs, &tools, gateway_dir.as_deref())?;

    let applets = applets.map(BusyboxList::finish).transpose()?;

    // Checks are done; from here on only I/O can fail, and every step is
    // idempotent, so a rerun after a failure simply completes the work.
    fs::create_dir_all(&container).map_err(|e| Error::create(&container, e))?;
    fs::create_dir_all(&rootfs).map_err(|e| Error::create(&rootfs, e))?;
    let mut root = Root::open(&rootfs, owner())?;
    for e in &entries {
        root.put(e)?;
    }
    machine_id(&mut root)?;
    let resolv = opts
        .resolv_conf
        .clone()
        .unwrap_or_else(|| PathBuf::from("/etc/resolv.conf"));
    if let Ok(text) = fs::read(&resolv) {
        root.write_file("etc/resolv.conf", &text, 0o644)?;
    }
    let (shared_created, shared_kept) = match &shared {
        None => {
            for a in applets.iter().flatten() {
                root.put(&applet_link(&format!("bin/{a}")))?;
            }
            (0, 0)
        }
        Some(shared) => shared.fill(spec, applets.as_deref(), owner())?,
    };
    let config = container.join("config");
    let config_written = write_config(&config, &verified.conf, &lines)?;
    if opts.mapped_uid.is_some() || opts.mapped_gid.is_some() {
        std::os::unix::fs::lchown(&config, opts.mapped_uid, opts.mapped_gid)
            .map_err(|e| Error::io(&config, e))?;
    }
    if let Some(dir) = &gateway_dir {
        // Left alone when already right: in a user namespace the stage may
        // not own the directory, and then it may not chmod it.
        let now = fs::metadata(dir)
            .map_err(|e| Error::io(dir, e))?
            .permissions()
            .mode()
            & 0o7777;
        if now != gateway_mode {
            fs::set_permissions(dir, fs::Permissions::from_mode(gateway_mode))
                .map_err(|e| Error::io(dir, e))?;
        }
    }
    Ok(Report {
        rootfs,
        created: root.created + shared_created,
        kept: root.kept + shared_kept,
        config_written,
    })
}

fn applet_link(path: &str) -> skeleton::Entry {
    skeleton::Entry {
        path: path.to_string(),
        mode: 0o777,
        kind: skeleton::Kind::Symlink("busybox".into()),
    }
}

/// The host directory bound on `bin` that holds the placeholders and the
/// applet links once for all containers (profile `busybox.shared-bin`).
struct SharedBin {
    dir: PathBuf,
    /// What the links were made from: the busybox binary's identity and the
    /// applet source. Equal to the stamp file: the links are current.
    stamp: String,
    current: bool,
}

/// Records what the shared directory's links were made from.
const STAMP: &str = ".scgen-stamp";

impl SharedBin {
    fn plan(dir: &str, spec: &StageSpec, tools: &Tools) -> Result<Self> {
        let dir = PathBuf::from(dir);
        if fs::symlink_metadata(&dir).is_ok_and(|m| !m.is_dir()) {
            return Err(Error::Unsafe(format!(
                "shared bin {} is not a directory (a symlink is never followed)",
                dir.display()
            )));
        }
        let bb = fs::metadata(&tools.busybox).map_err(|e| Error::io(&tools.busybox, e))?;
        let source = match &spec.applets {
            Some(list) => format!(
                "list {}",
                crate::manifest::sha256_hex(list.join("\n").as_bytes())
            ),
            None => "busybox --list".to_string(),
        };
        use std::os::unix::fs::MetadataExt;
        let stamp = format!(
            "busybox {} dev={} ino={} size={} mtime={}.{}\napplets {source}\n",
            tools.busybox,
            bb.dev(),
            bb.ino(),
            bb.size(),
            bb.mtime(),
            bb.mtime_nsec()
        );
        let stamp_path = dir.join(STAMP);
        let current = fs::symlink_metadata(&stamp_path).is_ok_and(|m| m.is_file())
            && fs::read(&stamp_path).is_ok_and(|old| old == stamp.as_bytes());
        Ok(SharedBin {
            dir,
            stamp,
            current,
        })
    }

    /// Makes sure the placeholders exist, links the applets when the stamp
    /// is stale, then writes the stamp. Safe to run from several stages at
    /// once: every step tolerates the other's result.
    fn fill(
        &self,
        spec: &StageSpec,
        listed: Option<&[String]>,
        owner: Option<(u32, u32)>,
    ) -> Result<(usize, usize)> {
        fs::create_dir_all(&self.dir).map_err(|e| Error::create(&self.dir, e))?;
        let mut root = Root::open(&self.dir, owner)?;
        for path in skeleton::placeholders(spec.init_lxc, spec.iptables) {
            let name = path.trim_start_matches("bin/");
            root.put(&skeleton::Entry {
                path: name.to_string(),
                mode: 0o755,
                kind: skeleton::Kind::File(Vec::new()),
            })?;
        }
        if !self.current {
            let applets = listed.or(spec.applets.as_deref()).unwrap_or_default();
            for a in applets {
                root.put(&applet_link(a))?;
            }
            artifacts::write_atomic(&self.dir.join(STAMP), self.stamp.as_bytes(), 0o644)?;
        }
        Ok((root.created, root.kept))
    }
}

/// Host binaries bound into the container.
struct Tools {
    busybox: String,
    init_lxc: Option<String>,
    iptables: Option<String>,
}

impl Tools {
    fn resolve(spec: &StageSpec, opts: &Options) -> Result<Self> {
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
        })
    }
}

/// Finds `name` (or takes the caller's path), as an absolute path that can
/// go into a config line.
fn tool(name: &str, given: Option<&Path>, hint: &str) -> Result<String> {
    let found = match given {
        Some(p) => {
            if !p.is_file() {
                return Err(Error::Unavailable(format!(
                    "{name}: {} is not a file",
                    p.display()
                )));
            }
            std::path::absolute(p).map_err(|e| Error::io(p, e))?
        }
        None => {
            // lxc-create may run templates with a short PATH; look in the
            // sbin directories too, where init.lxc and iptables live.
            let mut paths = std::env::var_os("PATH").unwrap_or_default();
            paths.push(":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
            let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
            which::which_in(name, Some(paths), cwd).map_err(|_| {
                Error::Unavailable(format!(
                    "{name} not found on PATH or in the sbin directories\n  = help: {hint}"
                ))
            })?
        }
    };
    config_path(name, &found)
}

/// A host path as it may appear in an LXC config value: UTF-8, absolute,
/// without control characters (which would end the line).
fn config_path(what: &str, path: &Path) -> Result<String> {
    let s = path.to_str().ok_or_else(|| {
        Error::Unsafe(format!(
            "{what}: {} is not UTF-8; LXC configs cannot name it",
            path.display()
        ))
    })?;
    profile::abs_path(what, s).map_err(|p| {
        Error::Unsafe(format!(
            "{what}: {s:?} cannot go into an LXC config line: {}",
            p.message()
        ))
    })
}

fn gateway_dir(spec: &StageSpec, opts: &Options) -> Result<Option<String>> {
    let chosen = opts
        .gateway_dir
        .clone()
        .or_else(|| {
            opts.gateway_dir_env
                .clone()
                .filter(|p| !p.as_os_str().is_empty())
        })
        .or_else(|| spec.gateways_dir.as_ref().map(PathBuf::from));
    let Some(dir) = chosen else { return Ok(None) };
    let meta = fs::symlink_metadata(&dir).map_err(|e| {
        Error::Unavailable(format!(
            "gateway dir {}: {e}\n  = help: create it before the container",
            dir.display()
        ))
    })?;
    if !meta.is_dir() {
        return Err(Error::Unsafe(format!(
            "gateway dir {} is not a directory (symlinks are not followed)",
            dir.display()
        )));
    }
    if is_host_root(&dir) {
        return Err(Error::Unsafe(format!(
            "gateway dir {} is the host's /; refusing to bind it and change its mode",
            dir.display()
        )));
    }
    let abs = std::path::absolute(&dir).map_err(|e| Error::io(&dir, e))?;
    config_path("gateway dir", &abs).map(Some)
}

/// The container directory and rootfs, absolute and refused when they are
/// empty, `/`, hold `..`, or are symlinks themselves.
fn targets(opts: &Options) -> Result<(PathBuf, PathBuf)> {
    let container = checked_target("--path", &opts.path)?;
    let rootfs = match &opts.rootfs {
        Some(r) => checked_target("--rootfs", r)?,
        None => container.join("rootfs"),
    };
    if let Ok(meta) = fs::symlink_metadata(&rootfs) {
        if !meta.is_dir() {
            return Err(Error::Unsafe(format!(
                "rootfs {} exists and is not a directory (a symlink is never followed)",
                rootfs.display()
            )));
        }
    }
    // By inode, not by name: a symlink in a parent or a bind mount can make
    // any path the host's /.
    for (what, p) in [("--path", &container), ("rootfs", &rootfs)] {
        if is_host_root(p) {
            return Err(Error::Unsafe(format!(
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
        return Err(Error::Unsafe(format!(
            "{flag} is empty; refusing to write into the host's /"
        )));
    }
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(Error::Unsafe(format!(
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
        return Err(Error::Unsafe(format!(
            "{flag} {} is the host's /",
            p.display()
        )));
    }
    config_path(flag, &normal)?;
    Ok(normal)
}

/// Owner of everything in the rootfs: root where the stage runs (the
/// container's root in a user namespace), or whoever runs it otherwise.
fn owner() -> Option<(u32, u32)> {
    rustix::process::geteuid().is_root().then_some((0, 0))
}

/// Reads and checks every tarball entry: relative names without `..`, and
/// only directories, regular files and symlinks (no devices, no hard links).
fn read_tarball(bytes: &[u8]) -> Result<Vec<skeleton::Entry>> {
    let bad = |m: String| Error::Data(format!("rootfs.tar.gz: {m}"));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut out = Vec::new();
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8(raw).map_err(|_| bad("an entry name is not UTF-8".into()))?;
        let path = name.trim_end_matches('/');
        if path.is_empty()
            || path.starts_with('/')
            || !Path::new(path)
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(bad(format!("entry {name:?} would land outside the rootfs")));
        }
        let mode = entry.header().mode().map_err(|e| bad(e.to_string()))?;
        let kind = match entry.header().entry_type() {
            tar::EntryType::Directory => skeleton::Kind::Dir,
            tar::EntryType::Regular => {
                let mut data = Vec::new();
                entry
                    .read_to_end(&mut data)
                    .map_err(|e| bad(e.to_string()))?;
                skeleton::Kind::File(data)
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| bad(e.to_string()))?
                    .ok_or_else(|| bad(format!("symlink {name:?} has no target")))?;
                skeleton::Kind::Symlink(target.to_string_lossy().into_owned())
            }
            other => {
                return Err(bad(format!(
                    "entry {name:?} is a {other:?}, which a skeleton never holds"
                )))
            }
        };
        out.push(skeleton::Entry {
            path: path.to_string(),
            // No setuid/setgid from an archive: the skeleton has none.
            mode: mode & 0o1777,
            kind,
        });
    }
    Ok(out)
}

/// A running `busybox --list`.
struct BusyboxList {
    busybox: String,
    child: std::process::Child,
}

impl BusyboxList {
    fn spawn(busybox: &str) -> Result<Self> {
        let child = Command::new(busybox)
            .arg("--list")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| Error::Unavailable(format!("cannot run {busybox} --list: {e}")))?;
        Ok(BusyboxList {
            busybox: busybox.to_string(),
            child,
        })
    }

    /// The applet names, checked; never `busybox` itself.
    fn finish(self) -> Result<Vec<String>> {
        let busybox = self.busybox;
        let out = self
            .child
            .wait_with_output()
            .map_err(|e| Error::Unavailable(format!("{busybox} --list: {e}")))?;
        if !out.status.success() {
            return Err(Error::Unavailable(format!(
                "{busybox} --list failed: {}",
                out.status
            )));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut list = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match profile::applet(line) {
                Ok(Some(a)) => list.push(a),
                Ok(None) => {}
                Err(m) => return Err(Error::Data(format!("{busybox} --list: {m}"))),
            }
        }
        Ok(list)
    }
}

/// `dbus-uuidgen --ensure`: keep a valid machine-id, else write 32 random
/// lowercase hex digits and a newline.
fn machine_id(root: &mut Root) -> Result<()> {
    const PATH: &str = "etc/machine-id";
    let valid = |b: &[u8]| {
        let b = b.strip_suffix(b"\n").unwrap_or(b);
        b.len() == 32
            && b.iter()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    };
    if root.read_file(PATH).is_some_and(|b| valid(&b)) {
        root.kept += 1;
        return Ok(());
    }
    let mut random = [0u8; 16];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .map_err(|e| Error::io("/dev/urandom", e))?;
    let mut id: String = random.iter().map(|b| format!("{b:02x}")).collect();
    id.push('\n');
    root.write_file(PATH, id.as_bytes(), 0o644)
}

/// The host-dependent config lines, in the profile's dialect.
fn config_lines(
    spec: &StageSpec,
    rootfs: &Path,
    tools: &Tools,
    gateway: Option<&str>,
) -> Result<Vec<String>> {
    let d = spec.dialect;
    let rootfs = config_path("rootfs", rootfs)?;
    let ro = |source: &str, target: &str| lxc::mount_entry(d, source, target, "none", "ro,bind");
    let mut lines = vec![
        format!("{} = {}", d.keys().rootfs, d.rootfs_value(&rootfs)),
        ro(&spec.prefix, &spec.prefix[1..]),
        ro(&tools.busybox, skeleton::BUSYBOX),
    ];
    if let Some(init) = &tools.init_lxc {
        lines.push(ro(init, skeleton::INIT_LXC));
    }
    if let Some(iptables) = &tools.iptables {
        lines.push(ro(iptables, skeleton::IPTABLES));
    }
    if let Some(dir) = gateway {
        lines.push(lxc::mount_entry(d, dir, "gateways", "none", "rw,bind"));
    }
    Ok(lines)
}

/// Removes temp files a killed earlier run left beside `path`
/// (`.config.XXXXXX.tmp`, from [`artifacts::write_atomic`]). Best effort:
/// they are never read, only untidy.
fn remove_stale_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let n = e.file_name();
        let n = n.to_string_lossy();
        if n.starts_with(&prefix) && n.ends_with(".tmp") && e.file_type().is_ok_and(|t| t.is_file())
        {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Writes the container config: the existing one (or the static config for
/// a new container), without the previous run's block, plus a block of
/// `lines` that the rest does not already hold. Unchanged: not written.
fn write_config(path: &Path, static_conf: &str, lines: &[String]) -> Result<bool> {
    remove_stale_temps(path);
    let old = match fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(path, e)),
    };
    let base = old.as_deref().unwrap_or(static_conf);
    let mut kept = Vec::new();
    let mut inside = false;
    for line in base.lines() {
        match line {
            BEGIN => inside = true,
            END => inside = false,
            l if !inside => kept.push(l),
            _ => {}
        }
    }
    let mut text: String = kept.iter().map(|l| format!("{l}\n")).collect();
    text.push_str(BEGIN);
    text.push('\n');
    for line in lines {
        if !kept.iter().any(|k| k.trim() == line) {
            text.push_str(line);
            text.push('\n');
        }
    }
    text.push_str(END);
    text.push('\n');
    if old.as_deref() == Some(text.as_str()) {
        return Ok(false);
    }
    artifacts::write_atomic(path, text.as_bytes(), 0o644)?;
    Ok(true)
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

    #[test]
    fn config_block_is_replaced_not_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        let lines = vec![
            "lxc.rootfs.path = dir:/r".to_string(),
            "lxc.mount.entry = /a a none ro,bind 0 0".to_string(),
        ];
        assert!(write_config(
            &path,
            "lxc.uts.name = c\nlxc.rootfs.path = dir:/r\n",
            &lines
        )
        .unwrap());
        let first = fs::read_to_string(&path).unwrap();
        assert_eq!(first.matches("lxc.rootfs.path").count(), 1, "{first}");
        assert!(!write_config(&path, "", &lines).unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), first);
    }
}
