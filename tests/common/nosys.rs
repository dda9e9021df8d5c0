//! The stage's two ways of opening paths, both under test: the hostile
//! suites run once as they are (`openat2` where the kernel has it) and
//! once more with `openat2` answered by ENOSYS from a real seccomp filter,
//! as Linux before 5.6 and qemu-user 7.2 answer it.
//!
//! The filter comes from `tests/nosys/nosys.c`, built once with `cc` into
//! `target/tmp` (keyed by its source, temp name renamed into place, so
//! concurrent test binaries share it). Each suite calls [`rerun!`], one
//! test that re-runs the suite's own binary with `SCGEN_TEST_STAGE=walk`.
//! That variable is read only here, to choose which binary the tests
//! run: [`scgen_path`] is then a script that execs scgen under the filter,
//! so every stage, `gen` and `skeletons` run of the suite, including those
//! in shell scripts and other users' processes, meets a kernel without
//! `openat2`. Nothing in scgen reads it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The environment variable that makes a suite run scgen under the filter.
pub const SWITCH: &str = "SCGEN_TEST_STAGE";

/// Whether this test process runs scgen without `openat2`.
pub fn walking() -> bool {
    std::env::var(SWITCH).is_ok_and(|v| v == "walk")
}

/// The binary the tests run: scgen, or a script running it under the
/// filter when [`walking`].
pub fn scgen_path() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_scgen"));
    if !walking() {
        return bin;
    }
    static WRAPPER: OnceLock<PathBuf> = OnceLock::new();
    WRAPPER
        .get_or_init(|| {
            let script = format!(
                "#!/bin/sh\nexec {} openat2 {} \"$@\"\n",
                super::stage::q(&helper()),
                super::stage::q(&bin)
            );
            let key = scgen::contract::sha256_hex(script.as_bytes());
            place(&format!("scgen-walk-{}", &key[..16]), |tmp| {
                std::fs::write(tmp, &script).unwrap();
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
            })
        })
        .clone()
}

/// The `nosys` helper: `nosys CALL[,CALL...] PROGRAM [ARG...]`.
pub fn helper() -> PathBuf {
    static HELPER: OnceLock<PathBuf> = OnceLock::new();
    HELPER
        .get_or_init(|| {
            let src = super::root().join("tests/nosys/nosys.c");
            let text = std::fs::read(&src).unwrap();
            let key = scgen::contract::sha256_hex(&text);
            place(&format!("nosys-{}", &key[..16]), |tmp| {
                let o = super::run(
                    Command::new("cc")
                        .args(["-O2", "-Wall", "-o"])
                        .arg(tmp)
                        .arg(&src),
                );
                assert!(
                    o.status.success(),
                    "cc {}: {}",
                    src.display(),
                    String::from_utf8_lossy(&o.stderr)
                );
            })
        })
        .clone()
}

/// `target/tmp/<name>`, made by `make` under a temp name and renamed into
/// place unless it is there already.
fn place(name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(name);
    if !path.exists() {
        let tmp = dir.join(format!(".{name}.{}", std::process::id()));
        make(&tmp);
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

/// Re-runs this suite's binary (every test but `skip`) with scgen under
/// the filter, and fails with its output if any test fails there.
pub fn rerun_without_openat2(skip: &str) {
    if walking() || !super::have("cc") {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let o = super::run(Command::new(&exe).env(SWITCH, "walk").args([
        "--skip",
        skip,
        // One at a time: the suite's other tests still run beside this
        // one, and its deadlines are for a machine that is not doubly busy.
        "--test-threads=1",
    ]));
    let out = String::from_utf8_lossy(&o.stdout);
    println!("{out}");
    assert!(
        o.status.success(),
        "{} without openat2 failed:\n{out}\n{}",
        exe.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("test result: ok"),
        "no test ran without openat2:\n{out}"
    );
}

/// One test that runs the whole suite again without `openat2`.
#[macro_export]
macro_rules! rerun {
    () => {
        /// The whole suite again, with `openat2` answered by ENOSYS by a
        /// seccomp filter: the stage's fallback walk must keep every
        /// guarantee above.
        #[test]
        fn every_test_again_without_openat2() {
            common::nosys::rerun_without_openat2("every_test_again_without_openat2");
        }
    };
}
