//! scgen cross-built for the ARM boards SoftwareContainer runs on, and run
//! there as far as this machine can: under qemu-user.
//!
//! `release/build` builds the aarch64 and armv7 binaries with Debian 12's
//! Rust (rustc-web) and cross linkers, once per test run; cargo keeps the
//! tree under `target/cross`, so a run whose sources did not change only
//! checks that they are fresh. Then, under Debian 12's qemu-user 7.2:
//! `gen`, `schema` and `man` give the same bytes as the native binary for
//! every shipped profile; and the stage, on the qemu whose missing
//! `openat2` made it fail before (issue 23), stages every shipped profile
//! into the same tree, modes, owners, link targets and contents as the
//! native stage (the random machine-id aside), with the same container
//! config but for the scratch paths in it.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::stage::*;
use common::*;

/// A target, the qemu-user that runs it, the loader of its libc (from
/// Debian's multiarch libc6 for it) and its cross linker.
struct Arch {
    triple: &'static str,
    qemu: &'static str,
    loader: &'static str,
    linker: &'static str,
}

const AARCH64: Arch = Arch {
    triple: "aarch64-unknown-linux-gnu",
    qemu: "qemu-aarch64",
    loader: "/lib/ld-linux-aarch64.so.1",
    linker: "aarch64-linux-gnu-gcc",
};

const ARMV7: Arch = Arch {
    triple: "armv7-unknown-linux-gnueabihf",
    qemu: "qemu-arm",
    loader: "/lib/ld-linux-armhf.so.3",
    linker: "arm-linux-gnueabihf-gcc",
};

/// Whether the cross toolchains and qemu-user are here (.ci/deps installs
/// them): a skip notice locally, a failure under CI.
fn ready(arch: &Arch) -> bool {
    have(arch.qemu)
        && have(arch.linker)
        && have("/usr/bin/rustc")
        && have("/usr/bin/cargo")
        && Path::new("/usr/lib/rustlib").join(arch.triple).is_dir()
        && (Path::new(arch.loader).exists() || have(arch.loader))
}

/// Both ARM binaries, built once per test process by `release/build`.
fn binaries() -> &'static PathBuf {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cross");
        let o = run(Command::new(root().join("release/build"))
            .arg("--out")
            .arg(&out)
            .args([AARCH64.triple, ARMV7.triple]));
        assert!(
            o.status.success(),
            "release/build failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        out
    })
}

/// `cmd` (a command of the native scgen) run by the `arch` binary under
/// qemu-user instead, with the same arguments and environment changes.
fn under_qemu(arch: &Arch, cmd: &Command) -> Command {
    let mut c = Command::new(arch.qemu);
    // No `-L` sysroot (nor QEMU_LD_PREFIX): qemu-user would then look up
    // every absolute path in the sysroot first, and a stage whose store
    // path exists there writes into /usr/<triple>. The binary finds its
    // loader and libc where Debian's multiarch libc6:arm64/armhf put them.
    c.env_remove("QEMU_LD_PREFIX")
        .arg(binaries().join(format!("scgen-{}", arch.triple)))
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

#[track_caller]
fn ok(mut c: Command, what: &str) -> Output {
    let o = run(&mut c);
    assert!(
        o.status.success(),
        "{what}: {:?} failed: {}",
        c,
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Every file under `dir`, relative, with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().to_path_buf();
            (rel, fs::read(e.path()).unwrap())
        })
        .collect()
}

fn gen_is_byte_identical(arch: &Arch) {
    let t = tempfile::tempdir().unwrap();
    for p in shipped_profiles() {
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        let (native, emulated) = (
            t.path().join("n").join(&name),
            t.path().join("q").join(&name),
        );
        let gen = |out: &Path| Gen::new().profile(&p).out(out).command();
        ok(gen(&native), &name);
        ok(under_qemu(arch, &gen(&emulated)), &name);
        let want = files(&native);
        assert!(!want.is_empty(), "{name}: gen wrote nothing");
        assert!(
            want == files(&emulated),
            "{name}: {} gen differs from native",
            arch.triple
        );
    }
    for args in [&["schema"][..], &["man"]] {
        let mut native = scgen();
        native.args(args);
        let a = ok(native, args[0]).stdout;
        let mut again = scgen();
        again.args(args);
        let b = ok(under_qemu(arch, &again), args[0]).stdout;
        assert!(!a.is_empty() && a == b, "{}: {args:?} differs", arch.triple);
    }
}

/// The `--set`s that keep a profile's host paths (shared bin, skeleton
/// store) inside `side`.
fn sets(profile: &str, side: &Path) -> Vec<String> {
    match profile {
        "shared-bin" => vec![format!("busybox.shared-bin={}", side.join("bin").display())],
        "overlay" => vec![format!(
            "container.skeleton-store={}",
            side.join("store").display()
        )],
        _ => vec![],
    }
}

/// [`tree`] of `dir`, where a skeleton's name and the key in its stamp
/// (both derived from the artifacts, whose store path differs per side)
/// are left out; the stamp's upper-dir and tree-digest lines stay.
fn listing(dir: &Path) -> Vec<String> {
    let mut lines = tree(dir, false);
    for e in fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let stamp = dir.join(&name).join("stamp");
        if name.len() != 32 || !stamp.is_file() {
            continue;
        }
        let kept: String = read(&stamp)
            .lines()
            .filter(|l| l.starts_with("upper ") || l.starts_with("tree "))
            .collect::<Vec<_>>()
            .join(" | ");
        let prefix = format!("{:?}", format!("{name}/stamp"));
        for l in &mut lines {
            if l.starts_with(&prefix) {
                *l = format!("{prefix} {kept}");
            }
            *l = l.replace(&name, "SKELETON");
        }
    }
    lines
}

fn stage_is_the_native_tree(arch: &Arch) {
    let env = Env::with_applets("printf '%s\\n' busybox cat ls sh iptables mount");
    for p in shipped_profiles() {
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        let side = |s: &str| env.path().join(&name).join(s);
        let stage = |s: &str| {
            let mut g = Gen::new().profile(&p).out(side(s).join("art"));
            for kv in sets(&name, &side(s)) {
                g = g.set(&kv);
            }
            g.ok();
            let mut c = env.stage(&side(s).join("art"));
            fs::create_dir_all(side(s).join("gw")).unwrap();
            c.arg("--path").arg(side(s).join("c"));
            c.arg("--gateway-dir").arg(side(s).join("gw"));
            c
        };
        // What each said, scratch paths aside: the same counts of entries
        // created and kept, the same notes.
        let said = |o: Output, s: &str| {
            let side = side(s).to_string_lossy().into_owned();
            (
                String::from_utf8_lossy(&o.stdout).replace(&side, "SIDE"),
                stderr(&o).replace(&side, "SIDE"),
            )
        };
        let native = said(ok(stage("n"), &name), "n");
        let emulated = said(ok(under_qemu(arch, &stage("q")), &name), "q");
        pretty_assertions::assert_eq!(native, emulated, "{name}: the stage's output");
        for dir in ["c/rootfs", "bin", "store", "gw"] {
            let (n, q) = (side("n").join(dir), side("q").join(dir));
            assert_eq!(n.exists(), q.exists(), "{name}: {dir}");
            if n.exists() {
                let (n, q) = (listing(&n), listing(&q));
                assert!(n.len() > 1 || dir == "gw", "{name}: {dir} is empty");
                pretty_assertions::assert_eq!(n, q, "{name}: {dir} under {}", arch.qemu);
            }
        }
        let config = |s: &str| {
            let mut text =
                read(&side(s).join("c/config")).replace(&*side(s).to_string_lossy(), "SIDE");
            for e in fs::read_dir(side(s).join("store")).into_iter().flatten() {
                text = text.replace(&*e.unwrap().file_name().to_string_lossy(), "SKELETON");
            }
            // The disk bound's hook names the scgen that ran the stage: the
            // native binary, or the ARM one under qemu.
            text.lines()
                .map(|l| match l.strip_prefix("lxc.hook.pre-mount = ") {
                    Some(rest) => format!(
                        "lxc.hook.pre-mount = SCGEN {}\n",
                        rest.split_once(' ').map_or("", |(_, args)| args)
                    ),
                    None => format!("{l}\n"),
                })
                .collect::<String>()
        };
        pretty_assertions::assert_eq!(config("n"), config("q"), "{name}: config");
    }
}

#[test]
fn aarch64_gen_is_byte_identical_under_qemu() {
    if ready(&AARCH64) {
        gen_is_byte_identical(&AARCH64);
    }
}

#[test]
fn armv7_gen_is_byte_identical_under_qemu() {
    if ready(&ARMV7) {
        gen_is_byte_identical(&ARMV7);
    }
}

#[test]
fn aarch64_stage_without_openat2_is_the_native_tree() {
    if ready(&AARCH64) && is_root() {
        stage_is_the_native_tree(&AARCH64);
    }
}

#[test]
fn armv7_stage_without_openat2_is_the_native_tree() {
    if ready(&ARMV7) && is_root() {
        stage_is_the_native_tree(&ARMV7);
    }
}
