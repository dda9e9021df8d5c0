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
//! RESOLVE_NO_SYMLINKS)` from a descriptor of the rootfs (or, where the
//! kernel lacks it, a walk that opens one component at a time without
//! following: see [`walk`]), so neither a `..`
//! nor a symlink already in the rootfs can lead a write out of it, and
//! nothing found there is opened unless it is a plain file (see
//! [`beneath`]). Stages of one container take turns on an flock of its
//! directory.

use std::path::PathBuf;

use crate::contract::{self, Entry, Kind};
use crate::error::{Error, Result};

mod beneath;
mod binds;
mod config;
mod host;
mod overlay;
mod shared_bin;
pub mod skeletons;
mod stamp;
mod store;
pub mod subid;
mod tarball;
mod tree;
mod upperfs;
mod walk;
pub mod writes;

use beneath::Root;
use host::{BusyboxList, Tools};
use overlay::Overlay;
use shared_bin::SharedBin;
use writes::Writes;

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
    /// How long to wait for a lock (the store's, the shared bin's, the
    /// container's) [default: [`LOCK_WAIT`]].
    pub lock_wait: Option<std::time::Duration>,
}

/// How long the stage and `skeletons` wait for a lock by default: far more
/// than any fill or prune takes; past it, exit 75.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

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
    /// Changes of plan the caller should hear of (a line each, for stderr).
    pub notes: Vec<String>,
}

/// Runs the stage.
pub fn stage(opts: &Options) -> Result<Report> {
    let verified = contract::load_verified(&opts.artifacts)?;
    let spec = &verified.spec;
    let tools = Tools::resolve(spec, opts)?;
    // Only when LXC creates an id-mapped container (it passes the caller's
    // mapped ids to the template): that is when a missing range would give
    // a container that never starts. A stage run by hand, or by a test, on
    // a host that starts no containers, is not LXC's. (The same goes for
    // the old-kernel note below.)
    let mapped = opts.mapped_uid.is_some() || opts.mapped_gid.is_some();
    if mapped {
        subid::check(&spec.idmap, host::find)?;
    }
    let gateway_dir = host::gateway_dir(spec, opts)?;
    let gateway_mode = spec.gateways_mode.bits();
    let (container, rootfs) = host::targets(opts)?;
    let wait = opts.lock_wait.unwrap_or(LOCK_WAIT);
    // A rootfs that is a mount point of its own (the agent's write buffer,
    // an integrator's mount): whoever mounted it chose where the
    // container's writes go.
    let mounted = upperfs::mounted(&container, &rootfs);
    let mut notes = Vec::new();
    // Overlay: a mounted rootfs gets a plain tree in that mount; one on a
    // filesystem that cannot be an upper dir is refused here, before any
    // write.
    let store = match &spec.skeleton_store {
        Some(store) => match upperfs::decide(&rootfs, mounted.as_deref())? {
            upperfs::Upper::Overlay => Some(store),
            upperfs::Upper::Mounted(fs) => {
                notes.push(format!(
                    "rootfs {} is a mount point ({fs}), which cannot be an overlay upper dir; the container gets a plain dir: rootfs in it",
                    rootfs.display()
                ));
                None
            }
        },
        None => None,
    };
    let shared = spec
        .shared_bin
        .as_ref()
        .map(|dir| SharedBin::plan(dir, spec, &tools, wait))
        .transpose()?;
    // Overlay: look the skeleton up (and share-lock the store) now; with it
    // in place, neither the tarball nor `busybox --list` is needed.
    let mut overlay = store
        .map(|store| Overlay::plan(store, &verified.digest, spec, &tools, &rootfs, wait))
        .transpose()?;
    let skeleton_ready = overlay.as_ref().is_some_and(|o| o.present);
    let links_wanted = shared.as_ref().is_none_or(|s| !s.current) && !skeleton_ready;
    // `busybox --list` is a process start: let it run while the tarball is
    // read. Its answer is checked with everything else, before any write.
    let applets = (spec.applets_at_stage && links_wanted)
        .then(|| BusyboxList::spawn(&tools.busybox))
        .transpose()?;
    let entries = match skeleton_ready {
        true => Vec::new(),
        false => tarball::read(&verified.tarball)?,
    };
    if overlay.is_some() {
        overlay::open_dirs(&entries)?;
    }
    let lower = overlay.as_ref().map(Overlay::lower);
    // The bound on writes, unless the rootfs is a mount of its own. The
    // agent's write buffer is synced into its lower dir at Destroy, which
    // a tmpfs over it would keep them from; with the series' 0012 that
    // buffer is a tmpfs.
    let writes = match (spec.disk_max, &mounted) {
        (Some(size), None) => Some(Writes::plan(&container, &rootfs, size)?),
        _ => None,
    };
    let lines = config::lines(
        spec,
        &rootfs,
        lower.as_deref(),
        writes.as_ref(),
        &tools,
        gateway_dir.as_ref().map(|g| g.path.as_str()),
    )?;

    let kept = config::kept_lines(&container, &verified.conf);
    let exempt: Vec<&str> = spec.shared_bin.iter().map(|d| d.as_str()).collect();
    binds::check(kept.iter().chain(&lines).map(String::as_str), &exempt)?;
    if let (Some(_), Some(fs)) = (spec.disk_max, &mounted) {
        notes.push(format!(
            "rootfs {} is a mount point ({fs}): the container writes into it, and security.disk-max adds no bound of its own",
            rootfs.display()
        ));
    }
    if mapped && (writes.is_some() || lower.is_some()) {
        let uname = rustix::system::uname();
        notes.extend(writes::old_kernel_note(&uname.release().to_string_lossy()));
    }
    if gateway_dir.is_none() {
        notes.push(
            "no gateway dir: the container gets no /gateways mount, and SoftwareContainer's gateways cannot reach it; give --gateway-dir or $GATEWAY_DIR, or set `gateways.dir` in the profile"
                .to_string(),
        );
    }

    let mut applets = applets.map(BusyboxList::finish).transpose()?;

    // Checks are done; from here on only I/O can fail, and every step is
    // idempotent, so a rerun after a failure simply completes the work.
    let container_fd = host::make_dir(&container)?;
    // Stages of one container take turns: the second finds the first's
    // work done instead of racing it (or deleting its temp files).
    store::flock_within(&container_fd, true, wait, &container)?;
    host::make_dir(&rootfs)?;
    let mut root = Root::open(&rootfs, host::owner(), 0o755)?;
    let mut skeleton_created = 0;
    match &mut overlay {
        None => {
            for e in &entries {
                root.put(e)?;
            }
        }
        // The rootfs is the upper dir; the tree and its links go into the
        // shared skeleton, once.
        Some(o) => {
            let links = applets.take().unwrap_or_default();
            skeleton_created = o.ensure(&entries, &links)?;
            o.upper(&mut root)?;
        }
    }
    if let Some(w) = &writes {
        w.make()?;
    }
    machine_id(&mut root)?;
    let resolv = opts
        .resolv_conf
        .clone()
        .unwrap_or_else(|| PathBuf::from("/etc/resolv.conf"));
    if let Ok(text) = crate::files::read_input_bytes(&resolv, 1 << 20) {
        root.write_file("etc/resolv.conf", &text, 0o644)?;
    }
    let (shared_created, shared_kept) = match &shared {
        None => {
            for a in applets.iter().flatten() {
                root.put(&applet_link(&format!("bin/{a}")))?;
            }
            (0, 0)
        }
        Some(shared) => shared.fill(spec, applets.as_deref(), host::owner(), wait)?,
    };
    let config_owner = match (opts.mapped_uid, opts.mapped_gid) {
        (None, None) => None,
        (u, g) => Some((
            u.unwrap_or_else(|| rustix::process::geteuid().as_raw()),
            g.unwrap_or_else(|| rustix::process::getegid().as_raw()),
        )),
    };
    // The container's use of its skeleton, recorded while the store is
    // still share-locked, for prune to see whatever LXC does to the config.
    if let Some(lower) = &lower {
        config::mark(&container_fd, &container, lower, config_owner)?;
    }
    let config_written = config::write(
        &container_fd,
        &container,
        &verified.conf,
        &lines,
        config_owner,
    )?;
    if let Some(dir) = &gateway_dir {
        dir.set_mode(gateway_mode)?;
    }
    Ok(Report {
        rootfs,
        created: root.created + shared_created + skeleton_created,
        kept: root.kept + shared_kept,
        config_written,
        notes,
    })
}

fn applet_link(path: &str) -> Entry {
    Entry {
        path: path.to_string(),
        mode: 0o777,
        kind: Kind::Symlink("busybox".into()),
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
    let mut filled = 0;
    while filled < random.len() {
        filled +=
            rustix::rand::getrandom(&mut random[filled..], rustix::rand::GetRandomFlags::empty())
                .map_err(|e| match e {
                rustix::io::Errno::NOSYS => Error::unavailable(walk::describe("getrandom", e)),
                e => Error::io("getrandom", e.into()),
            })?;
    }
    let id = hex::encode(random) + "\n";
    root.write_file(PATH, id.as_bytes(), 0o644)
}
