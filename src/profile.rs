//! Profile loading: TOML text becomes a checked [`Profile`] before any work.
//!
//! The flow is ripgrep's lowargs -> hiargs: each layer (the profile, the
//! profiles it `extends`, each `--set`) is first parsed strictly on its own
//! into [`RawProfile`] so that an unknown key or a wrong type is reported
//! with that layer's line and column. The layers are then merged as TOML
//! tables (later layers win, arrays are replaced whole) and [`check`]ed into
//! a [`Profile`], whose every value is safe to put into an LXC config line.
//! A failed check names a key path; [`Layers::locate`] finds the layer that
//! set it and points the caret there.

use std::ops::Range;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::{self, Source};
use crate::error::{Error, Result};
pub use crate::lxc::Dialect;

mod values;
pub(crate) use values::{abs_path, applet};
use values::{
    applet_list, ifname, links_file, mode, mount, mount_auto, rel_path, signal, uts_name,
};
pub use values::{MOUNT_AUTO, SIGNALS};

/// The shipped default profile, compiled in so `scgen gen` works anywhere.
pub const DEFAULT_PROFILE: &str = include_str!("../profiles/default.toml");

/// The profile as written: every key optional, unknown keys rejected.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(
    title = "scgen profile",
    description = "A SoftwareContainer profile for scgen (see the README's profile reference)."
)]
pub struct RawProfile {
    /// Another profile this one builds on, relative to this file. Its values
    /// apply first; tables merge key by key, arrays are replaced whole.
    pub extends: Option<String>,
    /// Which LXC generation the config is written for.
    pub lxc: Option<RawLxc>,
    /// Where SoftwareContainer is installed.
    pub install: Option<RawInstall>,
    /// Container settings the seed config hard-coded.
    pub container: Option<RawContainer>,
    /// Static mounts. Replaces the default list (/usr and /lib, read-only
    /// binds) whole.
    pub mounts: Option<Vec<RawMount>>,
    /// The network gateway (upstream's ENABLE_NETWORKGATEWAY).
    pub network: Option<RawNetwork>,
    /// The host directory bound on /gateways (upstream's GATEWAY_DIR).
    pub gateways: Option<RawGateways>,
    /// Where the busybox applet list comes from.
    pub busybox: Option<RawBusybox>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawLxc {
    /// `lxc3` (LXC >= 3.0 keys, default) or `lxc2` (the seed's legacy keys).
    pub dialect: Option<Dialect>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawInstall {
    /// CMAKE_INSTALL_PREFIX: absolute, not `/`; bound read-only at the same
    /// path in the container. Default `/usr/local`.
    pub prefix: Option<String>,
    /// Where scgen is installed, like CMAKE_INSTALL_BINDIR: relative to the
    /// prefix, or absolute. The drop-in execs `<bindir>/scgen`. Default `bin`.
    pub bindir: Option<String>,
    /// Like CMAKE_INSTALL_DATADIR: relative to the prefix, or absolute. The
    /// artifacts are installed in `<datadir>/softwarecontainer/scgen`.
    /// Default `share`.
    pub datadir: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawContainer {
    /// Host name inside the container. Default `contained`.
    pub uts_name: Option<String>,
    /// Let LXC populate /dev. Default true.
    pub autodev: Option<bool>,
    /// Number of ttys. Default 1.
    pub tty_max: Option<u32>,
    /// Number of ptys. Default 1.
    pub pty_max: Option<u32>,
    /// Signal that halts the container: `SIGNAME` or a number. Default
    /// `SIGKILL`.
    pub halt_signal: Option<String>,
    /// lxc.mount.auto tokens. Default `["proc", "sys"]`.
    pub mount_auto: Option<Vec<String>>,
    /// Create /lib64 and /usr/lib64 and bind the host's /lib64 if it has
    /// one. Default true.
    pub lib64: Option<bool>,
    /// Bind the host's init.lxc onto /bin/init.lxc. LXC >= 4.0.10 does not
    /// use it; set false where no init.lxc is installed. Default true.
    pub init_lxc: Option<bool>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawMount {
    /// Absolute host path.
    pub source: String,
    /// Path in the container, relative to its root (`usr`, not `/usr`).
    pub target: String,
    /// Filesystem type. Default `none` (a bind).
    pub fstype: Option<String>,
    /// Mount options, one per item. Default `["ro", "bind"]`.
    pub options: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawNetwork {
    /// A veth on `bridge`, and the host's iptables in the container.
    /// Default false.
    pub gateway: Option<bool>,
    /// Host bridge (upstream's SC_BRIDGE_DEVICE). Default `lxcbr0`.
    pub bridge: Option<String>,
    /// Interface name in the container. Default `eth0`.
    pub interface: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawGateways {
    /// Absolute host directory bound read-write on /gateways. Unset: the
    /// stage takes `--gateway-dir` or `$GATEWAY_DIR`, or binds nothing.
    pub dir: Option<String>,
    /// Octal mode the stage gives that directory. Default "0777".
    pub mode: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawBusybox {
    /// A fixed applet list, linked into /bin at build time.
    pub applets: Option<Vec<String>>,
    /// A Yocto busybox.links file (one absolute path per line), relative to
    /// the profile that sets it. Neither key: the stage asks the host's
    /// `busybox --list`.
    pub links_file: Option<String>,
    /// A host directory that holds the applet links once for every
    /// container, bound read-only on /bin. Each container then costs ~270
    /// fewer directory entries; the stage fills the directory the first time
    /// (and again when the host's busybox changes). Unset: links in each
    /// rootfs, as the seed made them.
    pub shared_bin: Option<String>,
}

/// A checked profile: every value is valid and safe to render.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The profile's file stem; names the output directory.
    pub name: String,
    pub dialect: Dialect,
    /// Normalised absolute install prefix, never `/`.
    pub prefix: String,
    /// Absolute directories scgen and its data are installed in.
    pub bindir: String,
    pub datadir: String,
    pub container: Container,
    /// All host-independent mounts in config order: the profile's static
    /// binds, the optional lib64 bind, then the install-prefix bind.
    pub mounts: Vec<Mount>,
    /// Present when the network gateway is on.
    pub network: Option<Network>,
    pub gateways: Gateways,
    pub applets: Applets,
    /// Host directory with the applet links, bound on `bin` (see
    /// [`RawBusybox::shared_bin`]).
    pub shared_bin: Option<String>,
    /// Every file read to build this profile, for depfiles.
    pub inputs: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Container {
    pub uts_name: String,
    pub autodev: bool,
    pub tty_max: u32,
    pub pty_max: u32,
    /// Upper-case `SIGNAME` or a number, as LXC parses it.
    pub halt_signal: String,
    pub mount_auto: Vec<String>,
    pub lib64: bool,
    /// Whether the stage binds the host's init.lxc onto `bin/init.lxc`.
    /// LXC >= 4.0.10 runs its init from liblxc and never looks there.
    pub init_lxc: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    /// Absolute host path.
    pub source: String,
    /// Path relative to the rootfs.
    pub target: String,
    pub fstype: String,
    pub options: Vec<String>,
}

impl Mount {
    /// Whether LXC creates the mount point itself (`create=dir|file`), so
    /// the skeleton need not hold it.
    pub fn lxc_creates_target(&self) -> bool {
        self.options.iter().any(|o| o.starts_with("create="))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Network {
    pub bridge: String,
    pub interface: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Gateways {
    /// Host directory bound on `/gateways`; `None` leaves it to the stage.
    pub dir: Option<String>,
    /// Mode the stage gives that host directory (the seed's `chmod 777`).
    pub mode: u32,
}

/// Where the busybox applet list comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applets {
    /// Asked of the host busybox (`busybox --list`) by the stage.
    Stage,
    /// Known at build time: sorted, unique, never `busybox` itself.
    Fixed(Vec<String>),
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
    let mut layers = Layers::default();
    let name = match origin {
        Origin::Embedded => {
            layers.push_chain(
                Source {
                    name: "profiles/default.toml (built in)".into(),
                    dir: None,
                    text: DEFAULT_PROFILE.into(),
                },
                None,
            )?;
            "default".to_string()
        }
        Origin::File(path) => {
            layers.push_file(path, &mut Vec::new(), None)?;
            profile_name(path)?
        }
    };
    for set in sets {
        layers.push_set(set)?;
    }
    let merged = layers.merged();
    let raw: RawProfile = merged
        .try_into()
        .map_err(|e: toml::de::Error| Error::Config(format!("error: {}", e.message())))?;
    check(name, raw, &layers).map_err(|p| Error::Config(layers.render(&p)))
}

fn profile_name(path: &Path) -> Result<String> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let ok = !stem.is_empty()
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(stem.to_string())
    } else {
        Err(Error::Config(format!(
            "error: profile file name `{}` cannot name an output directory\n  = help: use letters, digits, `-`, `_` or `.` before `.toml`",
            path.display()
        )))
    }
}

/// One parsed input: its text (for snippets) and its table (for merging).
struct Layer {
    source: Source,
    table: toml::Table,
}

/// The inputs of one profile, base first, `--set` values last.
#[derive(Default)]
struct Layers {
    layers: Vec<Layer>,
    inputs: Vec<PathBuf>,
}

/// A failed check: which key, what is wrong, how to fix it.
#[derive(Debug)]
pub struct Problem {
    key: String,
    message: String,
    hint: Option<String>,
    /// Set when the problem lies in another file (a busybox.links line).
    at: Option<Box<(Source, Range<usize>)>>,
}

impl Problem {
    /// What is wrong, without the key (for callers that name it their way).
    pub fn message(&self) -> &str {
        &self.message
    }
}

fn problem(key: &str, message: impl Into<String>, hint: Option<&str>) -> Problem {
    Problem {
        key: key.to_string(),
        message: message.into(),
        hint: hint.map(str::to_string),
        at: None,
    }
}

impl Layers {
    /// Reads the profile at `path` and everything it extends. `seen` is the
    /// chain of profiles being loaded (canonical path, path as shown);
    /// `from` is the `extends` value that named `path`, where an error about
    /// `path` points.
    fn push_file(
        &mut self,
        path: &Path,
        seen: &mut Vec<(PathBuf, String)>,
        from: Option<(&Source, Range<usize>)>,
    ) -> Result<()> {
        let fail = |message: String, hint: &str| match &from {
            Some((source, span)) => Error::Config(diag::render(
                source,
                Some(span.clone()),
                &format!("`extends`: {message}"),
                Some(hint),
            )),
            None => Error::Config(format!("error: {message}\n  = help: {hint}")),
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            fail(
                format!("cannot read profile {}: {e}", path.display()),
                match from {
                    Some(_) => "`extends` is relative to the directory of the profile that sets it",
                    None => "check the path given to --profile",
                },
            )
        })?;
        let canonical = path.canonicalize().map_err(|e| Error::io(path, e))?;
        if seen.iter().any(|(c, _)| *c == canonical) {
            let mut chain: Vec<&str> = seen.iter().map(|(_, shown)| shown.as_str()).collect();
            let shown = path.display().to_string();
            chain.push(&shown);
            return Err(fail(
                format!(
                    "profiles extend each other in a cycle: {}",
                    chain.join(" -> ")
                ),
                "remove one `extends` from the cycle",
            ));
        }
        seen.push((canonical, path.display().to_string()));
        self.inputs.push(path.to_path_buf());
        let source = Source {
            name: path.display().to_string(),
            dir: Some(path.parent().unwrap_or(Path::new(".")).to_path_buf()),
            text,
        };
        self.push_chain(source, Some(seen))
    }

    /// Parses one profile text strictly, then its base (if any), then keeps
    /// the text itself as a layer above the base.
    fn push_chain(
        &mut self,
        source: Source,
        seen: Option<&mut Vec<(PathBuf, String)>>,
    ) -> Result<()> {
        let (table, extends) = parse_layer(&source)?;
        if let Some(extends) = extends {
            let span = span_of(&source.text, "extends");
            let Some(dir) = &source.dir else {
                return Err(Error::Config(diag::render(
                    &source,
                    span,
                    "the built-in profile cannot extend another",
                    None,
                )));
            };
            let mut fresh = Vec::new();
            let seen = seen.unwrap_or(&mut fresh);
            let from = span.map(|span| (&source, span));
            self.push_file(&dir.join(extends), seen, from)?;
        }
        self.layers.push(Layer { source, table });
        Ok(())
    }

    fn push_set(&mut self, set: &str) -> Result<()> {
        let Some((key, value)) = set.split_once('=') else {
            return Err(Error::Usage(format!(
                "--set {set}: expected KEY=VALUE, for example --set network.gateway=true"
            )));
        };
        let key = key.trim();
        let value = value.trim();
        // A bare word that is not TOML (`/opt`, `eth1`) is taken as a string.
        let mut text = format!("{key} = {value}\n");
        if text.parse::<toml::Table>().is_err() {
            text = format!("{key} = {}\n", toml::Value::String(value.to_string()));
        }
        let source = Source {
            name: "--set".into(),
            dir: std::env::current_dir().ok(),
            text,
        };
        let (table, extends) = parse_layer(&source)?;
        if extends.is_some() {
            return Err(Error::Usage("--set cannot change `extends`".into()));
        }
        self.layers.push(Layer { source, table });
        Ok(())
    }

    fn merged(&self) -> toml::Table {
        let mut out = toml::Table::new();
        for layer in &self.layers {
            merge(&mut out, layer.table.clone());
        }
        out
    }

    /// The topmost layer that sets `key` (a path like `mounts[1].source`),
    /// and the span of its value there.
    fn locate(&self, key: &str) -> Option<(&Layer, Range<usize>)> {
        self.layers
            .iter()
            .rev()
            .find_map(|l| span_of(&l.source.text, key).map(|s| (l, s)))
    }

    fn render(&self, p: &Problem) -> String {
        let hint = p.hint.as_deref();
        if let Some(at) = &p.at {
            let (source, span) = at.as_ref();
            return diag::render(source, Some(span.clone()), &p.message, hint);
        }
        let message = format!("`{}`: {}", p.key, p.message);
        match self.locate(&p.key) {
            Some((layer, span)) => diag::render(&layer.source, Some(span), &message, hint),
            None => {
                let top = &self.layers.last().expect("at least one layer").source;
                diag::render(top, None, &message, hint)
            }
        }
    }

    /// The directory a relative path set at `key` resolves against.
    fn dir_of(&self, key: &str) -> PathBuf {
        self.locate(key)
            .and_then(|(l, _)| l.source.dir.clone())
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

/// Strictly parses one layer; returns its table without `extends`.
fn parse_layer(source: &Source) -> Result<(toml::Table, Option<String>)> {
    if let Err(e) = toml::from_str::<RawProfile>(&source.text) {
        let quoted = e.span().and_then(|s| source.text.get(s));
        let (message, hint) = explain(e.message().trim(), quoted);
        return Err(Error::Config(diag::render(
            source,
            e.span(),
            &message,
            hint.as_deref(),
        )));
    }
    let mut table: toml::Table = source.text.parse().expect("parsed once already");
    let extends = match table.remove("extends") {
        Some(toml::Value::String(s)) => Some(s),
        _ => None,
    };
    Ok((table, extends))
}

/// Rewords a toml/serde error for someone editing a profile (no Rust type
/// names) and adds a hint. `quoted` is the source text under the error span.
fn explain(message: &str, quoted: Option<&str>) -> (String, Option<String>) {
    let unknown = message
        .strip_prefix("unknown field `")
        .map(|rest| ("key", rest))
        .or_else(|| {
            message
                .strip_prefix("unknown variant `")
                .map(|rest| ("value", rest))
        });
    if let Some((what, rest)) = unknown {
        let (word, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let list = candidates
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let hint = match diag::did_you_mean(word, candidates.iter().copied()) {
            Some(best) => Some(format!("did you mean `{best}`?")),
            None if !candidates.is_empty() => Some(format!("use one of: {list}")),
            None => None,
        };
        return (format!("unknown {what} `{word}`"), hint);
    }
    // serde names the Rust type it wanted; say what to write instead.
    const EXPECTED: &[(&str, &str, &str)] = &[
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
            "write a number without quotes, e.g. `1`",
        ),
        (
            "expected a boolean",
            "expected `true` or `false`",
            "write `true` or `false` without quotes",
        ),
        (
            "expected a string",
            "expected a string",
            "put the value in double quotes",
        ),
        (
            "expected a sequence",
            "expected an array",
            "write an array, e.g. `[\"a\", \"b\"]`",
        ),
    ];
    if message.starts_with("invalid type") || message.starts_with("invalid value") {
        if let Some((serde, plain, hint)) = EXPECTED.iter().find(|e| message.ends_with(e.0)) {
            let message = format!("{}{plain}", &message[..message.len() - serde.len()]);
            return (message, Some((*hint).into()));
        }
        if let Some(at) = message.find("expected struct ") {
            return (
                format!("{}expected a table", &message[..at]),
                Some("write it as a `[table]` header followed by `key = value` lines".into()),
            );
        }
        return (message.into(), None);
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return (
            format!("missing key {rest}"),
            Some(format!("add {rest} to this table")),
        );
    }
    if message == "duplicate key" {
        let message = match quoted {
            Some(key) => format!("duplicate key `{}`", key.trim()),
            None => message.into(),
        };
        return (
            message,
            Some("a key may appear once per table; delete one of them".into()),
        );
    }
    // Anything else is TOML syntax.
    (
        format!("invalid TOML: {message}"),
        Some(
            "profiles are TOML (https://toml.io): check quotes, brackets and `key = value`".into(),
        ),
    )
}

/// Later layers win; tables merge key by key; anything else is replaced.
fn merge(into: &mut toml::Table, from: toml::Table) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// Byte span of the value at `key` (`a.b`, `a[2].b`) in a TOML text.
fn span_of(text: &str, key: &str) -> Option<Range<usize>> {
    use toml::de::{DeTable, DeValue};
    let doc = DeTable::parse(text).ok()?;
    let mut table = doc.get_ref();
    let mut segments = key.split('.').peekable();
    while let Some(seg) = segments.next() {
        let (name, index) = match seg.split_once('[') {
            Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (seg, None),
        };
        let (_, value) = table.iter().find(|(k, _)| k.get_ref().as_ref() == name)?;
        let mut value = value;
        if let Some(i) = index {
            match value.get_ref() {
                DeValue::Array(items) => value = items.get(i)?,
                _ => return Some(value.span()),
            }
        }
        if segments.peek().is_none() {
            return Some(value.span());
        }
        match value.get_ref() {
            DeValue::Table(t) => table = t,
            _ => return Some(value.span()),
        }
    }
    None
}

/// Turns the merged raw profile into a checked one.
fn check(name: String, raw: RawProfile, layers: &Layers) -> Result<Profile, Problem> {
    let dialect = raw.lxc.and_then(|l| l.dialect).unwrap_or(Dialect::Lxc3);
    let install = raw.install.unwrap_or_default();
    let prefix = abs_path(
        "install.prefix",
        install.prefix.as_deref().unwrap_or("/usr/local"),
    )?;
    if prefix == "/" {
        return Err(problem(
            "install.prefix",
            "must not be `/`",
            Some("the prefix is bind-mounted into the container; use e.g. `/usr/local` or `/opt/app`"),
        ));
    }
    let under_prefix = |key: &str, value: Option<&str>, default: &str| {
        let value = value.unwrap_or(default);
        if value.trim().is_empty() {
            return Err(problem(
                key,
                "is empty",
                Some(&format!(
                    "use e.g. `{default}` (relative to the prefix) or an absolute path"
                )),
            ));
        }
        if value.starts_with('/') {
            abs_path(key, value)
        } else {
            rel_path(key, value).map(|rel| format!("{prefix}/{rel}"))
        }
    };
    let bindir = under_prefix("install.bindir", install.bindir.as_deref(), "bin")?;
    let datadir = under_prefix("install.datadir", install.datadir.as_deref(), "share")?;

    let c = raw.container.unwrap_or_default();
    let container = Container {
        uts_name: uts_name(c.uts_name.as_deref().unwrap_or("contained"))?,
        autodev: c.autodev.unwrap_or(true),
        tty_max: c.tty_max.unwrap_or(1),
        pty_max: c.pty_max.unwrap_or(1),
        halt_signal: signal(c.halt_signal.as_deref().unwrap_or("SIGKILL"))?,
        mount_auto: mount_auto(
            c.mount_auto
                .unwrap_or_else(|| vec!["proc".into(), "sys".into()]),
        )?,
        lib64: c.lib64.unwrap_or(true),
        init_lxc: c.init_lxc.unwrap_or(true),
    };

    let profile_mounts = raw.mounts.as_ref().map_or(0, Vec::len);
    let mut mounts = match raw.mounts {
        None => vec![ro_bind("/usr", "usr"), ro_bind("/lib", "lib")],
        Some(list) => list
            .into_iter()
            .enumerate()
            .map(|(i, m)| mount(i, m))
            .collect::<Result<_, _>>()?,
    };
    if container.lib64 {
        let mut m = ro_bind("/lib64", "lib64");
        m.options.push("optional".into());
        mounts.push(m);
    }
    // The seed's template binds the prefix unconditionally, which mounts it
    // twice when a static bind already covers the same path (prefix /usr).
    let prefix_bind = ro_bind(&prefix, &prefix[1..]);
    if !mounts
        .iter()
        .any(|m| m.source == prefix_bind.source && m.target == prefix_bind.target)
    {
        mounts.push(prefix_bind);
    }

    let n = raw.network.unwrap_or_default();
    let network = if n.gateway.unwrap_or(false) {
        Some(Network {
            bridge: ifname("network.bridge", n.bridge.as_deref().unwrap_or("lxcbr0"))?,
            interface: ifname(
                "network.interface",
                n.interface.as_deref().unwrap_or("eth0"),
            )?,
        })
    } else {
        None
    };

    let g = raw.gateways.unwrap_or_default();
    let gateways = Gateways {
        dir: g
            .dir
            .as_deref()
            .map(|d| abs_path("gateways.dir", d))
            .transpose()?,
        mode: mode("gateways.mode", g.mode.as_deref().unwrap_or("0777"))?,
    };

    let b = raw.busybox.unwrap_or_default();
    let mut inputs = layers.inputs.clone();
    let applets = match (b.applets, b.links_file) {
        (Some(_), Some(_)) => {
            return Err(problem(
                "busybox.links-file",
                "cannot be set together with `busybox.applets`",
                Some("keep one: a fixed list, or a busybox.links file"),
            ))
        }
        (Some(list), None) => Applets::Fixed(applet_list(list)?),
        (None, Some(file)) => {
            let path = layers.dir_of("busybox.links-file").join(&file);
            let list = links_file(&path)?;
            inputs.push(path);
            Applets::Fixed(list)
        }
        (None, None) => Applets::Stage,
    };
    let shared_bin = b
        .shared_bin
        .as_deref()
        .map(|d| abs_path("busybox.shared-bin", d))
        .transpose()?;
    if shared_bin.as_deref() == Some("/") {
        return Err(problem(
            "busybox.shared-bin",
            "must not be `/`",
            Some("use a directory of its own, e.g. `/var/lib/softwarecontainer/bin`"),
        ));
    }
    if let Some(dir) = &shared_bin {
        // A static line, so it precedes the stage's binds onto the
        // placeholders in it (LXC mounts in config order).
        mounts.push(ro_bind(dir, "bin"));
    }

    let profile = Profile {
        name,
        dialect,
        prefix,
        bindir,
        datadir,
        container,
        mounts,
        network,
        gateways,
        applets,
        shared_bin,
        inputs,
    };
    mount_points_are_dirs(&profile, profile_mounts)?;
    Ok(profile)
}

/// A mount target below a file or symlink of the skeleton (`etc/passwd/x`,
/// `bin/ls/x` with a fixed applet list) would put a directory under a file
/// in rootfs.tar.gz, which no tar can unpack, and no mount could use.
fn mount_points_are_dirs(profile: &Profile, profile_mounts: usize) -> Result<(), Problem> {
    use crate::skeleton::Kind;
    let entries = crate::skeleton::skeleton(profile);
    for (i, m) in profile.mounts.iter().enumerate() {
        let blocker = entries.iter().find(|e| {
            e.kind != Kind::Dir
                && m.target
                    .strip_prefix(e.path.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        });
        if let Some(e) = blocker {
            let key = if i < profile_mounts {
                format!("mounts[{i}].target")
            } else {
                "install.prefix".to_string()
            };
            let what = if matches!(e.kind, Kind::Symlink(_)) {
                "symlink"
            } else {
                "file"
            };
            return Err(problem(
                &key,
                format!(
                    "mount point `{}` lies below the rootfs {what} `{}`",
                    m.target, e.path
                ),
                Some("mount onto a directory; the skeleton's files and links cannot hold one"),
            ));
        }
    }
    Ok(())
}

fn ro_bind(source: &str, target: &str) -> Mount {
    Mount {
        source: source.into(),
        target: target.into(),
        fstype: "none".into(),
        options: vec!["ro".into(), "bind".into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_follow_lxc() {
        assert_eq!(signal("sigkill").unwrap(), "SIGKILL");
        assert_eq!(signal("9").unwrap(), "9");
        assert_eq!(signal("SIGRTMIN+3").unwrap(), "SIGRTMIN+3");
        assert_eq!(signal("sigrtmax-30").unwrap(), "SIGRTMAX-30");
        // liblxc 5.0.2 refuses these (checked with lxc-info).
        assert!(signal("SIGRTMIN").is_err());
        assert!(signal("SIGRTMAX").is_err());
        assert!(signal("SIGRTMIN++3").is_err());
        assert!(signal("SIGRTMIN+31").is_err());
        assert!(signal("KILL").is_err());
        assert!(signal("SIGKIL")
            .unwrap_err()
            .hint
            .unwrap()
            .contains("SIGKILL"));
        assert!(signal("0").is_err());
        assert!(signal("65").is_err());
    }

    #[test]
    fn paths_normalise_or_fail() {
        assert_eq!(abs_path("k", "//usr/./local/").unwrap(), "/usr/local");
        assert!(abs_path("k", "usr").is_err());
        assert!(abs_path("k", "/usr/../etc").is_err());
        assert!(abs_path("k", "/a\nlxc.x = 1").is_err());
        assert_eq!(rel_path("k", "a//b/").unwrap(), "a/b");
        assert!(rel_path("k", "/abs").is_err());
        assert!(rel_path("k", ".").is_err());
    }

    #[test]
    fn span_of_finds_nested_and_indexed_keys() {
        let text =
            "[install]\nprefix = \"/x\"\n[[mounts]]\nsource = \"a\"\n[[mounts]]\nsource = \"b\"\n";
        assert_eq!(&text[span_of(text, "install.prefix").unwrap()], "\"/x\"");
        assert_eq!(&text[span_of(text, "mounts[1].source").unwrap()], "\"b\"");
        assert_eq!(span_of(text, "network.bridge"), None);
    }

    #[test]
    fn modes_are_octal_strings() {
        assert_eq!(mode("k", "0777").unwrap(), 0o777);
        assert_eq!(mode("k", "1777").unwrap(), 0o1777);
        assert!(mode("k", "777777").is_err());
        assert!(mode("k", "0999").is_err());
    }
}
