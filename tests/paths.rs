//! Paths that are not plain: non-UTF-8, very long, with spaces. Each is
//! either handled with correct escaping or refused with a clear error and
//! nothing written.

mod common;

use common::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

fn non_utf8(base: &std::path::Path) -> PathBuf {
    base.join(OsStr::from_bytes(b"caf\xe9 dir"))
}

#[test]
fn gen_writes_into_a_non_utf8_out_dir_with_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = non_utf8(tmp.path());
    gen_into(&root().join("profiles/default.toml"), &out);
    for entry in std::fs::read_dir(root().join("generated/default")).unwrap() {
        let entry = entry.unwrap();
        assert!(
            std::fs::read(out.join(entry.file_name())).unwrap()
                == std::fs::read(entry.path()).unwrap()
        );
    }
}

#[test]
fn a_profile_whose_name_cannot_name_a_directory_is_a_config_error() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join(OsStr::from_bytes(b"caf\xe9.toml"));
    std::fs::copy(root().join("profiles/default.toml"), &profile).unwrap();
    let o = run(scgen()
        .arg("gen")
        .arg("--profile")
        .arg(&profile)
        .current_dir(tmp.path()));
    assert_eq!(
        o.status.code(),
        Some(code::CONFIG),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot name an output directory"));
    assert!(!tmp.path().join("generated").exists());
}

/// The stage writes host paths into the LXC config: one that is not UTF-8
/// (or too long for Linux) is refused before anything is created.
#[test]
fn stage_refuses_targets_it_cannot_write_into_a_config() {
    let tmp = tempfile::tempdir().unwrap();
    let art = root().join("generated/default");
    let long = tmp.path().join("x".repeat(5000));
    for (flag, value, code, says) in [
        ("--path", non_utf8(tmp.path()), code::UNSAFE, "not UTF-8"),
        (
            "--gateway-dir",
            {
                let d = non_utf8(tmp.path());
                std::fs::create_dir_all(&d).unwrap();
                d
            },
            77,
            "not UTF-8",
        ),
        (
            "--path",
            long.clone(),
            code::UNSAFE,
            "cannot go into an LXC config",
        ),
    ] {
        let c = tmp.path().join("c");
        let mut cmd = scgen();
        cmd.args(["stage", "--artifacts"])
            .arg(&art)
            .arg(flag)
            .arg(&value);
        if flag != "--path" {
            cmd.arg("--path").arg(&c);
        }
        let o = run(&mut cmd);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{flag} {value:?}: {err}");
        assert!(err.contains(says), "{flag}: {err}");
        assert!(
            !c.exists() && !long.exists(),
            "{flag}: something was created"
        );
    }
}

/// A space in the container path ends up in `lxc.rootfs.path` verbatim (it
/// is not an fstab field), in the mount entries fstab-escaped, and in the
/// pre-mount hook shell-quoted. The
/// gateway dir is bound as LXC's mount tunnel by default, whose token
/// cannot hold a space: refused before anything is written, with the way
/// out; with `gateways.slave = false` it is an escaped bind like the rest.
#[test]
fn stage_escapes_spaces_in_mount_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let gw = tmp.path().join("gate way");
    std::fs::create_dir(&gw).unwrap();
    let c = tmp.path().join("my container");
    let stage = |art: &std::path::Path| {
        run(scgen()
            .args(["stage", "--artifacts"])
            .arg(art)
            .arg("--path")
            .arg(&c)
            .arg("--gateway-dir")
            .arg(&gw))
    };
    let o = stage(&root().join("generated/default"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code::UNSAFE), "{err}");
    assert!(
        err.contains("' '") && err.contains("gateways.slave=false"),
        "{err}"
    );
    assert!(!c.exists(), "the refused stage wrote {}", c.display());

    let art = tmp.path().join("no-tunnel");
    Gen::new()
        .profile(root().join("profiles/default.toml"))
        .set("gateways.slave=false")
        .out(&art)
        .ok();
    let o = stage(&art);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let config = std::fs::read_to_string(c.join("config")).unwrap();
    assert!(
        config.contains(&format!(
            "lxc.rootfs.path = overlay:{c}/rootfs:{c}/writes/upper\n",
            c = c.display()
        )),
        "{config}"
    );
    // The hook's shell word for the writes dir: quoted, space and all.
    assert!(
        config.contains(&format!(" '{}/writes'\n", c.display())),
        "{config}"
    );
    let escaped = gw.display().to_string().replace(' ', "\\040");
    assert!(
        config.contains(&format!(
            "lxc.mount.entry = {escaped} gateways none rw,bind 0 0\n"
        )),
        "{config}"
    );
}

crate::rerun!();
