//! The `[security]` table, checked into [`Security`]: what a container's
//! processes may do. SoftwareContainer runs apps the platform does not
//! fully trust, so the `lxc3` default keeps only what the agent's enabled
//! gateways need (each need named with its reason in [`needs`]), under a
//! seccomp policy, a device allowlist, no_new_privs and cgroup limits.
//! `lxc2` targets get none of it: LXC 2 spells the device and limit keys
//! for cgroup v1 and reads a different seccomp grammar, so setting a key
//! there is refused rather than written in a form nobody has booted.

use serde::Serialize;

use super::check::parse;
use super::layers::Problem;
use super::raw::RawSecurity;
use crate::lxc::Dialect;
use crate::values::{AbsPath, Capability, CpuMax, DeviceRule, IoRule, Limit, CPU_PERIOD_US};

/// What any app process keeps: root's ordinary file and process rights
/// (Podman keeps these and four more, Docker seven more). Everything that
/// reaches past the container (modules, raw I/O, the clock, the kernel
/// log, bpf, perf, mknod) is gone.
pub const BASE_CAPS: [&str; 7] = [
    "chown",
    "dac_override",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
];

/// The default device allowlist: what LXC's autodev creates and a shell
/// needs (null, zero, full, random, urandom, tty, console, ptmx, ptys).
pub const DEVICES: [&str; 9] = [
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

/// A capability a gateway needs inside the container, the key that enables
/// that gateway, and why (read from the agent's source).
pub struct Need {
    pub cap: &'static str,
    pub key: &'static str,
    pub why: &'static str,
}

/// What the enabled gateways need.
pub fn needs(file: bool, network: bool) -> Vec<Need> {
    let mut out = Vec::new();
    if file {
        out.push(Need {
            cap: "sys_admin",
            key: "gateways.file",
            why: "the agent's BindMount and file gateway move mounts out of /gateways (MS_MOVE) and remount them read-only from inside the container",
        });
    }
    if network {
        out.push(Need {
            cap: "net_admin",
            key: "network.gateway",
            why: "the agent brings eth0 up and sets its address and route over netlink, and runs iptables, inside the container",
        });
        out.push(Need {
            cap: "net_raw",
            key: "network.gateway",
            why: "iptables (legacy) opens a raw socket to load its rules",
        });
    }
    out
}

/// The checked `[security]` table, as the config template sees it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Security {
    /// `lxc.cap.keep` (empty: `none`); exclusive with `cap_drop`.
    pub cap_keep: Option<Vec<Capability>>,
    /// `lxc.cap.drop`.
    pub cap_drop: Option<Vec<Capability>>,
    /// The built-in policy (the `seccomp.policy` artifact) is in use.
    pub seccomp_builtin: bool,
    /// A policy file of the integrator's on the target.
    pub seccomp_file: Option<AbsPath>,
    /// The built-in policy lets the agent's two mount calls through.
    pub agent_moves: bool,
    /// Device allowlist; empty: no device rules.
    pub devices: Vec<DeviceRule>,
    pub no_new_privs: bool,
    pub memory_max: Option<Limit>,
    pub pids_max: Option<Limit>,
    /// `cpu-max` as the quota in microseconds per `CPU_PERIOD_US`.
    pub cpu_quota_us: Option<u64>,
    pub cpu_period_us: u64,
    pub io_max: Vec<IoRule>,
}

/// Checks the table for a profile with these gateways.
pub(super) fn check(
    raw: Option<RawSecurity>,
    dialect: Dialect,
    file: bool,
    network: bool,
) -> Result<Security, Problem> {
    let raw = raw.unwrap_or_default();
    if dialect == Dialect::Lxc2 {
        return lxc2(&raw).map(|()| Security::default());
    }
    let needs = needs(file, network);
    let caps = |key: &str, list: &[String]| -> Result<Vec<Capability>, Problem> {
        let mut caps = list
            .iter()
            .enumerate()
            .map(|(i, c)| parse(&format!("{key}[{i}]"), c, Capability::parse))
            .collect::<Result<Vec<_>, _>>()?;
        caps.sort();
        caps.dedup();
        Ok(caps)
    };
    let has = |list: &[Capability], cap: &str| list.iter().any(|c| c.as_str() == cap);
    let (cap_keep, cap_drop) = match (&raw.cap_keep, &raw.cap_drop) {
        (Some(_), Some(_)) => {
            return Err(Problem::new(
                "security.cap-drop",
                "cannot be set together with `security.cap-keep`",
                Some("keep one: the list to keep (all else dropped), or the list to drop"),
            ))
        }
        (Some(keep), None) => {
            let keep = caps("security.cap-keep", keep)?;
            if let Some(n) = needs.iter().find(|n| !has(&keep, n.cap)) {
                return Err(Problem::new(
                    "security.cap-keep",
                    format!("`{}` is on and needs `{}`: {}", n.key, n.cap, n.why),
                    Some(&format!("add `{}`, or turn `{}` off", n.cap, n.key)),
                ));
            }
            (Some(keep), None)
        }
        (None, Some(drop)) => {
            let drop = caps("security.cap-drop", drop)?;
            if let Some(n) = needs.iter().find(|n| has(&drop, n.cap)) {
                return Err(Problem::new(
                    "security.cap-drop",
                    format!("`{}` is on and needs `{}`: {}", n.key, n.cap, n.why),
                    Some(&format!("do not drop `{}`, or turn `{}` off", n.cap, n.key)),
                ));
            }
            (None, Some(drop))
        }
        (None, None) => {
            let names = BASE_CAPS.iter().copied().chain(needs.iter().map(|n| n.cap));
            let keep: Vec<String> = names.map(str::to_string).collect();
            (Some(caps("security.cap-keep", &keep)?), None)
        }
    };
    let (seccomp_builtin, seccomp_file) = match raw.seccomp.as_deref().unwrap_or("builtin") {
        "builtin" => (true, None),
        "off" => (false, None),
        path => {
            let p = parse("security.seccomp", path, AbsPath::parse).map_err(|_| {
                Problem::new(
                    "security.seccomp",
                    format!("`{}` is not `builtin`, `off` or an absolute path", crate::values::short(path)),
                    Some("`builtin` is scgen's policy; a path names an LXC seccomp policy on the target"),
                )
            })?;
            (false, Some(p))
        }
    };
    let default_devices: Vec<String> = DEVICES.iter().map(|d| d.to_string()).collect();
    let devices = raw
        .devices
        .as_deref()
        .unwrap_or(&default_devices)
        .iter()
        .enumerate()
        .map(|(i, d)| parse(&format!("security.devices[{i}]"), d, DeviceRule::parse))
        .collect::<Result<Vec<_>, _>>()?;
    let limit = |key: &str, value: Option<String>, default: &str| {
        let value = value.unwrap_or_else(|| default.to_string());
        parse(key, &value, Limit::parse).map(|l| (!l.is_max()).then_some(l))
    };
    Ok(Security {
        cap_keep,
        cap_drop,
        seccomp_builtin,
        seccomp_file,
        agent_moves: file,
        devices,
        no_new_privs: raw.no_new_privs.unwrap_or(true),
        memory_max: limit(
            "security.memory-max",
            raw.memory_max.map(|l| l.text()),
            "512M",
        )?,
        pids_max: limit("security.pids-max", raw.pids_max.map(|l| l.text()), "1024")?,
        cpu_quota_us: parse(
            "security.cpu-max",
            &raw.cpu_max.map_or("1".to_string(), |c| c.text()),
            CpuMax::parse,
        )?
        .quota_us(),
        cpu_period_us: CPU_PERIOD_US,
        io_max: raw
            .io_max
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, r)| parse(&format!("security.io-max[{i}]"), r, IoRule::parse))
            .collect::<Result<Vec<_>, _>>()?,
    })
}

/// `lxc2`: every key refused, at the first one set.
fn lxc2(raw: &RawSecurity) -> Result<(), Problem> {
    let set = [
        ("cap-keep", raw.cap_keep.is_some()),
        ("cap-drop", raw.cap_drop.is_some()),
        ("seccomp", raw.seccomp.is_some()),
        ("devices", raw.devices.is_some()),
        ("no-new-privs", raw.no_new_privs.is_some()),
        ("memory-max", raw.memory_max.is_some()),
        ("pids-max", raw.pids_max.is_some()),
        ("cpu-max", raw.cpu_max.is_some()),
        ("io-max", raw.io_max.is_some()),
    ];
    match set.iter().find(|(_, on)| *on) {
        Some((key, _)) => Err(Problem::new(
            &format!("security.{key}"),
            "the `[security]` keys are written for LXC >= 3 (cgroup2 devices and limits, seccomp policy with argument rules); `lxc2` containers run as the seed's did",
            Some("use `lxc.dialect = \"lxc3\"`, or remove the key"),
        )),
        None => Ok(()),
    }
}
