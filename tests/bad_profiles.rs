//! Bad profiles: every kind of mistake exits 78 (EX_CONFIG), writes
//! nothing, and prints exactly the committed `tests/bad-profiles/NAME.stderr`:
//! the file, `line:col` and a caret under the culprit, and a hint.
//!
//! `BLESS=1 cargo test --test bad_profiles` rewrites the .stderr files
//! (the same switch as every golden file); review the diff before
//! committing it.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use pretty_assertions::assert_eq;

const DIR: &str = "tests/bad-profiles";

/// Runs `scgen gen --profile PROFILE [--set S]... --out TMP/out` from the
/// crate root (so messages name relative paths) and checks the outcome
/// against `tests/bad-profiles/NAME.stderr`.
fn check(name: &str, profile: &str, sets: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = sets
        .iter()
        .fold(Gen::new().cwd(root()).profile(profile).out(&out), |g, s| {
            g.set(s)
        })
        .run();
    let stderr = String::from_utf8(o.stderr).expect("stderr is UTF-8");
    assert_eq!(
        o.status.code(),
        Some(code::CONFIG),
        "{name}: want exit 78 (EX_CONFIG)\nstderr:\n{stderr}"
    );
    assert!(
        !out.exists(),
        "{name}: a failed gen created {}",
        out.display()
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "",
        "{name}: a failed gen reported on stdout"
    );
    assert_shape(name, &stderr, if sets.is_empty() { DIR } else { "--set" });

    ensure_file_contents(
        &root().join(DIR).join(format!("{name}.stderr")),
        stderr.as_bytes(),
    );
}

/// What every message must have, whatever its wording: one error, a
/// `--> origin:line:col` under it, a caret, and a hint.
fn assert_shape(name: &str, stderr: &str, origin: &str) {
    assert!(
        stderr.starts_with("error: "),
        "{name}: no `error:` first\n{stderr}"
    );
    assert_eq!(
        stderr.matches("\nerror: ").count(),
        0,
        "{name}: more than one error\n{stderr}"
    );
    let arrow = stderr
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))
        .unwrap_or_else(|| panic!("{name}: no `--> file:line:col`\n{stderr}"));
    assert!(
        arrow.starts_with(origin),
        "{name}: `--> {arrow}` does not name {origin}\n{stderr}"
    );
    let mut parts = arrow.rsplitn(3, ':');
    let col = parts.next().unwrap_or("");
    let line = parts.next().unwrap_or("");
    assert!(
        col.parse::<usize>().is_ok() && line.parse::<usize>().is_ok(),
        "{name}: `--> {arrow}` has no line:col\n{stderr}"
    );
    assert!(
        stderr.lines().any(|l| l.contains('|') && l.contains('^')),
        "{name}: no caret\n{stderr}"
    );
    assert!(stderr.contains("= help: "), "{name}: no hint\n{stderr}");
    assert!(
        !stderr.contains(&*root().to_string_lossy()),
        "{name}: message names an absolute path\n{stderr}"
    );
    assert!(
        !stderr.contains("Raw") && !stderr.contains("u32"),
        "{name}: message names a Rust type\n{stderr}"
    );
}

/// One test per fixture `tests/bad-profiles/NAME.toml`.
macro_rules! bad_profiles {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let name = stringify!($name);
                check(name, &format!("{DIR}/{name}.toml"), &[]);
            }
        )*
        const PROFILES: &[&str] = &[$(stringify!($name)),*];
    };
}

/// One test per bad `--set` on top of a good profile.
macro_rules! bad_sets {
    ($($name:ident: $profile:literal, [$($set:literal),*];)*) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name), $profile, &[$($set),*]);
            }
        )*
        const SETS: &[&str] = &[$(stringify!($name)),*];
    };
}

bad_profiles! {
    toml_syntax,
    duplicate_key,
    table_expected,
    unknown_top_level_key,
    unknown_nested_key,
    unknown_install_key,
    tty_max_string,
    pty_max_negative,
    unknown_dialect,
    prefix_root,
    prefix_relative,
    prefix_dotdot,
    prefix_newline_injection,
    uts_name_space,
    uts_name_hash,
    uts_name_newline,
    halt_signal_without_sig,
    halt_signal_near_miss,
    halt_signal_rtmin_bare,
    mount_auto_bad_token,
    mount_target_absolute,
    mount_target_under_file,
    prefix_under_placeholder,
    mount_source_relative,
    mount_missing_source,
    mount_option_space,
    mount_option_comma,
    gateways_mode_bad,
    gateways_mode_integer,
    applets_and_links_file,
    applet_bad_name,
    links_file_missing,
    links_file_bad_line,
    extends_cycle_a,
    extends_cycle_b,
    extends_missing,
    bridge_name_too_long,
    interface_name_dotdot,
    gateways_slave_lxc2,
    security_cap_typo,
    security_keep_misses_gateway_need,
    security_keep_and_drop,
    security_seccomp_relative,
    security_device_injection,
    security_memory_bad,
    security_disk_bad,
    security_disk_too_big,
    security_lxc2,
    idmap_host_root,
    idmap_no_group_root,
    idmap_overlap,
    idmap_bad_kind,
    idmap_injection,
    replace_unknown_list,
    mounts_single_brackets,
    mount_fstype_hash,
}

bad_sets! {
    set_unknown_key: "profiles/default.toml", ["container.uts_name=box"];
    set_unknown_table: "profiles/default.toml", ["instal.prefix=/opt"];
    set_bad_value: "profiles/default.toml", ["container.tty-max=many"];
    set_bad_prefix: "profiles/network.toml", ["install.prefix=opt"];
    set_bad_dialect: "profiles/default.toml", ["lxc.dialect=lxc4"];
    set_injection: "profiles/default.toml", ["container.uts-name=\"x\\nlxc.rootfs.path = dir:/\""];
    set_last_wins: "profiles/default.toml", ["container.uts-name=ok", "container.uts-name=not ok"];
}

fn files_with(ext: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join(DIR))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .map(|p| stem(&p))
        .collect();
    names.sort();
    names
}

fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

/// A fixture without a test, or a .stderr nobody compares, is a test that
/// silently stopped running.
#[test]
fn every_fixture_has_a_test_and_every_test_a_golden() {
    let mut tested: Vec<String> = PROFILES.iter().map(|s| s.to_string()).collect();
    tested.sort();
    assert_eq!(files_with("toml"), tested, "tests/bad-profiles/*.toml");
    let mut with_golden: Vec<String> = tested.clone();
    with_golden.extend(SETS.iter().map(|s| s.to_string()));
    with_golden.sort();
    assert_eq!(
        files_with("stderr"),
        with_golden,
        "tests/bad-profiles/*.stderr"
    );
}

/// The fixtures are bad only where they mean to be: the same binary takes
/// the shipped profiles, and the good half of a `--set` test alone.
#[test]
fn control_good_profiles_and_sets_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str])] = &[
        ("profiles/default.toml", &[]),
        ("profiles/yocto.toml", &[]),
        ("profiles/default.toml", &["container.uts-name=ok"]),
        ("profiles/default.toml", &["container.tty-max=4"]),
        ("profiles/network.toml", &["install.prefix=/opt/app"]),
        ("profiles/default.toml", &["lxc.dialect=lxc2"]),
    ];
    for (i, (profile, sets)) in cases.iter().enumerate() {
        let out: PathBuf = tmp.path().join(i.to_string());
        let mut cmd = scgen();
        cmd.current_dir(root())
            .args(["gen", "--profile", profile])
            .arg("--out")
            .arg(&out);
        for s in *sets {
            cmd.args(["--set", s]);
        }
        let o = run(&mut cmd);
        assert!(
            o.status.success(),
            "{profile} {sets:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.join("softwarecontainer.conf").is_file());
    }
}

/// Issue 22 item 8: one run reports every problem of a profile, the
/// strict parse's (unknown key, wrong type) and the checks' alike, in the
/// order of the files (base first, `--set`s last), and then how many.
#[test]
fn every_error_of_a_profile_in_one_run_in_file_order() {
    let tmp = tempfile::tempdir().unwrap();
    let o = Gen::new()
        .cwd(root())
        .profile("tests/cli-output/many_errors.toml")
        .set("container.pty-max=lots")
        .out(tmp.path().join("out"))
        .run();
    assert_eq!(o.status.code(), Some(code::CONFIG));
    assert!(!tmp.path().join("out").exists());
    let stderr = String::from_utf8(o.stderr).unwrap();
    ensure_file_contents(
        &root().join("tests/cli-output/many_errors.stderr"),
        stderr.as_bytes(),
    );
    let lines: Vec<usize> = stderr
        .lines()
        .filter_map(|l| {
            l.trim_start()
                .strip_prefix("--> tests/cli-output/many_errors.toml:")
        })
        .map(|at| at.split(':').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(lines, [7, 10, 11, 12, 15, 19, 23], "{stderr}");
    assert!(
        stderr.contains("--> --set:1:"),
        "the --set's error is missing:\n{stderr}"
    );
    assert!(
        stderr.rfind("many_errors.toml:23").unwrap() < stderr.find("--> --set").unwrap(),
        "the --set is not last:\n{stderr}"
    );
    assert!(
        stderr
            .trim_end()
            .ends_with("error: 8 problems; nothing was written"),
        "{stderr}"
    );
}
