//! Profile loading: TOML text becomes a checked [`Profile`] before any work.
//!
//! The flow is ripgrep's lowargs -> hiargs: [`layers`] parses each input
//! strictly into a [`RawProfile`] and merges them, then [`check`] turns the
//! result into a [`Profile`], whose every value is a checked type from
//! [`crate::values`] and safe to put into an LXC config line. Nothing here
//! knows about the skeleton or the stage; a later stage that finds a
//! problem with a value asks [`Profile::diagnostic`] to point at its line.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::diag::Diagnostic;
use crate::error::{Error, Result};
pub use crate::lxc::Dialect;
use crate::values::{
    AbsPath, Applet, FstabWord, IdMap, IfName, Mode, MountAuto, RelPath, Signal, UtsName,
};

mod busybox;
mod check;
mod explain;
mod init;
mod layers;
mod merge;
mod mounts;
mod raw;
pub mod security;
mod show;
pub use security::Security;

pub use init::init;
use layers::{Layers, Problem};
pub use raw::{schema, RawProfile, RootfsKind};
pub use show::{Origin as SetBy, Setting};

/// The shipped default profile, compiled in so `scgen gen` works anywhere.
pub const DEFAULT_PROFILE: &str = include_str!("../../profiles/default.toml");

/// What `extends` names the built-in default by (no file is read).
pub const BUILTIN_NAME: &str = "default";
/// How messages name the built-in default.
pub const BUILTIN_SOURCE: &str = "profiles/default.toml (built in)";

/// The lists of a profile, which add to the inherited ones when merged
/// (`mounts`, `container.idmap`, ...); what `replace` may name.
pub fn list_keys() -> impl Iterator<Item = &'static str> {
    merge::LISTS.iter().map(|(k, _)| *k)
}

/// Where overlay containers keep their shared skeletons unless the profile
/// says otherwise (`container.skeleton-store`).
pub const DEFAULT_SKELETON_STORE: &str = "/var/lib/softwarecontainer/skeletons";

/// A checked profile: every value is valid and safe to render.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The profile's file stem; names the output directory.
    pub name: String,
    pub dialect: Dialect,
    /// Normalised absolute install prefix, never `/`.
    pub prefix: AbsPath,
    /// Absolute directories scgen and its data are installed in.
    pub bindir: AbsPath,
    pub datadir: AbsPath,
    pub container: Container,
    /// All host-independent mounts in config order: the profile's static
    /// binds, the optional lib64 bind, the install-prefix bind, then the
    /// shared bin.
    pub mounts: Vec<Mount>,
    /// Present when the network gateway is on.
    pub network: Option<Network>,
    pub gateways: Gateways,
    pub applets: Applets,
    /// Host directory with the applet links, bound on `bin` (see
    /// [`raw::RawBusybox::shared_bin`]).
    pub shared_bin: Option<AbsPath>,
    /// With `container.rootfs = "overlay"`: the host directory of the shared
    /// skeletons. `None`: a plain directory tree per container.
    pub skeleton_store: Option<AbsPath>,
    /// What the container's processes may do.
    pub security: Security,
    /// Every file read to build this profile, for depfiles.
    pub inputs: Vec<PathBuf>,
    /// The texts it came from, so later checks can point at a key's line.
    layers: Layers,
}

impl Profile {
    /// A diagnostic about the value at `key` (a path like
    /// `mounts[1].target`), pointing at the layer that set it.
    pub fn diagnostic(&self, key: &str, message: &str, hint: Option<&str>) -> Diagnostic {
        self.layers.diagnose(Problem::new(key, message, hint))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Container {
    pub uts_name: UtsName,
    pub autodev: bool,
    pub tty_max: u32,
    pub pty_max: u32,
    pub halt_signal: Signal,
    pub mount_auto: Vec<MountAuto>,
    pub lib64: bool,
    /// Whether the stage binds the host's init.lxc onto `bin/init.lxc`.
    /// LXC >= 4.0.10 runs its init from liblxc and never looks there.
    pub init_lxc: bool,
    /// The user-namespace id map; empty: none, the container's root is the
    /// host's.
    pub idmap: Vec<IdMap>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    pub source: AbsPath,
    /// Path relative to the rootfs.
    pub target: RelPath,
    pub fstype: FstabWord,
    pub options: Vec<FstabWord>,
    /// The profile key this mount comes from (its target, or the key that
    /// implied it), where a problem with it is reported.
    #[serde(skip)]
    pub key: String,
}

impl Mount {
    /// Whether LXC creates the mount point itself (`create=dir|file`), so
    /// the skeleton need not hold it.
    pub fn lxc_creates_target(&self) -> bool {
        self.options
            .iter()
            .any(|o| o.as_str().starts_with("create="))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Network {
    pub bridge: IfName,
    pub interface: IfName,
}

#[derive(Debug, Clone)]
pub struct Gateways {
    /// Host directory bound on `/gateways`; `None` leaves it to the stage.
    pub dir: Option<AbsPath>,
    /// Mode the stage gives that host directory (the seed's `chmod 777`).
    pub mode: Mode,
    /// Bind it as LXC's mount tunnel, a slave mount in the container (see
    /// [`raw::RawGateways::slave`]).
    pub slave: bool,
    /// The agent's BindMount and file gateway are to work (the policy
    /// passes their two mount calls; see [`raw::RawGateways::file`]).
    pub file: bool,
}

/// Where the busybox applet list comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applets {
    /// Asked of the host busybox (`busybox --list`) by the stage.
    Stage,
    /// Known at build time: sorted, unique, never `busybox` itself.
    Fixed(Vec<Applet>),
}

/// Where a profile comes from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// `profiles/default.toml` as compiled into the binary.
    Embedded,
    File(PathBuf),
}

/// Loads, merges and checks a profile, with `sets` (`key=value`, from
/// `--set`) applied on top.
pub fn load(origin: &Origin, sets: &[String]) -> Result<Profile> {
    // Every profile starts from the built-in default, as a systemd unit's
    // drop-ins start from the unit: a profile without `extends` is the
    // default plus what it says.
    let mut layers = Layers::default();
    layers.push_builtin()?;
    let name = match origin {
        Origin::Embedded => "default".to_string(),
        Origin::File(path) => {
            layers.push_file(path, &mut Vec::new(), None)?;
            profile_name(path)?
        }
    };
    for set in sets {
        layers.push_set(set)?;
    }
    let raw: RawProfile = layers
        .merged()
        .try_into()
        .map_err(|e: toml::de::Error| Error::config(Diagnostic::new(e.message())))?;
    // Every problem at once: what the strict parse refused, then the checks.
    let (profile, problems) = match check::check(name, raw, &layers) {
        Ok(p) => (Some(p), Vec::new()),
        Err(problems) => (None, problems),
    };
    match (layers.diagnose_all(problems), profile) {
        (None, Some(p)) => Ok(p),
        (Some(d), _) => Err(Error::config(d)),
        (None, None) => unreachable!("a failed check has a problem"),
    }
}

/// The profile's name: its file stem, which names `generated/<name>/`, so
/// it must be a plain directory name (`...toml` would make it `..`).
fn profile_name(path: &Path) -> Result<String> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let ok = stem.len() <= 64
        && stem.starts_with(|c: char| c.is_ascii_alphanumeric())
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(stem.to_string())
    } else {
        Err(Error::config(
            Diagnostic::new(format!(
                "profile file name `{}` cannot name an output directory",
                path.display()
            ))
            .help("start with a letter or digit, then up to 63 letters, digits, `-`, `_` or `.` before `.toml`"),
        ))
    }
}
