//! `scgen skeletons` as an integrator drives it (issue 22, item 10):
//! `--store` after the subcommand, a missing store is an error, `prune
//! --dry-run`, and `--format json`, on a store the real stage filled.

mod common;

use std::fs;
use std::path::Path;
use std::process::Output;

use common::overlay::OverlayEnv as Env;
use common::stage::{expect, expect_ok, stderr};
use common::*;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `scgen ARGS...` with the hostile suites' deadline.
fn scgen_run(args: &[&str]) -> Output {
    let mut c = scgen();
    c.args(args);
    common::guard::run_within(&c, "skeletons")
}

/// Two skeletons in the store: `lxc/b` uses one, the other's container is
/// gone.
fn two_skeletons() -> (Env, String) {
    let env = Env::new();
    let lxc = env.path().join("lxc");
    fs::create_dir(&lxc).unwrap();
    expect_ok(&env.stage("lxc/a"), "stage a");
    let bb = env.path().join("tools/busybox");
    let script = fs::read_to_string(&bb)
        .unwrap()
        .replace(" mount", " mount vi");
    fs::write(&bb, script).unwrap();
    expect_ok(&env.stage("lxc/b"), "stage b");
    fs::remove_dir_all(lxc.join("a")).unwrap();
    assert_eq!(env.published().len(), 2);
    let lxc = lxc.display().to_string();
    (env, lxc)
}

/// Pins the global `--store` (before and after the subcommand give the
/// same report), `--format json` (parsed: both skeletons `ok`, the users
/// of each), and `prune --dry-run` (says `would remove` of the unused one,
/// in text and JSON, and removes nothing; the real prune then removes
/// exactly that one).
#[test]
fn store_after_the_subcommand_json_and_dry_run() {
    let (env, lxc) = two_skeletons();
    let store = env.store().display().to_string();
    let before = scgen_run(&["skeletons", "--store", &store, "list", "--lxcpath", &lxc]);
    expect_ok(&before, "list, --store first");
    let after = scgen_run(&["skeletons", "list", "--lxcpath", &lxc, "--store", &store]);
    expect_ok(&after, "list, --store after");
    assert_eq!(stdout(&before), stdout(&after));
    assert_eq!(stdout(&after).lines().count(), 2, "{}", stdout(&after));

    let json = scgen_run(&[
        "skeletons",
        "list",
        "--store",
        &store,
        "--lxcpath",
        &lxc,
        "--format",
        "json",
    ]);
    expect_ok(&json, "list --format json");
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(v["store"], store.as_str());
    let items = v["skeletons"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{v}");
    assert!(
        items
            .iter()
            .all(|i| i["state"] == "ok" && i["action"].is_null()),
        "{v}"
    );
    let b = env.path().join("lxc/b").display().to_string();
    let (used, unused): (Vec<_>, Vec<_>) = items.iter().partition(|i| {
        i["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u == b.as_str())
    });
    assert_eq!((used.len(), unused.len()), (1, 1), "{v}");
    assert_eq!(unused[0]["users"].as_array().unwrap().len(), 0);
    let gone = unused[0]["name"].as_str().unwrap().to_string();
    let kept = used[0]["name"].as_str().unwrap().to_string();

    let dry = scgen_run(&[
        "skeletons",
        "prune",
        "--dry-run",
        "--lxcpath",
        &lxc,
        "--store",
        &store,
    ]);
    expect_ok(&dry, "prune --dry-run");
    assert!(
        stdout(&dry).contains(&format!("would remove {gone} ok; unused")),
        "{}",
        stdout(&dry)
    );
    assert!(
        stdout(&dry).contains(&format!("kept {kept} ok; used by {b}")),
        "{}",
        stdout(&dry)
    );
    assert_eq!(env.published().len(), 2, "the dry run removed something");
    let dry = scgen_run(&[
        "skeletons",
        "prune",
        "--dry-run",
        "--lxcpath",
        &lxc,
        "--store",
        &store,
        "--format",
        "json",
    ]);
    expect_ok(&dry, "prune --dry-run --format json");
    let v: serde_json::Value = serde_json::from_str(&stdout(&dry)).unwrap();
    let action = |name: &str| {
        v["skeletons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .unwrap()["action"]
            .clone()
    };
    assert_eq!(action(&gone), "would-remove", "{v}");
    assert_eq!(action(&kept), "kept", "{v}");
    assert_eq!(env.published().len(), 2);

    let real = scgen_run(&["skeletons", "prune", "--lxcpath", &lxc, "--store", &store]);
    expect_ok(&real, "prune");
    assert_eq!(env.published(), vec![kept], "{}", stdout(&real));
}

/// Pins that a store that does not exist is an error (69, naming it, with
/// a hint) for `list` and `prune`, and that neither creates it.
#[test]
fn a_missing_store_is_an_error() {
    let env = Env::new();
    let missing = env.path().join("no-such-store");
    let m = missing.display().to_string();
    let lxc = env.path().display().to_string();
    for args in [
        vec!["skeletons", "list", "--store", &m],
        vec!["skeletons", "--store", &m, "list", "--format", "json"],
        vec!["skeletons", "prune", "--store", &m, "--lxcpath", &lxc],
        vec![
            "skeletons",
            "prune",
            "--dry-run",
            "--store",
            &m,
            "--lxcpath",
            &lxc,
        ],
    ] {
        let o = scgen_run(&args);
        expect(&o, code::UNAVAILABLE, &format!("{args:?}"));
        assert!(
            stderr(&o).contains(&m) && stderr(&o).contains("help"),
            "{}",
            stderr(&o)
        );
        assert!(stdout(&o).is_empty(), "{}", stdout(&o));
        assert!(!Path::new(&missing).exists());
    }
}
