//! Least privilege, proven on real LXC 5: a container made from each
//! shipped `lxc3` profile is entered the way SoftwareContainer's agent
//! enters it (`lxc-start -d -- env /bin/sleep`, then `lxc-attach`), and a
//! small static probe (`tests/privileges/probe.c`) tries what an app must
//! not do: load a module, mount, make a block device node, read the kernel
//! log, set the clock, raw I/O, bpf, the new mount API, unmount, unshare,
//! and writes to `/proc/sys`, `/proc/sysrq-trigger` and `/sys`.
//!
//! Every attempt is harmless to the host if it wrongly succeeds (the probe
//! says why for each), and the clock is judged by a permission check
//! (`settimeofday(NULL, NULL)`) and the capability bits, never by setting
//! it. The control, the same container with `[security]` turned off, shows
//! each attempt can succeed, so each assertion can fail.

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

/// The agent's way in: start without init, attach, run the probe and read
/// the status lines the kernel keeps for capabilities, no_new_privs and
/// seccomp.
const ATTACH: &str = r#"
create c1
mkdir "$P/c1/rootfs/probe-dir" && cp "$PROBE" "$P/c1/rootfs/probe"
lxc-start -P "$P" -n c1 -d -- env /bin/sleep 100000000
lxc-wait -P "$P" -n c1 -s RUNNING -t 10
lxc-attach -P "$P" -n c1 -- /probe --inside-container
lxc-attach -P "$P" -n c1 -- /bin/busybox sh -c "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status" | tr -d '\t' | sed 's/:/=/'
# The limit in force, in whichever cgroup layout this host has.
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then mem=memory.max; else mem=memory.limit_in_bytes; fi
echo "memory_max=$(lxc-cgroup -P "$P" -n c1 $mem | sed 's/^9223372036854771712$/max/')"
echo "pids_max=$(lxc-cgroup -P "$P" -n c1 pids.max)"
timeout 10 lxc-stop -P "$P" -n c1 -k
"#;

/// Runs [`ATTACH`] for `profile` with `sets`; returns the probe's results.
fn attempts(profile: &str, sets: &[&str]) -> BTreeMap<String, String> {
    let tmp = tempfile::tempdir().unwrap();
    let art = tmp.path().join("art");
    let mut g = Gen::new()
        .profile(root().join(format!("profiles/{profile}.toml")))
        .out(&art);
    for s in sets {
        g = g.set(s);
    }
    g.ok();
    let script = format!(
        "ip link add lxcbr0 type bridge && ip link set lxcbr0 up\nPROBE={}\n{ATTACH}",
        probe().display()
    );
    common::lxc::key_values(&common::lxc::scenario(&art, &script))
}

/// The capability mask a container should have: bits of `names`.
fn mask(names: &[&str]) -> String {
    let bits = names
        .iter()
        .map(|n| 1u64 << Capability::parse(n).unwrap().bit())
        .fold(0, |a, b| a | b);
    format!("{bits:016x}")
}

/// What every restricted container refuses, by the errno the probe saw.
const REFUSED: &[&str] = &[
    "init_module",
    "mount_tmpfs",
    "mknod_block",
    "klog_size",
    "settimeofday",
    "iopl",
    "bpf",
    "fsopen",
    "umount2",
    "unshare",
    "remount_rw",
    "bind",
];

fn assert_restricted(out: &BTreeMap<String, String>, caps: &[&str]) {
    for k in REFUSED {
        assert_eq!(
            out.get(*k).map(String::as_str),
            Some("EPERM"),
            "{k}: {out:?}"
        );
    }
    // The agent's two mount calls pass the filter and fail on their
    // (missing) paths only.
    assert_eq!(out["agent_move"], "ENOENT", "{out:?}");
    assert_eq!(out["agent_remount_ro"], "ENOENT", "{out:?}");
    assert_eq!(out["move_proc_sys"], "EINVAL", "{out:?}");
    for k in ["proc_sys_w", "sys_w"] {
        assert_eq!(out[k], "EROFS", "{k}: {out:?}");
    }
    // ENOENT where the kernel has no magic SysRq; never writable.
    assert_ne!(out["sysrq_w"], "ok", "{out:?}");
    assert_eq!(out["CapEff"], mask(caps), "{out:?}");
    assert_eq!(out["CapBnd"], mask(caps), "{out:?}");
    assert_eq!(out["NoNewPrivs"], "1");
    assert_eq!(out["Seccomp"], "2", "seccomp filter mode");
    assert_eq!(out["memory_max"], (512u64 << 20).to_string(), "{out:?}");
    assert_eq!(out["pids_max"], "1024", "{out:?}");
}

const BASE: [&str; 7] = [
    "chown",
    "dac_override",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
];

#[test]
fn default_profile_keeps_only_what_its_gateways_need() {
    if !(lxc::ready() && have("cc")) {
        return;
    }
    let out = attempts("default", &[]);
    let mut caps = BASE.to_vec();
    caps.push("sys_admin"); // gateways.file: the agent's moves
    assert_restricted(&out, &caps);
    // Fewer than Docker's 14 and Podman's 11.
    assert!(caps.len() < 11);
}

/// The network gateway adds exactly net_admin and net_raw, and nothing
/// else changes.
#[test]
fn network_profile_adds_exactly_the_network_gateways_needs() {
    if !(lxc::ready() && have("cc")) {
        return;
    }
    let out = attempts("network", &[]);
    let mut caps = BASE.to_vec();
    caps.extend(["sys_admin", "net_admin", "net_raw"]);
    assert_restricted(&out, &caps);
}

/// Without the file gateway, sys_admin goes too, and the built-in policy
/// refuses every mount call, the agent's included.
#[test]
fn without_the_file_gateway_sys_admin_and_every_mount_go() {
    if !(lxc::ready() && have("cc")) {
        return;
    }
    let out = attempts("default", &["gateways.file=false"]);
    assert_eq!(out["CapEff"], mask(&BASE), "{out:?}");
    assert_eq!(out["agent_move"], "EPERM", "{out:?}");
    assert_eq!(out["agent_remount_ro"], "EPERM", "{out:?}");
    assert_eq!(out["mount_tmpfs"], "EPERM", "{out:?}");
}

/// The control: `[security]` off gives the seed's container, in which the
/// same attempts succeed (each harmlessly), so the probe can tell.
#[test]
fn control_with_security_off_every_attempt_succeeds() {
    if !(lxc::ready() && have("cc")) {
        return;
    }
    let out = attempts("default", &SECURITY_OFF);
    for k in [
        "mount_tmpfs",
        "mknod_block",
        "klog_size",
        "settimeofday",
        "bpf",
        "fsopen",
        "unshare",
    ] {
        assert_eq!(out[k], "ok", "{k}: {out:?}");
    }
    // Garbage is never a module, and a kernel without modules or I/O port
    // access says ENOSYS: either way the call got past the permission
    // checks that refuse it with EPERM above.
    assert_ne!(out["init_module"], "EPERM", "{out:?}");
    assert_ne!(out["iopl"], "EPERM", "{out:?}");
    assert_eq!(out["umount2"], "ENOENT", "{out:?}");
    assert_eq!(out["NoNewPrivs"], "0");
    assert_eq!(out["Seccomp"], "0");
    assert_eq!(out["memory_max"], "max");
    assert_eq!(out["pids_max"], "max");
}

/// The device allowlist on its own: with `mknod` given back, a block
/// device node is still refused (the device cgroup), and with the list off
/// the same call succeeds.
#[test]
fn device_allowlist_refuses_a_block_device_even_with_mknod() {
    if !(lxc::ready() && have("cc")) {
        return;
    }
    let keep = "security.cap-keep=[\"chown\", \"dac_override\", \"fowner\", \"fsetid\", \"kill\", \"setgid\", \"setuid\", \"sys_admin\", \"mknod\"]";
    let out = attempts("default", &[keep]);
    let mut caps = BASE.to_vec();
    caps.extend(["sys_admin", "mknod"]);
    assert_eq!(out["CapEff"], mask(&caps), "{out:?}");
    assert_eq!(out["mknod_block"], "EPERM", "{out:?}");
    let out = attempts("default", &[keep, "security.devices=[]"]);
    assert_eq!(out["mknod_block"], "ok", "{out:?}");
}
