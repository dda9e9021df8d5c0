//! Booting containers on real LXC in the tests: each scenario is a shell
//! script run as root in its own mount and network namespaces, after a
//! prelude that gives LXC a private lock dir, a temp lxcpath and a cleanup
//! trap.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use super::{have, is_root, run};

/// Runs before every scenario: private /run/lxc, a sysfs of the new network
/// namespace (LXC looks bridges up there) with the cgroup mounts carried
/// over, a temp lxcpath, root's subordinate ids, and cleanup on exit.
pub const PRELUDE: &str = r#"
set -eu
P=$(mktemp -d /tmp/scgen-lxc.XXXXXX)
cleanup() {
    for c in $(lxc-ls -P "$P" 2>/dev/null); do
        lxc-stop -P "$P" -n "$c" -k >/dev/null 2>&1 || true
        lxc-destroy -P "$P" -n "$c" -f >/dev/null 2>&1 || true
    done
    rm -rf "$P"
}
trap cleanup EXIT
mkdir -p /run/lxc && mount -t tmpfs scgen-test /run/lxc
mkdir "$P/cg" && mount --rbind /sys/fs/cgroup "$P/cg"
mount -t sysfs sysfs /sys && mount --move "$P/cg" /sys/fs/cgroup
mkdir "$P/gw" && echo from-the-host > "$P/gw/hello"
# The lxc3 default is id-mapped: root needs its subordinate ids (LXC insists
# where newuidmap is installed), given in this mount namespace only, and
# the mapped root must reach the rootfs below $P.
printf 'root:100000:65536\n' > "$P/subid"
if [ -e /etc/subuid ] && [ -e /etc/subgid ]; then
    mount --bind "$P/subid" /etc/subuid && mount --bind "$P/subid" /etc/subgid
else
    # No file to bind over: give this namespace its own copy of /etc.
    cp -a /etc "$P/etc" && cp "$P/subid" "$P/etc/subuid" && cp "$P/subid" "$P/etc/subgid"
    mount --bind "$P/etc" /etc
fi
chmod 755 "$P"
create() {
    GATEWAY_DIR="$P/gw" lxc-create -P "$P" -n "$1" -t "$ART/lxc-softwarecontainer" -f "$ART/softwarecontainer.conf" >&2
}
run() { name=$1; shift; lxc-execute -P "$P" -n "$name" -- /bin/busybox sh -c "$*"; }
"#;

/// After [`PRELUDE`]: a scratch ext4 as the lxcpath `$L`, for the tests
/// whose app fills or freezes a filesystem (`tests/common/scratch.sh`).
pub const SCRATCH: &str = include_str!("scratch.sh");

/// Whether the booted tests can run: root and LXC's tools (locally a
/// `SKIPPED` notice, under CI a failure).
pub fn ready() -> bool {
    is_root() && have("lxc-create") && have("lxc-execute") && have("unshare") && have("ip")
}

/// Runs `script` after [`PRELUDE`] with the artifacts in `art` (as `$ART`,
/// and as the drop-in's `SCGEN_ARTIFACTS`) and the binary under test.
pub fn scenario(art: &Path, script: &str) -> Output {
    run(Command::new("unshare")
        .args(["--mount", "--net", "--propagation", "private", "sh", "-c"])
        .arg(format!("{PRELUDE}\n{script}"))
        .env("SCGEN", super::nosys::scgen_path())
        .env("SCGEN_ARTIFACTS", art)
        .env("ART", art))
}

/// The `key=value` lines a scenario printed, after asserting it succeeded
/// (its stdout and stderr are the failure message).
pub fn key_values(o: &Output) -> BTreeMap<String, String> {
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "scenario failed ({}):\n{stdout}\n{stderr}",
        o.status
    );
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
