//! Safe by default, tried as a hostile app would on real LXC 5 (issue 20):
//! a container made from each shipped `lxc3` profile is entered the way
//! SoftwareContainer's agent enters it (`lxc-start -d -- env /bin/sleep`,
//! then `lxc-attach`), and a static probe (`tests/privileges/probe.c`) tries
//! the six things a hostile app did before: host root through a bind of
//! `/proc` (`MS_BIND|MS_MOVE`), host files through fanotify, a host hang
//! through the freeze, trim and shutdown ioctls, the network profile's
//! firewall, new namespaces through `clone`/`clone3`, and the read-only
//! remount that clears `nosuid`, `nodev` and `noexec`; with them the older
//! attempts (module load, mount, mknod, syslog, clock, raw I/O, bpf, the new
//! mount API, unshare, `/proc/sys`, `/sys`).
//!
//! Every attempt is harmless to the host if it wrongly succeeds (the probe
//! says why for each): a sysctl is judged by open(O_WRONLY) and close, the
//! freeze (thawed at once) and the fanotify mark reach only a scratch ext4
//! loop-mounted as the lxcpath in the test's own mount namespace, the trim
//! and shutdown carry invalid arguments the kernel checks after the
//! capability, and the network attempts stay in the container's own network
//! namespace.
//!
//! Each container's results are compared whole with what its measures
//! imply ([`expected`]), so every key is asserted in every run. The
//! controls turn the measures off together (every attempt succeeds) and one
//! at a time (the seccomp policy alone, the id map alone, the capability
//! set alone), so each assertion can fail and each result is attributed to
//! the measure that causes it. What LXC's own `proc:mixed sys:mixed` do (a
//! read-only `/proc/sys` and `/sys`) shows in the controls too.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;
use scgen::values::Capability;

/// Builds the probe once per test binary run into `target/` (a static
/// binary: the container has no C library of its own at `/`). Tests run in
/// threads and each copies the probe into its container, so the build is
/// guarded by a `OnceLock` and written under a temporary name renamed into
/// place: no test ever copies a half-written file (the cause of a flaky
/// `Failed to exec "/probe": Permission denied`, issue 24 item 1).
fn probe() -> PathBuf {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
            let out = dir.join("privilege-probe");
            let tmp = dir.join(format!("privilege-probe.{}.tmp", std::process::id()));
            let src = root().join("tests/privileges/probe.c");
            let o = run(Command::new("cc")
                .args(["-static", "-O2", "-o"])
                .arg(&tmp)
                .arg(&src));
            assert!(
                o.status.success(),
                "cc {}: {}",
                src.display(),
                String::from_utf8_lossy(&o.stderr)
            );
            std::fs::rename(&tmp, &out).unwrap();
            out
        })
        .clone()
}

/// The container's boot, the probe's three runs (the agent's rights, the
/// app's, the mount flag sweep), the status lines and limits.
const BOOT: &str = include_str!("privileges/boot.sh");

/// `container.idmap` for a privileged container: the explicit choice.
const PRIVILEGED: &str = "container.idmap=[]";
/// Every capability LXC has (the seed's container).
const ALL_CAPS: &str = "security.cap-drop=[]";

/// The measures a container was made with; [`expected`] derives every
/// result of the probe from them.
#[derive(Clone, Copy, Debug)]
struct Measures {
    /// The built-in seccomp policy.
    seccomp: bool,
    /// Its mount rules pass the agent's two calls (`gateways.file`).
    moves: bool,
    /// Its remount rule is upstream's (`security.agent = "upstream"`):
    /// `MS_REMOUNT|MS_BIND|MS_RDONLY`, which clears nosuid, nodev and
    /// noexec, instead of the patched agent's, which keeps them.
    upstream_remount: bool,
    /// Id-mapped: the container's root is not the host's.
    idmap: bool,
    /// The app's capabilities: every one (`cap-drop = []`), or a list.
    caps: Caps,
    /// `[security]`'s no_new_privs, devices, memory and pids limits.
    limits: bool,
    /// The container has `eth0` on the bridge (the network gateway).
    network: bool,
}

#[derive(Clone, Copy, Debug)]
enum Caps {
    All,
    Keep(&'static [&'static str]),
}

impl Caps {
    fn has(self, cap: &str) -> bool {
        match self {
            Caps::All => true,
            Caps::Keep(list) => list.contains(&cap),
        }
    }
}

/// What the default (patched-agent) profiles keep for apps.
const BASE: &[&str] = &[
    "chown",
    "dac_override",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
];

/// What `security.agent = "upstream"` keeps for the unpatched agent's
/// gateways in the shipped profile: nothing more than the base set (its
/// mount calls are functions, which keep the agent's effective
/// capabilities; its network gateway is off).
const UPSTREAM: &[&str] = &[
    "chown",
    "dac_override",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
];

/// The same with the network gateway on: its net_admin and net_raw too.
const UPSTREAM_NETWORK: &[&str] = &[
    "chown",
    "dac_override",
    "fowner",
    "fsetid",
    "kill",
    "net_admin",
    "net_raw",
    "setgid",
    "setuid",
];

/// Boots `profile` with `sets` and returns the probe's results.
fn attempts(profile: &str, sets: &[&str], m: Measures) -> BTreeMap<String, String> {
    let mut sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    // The overlay skeletons and the shared /bin on the scratch lxcpath.
    let overlay = profile == "overlay";
    if overlay {
        sets.push("container.skeleton-store=@L@/store".into());
    }
    if profile == "shared-bin" {
        sets.push("busybox.shared-bin=@L@/bin".into());
    }
    let o = run(Command::new("unshare")
        .args(["--mount", "--net", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "{}\n{}\n{BOOT}",
            common::lxc::PRELUDE,
            common::lxc::SCRATCH
        ))
        .env("SCGEN", env!("CARGO_BIN_EXE_scgen"))
        .env("PROFILE", root().join(format!("profiles/{profile}.toml")))
        .env("SETS", sets.join("\n"))
        .env("NETWORK", if m.network { "1" } else { "" })
        .env(
            "STORE_OWNER",
            if overlay && m.idmap { "100000" } else { "" },
        )
        .env("PROBE", probe()));
    let mut out = common::lxc::key_values(&o);
    // Every one of the 16384 sets, in the controls: say so; a long list
    // by its count and its first sets.
    for key in ["sweep_passed", "i386_sweep_passed"] {
        let passed: Vec<&str> = out[key].split(',').filter(|s| !s.is_empty()).collect();
        let short = match passed.len() {
            n if n == 1 << 14 => "all 16384".to_string(),
            n if n > 8 => format!("{n} sets, the first {}", passed[..8].join(",")),
            _ => passed.join(","),
        };
        out.insert(key.into(), short);
    }
    out
}

/// The capability mask of `caps`, as /proc/self/status shows it.
fn mask(caps: Caps, idmap: bool) -> String {
    match caps {
        // A new user namespace starts with the full set (the kernel's
        // set_cred_user_ns), a privileged container with LXC's own.
        Caps::All if idmap => {
            let last: u32 = sysctl("kernel/cap_last_cap").parse().unwrap();
            format!("{:016x}", (1u64 << (last + 1)) - 1)
        }
        Caps::All => host_status("CapBnd"),
        Caps::Keep(names) => {
            let bits = names
                .iter()
                .map(|n| 1u64 << Capability::parse(n).unwrap().bit())
                .fold(0, |a, b| a | b);
            format!("{bits:016x}")
        }
    }
}

/// A sysctl of the host, read.
fn sysctl(name: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{name}"))
        .unwrap()
        .trim()
        .to_string()
}

/// A line of the test process's own /proc/self/status (root's, on the host).
fn host_status(key: &str) -> String {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap()
        .trim()
        .to_string()
}

/// Any result but EPERM: a kernel without modules or I/O port access says
/// ENOSYS, which still means the call got past the refusals.
const NOT_EPERM: &str = "(anything but EPERM)";

/// Every result the probe prints, derived from the measures alone.
fn expected(m: Measures) -> BTreeMap<String, String> {
    let mut e = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        e.insert(k.to_string(), v.to_string());
    };
    let s = m.seccomp;
    let filtered = |v: &'static str| if s { "EPERM" } else { v };
    // Capabilities over the container's own namespaces, and over the
    // host's (only without an id map).
    let ns_admin = m.caps.has("sys_admin");
    let host = |cap: &str| m.caps.has(cap) && !m.idmap;
    let ok_if = |b: bool| if b { "ok" } else { "EPERM" };

    // The agent's rights: every capability (in the container's user
    // namespace when id-mapped); the filter still applies.
    // Without the file gateway the filter refuses every mount.
    let no_mount = s && !m.moves;
    let moving = |v: &'static str| if no_mount { "EPERM" } else { v };
    put("agent_move_proc_sys", moving("EINVAL")); // the shared parent
    put("agent_bind_move_proc", filtered("ok"));
    put(
        "agent_core_pattern_w",
        match (s, m.idmap) {
            (true, _) => "ENOENT",
            (false, true) => "EACCES",
            (false, false) => "ok",
        },
    );
    put("agent_flags_before", "rw,nosuid,nodev,noexec");
    let upstream_remount = !s || (m.upstream_remount && m.moves);
    put("agent_remount_upstream", ok_if(upstream_remount));
    put(
        "agent_flags_upstream",
        if upstream_remount {
            "ro"
        } else {
            "rw,nosuid,nodev,noexec"
        },
    );
    let patched_remount = !s || (m.moves && !m.upstream_remount);
    put("agent_remount", ok_if(patched_remount));
    put(
        "agent_flags",
        match (upstream_remount, patched_remount) {
            (_, true) => "ro,nosuid,nodev,noexec",
            (true, false) => "ro",
            (false, false) => "rw,nosuid,nodev,noexec",
        },
    );
    for k in [
        "agent_clone_newuser",
        "agent_clone_newns",
        "agent_clone_newnet",
    ] {
        put(k, filtered("ok"));
    }
    put("agent_clone3", if s { "ENOSYS" } else { "ok" });

    // The app.
    put("init_module", filtered(NOT_EPERM));
    put("iopl", filtered(NOT_EPERM));
    put("mount_tmpfs", filtered(ok_if(ns_admin)));
    put(
        "mknod_block",
        ok_if(host("mknod") && !m.limits), // the device allowlist
    );
    let dmesg_open = sysctl("kernel/dmesg_restrict") == "0";
    put(
        "klog_size",
        filtered(ok_if(dmesg_open || host("syslog") || host("sys_admin"))),
    );
    put("settimeofday", filtered(ok_if(host("sys_time"))));
    let bpf_open = sysctl("kernel/unprivileged_bpf_disabled") == "0";
    put(
        "bpf",
        filtered(ok_if(bpf_open || host("bpf") || host("sys_admin"))),
    );
    put("fsopen", filtered(ok_if(ns_admin)));
    put("umount2", filtered("ENOENT"));
    put("bind", filtered(ok_if(ns_admin)));
    // Class 1: the bind of /proc without its read-only /proc/sys.
    let bound = !s && ns_admin;
    put("bind_move_proc", filtered(ok_if(ns_admin)));
    put(
        "core_pattern_w",
        match (bound, m.idmap) {
            (false, _) => "ENOENT",
            (true, true) => "EACCES",
            (true, false) => "ok",
        },
    );
    // MS_MOVE passes the filter: the kernel's shared-parent rule refuses
    // it, or the missing capability.
    put(
        "move_proc_sys",
        moving(if ns_admin { "EINVAL" } else { "EPERM" }),
    );
    put("shared_proc", filtered(ok_if(ns_admin)));
    put("private_proc", filtered(ok_if(ns_admin)));
    let moved = !s && ns_admin;
    put(
        "move_proc_sys_private",
        moving(match (ns_admin, moved) {
            (false, _) => "EPERM",
            (true, false) => "EINVAL",
            (true, true) => "ok",
        }),
    );
    // The id map refuses a write to the host's sysctls first (EACCES);
    // without it, LXC's proc:mixed keeps /proc/sys read-only (EROFS), with
    // or without [security], until it is moved away.
    put(
        "proc_sys_w",
        match (m.idmap, moved) {
            (true, _) => "EACCES",
            (false, false) => "EROFS",
            (false, true) => "ok",
        },
    );
    put(
        "sysrq_w",
        if Path::new("/proc/sysrq-trigger").exists() {
            "EROFS" // proc:mixed's read-only bind
        } else {
            "ENOENT" // no magic SysRq in this kernel
        },
    );
    // sys:mixed: read-only, LXC's and not [security]'s.
    put("sys_w", if m.idmap { "EACCES" } else { "EROFS" });

    // Classes 2 and 3: fanotify and the filesystem ioctls, on the scratch
    // filesystem. With fd -1 only the filter says EPERM.
    for k in [
        "fifreeze_badfd",
        "fithaw_badfd",
        "fitrim_badfd",
        "shutdown_badfd",
        "fifreeze_high_badfd",
        "fanotify_mark_badfd",
    ] {
        put(k, filtered("EBADF"));
    }
    put("fanotify_init_fid", filtered("ok"));
    let fs_admin = !s && host("sys_admin");
    put("fithaw", if fs_admin { "EINVAL" } else { "EPERM" });
    put("fifreeze", ok_if(fs_admin));
    if fs_admin {
        put("fifreeze_thawed", "ok");
    }
    // Past the capability check: the range (EINVAL), or a loop device
    // without discard, on a host whose filesystem cannot punch holes.
    put(
        "fitrim",
        if fs_admin {
            "EINVAL|EOPNOTSUPP"
        } else {
            "EPERM"
        },
    );
    put("shutdown", if fs_admin { "EINVAL" } else { "EPERM" });
    put("fanotify_init", ok_if(fs_admin));
    let reached = if fs_admin { "ok" } else { "unreached" };
    put("fanotify_mark", reached);
    put("fanotify_event_fd", reached);

    // Class 4: the network, in the container's own namespace; the
    // capabilities alone decide (the id map gives them over that
    // namespace).
    let net = |cap: &str| {
        if !m.network {
            "ENODEV"
        } else {
            ok_if(m.caps.has(cap))
        }
    };
    put("set_mtu", net("net_admin"));
    put("set_mac", net("net_admin"));
    put("packet_raw", ok_if(m.caps.has("net_raw")));
    if m.network {
        let flushed = m.caps.has("net_admin");
        put("iptables_flush", if flushed { "ok" } else { "refused" });
        put("iptables_rule_kept", if flushed { "0" } else { "1" });
    }

    // Class 5: namespaces through clone: the filter alone refuses
    // CLONE_NEWUSER, which needs no capability.
    for ns in ["ns", "cgroup", "uts", "ipc", "user", "pid", "net"] {
        let kernel = ok_if(ns == "user" || ns_admin);
        put(&format!("clone_new{ns}"), filtered(kernel));
        put(&format!("clone_new{ns}_filter"), filtered("EINVAL"));
    }
    put("clone_newuser_high_filter", filtered("EINVAL"));
    put("clone_plain", "ok");
    put("clone3", if s { "ENOSYS" } else { "ok" });
    put("clone3_newuser", if s { "ENOSYS" } else { "ok" });
    put("unshare", filtered(ok_if(ns_admin)));
    put("setns", filtered("EBADF"));

    // Class 6 and the mount rules: exactly the agent's sets pass.
    let sets = if !s {
        "all 16384"
    } else if no_mount {
        ""
    } else if m.upstream_remount {
        "4129,8192"
    } else {
        "4143,8192"
    };
    put("sweep_passed", sets);
    // The same through the i386 entry: the filter's other branch.
    put("i386_sweep_passed", sets);
    put("i386_mount_bind_move", filtered("ENOENT"));
    put("i386_mount_move", moving("ENOENT"));
    put("i386_clone_newuser_filter", filtered("EINVAL"));
    put("i386_clone3", if s { "ENOSYS" } else { "EINVAL" });
    put("i386_fifreeze_badfd", filtered("EBADF"));
    put("i386_shutdown_badfd", filtered("EBADF"));
    put("i386_fanotify_init_fid", filtered("ok"));
    put("i386_fanotify_mark_badfd", filtered("EBADF"));
    put(
        "sweep_high_passed",
        if s { "none" } else { "867, the first 0x4000" },
    );
    put("sweep_odd", "0");

    let caps = mask(m.caps, m.idmap);
    put("CapEff", &caps);
    put("CapBnd", &caps);
    put("NoNewPrivs", if m.limits { "1" } else { "0" });
    put("Seccomp", if s { "2" } else { "0" });
    put(
        "memory_max",
        &if m.limits {
            (512u64 << 20).to_string()
        } else {
            "max".to_string()
        },
    );
    put("pids_max", if m.limits { "1024" } else { "max" });
    e
}

/// Compares the probe's results with [`expected`], every key.
fn assert_results(out: &BTreeMap<String, String>, m: Measures) {
    let mut want = expected(m);
    for (k, v) in want.iter_mut() {
        let got = out.get(k).map(String::as_str);
        if v == NOT_EPERM {
            assert_ne!(got, Some("EPERM"), "{k}");
            assert!(got.is_some(), "{k} missing");
            v.clone_from(&out[k]);
        } else if v.contains('|') && got.is_some_and(|g| v.split('|').any(|a| a == g)) {
            v.clone_from(&out[k]);
        }
    }
    pretty_assertions::assert_eq!(&want, out, "{m:?}");
}

fn ready() -> bool {
    lxc::ready() && have("cc") && have("mkfs.ext4") && have("newuidmap")
}

/// A shipped profile as it is: every attempt refused.
fn shipped(profile: &str, m: Measures) {
    if !ready() {
        return;
    }
    let out = attempts(profile, &[], m);
    assert_results(&out, m);
    // The bits the container really has (issue 24 item 15): fewer than
    // Docker's 14 and Podman's 11.
    let bits = u64::from_str_radix(&out["CapEff"], 16)
        .unwrap()
        .count_ones();
    let kept = match m.caps {
        Caps::Keep(l) => l.len() as u32,
        Caps::All => unreachable!(),
    };
    assert_eq!(bits, kept, "{out:?}");
    assert!(bits < 11, "{bits} capabilities");
}

/// The default, patched-agent measures of a shipped profile.
const DEFAULTS: Measures = Measures {
    seccomp: true,
    moves: true,
    upstream_remount: false,
    idmap: true,
    caps: Caps::Keep(BASE),
    limits: true,
    network: false,
};

#[test]
fn hostile_app_default_profile() {
    shipped("default", DEFAULTS);
}

#[test]
fn hostile_app_network_profile() {
    shipped(
        "network",
        Measures {
            network: true,
            ..DEFAULTS
        },
    );
}

#[test]
fn hostile_app_overlay_profile() {
    shipped("overlay", DEFAULTS);
}

#[test]
fn hostile_app_shared_bin_profile() {
    shipped("shared-bin", DEFAULTS);
}

#[test]
fn hostile_app_yocto_profile() {
    shipped(
        "yocto",
        Measures {
            network: true,
            ..DEFAULTS
        },
    );
}

/// The unpatched agent's profile: apps keep the gateways' capabilities
/// (within the id map), and the policy passes upstream's remount too.
#[test]
fn hostile_app_upstream_agent_profile() {
    shipped(
        "upstream-agent",
        Measures {
            upstream_remount: true,
            caps: Caps::Keep(UPSTREAM),
            ..DEFAULTS
        },
    );
}

/// The unpatched agent with its network gateway: apps also keep net_admin
/// and net_raw, so class 4 stays open (the app may change the container's
/// MTU and MAC, send raw frames and flush the agent's iptables rules, all
/// in the container's own network namespace): what docs/security.md states the
/// upstream profile leaves open. Classes 1, 2, 3, 5 and 6 stay refused.
#[test]
fn hostile_app_upstream_agent_with_the_network_gateway() {
    if !ready() {
        return;
    }
    let m = Measures {
        upstream_remount: true,
        caps: Caps::Keep(UPSTREAM_NETWORK),
        network: true,
        ..DEFAULTS
    };
    let out = attempts("upstream-agent", &["network.gateway=true"], m);
    assert_results(&out, m);
    assert_eq!(out["iptables_flush"], "ok", "{out:?}");
}

/// The control: every measure off (the seed's privileged container), and
/// every attempt of the six classes succeeds, harmlessly.
#[test]
fn control_every_measure_off_every_attempt_succeeds() {
    if !ready() {
        return;
    }
    // SECURITY_OFF holds PRIVILEGED too: the seed's container.
    let sets = SECURITY_OFF.to_vec();
    let m = Measures {
        seccomp: false,
        moves: true,
        upstream_remount: false,
        idmap: false,
        caps: Caps::All,
        limits: false,
        network: true,
    };
    assert_results(&attempts("network", &sets, m), m);
}

/// The seccomp policy alone (privileged, every capability): it refuses
/// classes 1, 2, 3, 5 and 6 by itself; the network (class 4) is the
/// capabilities' to refuse.
#[test]
fn control_the_seccomp_policy_alone() {
    if !ready() {
        return;
    }
    let m = Measures {
        seccomp: true,
        moves: true,
        upstream_remount: false,
        idmap: false,
        caps: Caps::All,
        limits: true,
        network: true,
    };
    assert_results(&attempts("network", &[PRIVILEGED, ALL_CAPS], m), m);
}

/// The id map alone (seccomp off, every capability): it refuses classes 1,
/// 2 and 3, not 4 and 5.
#[test]
fn control_the_id_map_alone() {
    if !ready() {
        return;
    }
    let m = Measures {
        seccomp: false,
        moves: true,
        upstream_remount: false,
        idmap: true,
        caps: Caps::All,
        limits: true,
        network: true,
    };
    assert_results(
        &attempts("network", &[ALL_CAPS, "security.seccomp=off"], m),
        m,
    );
}

/// The capability set alone (privileged, seccomp off): it refuses classes
/// 1 to 4, not `clone(CLONE_NEWUSER)`.
#[test]
fn control_the_capability_set_alone() {
    if !ready() {
        return;
    }
    let m = Measures {
        seccomp: false,
        moves: true,
        upstream_remount: false,
        idmap: false,
        caps: Caps::Keep(BASE),
        limits: true,
        network: true,
    };
    assert_results(
        &attempts("network", &[PRIVILEGED, "security.seccomp=off"], m),
        m,
    );
}

/// Without the file gateway the built-in policy refuses every mount call,
/// the agent's included.
#[test]
fn without_the_file_gateway_every_mount_is_refused() {
    if !ready() {
        return;
    }
    let m = Measures {
        moves: false,
        ..DEFAULTS
    };
    assert_results(&attempts("default", &["gateways.file=false"], m), m);
}

/// The device allowlist on its own: with `mknod` given back in a
/// privileged container, a block device node is still refused (the device
/// cgroup), and with the list off the same call succeeds.
#[test]
fn device_allowlist_refuses_a_block_device_even_with_mknod() {
    if !ready() {
        return;
    }
    let keep = "security.cap-keep=[\"chown\", \"dac_override\", \"fowner\", \"fsetid\", \"kill\", \"setgid\", \"setuid\", \"mknod\"]";
    let mut caps = BASE.to_vec();
    caps.push("mknod");
    let caps: &'static [&'static str] = Box::leak(caps.into_boxed_slice());
    let m = Measures {
        idmap: false,
        caps: Caps::Keep(caps),
        ..DEFAULTS
    };
    let out = attempts("default", &[PRIVILEGED, keep], m);
    assert_results(&out, m);
    assert_eq!(out["mknod_block"], "EPERM", "{out:?}");
    let out = attempts("default", &[PRIVILEGED, keep, "security.devices=[]"], m);
    assert_eq!(out["mknod_block"], "ok", "{out:?}");
}
