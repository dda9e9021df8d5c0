//! The merged [`RawProfile`] becomes a checked [`Profile`]: defaults
//! filled in, every string parsed into its type from [`crate::values`],
//! and the rules that span keys (`applets` or `links-file`, the implied
//! binds) applied. A failure is a [`Problem`] naming the key, which the
//! layers turn into a diagnostic at the line that set it.

use super::busybox;
use super::layers::{Layers, Problem};
use super::raw::{RawMount, RawProfile, RootfsKind};
use super::{Applets, Container, Gateways, Mount, Network, Profile, DEFAULT_SKELETON_STORE};
use crate::lxc::Dialect;
use crate::values::{
    AbsPath, FstabWord, IdMap, IfName, Invalid, Mode, MountAuto, RelPath, Signal, UtsName,
};

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

pub(super) fn check(name: String, raw: RawProfile, layers: &Layers) -> Result<Profile, Problem> {
    let dialect = raw.lxc.and_then(|l| l.dialect).unwrap_or(Dialect::Lxc3);
    let install = raw.install.unwrap_or_default();
    let prefix = below_root(
        "install.prefix",
        install.prefix.as_deref().unwrap_or("/usr/local"),
        "the prefix is bind-mounted into the container; use e.g. `/usr/local` or `/opt/app`",
    )?;
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
    let bindir = under_prefix("install.bindir", install.bindir.as_deref(), "bin")?;
    let datadir = under_prefix("install.datadir", install.datadir.as_deref(), "share")?;

    let c = raw.container.unwrap_or_default();
    let skeleton_store = skeleton_store(
        c.rootfs,
        c.skeleton_store.as_deref(),
        dialect,
        raw.busybox
            .as_ref()
            .and_then(|b| b.shared_bin.as_ref())
            .is_some(),
    )?;
    let container = Container {
        uts_name: parse(
            "container.uts-name",
            c.uts_name.as_deref().unwrap_or("contained"),
            UtsName::parse,
        )?,
        autodev: c.autodev.unwrap_or(true),
        tty_max: count("container.tty-max", c.tty_max.unwrap_or(1), TTY_MAX)?,
        pty_max: count("container.pty-max", c.pty_max.unwrap_or(1), PTY_MAX)?,
        halt_signal: parse(
            "container.halt-signal",
            c.halt_signal.as_deref().unwrap_or("SIGKILL"),
            Signal::parse,
        )?,
        mount_auto: match c.mount_auto {
            None => vec![MountAuto::parse("proc"), MountAuto::parse("sys")]
                .into_iter()
                .collect::<Result<_, _>>()
                .expect("the defaults are tokens"),
            Some(tokens) => tokens
                .iter()
                .enumerate()
                .map(|(i, t)| parse(&format!("container.mount-auto[{i}]"), t, MountAuto::parse))
                .collect::<Result<_, _>>()?,
        },
        lib64: c.lib64.unwrap_or(true),
        init_lxc: c.init_lxc.unwrap_or(true),
        idmap: match &c.idmap {
            Some(entries) => idmap(entries)?,
            // Unprivileged by default: the container's root is not the
            // host's, so whatever an app gets past, it gets as nobody.
            None if dialect == Dialect::Lxc3 => idmap(&DEFAULT_IDMAP.map(String::from))?,
            None => Vec::new(),
        },
    };

    let mut mounts = match raw.mounts {
        None => vec![
            ro_bind("/usr", "usr", "mounts"),
            ro_bind("/lib", "lib", "mounts"),
        ],
        Some(list) => list
            .into_iter()
            .enumerate()
            .map(|(i, m)| mount(i, m))
            .collect::<Result<_, _>>()?,
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
        Some(Network {
            bridge: parse(
                "network.bridge",
                n.bridge.as_deref().unwrap_or("lxcbr0"),
                IfName::parse,
            )?,
            interface: parse(
                "network.interface",
                n.interface.as_deref().unwrap_or("eth0"),
                IfName::parse,
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
            .map(|d| {
                below_root(
                    "gateways.dir",
                    d,
                    "the stage binds it read-write and chmods it; use a directory of its own",
                )
            })
            .transpose()?,
        mode: parse(
            "gateways.mode",
            g.mode.as_deref().unwrap_or("0777"),
            Mode::parse,
        )?,
        slave: match (g.slave, dialect) {
            (Some(true), Dialect::Lxc2) => {
                return Err(Problem::new(
                    "gateways.slave",
                    "LXC 2 has no mount tunnel (`lxc.mount.auto = shmounts:`), and does not make /gateways shared, so the agent's moves work there without it",
                    Some("remove the key, or use `lxc.dialect = \"lxc3\"`"),
                ))
            }
            (Some(on), _) => on,
            (None, d) => d == Dialect::Lxc3,
        },
        file: g.file.unwrap_or(true),
    };
    let security = super::security::check(raw.security, dialect, gateways.file, network.is_some())?;

    let b = raw.busybox.unwrap_or_default();
    let mut inputs = layers.inputs.clone();
    let applets = match (b.applets, b.links_file) {
        (Some(_), Some(_)) => {
            return Err(Problem::new(
                "busybox.links-file",
                "cannot be set together with `busybox.applets`",
                Some("keep one: a fixed list, or a busybox.links file"),
            ))
        }
        (Some(list), None) => Applets::Fixed(busybox::applet_list(&list)?),
        (None, Some(file)) => {
            let path = layers.dir_of("busybox.links-file").join(&file);
            let list = busybox::links_file(&path)?;
            inputs.push(path);
            Applets::Fixed(list)
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
        .transpose()?;
    if let Some(dir) = shared_bin.as_ref().filter(|d| is_system_dir(d)) {
        return Err(Problem::new(
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
            return Err(Problem::new(
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

fn word(w: &str) -> FstabWord {
    FstabWord::parse(w).expect("a built-in fstab word")
}

/// A read-only bind that scgen adds itself; `key` is what implied it.
fn ro_bind(source: &str, target: &str, key: &str) -> Mount {
    Mount {
        source: AbsPath::parse(source).expect("a checked path"),
        target: RelPath::parse(target).expect("a checked path"),
        fstype: word("none"),
        options: vec![word("ro"), word("bind")],
        key: key.to_string(),
    }
}

fn mount(i: usize, m: RawMount) -> Result<Mount, Problem> {
    let key = |k: &str| format!("mounts[{i}].{k}");
    let options = match &m.options {
        None => vec![word("ro"), word("bind")],
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(j, o)| parse(&key(&format!("options[{j}]")), o, FstabWord::parse))
            .collect::<Result<_, _>>()?,
    };
    Ok(Mount {
        source: parse(&key("source"), &m.source, AbsPath::parse)?,
        target: parse(&key("target"), &m.target, RelPath::parse)?,
        fstype: parse(
            &key("fstype"),
            m.fstype.as_deref().unwrap_or("none"),
            FstabWord::parse,
        )?,
        options,
        key: key("target"),
    })
}
