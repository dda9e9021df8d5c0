//! Helpers shared by the integration tests: the binary under test, the
//! `gen` command builder, golden-file checks with one bless switch, and
//! the gates for tests that need outside tools or root.
//!
//! Each suite is its own test binary (`cargo test --test NAME` runs one).
//! One binary for all was considered: rebuilding the library and linking
//! all 17 suites after a change to `src/` takes 5.3 s here (`cargo test
//! --no-run`), so it would save a few seconds and lose per-suite runs,
//! output and the `--test NAME` commands docs/testing.md gives.
#![allow(dead_code)]

pub mod agent;
pub mod guard;
pub mod lxc;
pub mod nosys;
pub mod overlay;
pub mod soak;
pub mod softwarecontainer;
pub mod stage;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Exit codes as the binary returns them, named once in the library.
pub mod code {
    use scgen::exit;
    pub const STALE: i32 = exit::STALE as i32;
    pub const USAGE: i32 = exit::USAGE as i32;
    pub const DATA: i32 = exit::DATA as i32;
    pub const UNAVAILABLE: i32 = exit::UNAVAILABLE as i32;
    pub const CANT_CREATE: i32 = exit::CANT_CREATE as i32;
    pub const IO: i32 = exit::IO as i32;
    pub const UNSAFE: i32 = exit::UNSAFE as i32;
    pub const UPPER_FS: i32 = exit::UPPER_FS as i32;
    pub const BUSY: i32 = exit::BUSY as i32;
    pub const CONFIG: i32 = exit::CONFIG as i32;
}

/// The `--set`s that turn every `[security]` key off: the seed's container,
/// which is also what an lxc2 profile gives.
pub const SECURITY_OFF: [&str; 9] = [
    "container.idmap=[]",
    "security.cap-drop=[]",
    "security.seccomp=off",
    "security.devices=[]",
    "security.no-new-privs=false",
    "security.memory-max=max",
    "security.pids-max=max",
    "security.cpu-max=max",
    "security.disk-max=max",
];

/// Whether golden files are to be rewritten rather than checked: the one
/// switch for all of them, `BLESS=1 cargo test`.
pub fn bless() -> bool {
    std::env::var_os("BLESS").is_some_and(|v| !v.is_empty())
}

/// rust-analyzer's `ensure_file_contents`: `path` must hold `fresh`. With
/// [`bless`] it is rewritten instead; otherwise a difference fails with a
/// diff and the command that fixes it.
pub fn ensure_file_contents(path: &Path, fresh: &[u8]) {
    let old = std::fs::read(path).ok();
    if old.as_deref() == Some(fresh) {
        return;
    }
    if bless() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, fresh).unwrap();
        return;
    }
    let hint = "run `BLESS=1 cargo test` and review the diff";
    match (
        old.as_deref().map(std::str::from_utf8),
        std::str::from_utf8(fresh),
    ) {
        (Some(Ok(old)), Ok(new)) => {
            pretty_assertions::assert_eq!(old, new, "{} is stale: {hint}", path.display())
        }
        (None, _) => panic!("{} is missing: {hint}", path.display()),
        _ => panic!("{} is stale (binary): {hint}", path.display()),
    }
}

/// `scgen gen` with the options a test wants, then run.
#[derive(Default)]
pub struct Gen {
    args: Vec<std::ffi::OsString>,
    cwd: Option<PathBuf>,
    env: Vec<(String, std::ffi::OsString)>,
}

impl Gen {
    pub fn new() -> Self {
        Self::default()
    }

    fn arg(mut self, flag: &str, value: impl AsRef<OsStr>) -> Self {
        self.args.push(flag.into());
        self.args.push(value.as_ref().to_owned());
        self
    }

    pub fn profile(self, p: impl AsRef<OsStr>) -> Self {
        self.arg("--profile", p)
    }

    pub fn out(self, dir: impl AsRef<OsStr>) -> Self {
        self.arg("--out", dir)
    }

    pub fn set(self, kv: &str) -> Self {
        self.arg("--set", kv)
    }

    pub fn templates(self, dir: impl AsRef<OsStr>) -> Self {
        self.arg("--templates", dir)
    }

    pub fn depfile(self, file: impl AsRef<OsStr>) -> Self {
        self.arg("--depfile", file)
    }

    pub fn check(mut self) -> Self {
        self.args.push("--check".into());
        self
    }

    pub fn json(self) -> Self {
        self.arg("--format", "json")
    }

    /// Runs in `dir` (relative profiles and `generated/` resolve there).
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.env.push((key.into(), value.as_ref().to_owned()));
        self
    }

    pub fn command(&self) -> Command {
        let mut c = scgen();
        c.arg("gen").args(&self.args);
        if let Some(d) = &self.cwd {
            c.current_dir(d);
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self) -> Output {
        run(&mut self.command())
    }

    /// Runs and panics, with stderr, unless it succeeded.
    pub fn ok(&self) -> Output {
        let o = self.run();
        assert!(
            o.status.success(),
            "gen {:?} failed: {}",
            self.args,
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }
}

/// The crate root: tests read `profiles/` and `generated/` from there.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The scgen binary under test.
pub fn scgen() -> Command {
    let mut c = Command::new(nosys::scgen_path());
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
    Gen::new().profile(profile).out(out).ok();
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
