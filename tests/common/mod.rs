//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The crate root: tests read `profiles/` and `generated/` from there.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The scgen binary under test.
pub fn scgen() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_scgen"));
    c.env_remove("SOURCE_DATE_EPOCH");
    c
}

/// Every shipped profile, sorted.
pub fn shipped_profiles() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("profiles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

/// Whether a test that needs an outside tool may run. Missing tool: a skip
/// notice locally, a failure when `CI` is set (CI must have installed it).
pub fn have(tool: &str) -> bool {
    if which::which(tool).is_ok() {
        return true;
    }
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false") {
        panic!("{tool} is not installed, and CI is set: .ci/run must install it");
    }
    eprintln!("SKIPPED: {tool} is not installed (apt-get install it to run this test)");
    false
}

/// Whether we are root (LXC tests need it); under CI, not being root fails.
pub fn is_root() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n");
    if !root {
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false") {
            panic!("CI runs as root; this test needs root");
        }
        eprintln!("SKIPPED: needs root");
    }
    root
}

/// Runs a command and returns its output, panicking with its stderr if it
/// could not start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Generates `profile` into `out` with the binary; panics on failure.
pub fn gen_into(profile: &Path, out: &Path) {
    let o = run(scgen()
        .arg("gen")
        .arg("--profile")
        .arg(profile)
        .arg("--out")
        .arg(out));
    assert!(
        o.status.success(),
        "gen failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The `key = value` lines of an LXC config, trimmed, comments dropped.
pub fn config_pairs(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("key = value");
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}
