//! `scgen mount-writes`, the pre-mount hook of `security.disk-max`, run by
//! hand the way LXC runs it, as root in a mount namespace of its own
//! (`unshare --mount`), so nothing it mounts reaches the host: it mounts a
//! tmpfs of exactly the size asked on the directory given, with the
//! overlay's upper dir 0755 whatever the umask; it never follows a
//! symlink, never mounts on anything but a directory, and refuses to run
//! when LXC did not call it as a pre-mount hook. What it does inside a
//! container is tests/bounds.rs's.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// [`in_namespace`] with `$D` a fresh temp dir holding an empty `writes`.
fn with_writes_dir(script: &str) -> (BTreeMap<String, String>, std::process::Output) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("writes")).unwrap();
    let out = in_namespace(tmp.path(), script);
    // The namespace is gone, and the host's directory never held a mount.
    assert!(!tmp.path().join("writes/upper").exists());
    out
}

/// Runs `script` in a new mount namespace with `$SCGEN` and `$D` (a temp
/// dir) set; returns its `key=value` lines and exit status.
fn in_namespace(d: &Path, script: &str) -> (BTreeMap<String, String>, std::process::Output) {
    let o = run(Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(script)
        .env("SCGEN", scgen_path())
        .env("D", d));
    let kv = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (kv, o)
}

fn scgen_path() -> std::path::PathBuf {
    common::nosys::scgen_path()
}

fn ready() -> bool {
    is_root() && have("unshare") && have("findmnt")
}

#[test]
fn it_mounts_a_tmpfs_of_the_size_asked_with_upper_0755_under_any_umask() {
    if !ready() {
        return;
    }
    let (out, o) = with_writes_dir(
        r#"
umask 077
"$SCGEN" mount-writes --size 3145728 "$D/writes" c1 lxc pre-mount
echo "rc=$?"
echo "fstype=$(findmnt -n -o FSTYPE "$D/writes")"
echo "source=$(findmnt -n -o SOURCE "$D/writes")"
echo "bytes=$(( $(stat -f -c '%b * %S' "$D/writes") ))"
echo "upper=$(stat -c %a "$D/writes/upper")"
echo "root=$(stat -c %a "$D/writes")"
"#,
    );
    assert_eq!(out["rc"], "0", "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(out["fstype"], "tmpfs", "{out:?}");
    assert_eq!(out["source"], "scgen-writes", "{out:?}");
    assert_eq!(out["bytes"], "3145728", "{out:?}");
    assert_eq!(out["upper"], "755", "{out:?}");
    assert_eq!(out["root"], "700", "{out:?}");
}

/// LXC's hook version 1 names the type in the environment instead.
#[test]
fn lxc_hook_type_in_the_environment_counts_too() {
    if !ready() {
        return;
    }
    let (out, o) = with_writes_dir(
        r#"
LXC_HOOK_TYPE=pre-mount "$SCGEN" mount-writes --size 1048576 "$D/writes"
echo "rc=$?"
LXC_HOOK_TYPE=start "$SCGEN" mount-writes --size 1048576 "$D/writes" 2>/dev/null
echo "start_rc=$?"
echo "mounts=$(findmnt -n -o SOURCE "$D/writes" | grep -c scgen-writes)"
"#,
    );
    assert_eq!(out["rc"], "0", "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(out["start_rc"], code::USAGE.to_string(), "{out:?}");
    assert_eq!(out["mounts"], "1", "{out:?}");
}

/// A symlink, a file or a FIFO where the directory should be: refused
/// (77) with nothing mounted anywhere, and the FIFO never opened for
/// reading (which would hang).
#[test]
fn it_never_follows_a_symlink_nor_mounts_on_a_non_directory() {
    if !ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir(d.join("elsewhere")).unwrap();
    std::os::unix::fs::symlink(d.join("elsewhere"), d.join("link")).unwrap();
    std::fs::write(d.join("file"), "x").unwrap();
    assert!(run(Command::new("mkfifo").arg(d.join("fifo")))
        .status
        .success());
    let (out, o) = in_namespace(
        d,
        r#"
for t in link file fifo; do
    timeout 10 "$SCGEN" mount-writes --size 1048576 "$D/$t" c1 lxc pre-mount 2>>"$D/err"
    echo "$t=$?"
done
echo "mounts=$(grep -c scgen-writes /proc/self/mountinfo)"
cat "$D/err" >&2
"#,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    for t in ["link", "file", "fifo"] {
        assert_eq!(out[t], code::UNSAFE.to_string(), "{t}: {out:?}\n{err}");
    }
    assert_eq!(out["mounts"], "0", "{out:?}");
    assert!(err.contains("without following a symlink"), "{err}");
    assert!(std::fs::read_dir(d.join("elsewhere"))
        .unwrap()
        .next()
        .is_none());
}

/// Run by hand (no hook type): refused before anything is opened, with
/// the reason; nothing is mounted.
#[test]
fn run_by_hand_it_refuses_and_says_why() {
    if !ready() {
        return;
    }
    let (out, o) = with_writes_dir(
        r#"
"$SCGEN" mount-writes --size 1048576 "$D/writes"
echo "rc=$?"
echo "mounts=$(grep -c scgen-writes /proc/self/mountinfo)"
"#,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(out["rc"], code::USAGE.to_string(), "{err}");
    assert_eq!(out["mounts"], "0", "{out:?}");
    assert!(err.contains("pre-mount hook"), "{err}");
}
