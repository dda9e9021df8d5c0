//! Overlay containers (`container.rootfs = "overlay"`, issue 10): the
//! skeleton is filled once per host into the store and never written
//! again; a container costs only its upper dir; concurrent first stages
//! publish one skeleton; a store or skeleton that is not to be trusted is
//! refused; `scgen skeletons` lists, checks and prunes. The boots on real
//! LXC are in `overlay_lxc.rs`.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::code::{CONFIG, DATA, UNSAFE};
use common::*;
use tempfile::TempDir;

use common::overlay::OverlayEnv as Env;

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed ({}): {}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(o: &Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(needle), "{needle:?} not in: {err}");
}

/// Every path below `dir` (itself included), as `find DIR | wc -l` counts.
fn count(dir: &Path) -> usize {
    walkdir::WalkDir::new(dir).into_iter().count()
}

/// path, mode, size and mtime of everything below `dir`.
fn listing(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let m = e.path().symlink_metadata().unwrap();
            format!(
                "{} {:o} {} {}.{} {}",
                e.path().display(),
                m.mode(),
                m.size(),
                m.mtime(),
                m.mtime_nsec(),
                m.ino()
            )
        })
        .collect()
}

/// path, mode and bytes of everything below `dir`.
fn contents(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let m = e.path().symlink_metadata().unwrap();
            let bytes = if m.is_file() {
                fs::read(e.path()).unwrap()
            } else {
                Vec::new()
            };
            format!("{} {:o} {bytes:?}", e.path().display(), m.mode())
        })
        .collect()
}

/// Inode and mtime: what a rewrite changes even when the bytes do not.
fn identity(p: &Path) -> (u64, i64, i64) {
    use std::os::unix::fs::MetadataExt;
    let m = p.symlink_metadata().unwrap();
    (m.ino(), m.mtime(), m.mtime_nsec())
}

fn rootfs_line(container: &Path) -> String {
    let config = fs::read_to_string(container.join("config")).unwrap();
    config
        .lines()
        .rev()
        .find(|l| l.starts_with("lxc.rootfs.path"))
        .unwrap()
        .to_string()
}

/// The skeleton's tree a container's rootfs line names (its bottom lower).
fn skeleton_of(container: &Path) -> String {
    let line = rootfs_line(container);
    scgen::stage::skeletons::overlay_lower(&line)
        .unwrap_or_else(|| panic!("no overlay lower in {line}"))
        .to_string()
}

/// Pins: the first stage fills one skeleton; later containers cost at most
/// 14 entries (container dir, config, upper dir, etc, machine-id,
/// resolv.conf, the writes dir and its upper) and point their config at
/// that same skeleton, below their own dir and over the bound's upper dir.
#[test]
fn containers_share_one_skeleton_and_cost_a_handful_of_entries() {
    let env = Env::new();
    let first = ok(&env.stage("c1"));
    assert_eq!(env.published().len(), 1, "{first}");
    let skel = env.store().join(&env.published()[0]);
    assert!(skel
        .join("rootfs/bin/cat")
        .symlink_metadata()
        .unwrap()
        .is_symlink());
    assert!(skel.join("rootfs/etc/passwd").is_file());
    let before = listing(&skel);
    let second = ok(&env.stage("c2"));
    assert_eq!(listing(&skel), before, "the skeleton was written again");
    let c2 = env.path().join("c2");
    let n = count(&c2);
    assert!(n <= 14, "{n} entries in a container dir: {second}");
    assert_eq!(
        rootfs_line(&c2),
        format!(
            "lxc.rootfs.path = overlay:{c}/rootfs:{}/rootfs:{c}/writes/upper",
            skel.display(),
            c = c2.display()
        )
    );
    assert_eq!(skeleton_of(&env.path().join("c1")), skeleton_of(&c2));
    let id1 = fs::read_to_string(env.path().join("c1/rootfs/etc/machine-id")).unwrap();
    let id2 = fs::read_to_string(c2.join("rootfs/etc/machine-id")).unwrap();
    assert_ne!(id1, id2);
    assert_eq!(
        fs::read_to_string(c2.join("rootfs/etc/resolv.conf")).unwrap(),
        "nameserver 192.0.2.53\n"
    );
    assert!(
        !c2.join("rootfs/bin").exists(),
        "applet links made per container"
    );
}

/// Pins: rerunning the stage on a container changes nothing, in the
/// container or the store.
#[test]
fn rerunning_the_stage_changes_nothing() {
    let env = Env::new();
    ok(&env.stage("c1"));
    let c1 = env.path().join("c1");
    let (before, store) = (contents(&c1), listing(&env.store()));
    let ids: std::collections::BTreeMap<&str, (u64, i64, i64)> =
        ["rootfs/etc/machine-id", "rootfs/etc/resolv.conf", "config"]
            .into_iter()
            .map(|f| (f, identity(&c1.join(f))))
            .collect();
    let again = ok(&env.stage("c1"));
    assert!(again.contains("config unchanged"), "{again}");
    assert!(again.contains(": 0 entries created"), "{again}");
    // Same paths, modes and bytes; the store is not touched at all.
    assert_eq!(contents(&c1), before);
    assert_eq!(listing(&env.store()), store);
    // A file that is already exactly right is kept, not rewritten: the
    // same inode and mtime (the machine-id, resolv.conf and config).
    for f in ["rootfs/etc/machine-id", "rootfs/etc/resolv.conf", "config"] {
        assert_eq!(identity(&c1.join(f)), ids[f], "{f} was rewritten");
    }
}

/// Pins: first stages racing on an empty store all succeed, one skeleton
/// is published, no temp dir is left, and it passes its check.
#[test]
fn concurrent_first_stages_publish_exactly_one_skeleton() {
    let env = Env::new();
    let children: Vec<_> = (0..8)
        .map(|i| {
            env.stage_cmd(&format!("c{i}"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        ok(&c.wait_with_output().unwrap());
    }
    let all: Vec<_> = fs::read_dir(env.store()).unwrap().collect();
    assert_eq!(all.len(), 1, "temp dirs left or several skeletons: {all:?}");
    let lower = skeleton_of(&env.path().join("c0"));
    for i in 1..8 {
        assert_eq!(skeleton_of(&env.path().join(format!("c{i}"))), lower);
    }
    let list = ok(&env.skeletons(&["list", "--lxcpath", env.path().to_str().unwrap()]));
    assert!(list.contains(" ok; used by "), "{list}");
    assert_eq!(
        list.matches(&*env.path().display().to_string()).count(),
        8,
        "{list}"
    );
}

/// Pins: a skeleton depends on the busybox whose `--list` made its links;
/// another busybox gets a skeleton of its own, the old one is untouched.
#[test]
fn another_busybox_gets_its_own_skeleton() {
    let env = Env::new();
    ok(&env.stage("c1"));
    let bb = env.path().join("tools/busybox");
    let text = fs::read_to_string(&bb)
        .unwrap()
        .replace(" mount", " mount vi");
    fs::write(&bb, text).unwrap();
    ok(&env.stage("c2"));
    assert_eq!(env.published().len(), 2);
    let lower = |c: &str| skeleton_of(&env.path().join(c));
    assert_ne!(lower("c1"), lower("c2"));
    assert!(Path::new(&lower("c2"))
        .join("bin/vi")
        .symlink_metadata()
        .is_ok());
    assert!(Path::new(&lower("c1"))
        .join("bin/vi")
        .symlink_metadata()
        .is_err());
}

/// Pins: a store that is a symlink is refused before anything is written.
#[test]
fn a_symlinked_store_is_refused() {
    let env = Env::new();
    let elsewhere = env.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, env.store()).unwrap();
    fails(&env.stage("c1"), UNSAFE, "skeleton store");
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
    assert!(!env.path().join("c1").exists(), "a target was written");
}

/// Pins: a store others may write is refused (anyone could plant a tree).
#[test]
fn a_store_writable_by_others_is_refused() {
    let env = Env::new();
    fs::create_dir(env.store()).unwrap();
    fs::set_permissions(env.store(), fs::Permissions::from_mode(0o777)).unwrap();
    fails(&env.stage("c1"), UNSAFE, "writable by no one else");
}

/// Pins: a symlink planted under the skeleton's name is never followed.
#[test]
fn a_symlink_planted_as_the_skeleton_is_refused() {
    let env = Env::new();
    ok(&env.stage("c1"));
    let name = env.published()[0].clone();
    let skel = env.store().join(&name);
    let moved = env.path().join("moved");
    fs::rename(&skel, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &skel).unwrap();
    fails(&env.stage("c2"), UNSAFE, "symlink is never followed");
    assert!(!env.path().join("c2/config").exists());
}

/// Pins: a skeleton whose stamp is not the one its name stands for (edited,
/// or another skeleton renamed into its place) is refused, not repaired.
#[test]
fn a_tampered_stamp_is_refused() {
    let env = Env::new();
    ok(&env.stage("c1"));
    let stamp = env.store().join(&env.published()[0]).join("stamp");
    let text = fs::read_to_string(&stamp).unwrap();
    fs::set_permissions(&stamp, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&stamp, text.replace("artifacts ", "artifacts 0")).unwrap();
    fails(&env.stage("c2"), DATA, "fails its stamp check");
    assert!(!env.path().join("c2/config").exists());
    // A group-writable tree inside is refused as well.
    fs::write(&stamp, text).unwrap();
    ok(&env.stage("c2"));
    let rootfs = env.store().join(&env.published()[0]).join("rootfs");
    fs::set_permissions(&rootfs, fs::Permissions::from_mode(0o775)).unwrap();
    fails(&env.stage("c3"), UNSAFE, "writable by no one else");
}

/// Pins: a changed tree is found by `skeletons list` (exit 65), which
/// recomputes the digest the stamp records.
#[test]
fn list_finds_a_changed_tree() {
    let env = Env::new();
    ok(&env.stage("c1"));
    let lxcpath = env.path().to_str().unwrap().to_string();
    let clean = ok(&env.skeletons(&["list", "--lxcpath", &lxcpath]));
    assert!(clean.contains(" ok; used by "), "{clean}");
    let passwd = env
        .store()
        .join(&env.published()[0])
        .join("rootfs/etc/passwd");
    fs::write(&passwd, "root::0:0::/:/bin/sh\n").unwrap();
    let o = env.skeletons(&["list", "--lxcpath", &lxcpath]);
    assert_eq!(o.status.code(), Some(DATA));
    assert!(String::from_utf8_lossy(&o.stdout).contains("FAILS CHECK: the tree changed"));
}

/// Pins: a symlink in the container's upper path is never followed.
#[test]
fn a_symlink_in_the_upper_dir_is_refused() {
    let env = Env::new();
    let outside = env.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::create_dir_all(env.path().join("c1/rootfs")).unwrap();
    std::os::unix::fs::symlink(&outside, env.path().join("c1/rootfs/etc")).unwrap();
    fails(&env.stage("c1"), UNSAFE, "symlink");
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    fs::remove_dir_all(env.path().join("c1")).unwrap();
    fs::create_dir(env.path().join("c1")).unwrap();
    std::os::unix::fs::symlink(&outside, env.path().join("c1/rootfs")).unwrap();
    fails(&env.stage("c1"), UNSAFE, "rootfs");
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
}

/// Pins: prune removes the skeletons no container uses and the temp dirs
/// of killed fills, and keeps one in use, even when the config names it
/// through another spelling of the store's path, and a fill in progress.
#[test]
fn prune_keeps_what_is_in_use_and_removes_the_rest() {
    let env = Env::new();
    let lxc = env.path().join("lxc");
    fs::create_dir(&lxc).unwrap();
    ok(&env.stage("lxc/old"));
    let bb = env.path().join("tools/busybox");
    fs::write(
        &bb,
        fs::read_to_string(&bb)
            .unwrap()
            .replace(" mount", " mount vi"),
    )
    .unwrap();
    ok(&env.stage("lxc/new"));
    assert_eq!(env.published().len(), 2);
    let used = skeleton_of(&lxc.join("new"));
    // `new` names its skeleton through a symlink to the store.
    std::os::unix::fs::symlink(env.store(), env.path().join("alias")).unwrap();
    let config = fs::read_to_string(lxc.join("new/config")).unwrap();
    let alias = env.path().join("alias").display().to_string();
    fs::write(
        lxc.join("new/config"),
        config.replace(&env.store().display().to_string(), &alias),
    )
    .unwrap();
    fs::remove_dir_all(lxc.join("old")).unwrap();
    let dead = env.store().join(".deadbeef.abc123");
    fs::create_dir(&dead).unwrap();
    let live = env.store().join(".cafe.live01");
    fs::create_dir(&live).unwrap();
    let mut holder = Command::new("flock")
        .arg(&live)
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = ok(&env.skeletons(&["prune", "--lxcpath", lxc.to_str().unwrap()]));
    holder.kill().unwrap();
    let _ = holder.wait();
    assert_eq!(env.published().len(), 1, "{out}");
    assert!(
        Path::new(&used).is_dir(),
        "a skeleton in use was removed: {out}"
    );
    assert!(!dead.exists(), "{out}");
    assert!(live.exists(), "a live fill was removed: {out}");
    assert!(out.contains("kept .cafe.live01 filling"), "{out}");
    // prune needs to know where the containers are.
    let o = env.skeletons(&["prune"]);
    assert_eq!(o.status.code(), Some(common::code::USAGE));
}

/// Pins: gen refuses overlay where it cannot work, at the profile's line.
#[test]
fn gen_refuses_overlay_with_lxc2_shared_bin_or_a_colon() {
    let tmp = TempDir::new().unwrap();
    let cases = [
        ("lxc.dialect=lxc2", "needs the `lxc3` dialect"),
        ("busybox.shared-bin=/var/lib/x", "cannot be combined"),
        ("container.skeleton-store=/var/lib/a:b", "must not hold `:`"),
        ("container.skeleton-store=/", "must not be `/`"),
        ("container.skeleton-store=/usr", "is a system directory"),
        ("container.skeleton-store=/var/lib", "is a system directory"),
    ];
    for (set, needle) in cases {
        let o = Gen::new()
            .profile(root().join("profiles/overlay.toml"))
            .out(tmp.path())
            .set(set)
            .run();
        fails(&o, CONFIG, needle);
    }
    // rootfs = dir ignores the store: the plain tree, the default's stage.toml.
    Gen::new()
        .profile(root().join("profiles/overlay.toml"))
        .out(tmp.path())
        .set("container.rootfs=dir")
        .ok();
    let spec = fs::read_to_string(tmp.path().join("stage.toml")).unwrap();
    assert!(!spec.contains("skeleton-store"), "{spec}");
}

/// Issue 23: a kernel (or qemu-user, or seccomp policy) without
/// `renameat2` cannot publish a skeleton without racing other stages; the
/// stage says which call is missing and which Linux brought it (exit 69),
/// and leaves no temp dir in the store.
#[test]
fn a_kernel_without_renameat2_is_told_which_call_and_release() {
    if !have("cc") {
        return;
    }
    let env = Env::new();
    let c = env.stage_cmd("c");
    let mut w = Command::new(common::nosys::helper());
    w.arg("renameat2")
        .arg(env!("CARGO_BIN_EXE_scgen"))
        .args(c.get_args());
    w.env_remove("GATEWAY_DIR");
    let o = run(&mut w);
    fails(
        &o,
        common::code::UNAVAILABLE,
        "renameat2 is not implemented here",
    );
    fails(&o, common::code::UNAVAILABLE, "needs Linux 3.15 or newer");
    assert!(env.published().is_empty(), "a skeleton was published");
    let left: Vec<_> = fs::read_dir(env.store()).unwrap().collect();
    assert!(left.is_empty(), "left in the store: {left:?}");
}

crate::rerun!();
