//! The artifacts boot on real LXC: lxc-create runs the generated drop-in,
//! and the container behaves the way SoftwareContainer uses it.
//!
//! Each scenario is a shell script run as root inside its own mount and
//! network namespaces (`unshare -mn`): LXC's lock files go to a private
//! tmpfs, the test bridge exists only there, and a trap stops and deletes
//! every container even when a step fails. The script prints `key=value`
//! lines that the Rust side asserts.

mod common;

use common::*;
use std::collections::BTreeMap;

/// Runs `script` for the artifacts of `profile` (generated fresh into a
/// temp dir); returns its `key=value` lines.
fn scenario(profile: &str, script: &str) -> BTreeMap<String, String> {
    scenario_with(profile, &[], script)
}

/// [`scenario`] with `--set` values; `{tmp}` in a value is a temp dir that
/// lives as long as the scenario.
fn scenario_with(profile: &str, sets: &[&str], script: &str) -> BTreeMap<String, String> {
    let tmp = tempfile::tempdir().unwrap();
    let art = tmp.path().join(profile);
    let mut cmd = scgen();
    cmd.args(["gen", "--profile"])
        .arg(root().join(format!("profiles/{profile}.toml")))
        .arg("--out")
        .arg(&art);
    for set in sets {
        cmd.arg("--set")
            .arg(set.replace("{tmp}", &tmp.path().display().to_string()));
    }
    let o = run(&mut cmd);
    assert!(
        o.status.success(),
        "gen failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = common::lxc::scenario(&art, script);
    common::lxc::key_values(&o)
}

use common::lxc::ready as lxc_ready;

const BOOT: &str = r#"
create c1
create c2
echo "hostname=$(run c1 hostname)"
echo "passwd=$(run c1 grep ^root: /etc/passwd)"
echo "id1=$(run c1 cat /etc/machine-id)"
echo "id2=$(run c2 cat /etc/machine-id)"
echo "gateway=$(run c1 cat /gateways/hello)"
echo "applets=$(run c1 'env | grep -c ^PATH= && sleep 0 && true && echo works' | tr '\n' ' ')"
echo "tmp=$(run c1 stat -c %a /tmp)"
# SoftwareContainer's own cycle: start without init, attach, stop.
lxc-start -P "$P" -n c1 -d -- env /bin/sleep 100000000
lxc-wait -P "$P" -n c1 -s RUNNING -t 10
echo "attach=$(lxc-attach -P "$P" -n c1 -- /bin/busybox echo attached)"
timeout 10 lxc-stop -P "$P" -n c1 -t 2
echo "state=$(lxc-info -P "$P" -n c1 -s | tr -d ' ')"
"#;

fn assert_boots(profile: &str) {
    let out = scenario(profile, BOOT);
    let get = |k: &str| {
        out.get(k)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no {k} in {out:?}"))
    };
    assert_eq!(get("hostname"), "contained");
    assert_eq!(get("passwd"), "root:x:0:0:root:/root:/bin/sh");
    let valid = |id: &str| {
        id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    assert!(valid(get("id1")) && valid(get("id2")), "{out:?}");
    assert_ne!(get("id1"), get("id2"), "two containers share a machine-id");
    assert_eq!(get("gateway"), "from-the-host");
    assert_eq!(get("applets"), "1 works ");
    assert_eq!(get("tmp"), "1777");
    assert_eq!(get("attach"), "attached");
    assert_eq!(get("state"), "State:STOPPED");
}

#[test]
fn default_profile_boots_on_real_lxc() {
    if lxc_ready() {
        assert_boots("default");
    }
}

#[test]
fn yocto_profile_with_fixed_applets_boots_on_real_lxc() {
    if lxc_ready() {
        let out = scenario(
            "yocto",
            r#"
ip link add lxcbr0 type bridge && ip link set lxcbr0 up
create y1
echo "links=$(run y1 'ls /bin | wc -l')"
echo "sh=$(run y1 'readlink /bin/sh')"
"#,
        );
        // yocto-busybox.links: 34 lines, `busybox` itself skipped, plus the
        // busybox, init.lxc and iptables placeholders.
        assert_eq!(out["links"], "36");
        assert_eq!(out["sh"], "busybox");
    }
}

/// The network gateway's iptables runs in the container with the agent's
/// rights (attached without dropping capabilities, as the patched agent
/// attaches its gateway steps); an app, attached as the agent attaches
/// jobs, has no `net_admin` and cannot read or change the rules.
#[test]
fn network_profile_has_eth0_and_iptables() {
    if lxc_ready() {
        let out = scenario(
            "network",
            r#"
ip link add lxcbr0 type bridge && ip link set lxcbr0 up
create n1
echo "ifaces=$(run n1 'ls /sys/class/net | tr "\n" " "')"
echo "boots=$(run n1 'hostname')"
lxc-start -P "$P" -n n1 -d -- env /bin/sleep 100000000
lxc-wait -P "$P" -n n1 -s RUNNING -t 10
echo "agent=$(lxc-attach -P "$P" -n n1 --elevated-privileges=CAP -- /bin/iptables -L INPUT -n 2>&1 | head -1)"
echo "app=$(lxc-attach -P "$P" -n n1 -- /bin/iptables -L INPUT -n 2>&1 | head -1)"
timeout 10 lxc-stop -P "$P" -n n1 -k
"#,
        );
        assert_eq!(out["ifaces"], "eth0 lo ");
        assert!(out["agent"].starts_with("Chain INPUT"), "{out:?}");
        assert!(out["app"].contains("Permission denied"), "{out:?}");
        assert_eq!(out["boots"], "contained");
    }
}

#[test]
fn shared_bin_profile_boots_with_a_read_only_shared_bin() {
    if lxc_ready() {
        let out = scenario_with(
            "shared-bin",
            &["busybox.shared-bin={tmp}/shared bin"],
            r#"
create s1
create s2
[ -d "$P/s2/rootfs/bin" ] && echo "rootfs_bin=$(ls -A "$P/s2/rootfs/bin" | wc -l)"
echo "applets=$(run s2 'env | grep -c ^PATH= && sleep 0 && true && echo works' | tr '\n' ' ')"
echo "readonly=$(run s2 'touch /bin/x 2>/dev/null && echo writable || echo read-only')"
echo "id1=$(run s1 cat /etc/machine-id)"
echo "id2=$(run s2 cat /etc/machine-id)"
"#,
        );
        assert_eq!(
            out["rootfs_bin"], "0",
            "applet links were made per container"
        );
        assert_eq!(out["applets"], "1 works ");
        assert_eq!(out["readonly"], "read-only");
        assert_ne!(out["id1"], out["id2"]);
    }
}

/// The default container is user-namespaced (lxc.idmap), as lxc-create
/// makes one: it runs the drop-in as the container's root inside the
/// namespace and adds `--mapped-uid/--mapped-gid`. The rootfs must belong
/// to the container's root (host uid 100000), the config to the caller,
/// and the container must run as root in its namespace. The map is the
/// `lxc3` default `container.idmap`, in the generated config as is. The
/// subordinate id ranges come from files the prelude binds over
/// /etc/subuid and /etc/subgid in the test's own mount namespace.
#[test]
fn user_namespaced_container_boots_with_the_right_owners() {
    if !(lxc_ready() && have("newuidmap")) {
        return;
    }
    let out = scenario(
        "default",
        r#"
grep -q '^lxc.idmap = u 0 100000 65536$' "$ART/softwarecontainer.conf"
create u1
echo "rootfs_owner=$(stat -c %u:%g "$P/u1/rootfs/etc/passwd")"
echo "config_owner=$(stat -c %u "$P/u1/config")"
echo "uid_map=$(run u1 'cat /proc/self/uid_map' | tr -s ' ' | sed 's/^ //')"
echo "id=$(run u1 'id -u')"
echo "tmp=$(run u1 'touch /tmp/x && echo writable')"
echo "gateway=$(run u1 cat /gateways/hello)"
"#,
    );
    assert_eq!(out["rootfs_owner"], "100000:100000", "{out:?}");
    assert_eq!(out["config_owner"], "0", "{out:?}");
    assert_eq!(out["uid_map"], "0 100000 65536");
    assert_eq!(out["id"], "0");
    assert_eq!(out["tmp"], "writable");
    assert_eq!(out["gateway"], "from-the-host");
}

/// Where newuidmap and newgidmap are installed, LXC maps through them even
/// for root, and they refuse ranges /etc/subuid does not give root: the
/// container would be created and then never start ("newuidmap failed to
/// write mapping"). The stage refuses at create time instead (exit 67),
/// naming the line to add, before it writes anything. The control is
/// every other test here: the prelude gives root those ids.
#[test]
fn a_host_without_roots_subordinate_ids_is_refused_before_any_write() {
    if !(lxc_ready() && have("newuidmap") && have("newgidmap")) {
        return;
    }
    let out = scenario(
        "default",
        r#"
: > "$P/empty" && mount --bind "$P/empty" /etc/subuid && mount --bind "$P/empty" /etc/subgid
mkdir -p "$P/c1/rootfs"
set +e
# As lxc-create calls it for an id-mapped container (with the caller's ids).
"$SCGEN" stage --artifacts "$ART" --path "$P/c1" --name c1 --rootfs "$P/c1/rootfs" --gateway-dir "$P/gw" --mapped-uid 0 --mapped-gid 0 2>"$P/err"
echo "status=$?"
echo "err=$(head -c 300 "$P/err" | tr '\n' ' ')"
echo "help=$(grep -c 'add `root:100000:65536` to /etc/subuid' "$P/err")"
echo "written=$(find "$P/c1" -mindepth 1 | grep -v '^'"$P/c1/rootfs"'$' | wc -l)"
"#,
    );
    assert_eq!(out["status"], scgen::exit::NO_SUBIDS.to_string(), "{out:?}");
    assert!(
        out["err"].contains("root has no subordinate ids 100000-165535 in /etc/subuid"),
        "{out:?}"
    );
    assert_eq!(out["help"], "1", "{out:?}");
    assert_eq!(out["written"], "0", "{out:?}");
}

/// What SoftwareContainer's agent does for BindMount and the file gateway,
/// without the agent (tests/agent.rs runs the agent itself): the host's
/// gateway dir is a shared mount (the agent bind-mounts it on itself and
/// makes it shared), a mount made below it on the host shows up in the
/// container's /gateways, and the container moves it elsewhere with
/// MS_MOVE. LXC >= 4 makes the container's tree shared after pivot_root,
/// and the kernel refuses to move a mount out of a shared parent (EINVAL);
/// `gateways.slave` (on by default in lxc3) makes /gateways a slave mount
/// through LXC's mount tunnel. With it off, the move fails: the control.
#[test]
fn gateways_is_a_slave_mount_and_the_agents_move_works() {
    if !lxc_ready() {
        return;
    }
    const MOVE: &str = r#"
mount --bind "$P/gw" "$P/gw" && mount --make-shared "$P/gw"
create m1
lxc-start -P "$P" -n m1 -d -- env /bin/sleep 100000000
lxc-wait -P "$P" -n m1 -s RUNNING -t 10
att() { lxc-attach -P "$P" -n m1 -- /bin/busybox sh -c "$*"; }
# The agent's own step: its rights, and the exact flags it passes
# (util-linux's mount passes MS_MOVE alone; busybox adds MS_SILENT, which
# the policy refuses).
agent() { lxc-attach -P "$P" -n m1 --elevated-privileges=CAP -- /bin/busybox sh -c "$*"; }
echo "propagation=$(att "grep ' /gateways ' /proc/self/mountinfo | grep -o 'master:[0-9]*\|shared:[0-9]*' | tr -d '0-9' | tr '\n' ' '")"
mkdir "$P/gw/app" && mount -t tmpfs -o size=1m app "$P/gw/app" && echo moved-in > "$P/gw/app/file"
att 'mkdir -p /app'
echo "app_move=$(att 'mount --move /gateways/app /app 2>&1' | tr '\n' ' ')"
echo "move=$(agent '/usr/bin/mount --move /gateways/app /app >/dev/null 2>/tmp/move-err; cat /app/file' | tr '\n' ' ')"
echo "move_err=$(att 'cat /tmp/move-err' | tr '\n' ' ')"
timeout 10 lxc-stop -P "$P" -n m1 -k
umount -R -l "$P/gw"
"#;
    let on = scenario("default", MOVE);
    assert_eq!(on["propagation"], "master: ", "{on:?}");
    // An app has no sys_admin: only the agent's own step moves mounts.
    assert!(on["app_move"].contains("permission denied"), "{on:?}");
    assert_eq!(on["move"], "moved-in ", "{on:?}");
    let off = scenario_with("default", &["gateways.slave=false"], MOVE);
    assert!(off["propagation"].contains("shared:"), "{off:?}");
    assert!(
        off["move"].is_empty()
            && off["move_err"]
                .contains("moving a mount residing under a shared mount is unsupported"),
        "{off:?}"
    );
}
