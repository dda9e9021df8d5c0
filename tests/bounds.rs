//! Bounds on what one app may take from the host (issue 21), tried as a
//! hostile app on real LXC 5: the container is entered the way
//! SoftwareContainer's agent enters it (`lxc-start -d -- env /bin/sleep`,
//! then `lxc-attach`), as in `tests/privileges.rs`.
//!
//! cpu: two busy loops against `security.cpu-max`. The usage is read from
//! the container's cgroup, never from the wall clock: the CFS bandwidth
//! controller counts the periods in which the cgroup ran (`nr_periods`)
//! and those in which it was held back (`nr_throttled`), so the time it
//! used over the same stretch (`usage_usec` on cgroup2, `cpuacct.usage` on
//! v1) must stay within the quota for every period, on a loaded machine as
//! on an idle one.
//!
//! disk: `security.disk-max` against an app that writes more than the
//! bound and more than the whole filesystem its container lives on (a
//! scratch ext4 of 64 MiB, loop-mounted as the lxcpath): the write stops
//! at the bound with ENOSPC and the filesystem keeps its free space, for
//! both rootfs kinds, id-mapped and privileged; with `"max"` the same app
//! fills the filesystem (the control).
//!
//! io: `security.io-max` on a loop device made for the test; the running
//! container's cgroup must hold the rule in the host's layout (read back,
//! as `tests/privileges.rs` reads the memory and pids limits). That the
//! kernel then throttles is the kernel's own, tested there.

mod common;

use common::*;

/// Starts the container, runs two busy loops in it for a while and prints
/// the cgroup's figures at both ends, in whichever layout the host has.
const BURN: &str = r#"
create c1
lxc-start -P "$P" -n c1 -d -- env /bin/sleep 100000000
lxc-wait -P "$P" -n c1 -s RUNNING -t 10
lxc-attach -P "$P" -n c1 -- /bin/busybox sh -c 'for i in 1 2; do (while :; do :; done) & done; exit 0'
figures() {
    if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
        stat=$(lxc-cgroup -P "$P" -n c1 cpu.stat)
        usage=$(echo "$stat" | awk '$1 == "usage_usec" { print $2 }')
        echo "quota_$1=$(lxc-cgroup -P "$P" -n c1 cpu.max | awk '{ print $1 }' | sed 's/^max$/-1/')"
    else
        stat=$(lxc-cgroup -P "$P" -n c1 cpu.stat)
        usage=$(( $(lxc-cgroup -P "$P" -n c1 cpuacct.usage) / 1000 ))
        echo "quota_$1=$(lxc-cgroup -P "$P" -n c1 cpu.cfs_quota_us)"
    fi
    echo "usage_$1=$usage"
    echo "periods_$1=$(echo "$stat" | awk '$1 == "nr_periods" { print $2 }')"
    echo "throttled_$1=$(echo "$stat" | awk '$1 == "nr_throttled" { print $2 }')"
}
sleep 0.5
figures 0
sleep 2
figures 1
timeout 10 lxc-stop -P "$P" -n c1 -k
"#;

/// The figures [`BURN`] printed for the default profile with `sets`.
fn burn(sets: &[&str]) -> std::collections::BTreeMap<String, String> {
    let tmp = tempfile::tempdir().unwrap();
    let art = tmp.path().join("art");
    let mut g = Gen::new()
        .profile(root().join("profiles/default.toml"))
        .out(&art);
    for s in sets {
        g = g.set(s);
    }
    g.ok();
    let script = format!("ip link add lxcbr0 type bridge && ip link set lxcbr0 up\n{BURN}");
    lxc::key_values(&lxc::scenario(&art, &script))
}

fn num(out: &std::collections::BTreeMap<String, String>, key: &str) -> i64 {
    out.get(key)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no number {key} in {out:?}"))
}

#[test]
fn a_cpu_burner_is_held_to_cpu_max() {
    if !lxc::ready() {
        return;
    }
    // 0.05 CPUs: 5 ms per 100 ms period, far below what two loops want
    // even on a busy two-core machine, so the limit is what holds them.
    let out = burn(&["security.cpu-max=0.05"]);
    assert_eq!(num(&out, "quota_1"), 5_000, "{out:?}");
    let periods = num(&out, "periods_1") - num(&out, "periods_0");
    let throttled = num(&out, "throttled_1") - num(&out, "throttled_0");
    let used = num(&out, "usage_1") - num(&out, "usage_0");
    assert!(periods > 0, "the quota was never in force: {out:?}");
    assert!(
        throttled > 0,
        "the burner was never held back in {periods} periods: {out:?}"
    );
    // The quota in every period, with slack: the kernel hands runtime to
    // each CPU in slices (`sched_cfs_bandwidth_slice_us`, 5 ms), so a
    // period can run over by part of one, and the two readings are not
    // taken at the same instant. Two loops unheld would use ~20x this.
    let bound = 5_000 * (periods + 2) * 5 / 4;
    assert!(
        used <= bound,
        "the burner used {used} µs in {periods} periods of 100 ms, above the quota of 5000 µs each (bound with slack {bound} µs): {out:?}"
    );
    eprintln!("cpu-max 0.05: {used} µs used in {periods} periods ({throttled} throttled)");
}

/// The control: with `cpu-max = "max"` no quota is set, so nothing holds
/// the same burner (the kernel counts no bandwidth periods at all).
#[test]
fn control_without_cpu_max_no_quota_holds_the_burner() {
    if !lxc::ready() {
        return;
    }
    let out = burn(&["security.cpu-max=max"]);
    assert_eq!(num(&out, "quota_1"), -1, "{out:?}");
    assert_eq!(num(&out, "throttled_1"), 0, "{out:?}");
    assert!(num(&out, "usage_1") > num(&out, "usage_0"), "{out:?}");
}

/// Starts the container with `$RULE` on a fresh loop device and prints the
/// io bound its cgroup holds.
const IO: &str = r#"
truncate -s 16M "$P/disk" && DEV=$(losetup --find --show "$P/disk")
trap 'losetup -d "$DEV"; cleanup' EXIT
NUM=$(lsblk -ndo MAJ:MIN "$DEV" | tr -d ' ')
gen --set "security.io-max=[\"$NUM wbps=1048576 riops=50\"]"
create c1
lxc-start -P "$P" -n c1 -d -- env /bin/sleep 100000000
lxc-wait -P "$P" -n c1 -s RUNNING -t 10
echo "num=$NUM"
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
    echo "io=$(lxc-cgroup -P "$P" -n c1 io.max | grep "^$NUM ")"
else
    echo "io=$(lxc-cgroup -P "$P" -n c1 blkio.throttle.write_bps_device) $(lxc-cgroup -P "$P" -n c1 blkio.throttle.read_iops_device)"
fi
timeout 10 lxc-stop -P "$P" -n c1 -k
"#;

#[test]
fn io_max_is_in_force_in_the_running_container() {
    if !(lxc::ready() && have("losetup") && have("lsblk")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let art = tmp.path().join("art");
    let script = format!(
        "ip link add lxcbr0 type bridge && ip link set lxcbr0 up\n\
         gen() {{ \"$SCGEN\" gen --profile {} --out \"$ART\" \"$@\" >&2; }}\n{IO}",
        root().join("profiles/default.toml").display()
    );
    let out = lxc::key_values(&lxc::scenario(&art, &script));
    let num = &out["num"];
    let want = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        format!("{num} rbps=max wbps=1048576 riops=50 wiops=max")
    } else {
        format!("{num} 1048576 {num} 50")
    };
    assert_eq!(out["io"], want, "{out:?}");
}

/// After [`lxc::SCRATCH`]: starts a container of `$PROFILE` with `$SETS` on
/// the scratch ext4 of 64 MiB, has its app write 128 MiB
/// into /tmp, and prints what the app saw and what the host's filesystem
/// kept.
const DISK: &str = r#"
lxc-start -P "$L" -n c1 -d -- env /bin/sleep 100000000
lxc-wait -P "$L" -n c1 -s RUNNING -t 10
sync
echo "avail_before=$(df -B1 --output=avail "$L" | tail -n 1 | tr -d ' ')"
lxc-attach -P "$L" -n c1 -- /bin/busybox sh -c '
    err=$(dd if=/dev/zero of=/tmp/fill bs=1M count=128 2>&1)
    echo "dd_rc=$?"
    echo "enospc=$(echo "$err" | grep -c "No space left on device")"
    echo "written=$(stat -c %s /tmp/fill)"
    sync'
sync
echo "avail_after=$(df -B1 --output=avail "$L" | tail -n 1 | tr -d ' ')"
echo "on_host=$(find "$L" -name fill | wc -l)"
echo "host_mounts=$(grep -c scgen-writes /proc/self/mountinfo || true)"
echo "hook=$(grep -c '^lxc.hook.pre-mount = ' "$L/c1/config" || true)"
echo "after=$(lxc-attach -P "$L" -n c1 -- /bin/busybox sh -c 'rm /tmp/fill && echo ok > /tmp/small && cat /tmp/small')"
timeout 10 lxc-stop -P "$L" -n c1 -k
lxc-destroy -P "$L" -n c1 >&2
echo "left=$(ls -A "$L" | grep -v -e '^gw$' -e '^store$' -e '^lost+found$' | wc -l)"
"#;

/// What [`DISK`] printed for `profile` with `sets`.
fn fill(profile: &str, sets: &[&str]) -> std::collections::BTreeMap<String, String> {
    let overlay = profile == "overlay";
    let mut sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    if overlay {
        sets.push("container.skeleton-store=@L@/store".into());
    }
    let idmap = !sets.iter().any(|s| s == "container.idmap=[]");
    let o = run(std::process::Command::new("unshare")
        .args(["--mount", "--net", "--propagation", "private", "sh", "-c"])
        .arg(format!("{}\n{}\n{DISK}", lxc::PRELUDE, lxc::SCRATCH))
        .env("SCGEN", common::nosys::scgen_path())
        .env("PROFILE", root().join(format!("profiles/{profile}.toml")))
        .env("SETS", sets.join("\n"))
        .env("STORE_OWNER", if overlay && idmap { "100000" } else { "" }));
    lxc::key_values(&o)
}

const MIB: i64 = 1 << 20;

/// An app writes 128 MiB under `disk-max = "8M"`: its write stops with
/// ENOSPC within the bound, none of it reaches the host's filesystem, no
/// mount is left on the host, and lxc-destroy leaves nothing.
fn assert_bounded(profile: &str, sets: &[&str]) {
    let mut all = vec!["security.disk-max=8M"];
    all.extend(sets);
    let out = fill(profile, &all);
    assert_eq!(out["hook"], "1", "{out:?}");
    assert_ne!(
        out["dd_rc"], "0",
        "the write past the bound succeeded: {out:?}"
    );
    assert_eq!(out["enospc"], "1", "not ENOSPC: {out:?}");
    let written = num(&out, "written");
    assert!(
        written > 4 * MIB && written <= 8 * MIB,
        "{written} bytes written under a bound of 8 MiB: {out:?}"
    );
    let lost = num(&out, "avail_before") - num(&out, "avail_after");
    assert!(
        lost < MIB,
        "the host's filesystem lost {lost} bytes to the app: {out:?}"
    );
    assert_eq!(out["on_host"], "0", "{out:?}");
    assert_eq!(
        out["host_mounts"], "0",
        "the tmpfs is on the host's mount table: {out:?}"
    );
    assert_eq!(
        out["after"], "ok",
        "the container is unusable after the bound: {out:?}"
    );
    assert_eq!(out["left"], "0", "lxc-destroy left files: {out:?}");
    eprintln!("disk-max 8M ({profile} {sets:?}): {written} bytes written, the host's filesystem lost {lost}");
}

#[test]
fn a_write_past_disk_max_fails_with_enospc_and_the_host_keeps_its_space() {
    if !(lxc::ready() && have("mkfs.ext4")) {
        return;
    }
    assert_bounded("default", &[]);
}

#[test]
fn disk_max_bounds_an_overlay_container_too() {
    if !(lxc::ready() && have("mkfs.ext4")) {
        return;
    }
    assert_bounded("overlay", &[]);
}

#[test]
fn disk_max_bounds_a_privileged_container_too() {
    if !(lxc::ready() && have("mkfs.ext4")) {
        return;
    }
    assert_bounded("default", &["container.idmap=[]"]);
}

/// The control: with `disk-max = "max"` the same app fills the host's
/// filesystem, its write stopped only by the filesystem's own end.
#[test]
fn control_without_disk_max_the_app_fills_the_hosts_filesystem() {
    if !(lxc::ready() && have("mkfs.ext4")) {
        return;
    }
    let out = fill("default", &["security.disk-max=max"]);
    assert_eq!(out["hook"], "0", "{out:?}");
    assert_eq!(out["enospc"], "1", "{out:?}");
    assert_eq!(out["on_host"], "1", "{out:?}");
    let lost = num(&out, "avail_before") - num(&out, "avail_after");
    assert!(
        lost > 32 * MIB && num(&out, "avail_after") < 4 * MIB,
        "the app did not fill the host's filesystem (lost {lost} bytes): {out:?}"
    );
}
