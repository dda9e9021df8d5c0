//! The merged [`RawProfile`] becomes a checked [`Profile`]: defaults
//! filled in, every string parsed into its type from [`crate::values`],
//! and the rules that span keys (`applets` or `links-file`, the implied
//! binds) applied. A failure is a [`Problem`] naming the key, which the
//! layers turn into a diagnostic at the line that set it.

use super::busybox;
use super::layers::{Layers, Problem};
use super::mounts::{mount, ro_bind, word};
use super::raw::{RawProfile, RootfsKind};
use super::{Applets, Container, Gateways, Network, Profile, DEFAULT_SKELETON_STORE};
use crate::lxc::Dialect;
use crate::values::{AbsPath, IdMap, IfName, Invalid, Mode, MountAuto, RelPath, Signal, UtsName};

/// Parses `value` at `key` with its type's parser.
pub(super) fn parse<T>(
    key: &str,
    value: &str,
    parser: fn(&str) -> Result<T, Invalid>,
) -> Result<T, Problem> {
    parser(value).map_err(|i| Problem::at_key(key, i))
}

/// `container.idmap`: each entry parsed, then the map checked as a whole
/// (the container's root mapped in both kinds, no overlap).
fn idmap(entries: &[String]) -> Result<Vec<IdMap>, Problem> {
    let key = |i: usize| format!("container.idmap[{i}]");
    let maps: Vec<IdMap> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| parse(&key(i), e, IdMap::parse))
        .collect::<Result<_, _>>()?;
    if maps.is_empty() {
        return Ok(maps);
    }
    crate::values::check_map(&maps).map_err(|(at, invalid)| {
        Problem::at_key(&at.map_or("container.idmap".to_string(), key), invalid)
    })?;
    Ok(maps)
}

/// The `lxc3` default id map: 65536 ids from 100000, the first range
/// `useradd` hands out in /etc/subuid, given to root (who runs the agent).
pub const DEFAULT_IDMAP: [&str; 2] = ["u 0 100000 65536", "g 0 100000 65536"];

/// An absolute path that must not be `/`; `hint` says what to use instead.
fn below_root(key: &str, value: &str, hint: &str) -> Result<AbsPath, Problem> {
    let p = parse(key, value, AbsPath::parse)?;
    if p.is_root() {
        return Err(Problem::new(key, "must not be `/`", Some(hint)));
    }
    Ok(p)
}

/// The problems found so far: a check goes on past a bad value (with its
/// default in its place), so one run reports every problem.
#[derive(Default)]
struct Bad(Vec<Problem>);

impl Bad {
    /// The value, or `instead` after recording the problem.
    fn or<T>(&mut self, r: Result<T, Problem>, instead: impl FnOnce() -> T) -> T {
        r.unwrap_or_else(|p| {
            self.0.push(p);
            instead()
        })
    }

    fn keep<T>(&mut self, r: Result<T, Problem>) -> Option<T> {
        r.map_err(|p| self.0.push(p)).ok()
    }
}

fn fixed<T>(value: &str, parser: fn(&str) -> Result<T, Invalid>) -> T {
    parser(value).unwrap_or_else(|_| panic!("the built-in default {value:?} parses"))
}

/// Checks every key; `Err` holds every problem found, in no set order.
pub(super) fn check(
    name: String,
    raw: RawProfile,
    layers: &Layers,
) -> Result<Profile, Vec<Problem>> {
    let mut bad = Bad::default();
    let dialect = raw.lxc.and_then(|l| l.dialect).unwrap_or(Dialect::Lxc3);
    let install = raw.install.unwrap_or_default();
    let prefix = below_root(
        "install.prefix",
        install.prefix.as_deref().unwrap_or("/usr/local"),
        "the prefix is bind-mounted into the container; use e.g. `/usr/local` or `/opt/app`",
    );
    let prefix = bad.or(prefix, || fixed("/usr/local", AbsPath::parse));
    let under_prefix = |key: &str, value: Option<&str>, default: &str| {
        let value = value.unwrap_or(default);
        if value.trim().is_empty() {
            return Err(Problem::new(
                key,
                "is empty",
                Some(&format!(
                    "use e.g. `{default}` (relative to the prefix) or an absolute path"
                )),
            ));
        }
        if value.starts_with('/') {
            parse(key, value, AbsPath::parse)
        } else {
            parse(key, value, RelPath::parse).map(|rel| prefix.join(&rel))
        }
    };
    let bindir = under_prefix("install.bindir", install.bindir.as_deref(), "bin");
    let bindir = bad.or(bindir, || prefix.clone());
    let datadir = under_prefix("install.datadir", install.datadir.as_deref(), "share");
    let datadir = bad.or(datadir, || prefix.clone());

    let c = raw.container.unwrap_or_default();
    let skeleton_store = skeleton_store(
        c.rootfs,
        c.skeleton_store.as_deref(),
        dialect,
        raw.busybox
            .as_ref()
            .and_then(|b| b.shared_bin.as_ref())
            .is_some(),
    );
    let skeleton_store = bad.or(skeleton_store, || None);
    let uts_name = parse(
        "container.uts-name",
        c.uts_name.as_deref().unwrap_or("contained"),
        UtsName::parse,
    );
    let tty_max = count("container.tty-max", c.tty_max.unwrap_or(1), TTY_MAX);
    let pty_max = count("container.pty-max", c.pty_max.unwrap_or(1), PTY_MAX);
    let halt_signal = parse(
        "container.halt-signal",
        c.halt_signal.as_deref().unwrap_or("SIGKILL"),
        Signal::parse,
    );
    let container = Container {
        uts_name: bad.or(uts_name, || fixed("contained", UtsName::parse)),
        autodev: c.autodev.unwrap_or(true),
        tty_max: bad.or(tty_max, || 1),
        pty_max: bad.or(pty_max, || 1),
        halt_signal: bad.or(halt_signal, || fixed("SIGKILL", Signal::parse)),
        mount_auto: match c.mount_auto {
            None => vec![MountAuto::parse("proc"), MountAuto::parse("sys")]
                .into_iter()
                .collect::<Result<_, _>>()
                .expect("the defaults are tokens"),
            Some(tokens) => tokens
                .iter()
                .enumerate()
                .filter_map(|(i, t)| {
                    bad.keep(parse(
                        &format!("container.mount-auto[{i}]"),
                        t,
                        MountAuto::parse,
                    ))
                })
                .collect(),
        },
        lib64: c.lib64.unwrap_or(true),
        init_lxc: c.init_lxc.unwrap_or(true),
        idmap: Vec::new(),
    };
    let map = match &c.idmap {
        Some(entries) => idmap(entries),
        // Unprivileged by default: the container's root is not the host's,
        // so whatever an app gets past, it gets as nobody.
        None if dialect == Dialect::Lxc3 => idmap(&DEFAULT_IDMAP.map(String::from)),
        None => Ok(Vec::new()),
    };
    let mut container = container;
    container.idmap = bad.or(map, Vec::new);

    let mut mounts = match raw.mounts {
        None => vec![
            ro_bind("/usr", "usr", "mounts"),
            ro_bind("/lib", "lib", "mounts"),
        ],
        Some(list) => list
            .into_iter()
            .enumerate()
            .filter_map(|(i, m)| bad.keep(mount(i, m)))
            .collect(),
    };
    if container.lib64 {
        let mut m = ro_bind("/lib64", "lib64", "container.lib64");
        m.options.push(word("optional"));
        mounts.push(m);
    }
    // The seed's template binds the prefix unconditionally, which mounts it
    // twice when a static bind already covers the same path (prefix /usr).
    if !mounts
        .iter()
        .any(|m| m.source == prefix && m.target.as_str() == prefix.relative())
    {
        mounts.push(ro_bind(
            prefix.as_str(),
            prefix.relative(),
            "install.prefix",
        ));
    }

    let n = raw.network.unwrap_or_default();
    let network = if n.gateway.unwrap_or(false) {
        let bridge = parse(
            "network.bridge",
            n.bridge.as_deref().unwrap_or("lxcbr0"),
            IfName::parse,
        );
        let interface = parse(
            "network.interface",
            n.interface.as_deref().unwrap_or("eth0"),
            IfName::parse,
        );
        Some(Network {
            bridge: bad.or(bridge, || fixed("lxcbr0", IfName::parse)),
            interface: bad.or(interface, || fixed("eth0", IfName::parse)),
        })
    } else {
        None
    };

    let g = raw.gateways.unwrap_or_default();
    let dir = g
        .dir
        .as_deref()
        .map(|d| {
            below_root(
                "gateways.dir",
                d,
                "the stage binds it read-write and chmods it; use a directory of its own",
            )
        })
        .transpose();
    let mode = parse(
        "gateways.mode",
        g.mode.as_deref().unwrap_or("0777"),
        Mode::parse,
    );
    let gateways = Gateways {
        dir: bad.or(dir, || None),
        mode: bad.or(mode, || fixed("0777", Mode::parse)),
        slave: match (g.slave, dialect) {
            (Some(true), Dialect::Lxc2) => {
                bad.0.push(Problem::new(
                    "gateways.slave",
                    "LXC 2 has no mount tunnel (`lxc.mount.auto = shmounts:`), and does not make /gateways shared, so the agent's moves work there without it",
                    Some("remove the key, or use `lxc.dialect = \"lxc3\"`"),
                ));
                false
            }
            (Some(on), _) => on,
            (None, d) => d == Dialect::Lxc3,
        },
        file: g.file.unwrap_or(true),
    };
    let security = super::security::check(raw.security, dialect, gateways.file, network.is_some());
    let security = bad.or(security, Default::default);

    let b = raw.busybox.unwrap_or_default();
    let mut inputs = layers.inputs.clone();
    let applets = match (b.applets, b.links_file) {
        (Some(_), Some(_)) => {
            bad.0.push(Problem::new(
                "busybox.links-file",
                "cannot be set together with `busybox.applets`",
                Some("keep one: a fixed list, or a busybox.links file"),
            ));
            Applets::Stage
        }
        (Some(list), None) => bad.or(busybox::applet_list(&list).map(Applets::Fixed), || {
            Applets::Stage
        }),
        (None, Some(file)) => {
            let path = layers.dir_of("busybox.links-file").join(&file);
            let list = busybox::links_file(&path);
            inputs.push(path);
            bad.or(list.map(Applets::Fixed), || Applets::Stage)
        }
        (None, None) => Applets::Stage,
    };
    let shared_bin = b
        .shared_bin
        .as_deref()
        .map(|d| {
            below_root(
                "busybox.shared-bin",
                d,
                "use a directory of its own, e.g. `/var/lib/softwarecontainer/bin`",
            )
        })
        .transpose();
    let shared_bin = bad.or(shared_bin, || None);
    if let Some(dir) = shared_bin.as_ref().filter(|d| is_system_dir(d)) {
        bad.0.push(Problem::new(
            "busybox.shared-bin",
            format!("`{dir}` is a system directory; the stage would fill it with links"),
            Some("use a directory of scgen's own, e.g. `/var/lib/softwarecontainer/bin`"),
        ));
    }
    if let Some(dir) = &shared_bin {
        // A static line, so it precedes the stage's binds onto the
        // placeholders in it (LXC mounts in config order).
        mounts.push(ro_bind(dir.as_str(), "bin", "busybox.shared-bin"));
    }

    for m in &mounts {
        let options: Vec<&str> = m.options.iter().map(|o| o.as_str()).collect();
        let value = crate::lxc::mount_entry_value(
            m.source.as_str(),
            m.target.as_str(),
            m.fstype.as_str(),
            &options.join(","),
        );
        if value.len() > crate::lxc::MOUNT_ENTRY_MAX {
            bad.0.push(Problem::new(
                &m.key,
                format!(
                    "makes an lxc.mount.entry of {} bytes once escaped (a space is 4); liblxc reads {} and would cut it, options and all",
                    value.len(),
                    crate::lxc::MOUNT_ENTRY_MAX
                ),
                Some("use shorter paths, or paths with fewer spaces"),
            ));
        }
    }
    if !bad.0.is_empty() {
        return Err(bad.0);
    }

    Ok(Profile {
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
        skeleton_store,
        security,
        inputs,
        layers: layers.clone(),
    })
}

/// The list lives in `values`: `skeletons prune` refuses the same stores.
fn is_system_dir(dir: &AbsPath) -> bool {
    crate::values::is_system_dir(dir.as_str())
}

/// The most ttys LXC is asked to allocate: each is a pty pair made at start.
const TTY_MAX: u32 = 1024;
/// The most ptys: the kernel's default `/proc/sys/kernel/pty/max`.
const PTY_MAX: u32 = 4096;

fn count(key: &str, n: u32, max: u32) -> Result<u32, Problem> {
    match n <= max {
        true => Ok(n),
        false => Err(Problem::new(
            key,
            format!("{n} is more than LXC can allocate"),
            Some(&format!("use 0 to {max}")),
        )),
    }
}

/// The skeleton store of an overlay rootfs, or `None` for a plain tree.
/// `skeleton-store` alone (rootfs `dir`) is ignored, so `--set
/// container.rootfs=dir` turns an overlay profile back into a plain one.
fn skeleton_store(
    kind: Option<RootfsKind>,
    store: Option<&str>,
    dialect: Dialect,
    shared_bin: bool,
) -> Result<Option<AbsPath>, Problem> {
    const KEY: &str = "container.rootfs";
    if kind != Some(RootfsKind::Overlay) {
        return Ok(None);
    }
    if dialect == Dialect::Lxc2 {
        // LXC 2 spells it `lxc.rootfs = overlayfs:...` with other rules for
        // the work dir; nothing here has booted that, so it is refused.
        return Err(Problem::new(
            KEY,
            "`overlay` needs the `lxc3` dialect",
            Some("set `lxc.dialect = \"lxc3\"` (LXC >= 3.0), or `container.rootfs = \"dir\"`"),
        ));
    }
    if shared_bin {
        return Err(Problem::new(
            KEY,
            "`overlay` cannot be combined with `busybox.shared-bin`",
            Some("the overlay's skeleton already holds the applet links once per host; drop `busybox.shared-bin`"),
        ));
    }
    const SKEY: &str = "container.skeleton-store";
    let dir = below_root(
        SKEY,
        store.unwrap_or(DEFAULT_SKELETON_STORE),
        "use a directory of its own, e.g. `/var/lib/softwarecontainer/skeletons`",
    )?;
    if is_system_dir(&dir) {
        return Err(Problem::new(
            SKEY,
            format!("`{dir}` is a system directory; the stage would fill it with skeletons"),
            Some("use a directory of scgen's own, e.g. `/var/lib/softwarecontainer/skeletons`"),
        ));
    }
    if let Some(c) = dir.as_str().chars().find(|c| matches!(c, ':' | ',' | '\\')) {
        return Err(Problem::new(
            SKEY,
            format!("must not hold `{c}`"),
            Some("LXC splits `overlay:<lower>:<upper>` at `:`, and the kernel splits mount options at `,` and unescapes `\\`"),
        ));
    }
    Ok(Some(dir))
}
