//! `scgen verify` (issue 22, item 11) on trees the real stage made: clean
//! ones pass with the stage's host-dependent files listed as such; tampered
//! ones are reported in mtree's terms with exit 3; planted symlinks, FIFOs
//! and devices are reported, never followed or opened; nothing is written.

mod common;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

use common::guard::run_within;
use common::stage::*;
use common::*;

const DRIFT: i32 = scgen::exit::DRIFT as i32;

fn verify(art: &Path, tree: &Path, extra: &[&str]) -> Output {
    let mut c = scgen();
    c.arg("verify")
        .arg("--artifacts")
        .arg(art)
        .args(extra)
        .arg(tree);
    run_within(&c, "verify")
}

/// The default profile's artifacts made privileged (`container.idmap =
/// []`), for trees the stage makes here as the host's root: the default's
/// are id-mapped, and their entries belong on the host to uid 100000,
/// which only a stage run by LXC in the container's namespace gives them.
fn privileged(env: &Env) -> std::path::PathBuf {
    let art = env.path().join("art-privileged");
    Gen::new().out(&art).set("container.idmap=[]").ok();
    art
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Pins the clean case on a real stage: exit 0, every manifest entry
/// checked, the stage's machine-id, resolv.conf and applet links listed as
/// host-dependent (not extra), and the JSON form saying the same.
#[test]
fn a_freshly_staged_container_verifies() {
    let env = Env::new();
    let art = privileged(&env);
    expect_ok(&env.stage_into(&art, "c"), "stage");
    let c = env.path().join("c");
    let o = verify(&art, &c, &[]);
    expect_ok(&o, "verify");
    let text = out(&o);
    assert!(text.contains("0 missing, 0 changed, 0 extra"), "{text}");
    assert!(text.contains("host ./etc/machine-id type=file"), "{text}");
    assert!(text.contains("host ./etc/resolv.conf type=file"), "{text}");
    // The stand-in busybox lists cat ls sh iptables mount.
    assert!(text.contains("host ./bin/*: 5 links to busybox"), "{text}");
    let manifest = read(&art.join("rootfs.mtree"));
    let entries = manifest.lines().filter(|l| l.starts_with("./")).count();
    assert!(
        text.contains(&format!(": {entries} entries of rootfs.mtree")),
        "{text}"
    );

    let o = verify(&art, &c.join("rootfs"), &["--format", "json"]);
    expect_ok(&o, "verify the rootfs, json");
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["checked"], entries);
    assert_eq!(v["missing"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(v["host"].as_array().unwrap().len(), 7, "{v}");
}

/// Pins each keyword on a tampered container: a removed directory
/// (missing), a file edited to the same size (sha256digest), one grown
/// (size), a chmod (mode), a chown (uid, gid), an added file (extra), and
/// a busybox link made elsewhere than `bin/` (extra, not host-dependent),
/// a sparse terabyte file (size; verify finishes without reading it);
/// exit 3 with the counts on stderr, and verify itself writes nothing.
#[test]
fn a_tampered_container_is_reported_in_mtree_terms() {
    let env = Env::new();
    let art = privileged(&env);
    expect_ok(&env.stage_into(&art, "c"), "stage");
    let r = env.path().join("c/rootfs");
    fs::remove_dir(r.join("home")).unwrap();
    let passwd = read(&r.join("etc/passwd"));
    fs::write(r.join("etc/passwd"), passwd.replacen("root", "r00t", 1)).unwrap();
    fs::write(
        r.join("etc/group"),
        format!("{}x\n", read(&r.join("etc/group"))),
    )
    .unwrap();
    fs::set_permissions(r.join("tmp"), fs::Permissions::from_mode(0o777)).unwrap();
    std::os::unix::fs::lchown(r.join("etc/pulse"), Some(1), Some(2)).unwrap();
    fs::write(r.join("sbin/backdoor"), "#!/bin/sh\n").unwrap();
    symlink("busybox", r.join("sbin/sh")).unwrap();
    let before = dir_fingerprint(&r);

    let o = verify(&art, &env.path().join("c"), &[]);
    expect(&o, DRIFT, "tampered");
    let text = out(&o);
    for line in [
        "missing ./home type=dir",
        "changed ./etc/passwd sha256digest (expected ",
        "changed ./etc/group size (expected 14, found 16)",
        "changed ./tmp mode (expected 1777, found 0777)",
        "changed ./etc/pulse uid (expected 0, found 1)",
        "changed ./etc/pulse gid (expected 0, found 2)",
        "extra ./sbin/backdoor type=file",
        "extra ./sbin/sh type=link link=busybox",
        "1 missing, 5 changed, 2 extra",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
    assert!(!text.contains("changed ./etc/passwd size"), "{text}");
    assert!(
        stderr(&o).contains("differs from rootfs.mtree"),
        "{}",
        stderr(&o)
    );
    assert_eq!(dir_fingerprint(&r), before, "verify wrote into the tree");

    // A sparse terabyte where a 16-byte file belongs: a size change, never
    // read (verify has the suite's deadline).
    let big = fs::OpenOptions::new()
        .write(true)
        .open(r.join("etc/pulse/client.conf"))
        .unwrap();
    big.set_len(1 << 40).unwrap();
    drop(big);
    let o = verify(&art, &env.path().join("c"), &[]);
    expect(&o, DRIFT, "sparse terabyte");
    let line = "changed ./etc/pulse/client.conf size (expected 16, found 1099511627776)";
    assert!(out(&o).contains(line), "{}", out(&o));
}

/// Pins the descriptor walk: where the manifest has files, a symlink to a
/// host file, a FIFO and a character device are reported as a type change
/// (the link's target is never read, the FIFO never blocks, the device is
/// never opened); a `rootfs` that is a symlink is not followed (the
/// container dir itself is walked, the link reported as extra); a link in
/// the manifest pointing elsewhere is a `link` change.
#[test]
fn links_fifos_and_devices_are_reported_never_followed_or_opened() {
    let env = Env::new();
    let art = generated("yocto");
    let gw = env.path().join("gw");
    fs::create_dir(&gw).unwrap();
    let mut stage = env.stage(&art);
    stage
        .arg("--path")
        .arg(env.path().join("c"))
        .arg("--gateway-dir")
        .arg(&gw);
    expect_ok(&run(&mut stage), "stage");
    let r = env.path().join("c/rootfs");
    let secret = host_file(&env, "secret", b"host secret\n");
    fs::remove_file(r.join("etc/passwd")).unwrap();
    symlink(&secret, r.join("etc/passwd")).unwrap();
    fs::remove_file(r.join("etc/group")).unwrap();
    assert!(run(Command::new("mkfifo").arg(r.join("etc/group")))
        .status
        .success());
    let manifest = read(&art.join("rootfs.mtree"));
    let (link, _) = manifest
        .lines()
        .find_map(|l| l.split_once(" type=link "))
        .expect("the yocto manifest has applet links");
    let link = link.trim_start_matches("./");
    fs::remove_file(r.join(link)).unwrap();
    symlink("/bin/busybox", r.join(link)).unwrap();
    let dev = is_root() && {
        let p = r.join("etc/pulse/client.conf");
        fs::remove_file(&p).unwrap();
        run(Command::new("mknod").arg(&p).args(["c", "1", "3"]))
            .status
            .success()
    };

    let o = verify(&art, &env.path().join("c"), &[]);
    expect(&o, DRIFT, "planted entries");
    let text = out(&o);
    assert!(
        text.contains("changed ./etc/passwd type (expected file, found link)"),
        "{text}"
    );
    assert!(
        text.contains("changed ./etc/group type (expected file, found fifo)"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "changed ./{link} link (expected busybox, found /bin/busybox)"
        )),
        "{text}"
    );
    if dev {
        assert!(
            text.contains("changed ./etc/pulse/client.conf type (expected file, found char)"),
            "{text}"
        );
    }

    // A rootfs that is a symlink to the host's /etc: not followed.
    let c2 = env.path().join("c2");
    fs::create_dir(&c2).unwrap();
    symlink("/etc", c2.join("rootfs")).unwrap();
    let o = verify(&art, &c2, &[]);
    expect(&o, DRIFT, "rootfs symlink");
    assert!(
        out(&o).contains("extra ./rootfs type=link link=/etc"),
        "{}",
        out(&o)
    );
    assert!(
        !out(&o).contains("./passwd"),
        "followed the link: {}",
        out(&o)
    );
}

/// Pins the owner: an id-mapped profile's manifest entries belong, on the
/// host, to the root its `lxc.idmap` maps (100000), which is the default;
/// `--owner` overrides it; a tree owned that way verifies clean.
#[test]
fn id_mapped_trees_are_checked_against_the_mapped_root() {
    let env = Env::new();
    let art = generated("default");
    expect_ok(&env.stage_into(&art, "c"), "stage");
    let c = env.path().join("c");
    if !is_root() {
        return;
    }
    let o = verify(&art, &c, &[]);
    expect(&o, DRIFT, "root-owned tree, id-mapped artifacts");
    assert!(
        out(&o).contains("changed ./etc uid (expected 100000, found 0)"),
        "{}",
        out(&o)
    );
    expect_ok(&verify(&art, &c, &["--owner", "0:0"]), "--owner 0:0");
    let o = run(Command::new("chown")
        .args(["-hR", "100000:100000"])
        .arg(c.join("rootfs")));
    assert!(o.status.success());
    expect_ok(&verify(&art, &c, &[]), "mapped root's tree");
    let o = verify(&art, &c, &["--owner", "x"]);
    expect(&o, code::USAGE, "bad --owner");
}

/// Pins verify of an overlay skeleton (`<store>/<name>`): the shared tree,
/// applet links included as host-dependent, verifies clean; tampered
/// artifacts are refused (65) before the tree is read.
#[test]
fn a_skeleton_verifies_and_tampered_artifacts_are_refused() {
    let env = common::overlay::OverlayEnv::new();
    expect_ok(&env.stage("c1"), "overlay stage");
    let skeleton = env.skeleton();
    // The stage ran here as the host's root, not in a container's user
    // namespace: the skeleton is root's, which --owner says.
    let o = verify(&env.art(), &skeleton, &["--owner", "0:0"]);
    expect_ok(&o, "skeleton");
    assert!(out(&o).contains("links to busybox"), "{}", out(&o));
    // The container itself: pointed at its skeleton.
    let o = verify(&env.art(), &env.path().join("c1"), &[]);
    expect(&o, code::USAGE, "overlay container");
    assert!(
        stderr(&o).contains(&skeleton.display().to_string()),
        "{}",
        stderr(&o)
    );
    // A skeleton whose tmp others may write is a mode change.
    fs::set_permissions(
        skeleton.join("rootfs/tmp"),
        fs::Permissions::from_mode(0o1777),
    )
    .unwrap();
    let o = verify(&env.art(), &skeleton, &["--owner", "0:0"]);
    expect(&o, DRIFT, "skeleton tmp 1777");
    assert!(
        out(&o).contains("changed ./tmp mode (expected 1755, found 1777)"),
        "{}",
        out(&o)
    );

    let bad = artifacts_copy("default");
    let m = bad.path().join("rootfs.mtree");
    fs::write(&m, format!("{}./x type=dir mode=0755\n", read(&m))).unwrap();
    let o = verify(bad.path(), &env.path().join("c1"), &[]);
    expect(&o, code::DATA, "mtree not matching SHA256SUMS");
    assert!(stderr(&o).contains("rootfs.mtree"), "{}", stderr(&o));
}
