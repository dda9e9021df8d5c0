//! `scgen stage` and the binds' host sources (issue 22, item 9): a bind
//! whose source is missing on the host is refused before any write (exit
//! 66), an `optional` one is not, the check reads the container's existing
//! config only as the write would (never through a symlink, a FIFO or a
//! hard link), and a container without a gateway dir is told so.

mod common;

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::guard::run_within;
use common::stage::*;
use common::*;
use tempfile::TempDir;

const MISSING_SOURCE: i32 = scgen::exit::MISSING_SOURCE as i32;

/// Artifacts of the shipped default profile plus one bind of `source`,
/// with `options`, generated into a scratch directory.
fn with_bind(scratch: &Path, source: &Path, options: &str) -> PathBuf {
    let text = fs::read_to_string(root().join("profiles/default.toml")).unwrap();
    fs::create_dir_all(scratch).unwrap();
    let profile = scratch.join("extra.toml");
    fs::write(
        &profile,
        format!(
            "{text}\n[[mounts]]\nsource = \"{}\"\ntarget = \"opt/data\"\noptions = [{options}]\n",
            source.display()
        ),
    )
    .unwrap();
    let out = scratch.join("artifacts");
    gen_into(&profile, &out);
    out
}

/// Pins `binds::check` before the first write: a missing source is exit
/// 66, naming the source and its target, and the container directory is
/// not even created; with the source there, or the mount `optional`, the
/// same stage succeeds.
#[test]
fn missing_bind_source_is_refused_before_any_write() {
    let env = Env::new();
    let scratch = TempDir::new().unwrap();
    let source = env.path().join("data");
    let art = with_bind(scratch.path(), &source, "\"ro\", \"bind\"");
    let c = env.path().join("c");

    let o = run(env.stage(&art).arg("--path").arg(&c));
    expect(&o, MISSING_SOURCE, "bind of a missing source");
    let err = stderr(&o);
    assert!(
        err.contains(&source.display().to_string()) && err.contains("opt/data"),
        "{err}"
    );
    assert!(err.contains("optional"), "no hint: {err}");
    assert!(!c.exists(), "the stage wrote before refusing");

    // A file in place of a parent directory is as missing.
    fs::write(env.path().join("file"), "").unwrap();
    let art2 = with_bind(
        &scratch.path().join("two"),
        &env.path().join("file/data"),
        "\"ro\", \"bind\"",
    );
    let o = run(env.stage(&art2).arg("--path").arg(&c));
    expect(&o, MISSING_SOURCE, "bind below a file");
    assert!(!c.exists());

    fs::create_dir(&source).unwrap();
    let o = run(env.stage(&art).arg("--path").arg(&c));
    expect_ok(&o, "source present");
    assert!(read(&c.join("config")).contains(&format!(
        "lxc.mount.entry = {} opt/data none ro,bind 0 0",
        source.display()
    )));

    let optional = with_bind(
        &scratch.path().join("opt"),
        &env.path().join("absent"),
        "\"ro\", \"bind\", \"optional\"",
    );
    let o = run(env.stage(&optional).arg("--path").arg(env.path().join("o")));
    expect_ok(&o, "optional bind of a missing source");
}

/// Pins that the check reads the config lxc-create wrote (the one the
/// stage builds on), so a bind the integrator's `-f` file adds is checked
/// too; that a refused run leaves that config and the container dir as
/// they were; and that the previous run's block (which the stage rewrites)
/// is not held against the container.
#[test]
fn the_existing_container_config_is_checked_and_left_alone() {
    let env = Env::new();
    let art = generated("default");
    let c = env.path().join("c");
    fs::create_dir(&c).unwrap();
    let missing = env.path().join("gone");
    let conf = format!(
        "{}lxc.mount.entry = {} mnt none rw,bind 0 0\n",
        read(&art.join("softwarecontainer.conf")),
        missing.display()
    );
    fs::write(c.join("config"), &conf).unwrap();
    let before = dir_fingerprint(&c);
    let o = run(env.stage(&art).arg("--path").arg(&c));
    expect(&o, MISSING_SOURCE, "bind in the existing config");
    assert!(stderr(&o).contains(&missing.display().to_string()));
    assert_eq!(dir_fingerprint(&c), before, "a refused stage wrote");

    // A stale block of a previous run naming a busybox that is gone is
    // replaced, not refused.
    let block = format!(
        "{}# >>> scgen stage: host-dependent lines, rewritten by every run\nlxc.mount.entry = {} bin/busybox none ro,bind 0 0\n# <<< scgen stage\n",
        read(&art.join("softwarecontainer.conf")),
        missing.display()
    );
    fs::write(c.join("config"), block).unwrap();
    expect_ok(&run(env.stage(&art).arg("--path").arg(&c)), "stale block");
    assert!(!read(&c.join("config")).contains(&missing.display().to_string()));
}

/// Pins that the check opens nothing the write would not: a container
/// `config` that is a symlink to a host file, a hard link to one, or a
/// FIFO is not read (the static config is checked instead), the stage
/// neither hangs nor refuses, the host file is unchanged, and the config
/// is replaced by a fresh file.
#[test]
fn the_check_never_reads_through_links_or_fifos() {
    let env = Env::new();
    let art = generated("default");
    let secret = host_file(
        &env,
        "secret",
        format!(
            "lxc.mount.entry = {} mnt none rw,bind 0 0\n",
            env.path().join("gone").display()
        )
        .as_bytes(),
    );
    let before = fingerprint(&secret);
    for (name, plant) in [("sym", 0), ("hard", 1), ("fifo", 2)] {
        let c = env.path().join(name);
        fs::create_dir(&c).unwrap();
        let config = c.join("config");
        match plant {
            0 => symlink(&secret, &config).unwrap(),
            1 => fs::hard_link(&secret, &config).unwrap(),
            _ => assert!(run(Command::new("mkfifo").arg(&config)).status.success()),
        }
        let mut cmd = env.stage(&art);
        cmd.arg("--path").arg(&c);
        let o = run_within(&cmd, name);
        expect_ok(&o, &format!("config planted as {name}"));
        fresh_file(&config, 0o644, None);
        assert!(!read(&config).contains("gone"), "{name}: read the plant");
    }
    assert_eq!(fingerprint(&secret), before, "the host file changed");
    assert_eq!(fs::metadata(&secret).unwrap().nlink(), 1);

    // A container dir that is a symlink is still refused (77), not read.
    let real = env.path().join("real");
    fs::create_dir(&real).unwrap();
    fs::copy(&secret, real.join("config")).unwrap();
    let link = env.path().join("link");
    symlink(&real, &link).unwrap();
    let o = run(env.stage(&art).arg("--path").arg(&link));
    expect(&o, code::UNSAFE, "container dir that is a symlink");
}

/// Pins the note: a stage with no gateway dir (none given, no
/// $GATEWAY_DIR, none in the profile) says on stderr that the container
/// gets no /gateways mount; with one, it says nothing of the kind.
#[test]
fn a_container_without_gateway_dir_is_told_so() {
    let env = Env::new();
    let art = generated("default");
    let o = env.stage_into(&art, "bare");
    expect_ok(&o, "no gateway dir");
    assert!(
        stderr(&o).contains("no gateway dir") && stderr(&o).contains("/gateways"),
        "{}",
        stderr(&o)
    );
    assert!(!read(&env.path().join("bare/config")).contains("/gateways"));

    let gw = env.path().join("gw");
    fs::create_dir(&gw).unwrap();
    let o = run(env
        .stage(&art)
        .arg("--path")
        .arg(env.path().join("with"))
        .arg("--gateway-dir")
        .arg(&gw));
    expect_ok(&o, "gateway dir given");
    assert!(!stderr(&o).contains("gateway"), "{}", stderr(&o));
}
