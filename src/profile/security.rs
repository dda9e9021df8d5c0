//! The `[security]` table, checked into [`Security`]: what a container's
//! processes may do. SoftwareContainer runs apps the platform does not
//! fully trust, so the `lxc3` default gives apps no capability that
//! reaches past their container: the gateways' needs (named with their
//! reasons in [`needs`]) are the patched agent's, which runs its gateway
//! steps with its own rights, and the seccomp policy lets through only the
//! exact `mount(2)` calls the agent makes ([`mount_rules`]). A device
//! allowlist, no_new_privs and cgroup limits come with it.
//! `lxc2` targets get none of it: LXC 2 spells the device and limit keys
//! for cgroup v1 and reads a different seccomp grammar, so setting a key
//! there is refused rather than written in a form nobody has booted.

use serde::Serialize;

use super::check::parse;
use super::layers::Problem;
use super::raw::{Agent, RawSecurity};
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

/// What the enabled gateways need of an app's capabilities under
/// upstream's agent. Only what a gateway step *execs* counts: LXC's attach
/// drops capabilities from the bounding set only, so a function the agent
/// runs in the container (the mount move and remount of BindMount and the
/// file gateway, the netlink setup of `eth0`) keeps the agent's effective
/// capabilities whatever the container keeps, and only a program it starts
/// (iptables) is held to the container's set. Measured on LXC 5.0.2:
/// upstream's BindMount works in a container that keeps no `sys_admin`
/// (`tests/agent.rs`).
pub fn needs(network: bool) -> Vec<Need> {
    let mut out = Vec::new();
    if network {
        out.push(Need {
            cap: "net_admin",
            key: "network.gateway",
            why: "upstream's agent runs iptables in the container to load the gateway's rules, and an exec'd program keeps only the container's capabilities",
        });
        out.push(Need {
            cap: "net_raw",
            key: "network.gateway",
            why: "iptables (legacy) opens a raw socket to load its rules",
        });
    }
    out
}

/// `mount(2)` flags the kernel reads (`path_mount()`), by name.
pub const MS_RDONLY: u64 = 1;
pub const MS_NOSUID: u64 = 2;
pub const MS_NODEV: u64 = 4;
pub const MS_NOEXEC: u64 = 8;
pub const MS_REMOUNT: u64 = 32;
pub const MS_BIND: u64 = 4096;
pub const MS_MOVE: u64 = 8192;

/// The agent's BindMount and file gateway move a mount out of `/gateways`.
pub const AGENT_MOVE: u64 = MS_MOVE;
/// The patched agent's read-only remount: it keeps `nosuid`, `nodev` and
/// `noexec`, which a bind remount would otherwise clear (it sets exactly
/// the flags passed), and which an id map locks on a propagated mount.
pub const AGENT_REMOUNT: u64 = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
/// Upstream's read-only remount, which clears those three.
pub const UPSTREAM_REMOUNT: u64 = MS_REMOUNT | MS_BIND | MS_RDONLY;

/// One argument condition of a seccomp rule, in LXC's policy grammar:
/// `[index,value,op]` or `[index,value,SCMP_CMP_MASKED_EQ,mask]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgRule {
    pub op: &'static str,
    pub value: u64,
    pub mask: Option<u64>,
}

impl ArgRule {
    fn masked(mask: u64, value: u64) -> Self {
        ArgRule {
            op: "SCMP_CMP_MASKED_EQ",
            value,
            mask: Some(mask),
        }
    }

    /// Whether `flags` matches (and so is refused).
    pub fn matches(&self, flags: u64) -> bool {
        match self.op {
            "SCMP_CMP_GT" => flags > self.value,
            _ => flags & self.mask.unwrap_or(u64::MAX) == self.value,
        }
    }
}

/// Denylist rules on `mount(2)`'s flags that refuse every value but the
/// `allowed` ones (one or two). Seccomp sees the integer only, and a rule
/// can test one masked value, so "anything else" is spelt as a union:
/// any bit above the highest allowed one (one `GT`: this covers `MS_REC`,
/// the propagation bits, the `MS_MGC_VAL` magic and the upper 32 bits);
/// a bit below it on which the allowed values agree but the call does not;
/// and, where the two allowed values differ in several bits, a pair of
/// those bits set in a way neither value has. Testing bits one at a time
/// is what let `MS_BIND|MS_MOVE` through before: the kernel acts on
/// `MS_BIND` first.
pub fn mount_rules(allowed: &[u64]) -> Vec<ArgRule> {
    assert!(matches!(allowed.len(), 1 | 2), "one or two flag sets");
    let a = allowed[0];
    let b = *allowed.last().expect("not empty");
    let top = 64 - (a | b).leading_zeros();
    let mut rules = vec![ArgRule {
        op: "SCMP_CMP_GT",
        value: (1u64 << top) - 1,
        mask: None,
    }];
    let differ: Vec<u64> = (0..top)
        .map(|i| 1u64 << i)
        .filter(|bit| (a ^ b) & bit != 0)
        .collect();
    for bit in (0..top).map(|i| 1u64 << i) {
        if (a ^ b) & bit == 0 {
            rules.push(ArgRule::masked(bit, !a & bit));
        }
    }
    if let Some((&pivot, rest)) = differ.split_first() {
        for &bit in rest {
            let mask = pivot | bit;
            // The two combinations of the pair that neither value has.
            rules.push(ArgRule::masked(mask, (a & pivot) | (b & bit)));
            rules.push(ArgRule::masked(mask, (b & pivot) | (a & bit)));
        }
    }
    rules
}

/// The checked `[security]` table, as the config template sees it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Security {
    /// The agent the profile is made for.
    pub agent: Agent,
    /// `lxc.cap.keep` (empty: `none`); exclusive with `cap_drop`.
    pub cap_keep: Option<Vec<Capability>>,
    /// `lxc.cap.drop`.
    pub cap_drop: Option<Vec<Capability>>,
    /// The built-in policy (the `seccomp.policy` artifact) is in use.
    pub seccomp_builtin: bool,
    /// A policy file of the integrator's on the target.
    pub seccomp_file: Option<AbsPath>,
    /// The flag values `mount(2)` may take (the agent's move and its
    /// read-only remount), and the rules that refuse every other value.
    pub mount_allowed: Vec<u64>,
    pub mount_rules: Vec<ArgRule>,
    /// Device allowlist; empty: no device rules.
    pub devices: Vec<DeviceRule>,
    pub no_new_privs: bool,
    pub memory_max: Option<Limit>,
    /// `disk-max` in bytes: the size of the tmpfs that takes the
    /// container's writes; `None`: they go to the host's disk.
    pub disk_max: Option<u64>,
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
    let agent = raw.agent.unwrap_or_default();
    // The patched agent's gateway steps keep the agent's own rights, so
    // apps need none of the gateways' capabilities.
    let needs = match agent {
        Agent::Patched => Vec::new(),
        Agent::Upstream => needs(network),
    };
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
                    format!("`{}` is on and, with the upstream agent (`security.agent`), its apps need `{}`: {}", n.key, n.cap, n.why),
                    Some(&format!("add `{}`, turn `{}` off, or use the patched agent (`agent = \"patched\"`), which keeps it for itself", n.cap, n.key)),
                ));
            }
            (Some(keep), None)
        }
        (None, Some(drop)) => {
            let drop = caps("security.cap-drop", drop)?;
            if let Some(n) = needs.iter().find(|n| has(&drop, n.cap)) {
                return Err(Problem::new(
                    "security.cap-drop",
                    format!("`{}` is on and, with the upstream agent (`security.agent`), its apps need `{}`: {}", n.key, n.cap, n.why),
                    Some(&format!("do not drop `{}`, turn `{}` off, or use the patched agent (`agent = \"patched\"`), which keeps it for itself", n.cap, n.key)),
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
    let mount_allowed = match (file, agent) {
        (false, _) => Vec::new(),
        (true, Agent::Patched) => vec![AGENT_MOVE, AGENT_REMOUNT],
        (true, Agent::Upstream) => vec![AGENT_MOVE, UPSTREAM_REMOUNT],
    };
    Ok(Security {
        agent,
        mount_rules: match mount_allowed.is_empty() {
            true => Vec::new(),
            false => mount_rules(&mount_allowed),
        },
        mount_allowed,
        cap_keep,
        cap_drop,
        seccomp_builtin,
        seccomp_file,
        devices,
        no_new_privs: raw.no_new_privs.unwrap_or(true),
        memory_max: limit(
            "security.memory-max",
            raw.memory_max.map(|l| l.text()),
            "512M",
        )?,
        disk_max: limit("security.disk-max", raw.disk_max.map(|l| l.text()), "100M")?
            .map(|l| {
                l.bytes().ok_or_else(|| {
                    Problem::new(
                        "security.disk-max",
                        format!("`{l}` is more bytes than a tmpfs can say"),
                        Some("a size such as `100M` or `2G`, or `max` for no bound"),
                    )
                })
            })
            .transpose()?,
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
        ("agent", raw.agent.is_some()),
        ("cap-keep", raw.cap_keep.is_some()),
        ("cap-drop", raw.cap_drop.is_some()),
        ("seccomp", raw.seccomp.is_some()),
        ("devices", raw.devices.is_some()),
        ("no-new-privs", raw.no_new_privs.is_some()),
        ("memory-max", raw.memory_max.is_some()),
        ("disk-max", raw.disk_max.is_some()),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every combination of the low flag bits, and each higher bit on top
    /// of the allowed values: exactly the allowed values pass.
    #[test]
    fn mount_rules_pass_exactly_the_allowed_values() {
        for allowed in [
            vec![AGENT_MOVE, AGENT_REMOUNT],
            vec![AGENT_MOVE, UPSTREAM_REMOUNT],
            vec![AGENT_MOVE],
        ] {
            let rules = mount_rules(&allowed);
            let refused = |f: u64| rules.iter().any(|r| r.matches(f));
            for flags in 0..(1u64 << 16) {
                assert_eq!(!refused(flags), allowed.contains(&flags), "{flags:#x}");
            }
            for &ok in &allowed {
                for bit in 14..64 {
                    assert!(refused(ok | 1 << bit), "{ok:#x} | bit {bit}");
                }
                assert!(refused(ok | 0xC0ED_0000), "MS_MGC_VAL");
            }
        }
    }

    #[test]
    fn the_bind_move_that_reached_proc_is_refused() {
        let rules = mount_rules(&[AGENT_MOVE, AGENT_REMOUNT]);
        assert!(rules.iter().any(|r| r.matches(MS_BIND | MS_MOVE)));
        assert!(rules.iter().any(|r| r.matches(UPSTREAM_REMOUNT)));
    }
}
