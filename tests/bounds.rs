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
