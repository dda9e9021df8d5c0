//! The Yocto layer (`meta-scgen/`) built as a layer user builds it, with the
//! real BitBake 2.19 and OE-Core of
//! `../shared/fixtures/yocto/bitbake-oe-core.tar.xz` (override the path with
//! `SCGEN_YOCTO_FIXTURE`), offline:
//!
//! * BitBake builds `scgen-native` with OE-Core's cargo class: rust and cargo
//!   from the host (assumed provided, the toolchain's real binaries first on
//!   PATH), the crates from cargo's download cache (after `cargo fetch`) as
//!   a `file://` PREMIRROR, `BB_NO_NETWORK = "1"`;
//! * in a second build directory sharing that sstate, BitBake builds the
//!   example recipe to `do_package` on the real dependency graph: scgen-native
//!   comes from sstate, busybox's applet lists through the bbappend, and no
//!   `scgen` is in HOSTTOOLS;
//! * `bitbake -c update_crates scgen` must reproduce the committed
//!   `scgen-crates.inc`; the release source (`SCGEN_SRC_URI`) is fetched from
//!   a local git mirror standing in for the server;
//! * `yocto-check-layer` runs on the layer, and all its tests must pass;
//! * tinfoil (`tests/yocto_tinfoil.py`) runs OE-Core's own busybox recipe's
//!   `do_populate_sysroot` with the bbappend.
//!
//! What the fixture lacks is stood in for in the tests' configuration only:
//! `tests/yocto/meta-host-tools` (the host's pseudo and rpmdeps as
//! pseudo-native and rpm-native), `tests/yocto/meta-busybox-stub` (a busybox
//! that installs only what OE-Core's installs in /etc), and ASSUME_PROVIDED
//! for the cross toolchain, the C library and a few native tools. A target
//! (cross) scgen cannot be built here: the Rust std for the target and the
//! cross toolchain would have to be built from source.
//!
//! Downloads, the crate mirror and the sstate cache live in
//! `target/tmp/yocto-cache`, kept between runs, so a second run restores
//! scgen-native from sstate instead of compiling it. The fixture and the
//! build directories are made afresh in `target/tmp/yocto` by each run.
//! BitBake locks a build directory, so the tests take turns through a mutex.
//! Missing tools: `SKIPPED` locally, a failure with `CI` set.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};

use common::*;

const LAYER: &str = "meta-scgen";
const PROFILE: &str =
    "meta-scgen/recipes-core/softwarecontainer-rootfs/files/softwarecontainer.toml";
/// The release recipe (the default) and the checkout recipe the builds here
/// use (PREFERRED_VERSION in local.conf).
const SCGEN_RECIPE: &str = "meta-scgen/recipes-devtools/scgen/scgen_0.1.0.bb";
const GIT_RECIPE: &str = "meta-scgen/recipes-devtools/scgen-git/scgen_git.bb";
const CRATES_INC: &str = "meta-scgen/recipes-devtools/scgen-git/scgen-crates.inc";
const RELEASE_CRATES_INC: &str = "meta-scgen/recipes-devtools/scgen/scgen-crates.inc";
/// Where the example installs, below paths of its own.
const EX_DATA: &str = "usr/share/scgen/softwarecontainer-rootfs";
const EX_CONF: &str = "etc/scgen/softwarecontainer-rootfs/softwarecontainer.conf";
/// Where the example recipe's WORKDIR lands for MACHINE = qemux86-64.
const WORK: &str = "tmp/work/x86-64-v3-oe-linux/softwarecontainer-rootfs/1.0";
const BUSYBOX_WORK: &str = "tmp/work/x86-64-v3-oe-linux/busybox/1.38.0";
/// SOURCE_DATE_EPOCH_FALLBACK for the test builds: what OE-Core gives a
/// recipe whose S is UNPACKDIR, so it must reach the tarball.
const EPOCH: &str = "1712345678";
/// What the fixture has no recipe for, for every build here: the cross
/// toolchain and C library, native tools OE-Core's classes depend on, and
/// what busybox and the target scgen depend on (only parsed here).
const ASSUME_PROVIDED: &str = "rust-native cargo-native quilt-native python3-native \
    virtual/cross-cc virtual/compilerlibs virtual/libc binutils-cross-x86_64 gcc-cross-x86_64 \
    patch-replacement-native dwarfsrcfiles-native opkg-utils-native zstd-native \
    update-rc.d-native virtual/update-alternatives-native ncurses-native kern-tools-native \
    virtual/update-alternatives virtual/crypt ttyrun zip ptest-runner \
    iptables libstd-rs bash-completion";

/// The checkout recipe's PV, in its work directories.
fn git_pv() -> String {
    format!("{}+git", env!("CARGO_PKG_VERSION"))
}

fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// A missing prerequisite: a skip notice locally, a failure under CI.
fn missing(what: &str) -> bool {
    if ci() {
        panic!("{what}, and CI is set: .ci/run must provide it");
    }
    eprintln!("SKIPPED: {what}");
    false
}

fn fixture_tarball() -> PathBuf {
    std::env::var_os("SCGEN_YOCTO_FIXTURE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/fixtures/yocto/bitbake-oe-core.tar.xz"))
}

/// The directory of the real `rustc` and `cargo` (not rustup's proxies,
/// which BitBake's HOSTTOOLS links would not find their toolchain through).
fn toolchain_bin() -> Option<PathBuf> {
    let o = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    let bin = PathBuf::from(text(&o.stdout).trim()).join("bin");
    (o.status.success() && bin.join("cargo").is_file() && bin.join("rustc").is_file())
        .then_some(bin)
}

/// Everything BitBake needs on the host, checked before the fixture is used.
fn prerequisites() -> bool {
    for tool in [
        "python3", "chrpath", "cpio", "diffstat", "gawk", "lz4", "zstd", "file", "tar", "xz",
        "pseudo", "locale", "git",
    ] {
        if !have(tool) {
            return false;
        }
    }
    let locales = run(Command::new("locale").arg("-a"));
    let locales = String::from_utf8_lossy(&locales.stdout).to_lowercase();
    if !locales
        .lines()
        .any(|l| l == "en_us.utf8" || l == "en_us.utf-8")
    {
        return missing("the en_US.UTF-8 locale is not generated (locale-gen)");
    }
    if !Path::new("/usr/lib/rpm/rpmdeps").is_file() {
        return missing("/usr/lib/rpm/rpmdeps is not installed (apt-get install rpm)");
    }
    if toolchain_bin().is_none() {
        return missing("`rustc --print sysroot` names no toolchain with cargo and rustc");
    }
    if !fixture_tarball().is_file() {
        return missing(&format!(
            "the BitBake fixture {} is not there",
            fixture_tarball().display()
        ));
    }
    true
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn is_uid0() -> bool {
    rustix::process::geteuid().is_root()
}

/// One build directory: its layers, and the common local.conf.
struct BuildDir {
    path: PathBuf,
}

/// The unpacked fixture, the kept caches and the build directories.
struct Yocto {
    /// `target/tmp/yocto`: fixture and build dirs, made afresh each run.
    dir: PathBuf,
    /// `target/tmp/yocto-cache`: downloads, crates, sstate; kept.
    cache: PathBuf,
    toolchain: PathBuf,
    /// Build dir A: scgen-native, once per run.
    native: Option<BuildDir>,
    /// What `tests/yocto_tinfoil.py` found, run once.
    tinfoil: Option<serde_json::Value>,
}

static YOCTO: OnceLock<Option<Mutex<Yocto>>> = OnceLock::new();

/// The shared setup, locked for the caller; `None` when skipping.
fn yocto() -> Option<MutexGuard<'static, Yocto>> {
    YOCTO
        .get_or_init(|| prerequisites().then(|| Mutex::new(Yocto::setup())))
        .as_ref()
        // A test that failed while holding the lock leaves nothing half done
        // that the next one relies on: each run names its own tasks.
        .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()))
}

impl Yocto {
    fn setup() -> Yocto {
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let dir = tmp.join("yocto");
        if dir.exists() {
            fs::remove_dir_all(&dir).unwrap();
        }
        fs::create_dir_all(dir.join("hostbin")).unwrap();
        let o = run(Command::new("tar")
            .arg("-xJf")
            .arg(fixture_tarball())
            .arg("-C")
            .arg(&dir));
        assert!(
            o.status.success(),
            "unpack the fixture: {}",
            text(&o.stderr)
        );
        // do_update_crates runs `nativepython3`, which python3-native
        // would provide.
        // The interpreter itself: a pyenv shim would look for a python
        // named nativepython3.
        let o = run(Command::new("python3").args(["-c", "import sys; print(sys.executable)"]));
        symlink(text(&o.stdout).trim(), dir.join("hostbin/nativepython3")).unwrap();
        let cache = tmp.join("yocto-cache");
        let yocto = Yocto {
            dir,
            cache,
            toolchain: toolchain_bin().unwrap(),
            native: None,
            tinfoil: None,
        };
        yocto.crate_mirror();
        yocto
    }

    /// `cargo fetch`, then every registry crate of Cargo.lock, from cargo's
    /// download cache, in the directory the PREMIRROR names.
    fn crate_mirror(&self) {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let o = run(Command::new(cargo)
            .args(["fetch", "--locked"])
            .current_dir(root()));
        assert!(o.status.success(), "cargo fetch: {}", text(&o.stderr));
        let home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
        let caches: Vec<PathBuf> = fs::read_dir(home.join("registry/cache"))
            .expect("cargo's registry/cache after cargo fetch")
            .flatten()
            .map(|e| e.path())
            .collect();
        let mirror = self.cache.join("crates");
        fs::create_dir_all(&mirror).unwrap();
        let lock: toml::Table =
            toml::from_str(&fs::read_to_string(root().join("Cargo.lock")).unwrap()).unwrap();
        for p in lock["package"].as_array().unwrap() {
            if !p
                .get("source")
                .and_then(|s| s.as_str())
                .is_some_and(|s| s.contains("crates.io"))
            {
                continue;
            }
            let name = format!(
                "{}-{}.crate",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap()
            );
            if mirror.join(&name).is_file() {
                continue;
            }
            let from = caches
                .iter()
                .map(|c| c.join(&name))
                .find(|c| c.is_file())
                .unwrap_or_else(|| panic!("{name} is not in cargo's cache after cargo fetch"));
            if fs::hard_link(&from, mirror.join(&name)).is_err() {
                fs::copy(&from, mirror.join(&name)).unwrap();
            }
        }
    }

    /// local.conf for every build here: the same, so that the sstate of one
    /// build directory serves the others.
    fn local_conf(&self, distro_feature: bool) -> String {
        let mut c = format!(
            "MACHINE = \"qemux86-64\"\n\
             BB_NO_NETWORK = \"1\"\n\
             # No host sanity checks (they refuse root) and no uninative download.\n\
             INHERIT:remove = \"sanity uninative\"\n\
             BB_NUMBER_THREADS = \"2\"\n\
             PARALLEL_MAKE = \"-j 2\"\n\
             DL_DIR = \"{dl}\"\n\
             SSTATE_DIR = \"{sstate}\"\n\
             PREMIRRORS:prepend = \"https://static.crates.io/crates/.* file://{crates}/ \"\n\
             HOSTTOOLS += \"cargo rustc nativepython3\"\n\
             ASSUME_PROVIDED += \"{ASSUME_PROVIDED}\"\n\
             SOURCE_DATE_EPOCH_FALLBACK = \"{EPOCH}\"\n\
             # The checkout's scgen, not the pinned release (no server here).\n\
             PREFERRED_VERSION_scgen = \"{pv}\"\n\
             PREFERRED_VERSION_scgen-native = \"{pv}\"\n\
             # The kept sstate must not hold what the tests look at being\n\
             # built: the example and busybox run their tasks every time.\n\
             SSTATE_SKIP_CREATION:pn-softwarecontainer-rootfs = \"1\"\n\
             SSTATE_SKIP_CREATION:pn-busybox = \"1\"\n",
            dl = self.cache.join("downloads").display(),
            sstate = self.cache.join("sstate").display(),
            crates = self.cache.join("crates").display(),
            pv = git_pv(),
        );
        if distro_feature {
            c.push_str("DISTRO_FEATURES:append = \" scgen seccomp\"\n");
        }
        if is_uid0() {
            c.push_str(
                "# As root, pseudo's root and the real one are the same uid.\n\
                 ERROR_QA:remove = \"host-user-contaminated\"\n\
                 WARN_QA:remove = \"host-user-contaminated\"\n",
            );
        }
        c
    }

    /// A fresh build directory with these layers (OE-Core's meta first).
    fn build_dir(&self, name: &str, layers: &[PathBuf]) -> BuildDir {
        let path = self.dir.join(name);
        fs::create_dir_all(path.join("conf")).unwrap();
        fs::create_dir_all(path.join("home")).unwrap();
        let mut all = vec![self.dir.join("openembedded-core/meta")];
        all.extend(layers.iter().cloned());
        let all: Vec<String> = all.iter().map(|l| l.display().to_string()).collect();
        fs::write(
            path.join("conf/bblayers.conf"),
            format!(
                "BBPATH = \"${{TOPDIR}}\"\nBBFILES ?= \"\"\nBBLAYERS = \"{}\"\n",
                all.join(" ")
            ),
        )
        .unwrap();
        fs::write(path.join("conf/local.conf"), self.local_conf(true)).unwrap();
        BuildDir { path }
    }

    /// A command in `cwd` with the environment BitBake needs: the real
    /// toolchain first on PATH, then BitBake and `nativepython3`.
    fn command(&self, program: &Path, cwd: &Path) -> Command {
        let mut c = Command::new(program);
        let path = format!(
            "{}:{}:{}:{}",
            self.toolchain.display(),
            self.dir.join("bitbake/bin").display(),
            self.dir.join("hostbin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        c.current_dir(cwd)
            .env("PATH", path)
            .env("LANG", "en_US.UTF-8")
            .env("LC_ALL", "en_US.UTF-8")
            .env("HOME", cwd.join("home"))
            .env("PYTHONPATH", self.dir.join("bitbake/lib"))
            .env_remove("BBPATH")
            .env_remove("BUILDDIR")
            .env_remove("SOURCE_DATE_EPOCH");
        c
    }

    /// `bitbake ARGS` in `build`, with `extra` as a `-R` post-read conf.
    fn bitbake(&self, build: &BuildDir, extra: Option<(&str, &str)>, args: &[&str]) -> Output {
        let mut c = self.command(&self.dir.join("bitbake/bin/bitbake"), &build.path);
        if let Some((name, conf)) = extra {
            let path = build.path.join("conf").join(name);
            fs::write(&path, conf).unwrap();
            c.arg("-R").arg(path);
        }
        run(c.args(args))
    }

    /// Build dir A: `bitbake scgen-native`, once per run (from sstate when
    /// the cache holds it).
    fn native(&mut self) -> &BuildDir {
        if self.native.is_none() {
            let a = self.build_dir("native", &[root().join(LAYER)]);
            let o = self.bitbake(&a, None, &["scgen-native"]);
            assert!(
                o.status.success(),
                "bitbake scgen-native: {}{}",
                text(&o.stdout),
                text(&o.stderr)
            );
            no_warnings(&o, "bitbake scgen-native");
            self.native = Some(a);
        }
        self.native.as_ref().unwrap()
    }

    /// Build dir B, for the example on the dependency graph: meta-scgen and
    /// the stand-ins, sharing A's sstate.
    fn example_dir(&mut self) -> BuildDir {
        self.native();
        let b = self.dir.join("example");
        if b.exists() {
            return BuildDir { path: b };
        }
        self.build_dir(
            "example",
            &[
                root().join(LAYER),
                root().join("tests/yocto/meta-host-tools"),
                root().join("tests/yocto/meta-busybox-stub"),
            ],
        )
    }
}

fn no_warnings(o: &Output, what: &str) {
    let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
    let bad: Vec<&str> = all
        .lines()
        .filter(|l| l.starts_with("WARNING:") || l.starts_with("ERROR:"))
        .filter(|l| !l.contains("Buildfile specified, dependencies will not be handled"))
        .collect();
    assert!(bad.is_empty(), "{what} warned:\n{}", bad.join("\n"));
}

/// `NAME="value"` from `bitbake -e` output (also `export NAME="value"`).
fn var(env: &str, name: &str) -> String {
    env.lines()
        .find_map(|l| {
            l.strip_prefix("export ")
                .unwrap_or(l)
                .strip_prefix(name)?
                .strip_prefix("=\"")?
                .strip_suffix('"')
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("bitbake -e printed no {name}"))
}

fn words(s: &str) -> BTreeSet<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Every file below `dir`, as `/`-rooted paths.
fn files(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in walkdir::WalkDir::new(dir).min_depth(1) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            out.insert(format!(
                "/{}",
                e.path().strip_prefix(dir).unwrap().to_str().unwrap()
            ));
        }
    }
    out
}

fn log_names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("log."))
                .collect()
        })
        .unwrap_or_default()
}

/// One `NAME: value` line of a pkgdata runtime file.
fn pkgdata(work: &Path, pkg: &str, key: &str) -> String {
    let path = work.join("pkgdata/runtime").join(pkg);
    let data = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    data.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")).map(str::to_string))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// scgen-native

#[test]
fn bitbake_builds_scgen_native_offline() {
    let Some(mut y) = yocto() else { return };
    let a = y.native().path.clone();
    let native = a.join(format!(
        "tmp/sysroots-components/{}/scgen-native/usr/bin/scgen",
        std::env::consts::ARCH
    ));
    assert!(native.is_file(), "scgen-native's sysroot holds scgen");
    let o = run(Command::new(&native).arg("--version"));
    assert_eq!(
        text(&o.stdout).trim(),
        format!("scgen {}", env!("CARGO_PKG_VERSION")),
        "the BitBake-built scgen runs"
    );
    // Cold, it was compiled here (and installed its man page and bash
    // completion, printed by itself); warm, it came from the kept sstate.
    let work = a.join(format!(
        "tmp/work/{}-linux/scgen-native/{}",
        std::env::consts::ARCH,
        git_pv()
    ));
    let logs = log_names(&work.join("temp"));
    let compiled = logs.contains("log.do_compile");
    let restored = logs.contains("log.do_populate_sysroot_setscene");
    assert!(
        compiled != restored,
        "scgen-native was either compiled or restored from sstate: {logs:?}"
    );
    if compiled {
        // A native recipe installs below its sysroot's path inside ${D}.
        let image = work.join(format!(
            "image{}/usr/share",
            work.join("recipe-sysroot-native").display()
        ));
        let man = run(scgen().arg("man"));
        assert_eq!(
            fs::read(image.join("man/man1/scgen.1")).unwrap(),
            man.stdout,
            "do_install's man page is `scgen man`"
        );
        let bash = run(scgen().args(["completions", "bash"]));
        assert_eq!(
            fs::read(image.join("bash-completion/completions/scgen")).unwrap(),
            bash.stdout,
            "do_install's bash completion is `scgen completions bash`"
        );
    }
    // The CMake package, where find_package(SCGen CONFIG) looks in a native
    // sysroot (tests/yocto/meta-scgen-consumer uses it under the cmake class).
    let cmake = a.join(format!(
        "tmp/sysroots-components/{}/scgen-native/usr/lib/cmake/SCGen/SCGenConfig.cmake",
        std::env::consts::ARCH
    ));
    assert_eq!(
        fs::read(&cmake).unwrap(),
        fs::read(root().join("cmake/SCGenConfig.cmake")).unwrap(),
        "scgen-native installs cmake/SCGenConfig.cmake"
    );
}

// ---------------------------------------------------------------------------
// The example, on the dependency graph

/// The artifacts scgen writes.
const ARTIFACTS: [&str; 7] = scgen::contract::ALL;

/// Runs the scgen under test (cargo's build, not BitBake's) as do_compile
/// would, with the same `--set`s and `links` as the applet list.
fn reference_gen(dir: &Path, links: &[u8], gateway: bool) -> PathBuf {
    let list = dir.join("links");
    fs::write(&list, links).unwrap();
    let out = dir.join("out");
    let o = run(scgen()
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .arg("gen")
        .arg("--profile")
        .arg(root().join(PROFILE))
        .arg("--out")
        .arg(&out)
        .args(["--set", "install.prefix=/usr"])
        .args(["--set", "install.bindir=/usr/bin"])
        .arg("--set")
        .arg(format!("install.datadir=/{EX_DATA}"))
        .arg("--set")
        .arg(format!("busybox.links-file={}", list.display()))
        .arg("--set")
        .arg(format!("network.gateway={gateway}")));
    assert!(
        o.status.success(),
        "reference scgen gen: {}",
        text(&o.stderr)
    );
    out
}

/// The packaged artifacts are byte for byte those of `scgen gen`.
fn assert_packaged_as_gen(work: &Path, gateway: bool, what: &str) {
    let sysroot = work.join("recipe-sysroot/etc");
    // The suid applets are left out.
    let links = fs::read(sysroot.join("busybox.links.nosuid")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let reference = reference_gen(dir.path(), &links, gateway);
    let pkg = work.join("packages-split/softwarecontainer-rootfs");
    for a in ARTIFACTS {
        assert!(
            fs::read(pkg.join(EX_DATA).join("softwarecontainer/scgen").join(a)).unwrap()
                == fs::read(reference.join(a)).unwrap(),
            "{what}: the packaged {a} is byte-identical to `scgen gen` with the same --set"
        );
    }
    assert!(
        fs::read(pkg.join(EX_CONF)).unwrap()
            == fs::read(reference.join("softwarecontainer.conf")).unwrap(),
        "{what}: the packaged /etc config is `scgen gen`'s"
    );
}

#[test]
fn example_builds_on_the_dependency_graph_with_bitbakes_scgen_native() {
    let Some(mut y) = yocto() else { return };
    let b = y.example_dir();
    let o = y.bitbake(&b, None, &["softwarecontainer-rootfs", "-c", "package"]);
    assert!(
        o.status.success(),
        "bitbake softwarecontainer-rootfs -c package: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    no_warnings(&o, "bitbake softwarecontainer-rootfs -c package");
    let work = b.path.join(WORK);

    // Where scgen came from: scgen-native in the recipe's native sysroot,
    // restored from the sstate build dir A left, and not the host.
    assert!(
        !b.path.join("tmp/hosttools/scgen").exists(),
        "no scgen among the host tools"
    );
    let log = fs::read_to_string(work.join("temp/log.do_scgen")).unwrap();
    let used = work.join("recipe-sysroot-native/usr/bin/scgen");
    assert!(
        log.contains(&format!("scgen: running {}", used.display())),
        "do_scgen ran the native sysroot's scgen:\n{log}"
    );
    let a = y.native().path.clone();
    let built = a.join(format!(
        "tmp/sysroots-components/{}/scgen-native/usr/bin/scgen",
        std::env::consts::ARCH
    ));
    assert!(
        fs::read(&used).unwrap() == fs::read(&built).unwrap(),
        "the example's scgen is the one BitBake built in build dir A"
    );
    let native_logs = log_names(&b.path.join(format!(
        "tmp/work/{}-linux/scgen-native/{}/temp",
        std::env::consts::ARCH,
        git_pv()
    )));
    assert!(
        native_logs.contains("log.do_populate_sysroot_setscene")
            && !native_logs.contains("log.do_compile"),
        "build dir B restored scgen-native from sstate, compiling nothing: {native_logs:?}"
    );

    // busybox's applet lists arrived through the bbappend: busybox (the
    // stand-in) installs them and an inittab in /etc, which a target
    // recipe's sysroot does not carry; the bbappend's function stages the
    // lists, and only them.
    let busybox = b.path.join(BUSYBOX_WORK);
    let ran: Vec<String> = fs::read_dir(busybox.join("temp"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("run.scgen_stage_busybox_links."))
        .collect();
    assert_eq!(
        ran.len(),
        1,
        "busybox's do_populate_sysroot ran the bbappend's function once"
    );
    assert_eq!(
        files(&busybox.join("sysroot-destdir/etc")),
        ["/busybox.links.nosuid", "/busybox.links.suid"]
            .map(String::from)
            .into(),
        "busybox stages exactly its applet lists"
    );
    assert!(
        busybox.join("image/etc/inittab").is_file(),
        "the stand-in installs more than the lists in /etc"
    );
    for name in ["busybox.links.nosuid", "busybox.links.suid"] {
        assert_eq!(
            fs::read(work.join("recipe-sysroot/etc").join(name)).unwrap(),
            fs::read(busybox.join("image/etc").join(name)).unwrap(),
            "the example's sysroot has busybox's {name}"
        );
    }
    assert!(
        log.contains("busybox applets from busybox.links.nosuid\n"),
        "do_scgen read the nosuid list only (the suid applets need the suid binary):\n{log}"
    );

    // What was installed and packaged.
    let image = work.join("image");
    let installed = files(&image);
    let mut want: BTreeSet<String> = ARTIFACTS
        .iter()
        .map(|a| format!("/{EX_DATA}/softwarecontainer/scgen/{a}"))
        .collect();
    want.insert(format!("/{EX_CONF}"));
    assert_eq!(installed, want, "installed files");
    for f in &installed {
        let exec = f.ends_with("/lxc-softwarecontainer");
        assert_eq!(
            mode(&image.join(&f[1..])),
            if exec { 0o755 } else { 0o644 },
            "mode of {f}"
        );
    }
    let dropin = fs::read_to_string(
        image
            .join(EX_DATA)
            .join("softwarecontainer/scgen/lxc-softwarecontainer"),
    )
    .unwrap();
    assert!(
        dropin.contains("scgen=${SCGEN:-'/usr/bin/scgen'}")
            && dropin.contains("exec \"$scgen\" stage")
            && dropin.contains(&format!("'/{EX_DATA}/softwarecontainer/scgen'")),
        "the drop-in execs the target's ${{bindir}}/scgen on the installed artifacts:\n{dropin}"
    );
    let packaged: BTreeSet<String> =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&pkgdata(
            &work,
            "softwarecontainer-rootfs",
            "FILES_INFO:softwarecontainer-rootfs",
        ))
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(packaged, installed, "the main package holds every file");
    assert_eq!(
        pkgdata(
            &work,
            "softwarecontainer-rootfs",
            "CONFFILES:softwarecontainer-rootfs"
        )
        .trim(),
        format!("/{EX_CONF}"),
        "packaged CONFFILES"
    );
    assert_eq!(
        words(&pkgdata(
            &work,
            "softwarecontainer-rootfs",
            "RDEPENDS:softwarecontainer-rootfs"
        )),
        words("busybox iptables scgen"),
        "packaged RDEPENDS with networkgateway"
    );

    let pkg = work.join("packages-split/softwarecontainer-rootfs");
    let conf = fs::read_to_string(pkg.join(EX_CONF)).unwrap();
    assert!(
        conf.contains("lxc.net.0.link = lxcbr0"),
        "networkgateway on: a veth on lxcbr0\n{conf}"
    );
    let mtree = fs::read_to_string(
        pkg.join(EX_DATA)
            .join("softwarecontainer/scgen/rootfs.mtree"),
    )
    .unwrap();
    for entry in ["./bin/iptables ", "./bin/ls ", "./bin/sleep "] {
        assert!(mtree.contains(entry), "{entry} in the packaged mtree");
    }
    for entry in ["./bin/ping ", "./bin/su "] {
        assert!(
            !mtree.contains(entry),
            "{entry}: a suid applet, not linked to the non-suid busybox"
        );
    }
    // BitBake's SOURCE_DATE_EPOCH (the fallback, for S = UNPACKDIR) is every
    // mtime in the tarball.
    let tarball = fs::read(
        pkg.join(EX_DATA)
            .join("softwarecontainer/scgen/rootfs.tar.gz"),
    )
    .unwrap();
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&tarball[..])
        .read_to_end(&mut tar)
        .unwrap();
    let mut entries = 0;
    for e in tar::Archive::new(&tar[..]).entries().unwrap() {
        let e = e.unwrap();
        assert_eq!(
            e.header().mtime().unwrap().to_string(),
            EPOCH,
            "SOURCE_DATE_EPOCH is the mtime of {}",
            e.path().unwrap().display()
        );
        entries += 1;
    }
    assert!(entries > 10, "the tarball has the skeleton");
    assert_packaged_as_gen(&work, true, "networkgateway on");
    postinst_provisions_the_id_map(&work);

    // do_package_qa waits for the packagedata of every RDEPENDS, and the
    // target scgen cannot be built here: assume it (as iptables is), and
    // drop the one check that needs their packagedata (build-deps: "rdepends
    // on scgen, but it isn't a build dependency").
    let o = y.bitbake(
        &b,
        Some((
            "qa.conf",
            "ASSUME_PROVIDED += \"scgen\"\nERROR_QA:remove = \"build-deps\"\n",
        )),
        &["softwarecontainer-rootfs", "-c", "package_qa"],
    );
    assert!(
        o.status.success(),
        "bitbake softwarecontainer-rootfs -c package_qa: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    no_warnings(&o, "do_package_qa");
    assert!(
        work.join("temp/log.do_package_qa").is_file(),
        "do_package_qa ran"
    );
}

/// A pkgdata value, as `unicode_escape` wrote it.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// The packaged postinst, run as do_rootfs runs it ($D the image root): with
/// the packaged config, and with one whose profile maps ids.
fn postinst_provisions_the_id_map(work: &Path) {
    let script = unescape(&pkgdata(
        work,
        "softwarecontainer-rootfs",
        "pkg_postinst:softwarecontainer-rootfs",
    ));
    assert!(!script.is_empty(), "the package has a postinst");
    let postinst = |d: &Path| {
        let o = run(Command::new("sh").arg("-c").arg(&script).env("D", d));
        assert!(o.status.success(), "postinst: {}", text(&o.stderr));
    };
    let expected = |conf: &str, kind: &str| -> String {
        conf.lines()
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                (w.len() == 6 && w[0] == "lxc.idmap" && w[2] == kind)
                    .then(|| format!("root:{}:{}\n", w[4], w[5]))
            })
            .collect()
    };
    // The packaged config: exactly its lxc.idmap lines (none, if its profile
    // maps no ids).
    let dir = tempfile::tempdir().unwrap();
    let conf_path = dir.path().join(EX_CONF);
    fs::create_dir_all(conf_path.parent().unwrap()).unwrap();
    let packaged = work.join("packages-split/softwarecontainer-rootfs");
    let conf = fs::read_to_string(packaged.join(EX_CONF)).unwrap();
    fs::write(&conf_path, &conf).unwrap();
    postinst(dir.path());
    for (file, kind) in [("etc/subuid", "u"), ("etc/subgid", "g")] {
        assert_eq!(
            fs::read_to_string(dir.path().join(file)).unwrap_or_default(),
            expected(&conf, kind),
            "{file} from the packaged config's lxc.idmap"
        );
    }
    // A config generated with the lead's default id map: root gets the
    // ranges once, however often the postinst runs, next to what was there.
    let out = dir.path().join("idmapped");
    let o = run(scgen()
        .arg("gen")
        .arg("--profile")
        .arg(root().join(PROFILE))
        .arg("--out")
        .arg(&out)
        .args([
            "--set",
            "container.idmap=[\"u 0 100000 65536\", \"g 0 100000 65536\"]",
        ]));
    assert!(o.status.success(), "scgen gen: {}", text(&o.stderr));
    fs::copy(out.join("softwarecontainer.conf"), &conf_path).unwrap();
    fs::write(dir.path().join("etc/subuid"), "app:200000:65536\n").unwrap();
    let _ = fs::remove_file(dir.path().join("etc/subgid"));
    postinst(dir.path());
    postinst(dir.path());
    assert_eq!(
        fs::read_to_string(dir.path().join("etc/subuid")).unwrap(),
        "app:200000:65536\nroot:100000:65536\n",
        "/etc/subuid: root's range added once, the rest kept"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("etc/subgid")).unwrap(),
        "root:100000:65536\n",
        "/etc/subgid"
    );
}

#[test]
fn packageconfig_without_networkgateway_drops_the_network() {
    let Some(mut y) = yocto() else { return };
    let b = y.example_dir();
    let o = y.bitbake(
        &b,
        Some((
            "no-gateway.conf",
            "PACKAGECONFIG:pn-softwarecontainer-rootfs = \"\"\n",
        )),
        &["softwarecontainer-rootfs", "-c", "package"],
    );
    assert!(
        o.status.success(),
        "bitbake -c package without networkgateway: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let work = b.path.join(WORK);
    let pkg = work.join("packages-split/softwarecontainer-rootfs");
    let conf = fs::read_to_string(pkg.join(EX_CONF)).unwrap();
    assert!(
        !conf.contains("lxc.net."),
        "networkgateway off: no network\n{conf}"
    );
    let mtree = fs::read_to_string(
        pkg.join(EX_DATA)
            .join("softwarecontainer/scgen/rootfs.mtree"),
    )
    .unwrap();
    assert!(
        !mtree.contains("./bin/iptables"),
        "networkgateway off: no iptables placeholder"
    );
    assert_eq!(
        words(&pkgdata(
            &work,
            "softwarecontainer-rootfs",
            "RDEPENDS:softwarecontainer-rootfs"
        )),
        words("busybox scgen"),
        "networkgateway off: no iptables in RDEPENDS"
    );
    assert_packaged_as_gen(&work, false, "networkgateway off");
}

#[test]
fn missing_busybox_links_stop_do_compile_with_a_hint() {
    let Some(mut y) = yocto() else { return };
    let b = y.example_dir();
    let o = y.bitbake(
        &b,
        Some((
            "no-links.conf",
            "SCGEN_BUSYBOX_LINKS_DIR:pn-softwarecontainer-rootfs = \"${WORKDIR}/no-such-dir\"\n",
        )),
        &["softwarecontainer-rootfs", "-c", "compile"],
    );
    assert!(
        !o.status.success(),
        "do_compile fails without the applet lists"
    );
    let log = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        log.contains("DISTRO_FEATURES")
            && log.contains("busybox_%.bbappend")
            && log.contains("SCGEN_BUSYBOX_LINKS"),
        "the failure names the feature, the bbappend and SCGEN_BUSYBOX_LINKS:\n{log}"
    );
}

#[test]
fn without_the_distro_feature_busybox_is_untouched_and_the_example_skipped() {
    let Some(mut y) = yocto() else { return };
    let b = y.example_dir();
    let off = Some(("no-feature.conf", "DISTRO_FEATURES:remove = \"scgen\"\n"));
    let o = y.bitbake(&b, off, &["-e", "busybox"]);
    assert!(
        o.status.success(),
        "bitbake -e busybox: {}",
        text(&o.stderr)
    );
    let env = text(&o.stdout);
    assert!(
        !var(&env, "SYSROOT_PREPROCESS_FUNCS").contains("scgen"),
        "without the feature the bbappend adds nothing to busybox"
    );
    assert!(
        !env.contains("scgen_stage_busybox_links"),
        "without the feature busybox has no scgen function"
    );
    let o = y.bitbake(&b, off, &["softwarecontainer-rootfs", "-c", "compile"]);
    assert!(!o.status.success(), "the example is not buildable");
    let log = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        log.contains("softwarecontainer-rootfs was skipped")
            && log.contains("missing required DISTRO_FEATURES: 'scgen'"),
        "the skip names the feature:\n{log}"
    );
    // And with it (the tests' default), the function is there.
    let o = y.bitbake(&b, None, &["-e", "busybox"]);
    assert!(
        o.status.success(),
        "bitbake -e busybox: {}",
        text(&o.stderr)
    );
    assert!(
        words(&var(&text(&o.stdout), "SYSROOT_PREPROCESS_FUNCS"))
            .contains("scgen_stage_busybox_links"),
        "with the feature the bbappend stages the lists"
    );
}

// ---------------------------------------------------------------------------
// Sources: the crate list and a release

#[test]
fn update_crates_writes_the_committed_crate_list() {
    let Some(y) = yocto() else { return };
    // do_update_crates writes ${THISDIR}/scgen-crates.inc: run it on a copy
    // of the layer, beside links to the checkout's files it builds from.
    let tree = y.dir.join("crates-check");
    fs::create_dir_all(&tree).unwrap();
    for e in fs::read_dir(root()).unwrap().flatten() {
        let name = e.file_name();
        if name == LAYER || name == "target" || name == ".git" {
            continue;
        }
        symlink(e.path(), tree.join(&name)).unwrap();
    }
    let o = run(Command::new("cp")
        .arg("-a")
        .arg(root().join(LAYER))
        .arg(tree.join(LAYER)));
    assert!(o.status.success(), "copy the layer: {}", text(&o.stderr));
    let c = y.build_dir(
        "crates",
        &[tree.join(LAYER), root().join("tests/yocto/meta-host-tools")],
    );
    let o = y.bitbake(&c, None, &["scgen", "-c", "update_crates"]);
    assert!(
        o.status.success(),
        "bitbake scgen -c update_crates: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    no_warnings(&o, "bitbake scgen -c update_crates");
    let fresh = fs::read(tree.join(CRATES_INC)).unwrap();
    assert!(
        String::from_utf8_lossy(&fresh)
            .starts_with("# Autogenerated with 'bitbake -c update_crates scgen'"),
        "the copy's crate list was rewritten by do_update_crates"
    );
    // BLESS=1 cargo test --test yocto writes it into the layer.
    ensure_file_contents(&root().join(CRATES_INC), &fresh);
}

/// The release recipe's server, stood in for by a bare repository holding
/// this checkout's history up to the pinned SRCREV, tagged v<version> there
/// as the release will be. Returns the mirror dir and the SRCREV's parent.
fn release_mirror(dir: &Path) -> Option<(PathBuf, String)> {
    let rev = release_srcrev();
    let git = |args: &[&str], cwd: &Path| {
        run(Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(args)
            .current_dir(cwd))
    };
    let parent = git(&["rev-parse", &format!("{rev}^")], &root());
    if !parent.status.success() {
        missing(&format!(
            "the release's SRCREV {rev} (and its parent) is not in this checkout's history"
        ));
        return None;
    }
    let mirror = dir.join("mirror");
    let bare = mirror.join("scgen.git");
    fs::create_dir_all(&bare).unwrap();
    for (args, cwd) in [
        (vec!["init", "-q", "--bare"], bare.clone()),
        (
            vec![
                "push",
                "-q",
                bare.to_str().unwrap(),
                &format!("{rev}:refs/heads/main"),
            ],
            root(),
        ),
        (
            vec![
                "tag",
                "-a",
                "-m",
                "release",
                &format!("v{}", env!("CARGO_PKG_VERSION")),
                &rev,
            ],
            bare.clone(),
        ),
    ] {
        let o = git(&args, &cwd);
        assert!(o.status.success(), "git {args:?}: {}", text(&o.stderr));
    }
    Some((mirror, text(&parent.stdout).trim().to_string()))
}

#[test]
fn the_pinned_release_is_fetched_from_its_tag_through_a_mirror() {
    let Some(y) = yocto() else { return };
    let Some((mirror, parent)) = release_mirror(&y.dir.join("release-git")) else {
        return;
    };
    let d = y.build_dir("release", &[root().join(LAYER)]);
    // The default recipe (not the checkout's), its own downloads and sstate.
    let conf = |srcrev: &str| {
        format!(
            "PREFERRED_VERSION_scgen-native = \"{v}\"\n\
             {srcrev}\
             PREMIRRORS:prepend = \"git://r-seed-59822b2b.example/.* git://{m}/BASENAME;protocol=file \"\n\
             DL_DIR = \"{d}/downloads\"\nSSTATE_DIR = \"{d}/sstate\"\n",
            v = env!("CARGO_PKG_VERSION"),
            m = mirror.display(),
            d = d.path.display(),
        )
    };
    let o = y.bitbake(
        &d,
        Some(("release.conf", &conf(""))),
        &["scgen-native", "-c", "populate_lic"],
    );
    assert!(
        o.status.success(),
        "bitbake scgen-native -c populate_lic from the release: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    no_warnings(&o, "the release fetch");
    let work = d.path.join(format!(
        "tmp/work/{}-linux/scgen-native/{v}",
        std::env::consts::ARCH,
        v = env!("CARGO_PKG_VERSION")
    ));
    let s = work.join(format!("sources/scgen-{}", env!("CARGO_PKG_VERSION")));
    let shown = run(Command::new("git")
        .args(["show", &format!("{}:Cargo.lock", release_srcrev())])
        .current_dir(root()));
    assert!(
        fs::read(s.join("Cargo.lock")).unwrap() == shown.stdout,
        "S is the tagged commit's tree"
    );
    // do_populate_lic checked every LIC_FILES_CHKSUM (scgen's and the
    // vendored crates') and copied them.
    let lic = work.join("license-destdir/scgen-native");
    let copied = fs::read_dir(&lic).unwrap().count();
    assert!(
        lic.join("LICENSE-MIT.0").is_file() || lic.join("LICENSE-MIT").is_file(),
        "scgen's licence files were copied"
    );
    assert!(
        copied > 60,
        "the crates' licence files were copied too ({copied})"
    );

    // A SRCREV that is not the tag's is refused.
    let o = y.bitbake(
        &d,
        Some((
            "release.conf",
            &conf(&format!("SRCREV:pn-scgen-native = \"{parent}\"\n")),
        )),
        &["scgen-native", "-c", "unpack", "-f"],
    );
    assert!(!o.status.success(), "a rev that is not the tag's fails");
    let log = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        log.contains("didn't match the SRCREV"),
        "the git fetcher names the mismatch:\n{log}"
    );
}

// ---------------------------------------------------------------------------
// yocto-check-layer, parsing, tinfoil

#[test]
fn yocto_check_layer_passes_every_test() {
    let Some(y) = yocto() else { return };
    let build = y.dir.join("check-layer");
    let oe = y.dir.join("openembedded-core");
    // oe-init-build-env makes the build dir; the local.conf lines make it
    // work offline (no feature: the layer must not change signatures as
    // added), and the host tools layer provides virtual/fakeroot-native.
    let init = run(y
        .command(Path::new("bash"), &y.dir)
        .arg("-c")
        .arg("source \"$1/oe-init-build-env\" \"$2\" >/dev/null")
        .arg("bash")
        .arg(&oe)
        .arg(&build));
    assert!(
        init.status.success(),
        "oe-init-build-env: {}",
        text(&init.stderr)
    );
    fs::create_dir_all(build.join("home")).unwrap();
    let mut local = fs::read_to_string(build.join("conf/local.conf")).unwrap();
    local.push_str(&y.local_conf(false));
    fs::write(build.join("conf/local.conf"), local).unwrap();
    fs::write(
        build.join("conf/bblayers.conf"),
        format!(
            "BBPATH = \"${{TOPDIR}}\"\nBBFILES ?= \"\"\nBBLAYERS = \"{} {}\"\n",
            oe.join("meta").display(),
            root().join("tests/yocto/meta-host-tools").display()
        ),
    )
    .unwrap();
    let o = run(y
        .command(Path::new("bash"), &build)
        .arg("-c")
        .arg("source \"$1/oe-init-build-env\" \"$2\" >/dev/null && yocto-check-layer \"$3\"")
        .arg("bash")
        .arg(&oe)
        .arg(&build)
        .arg(root().join(LAYER)));
    let out = format!("{}{}", text(&o.stdout), text(&o.stderr));
    let results: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("... ") || l.contains("Ran ") || l.contains("INFO: test_"))
        .collect();
    let summary = results.join("\n");
    assert!(o.status.success(), "yocto-check-layer failed:\n{out}");
    assert!(
        out.contains("INFO: meta-scgen ... PASS"),
        "meta-scgen passes:\n{summary}"
    );
    assert!(
        out.contains("Ran 9 tests"),
        "all 9 common tests ran:\n{summary}"
    );
    let oks = out
        .lines()
        .filter(|l| l.trim_end().ends_with("... ok"))
        .count();
    assert_eq!(oks, 9, "every common test passed:\n{summary}");
    for t in [
        "test_readme",
        "test_security",
        "test_signatures",
        "test_world",
        "test_layerseries_compat",
    ] {
        assert!(out.contains(&format!("INFO: {t} ")), "{t} ran:\n{summary}");
    }
}

#[test]
fn recipes_parse_and_the_layer_names_the_fixtures_series() {
    let Some(mut y) = yocto() else { return };
    let a = BuildDir {
        path: y.native().path.clone(),
    };
    let homepage = "https://r-seed-59822b2b.example/scgen";
    let security = fs::read_to_string(root().join("meta-scgen/SECURITY.md")).unwrap();
    assert!(
        security.contains("r-seed-59822b2b.example"),
        "HOMEPAGE and the maintainers' address are one identity"
    );
    for (recipe, pv, release) in [
        (SCGEN_RECIPE, env!("CARGO_PKG_VERSION").to_string(), true),
        (GIT_RECIPE, git_pv(), false),
    ] {
        let scgen = root().join(recipe);
        for target in [
            scgen.display().to_string(),
            format!("virtual:native:{}", scgen.display()),
            format!("virtual:nativesdk:{}", scgen.display()),
        ] {
            let o = y.bitbake(&a, None, &["-e", "-b", &target]);
            assert!(
                o.status.success(),
                "bitbake -e -b {target}: {}",
                text(&o.stderr)
            );
            no_warnings(&o, &format!("bitbake -e -b {target}"));
            let e = text(&o.stdout);
            assert_eq!(var(&e, "PV"), pv, "{target}: PV from Cargo.toml's version");
            assert_eq!(var(&e, "HOMEPAGE"), homepage, "{target}: HOMEPAGE");
            if release {
                let srcrev = var(&e, "SRCREV");
                assert!(
                    srcrev.len() == 40 && srcrev.bytes().all(|c| c.is_ascii_hexdigit()),
                    "{target}: the release is pinned to a commit: {srcrev}"
                );
                assert!(
                    var(&e, "SRC_URI").contains(&format!(";tag=v{pv}")),
                    "{target}: the release names its tag"
                );
            } else {
                assert_eq!(
                    var(&e, "DEFAULT_PREFERENCE"),
                    "-1",
                    "{target}: the checkout recipe is never the default"
                );
            }
        }
    }
    let o = y.bitbake(&a, None, &["-e"]);
    let e = text(&o.stdout);
    let series = words(&var(&e, "LAYERSERIES_CORENAMES"));
    let compat = words(&var(&e, "LAYERSERIES_COMPAT_scgen"));
    assert!(
        !compat.is_empty() && compat.is_subset(&series),
        "LAYERSERIES_COMPAT_scgen {compat:?} names only series of the OE-Core tested ({series:?})"
    );
}

/// What `tests/yocto_tinfoil.py` found in build dir A (run on first use).
fn tinfoil(y: &mut Yocto) -> serde_json::Value {
    if let Some(t) = &y.tinfoil {
        return t.clone();
    }
    let a = y.native().path.clone();
    let out = a.join("tinfoil.json");
    let work = a.join("tinfoil");
    fs::create_dir_all(&work).unwrap();
    let o = run(y
        .command(Path::new("python3"), &a)
        .arg(root().join("tests/yocto_tinfoil.py"))
        .arg(root().join(LAYER))
        .arg(&out)
        .arg(&work));
    assert!(
        o.status.success(),
        "tinfoil: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    no_warnings(&o, "tinfoil");
    let t: serde_json::Value = serde_json::from_str(&fs::read_to_string(out).unwrap()).unwrap();
    y.tinfoil = Some(t.clone());
    t
}

#[test]
fn tinfoil_parses_the_layer_with_its_bbappends_and_classes() {
    let Some(mut y) = yocto() else { return };
    let t = tinfoil(&mut y);
    let layer = root().join(LAYER);

    let mut recipes = BTreeSet::new();
    let mut classes_used = BTreeSet::new();
    for (recipe, info) in t["recipes"].as_object().unwrap() {
        recipes.insert(recipe.clone());
        for c in info["classes"].as_array().unwrap() {
            classes_used.insert(c.as_str().unwrap().to_string());
        }
    }
    let mut classes = BTreeSet::new();
    let mut bbappends = BTreeSet::new();
    let mut bbs = BTreeSet::new();
    // dynamic-layers/ is parsed only with meta-virtualization (see
    // softwarecontainer_parses_fetches_patches_and_generates).
    for e in walkdir::WalkDir::new(&layer)
        .into_iter()
        .filter_entry(|e| e.file_name() != "dynamic-layers")
    {
        let e = e.unwrap();
        let rel = e
            .path()
            .strip_prefix(&layer)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        if rel.ends_with(".bbclass") {
            classes.insert(rel);
        } else if rel.ends_with(".bbappend") {
            bbappends.insert(rel);
        } else if rel.ends_with(".bb") {
            bbs.insert(rel);
        }
    }
    assert_eq!(recipes, bbs, "tinfoil parsed every recipe of the layer");
    assert_eq!(
        classes_used, classes,
        "every class of the layer is inherited by a parsed recipe"
    );
    let applied: BTreeSet<String> = t["bbappends"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(applied, bbappends, "every bbappend applies to a recipe");
    assert_eq!(
        t["bbappends"]["recipes-core/busybox/busybox_%.bbappend"],
        serde_json::json!(["busybox_1.38.0.bb"]),
        "the busybox bbappend applies to OE-Core's busybox"
    );
}

#[test]
fn oe_cores_busybox_stages_the_applet_lists_with_the_bbappend() {
    let Some(mut y) = yocto() else { return };
    let t = tinfoil(&mut y);
    assert_eq!(
        t["busybox_funcs"],
        serde_json::json!(["scgen_stage_busybox_links"]),
        "busybox: SYSROOT_PREPROCESS_FUNCS"
    );
    let history = t["busybox_funcs_history"].as_array().unwrap();
    assert!(
        history
            .iter()
            .any(|h| h == &serde_json::json!(["busybox-scgen.inc", "append"])),
        "the bbappend's include (with the feature) is what adds it: {history:?}"
    );
    assert_eq!(t["busybox_func_is_shell"], true, "a shell function");
    // OE-Core's busybox's do_populate_sysroot, run on a ${D} with the
    // lists and an inittab: the lists reach the sysroot, the rest of /etc
    // does not.
    assert_eq!(
        t["busybox_staged"],
        serde_json::json!([
            "etc/busybox.links.nosuid",
            "etc/busybox.links.suid",
            "sysroot-providers/busybox"
        ]),
        "do_populate_sysroot stages exactly the applet lists"
    );
}

// ---------------------------------------------------------------------------
// Licences of what is linked in

/// The crates linked into the scgen binary of the tree at `dir`: its normal
/// dependencies, transitively, for every target the recipes build
/// (x86_64, aarch64, armv7), without proc macros (they run in the compiler)
/// and without build and dev dependencies. (name, version, license).
fn linked_crates(dir: &Path) -> Vec<(String, String, String)> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let o = run(Command::new(&cargo)
        .args(["fetch", "--locked"])
        .current_dir(dir));
    assert!(o.status.success(), "cargo fetch: {}", text(&o.stderr));
    let mut out = BTreeSet::new();
    for platform in [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "armv7-unknown-linux-gnueabihf",
    ] {
        let o = run(Command::new(&cargo)
            .args(["metadata", "--format-version", "1", "--locked", "--offline"])
            .args(["--filter-platform", platform])
            .current_dir(dir));
        assert!(o.status.success(), "cargo metadata: {}", text(&o.stderr));
        let m: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let packages: std::collections::BTreeMap<&str, &serde_json::Value> = m["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["id"].as_str().unwrap(), p))
            .collect();
        let proc_macro = |id: &str| {
            packages[id]["targets"].as_array().unwrap().iter().any(|t| {
                t["kind"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k == "proc-macro")
            })
        };
        let nodes: std::collections::BTreeMap<&str, &serde_json::Value> = m["resolve"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| (n["id"].as_str().unwrap(), n))
            .collect();
        let mut todo = vec![m["resolve"]["root"].as_str().expect("a root package")];
        let mut seen = BTreeSet::new();
        while let Some(id) = todo.pop() {
            if !seen.insert(id) {
                continue;
            }
            for dep in nodes[id]["deps"].as_array().unwrap() {
                let normal = dep["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null());
                let dep = dep["pkg"].as_str().unwrap();
                if normal && !proc_macro(dep) {
                    todo.push(dep);
                }
            }
        }
        for id in seen {
            let p = packages[id];
            out.insert((
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
                p["license"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{id} declares no license"))
                    .to_string(),
            ));
        }
    }
    out.into_iter().collect()
}

/// A cargo licence expression as its alternatives, `/` being the old `OR`.
fn alternatives(expr: &str) -> BTreeSet<String> {
    expr.replace('/', " OR ")
        .split(" OR ")
        .map(|t| t.trim().to_string())
        .collect()
}

fn md5(data: &[u8]) -> String {
    let mut child = Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("md5sum");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(data).unwrap();
    let o = child.wait_with_output().unwrap();
    text(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// The licence files at the top of a registry crate, from cargo's cache.
fn crate_license_files(name: &str, version: &str) -> Vec<(String, Vec<u8>)> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
    let file = format!("{name}-{version}.crate");
    let archive = fs::read_dir(home.join("registry/cache"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join(&file))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{file} is not in cargo's cache after cargo fetch"));
    let data = fs::read(archive).unwrap();
    let mut out = Vec::new();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&data[..]));
    for e in tar.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().into_owned();
        let parts: Vec<String> = path
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let [top, base] = &parts[..] else { continue };
        let lower = base.to_lowercase();
        let is_license = ["license", "licence", "copying", "unlicense"]
            .iter()
            .any(|p| lower.starts_with(p));
        if top == &format!("{name}-{version}") && is_license && e.header().entry_type().is_file() {
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).unwrap();
            out.push((base.clone(), bytes));
        }
    }
    out.sort();
    out
}

/// `scgen-licenses.inc` for the tree at `dir`: LICENSE, every distinct
/// licence expression of what is linked in, joined with AND (scgen's own
/// first); LIC_FILES_CHKSUM, scgen's licence files and every licence file of
/// every linked crate, as the cargo class vendors them.
fn licenses_inc(dir: &Path) -> String {
    let crates = linked_crates(dir);
    let own = alternatives("MIT OR Apache-2.0");
    let mut exprs: BTreeSet<BTreeSet<String>> = BTreeSet::new();
    let mut files = vec![
        format!(
            "file://LICENSE-MIT;md5={}",
            md5(&fs::read(dir.join("LICENSE-MIT")).unwrap())
        ),
        format!(
            "file://LICENSE-APACHE;md5={}",
            md5(&fs::read(dir.join("LICENSE-APACHE")).unwrap())
        ),
    ];
    let mut without = Vec::new();
    for (name, version, license) in &crates {
        if name == "scgen" {
            assert_eq!(alternatives(license), own, "scgen's own licence");
            continue;
        }
        exprs.insert(alternatives(license));
        let found = crate_license_files(name, version);
        if found.is_empty() {
            without.push(format!("{name}-{version}"));
        }
        for (base, bytes) in found {
            files.push(format!(
                "file://${{CARGO_VENDORING_DIRECTORY}}/{name}-{version}/{base};md5={}",
                md5(&bytes)
            ));
        }
    }
    assert!(
        without.is_empty(),
        "these linked crates ship no licence file; LIC_FILES_CHKSUM cannot cover them: {without:?}"
    );
    exprs.remove(&own);
    let term = |alts: &BTreeSet<String>| {
        let v: Vec<&str> = alts.iter().map(String::as_str).collect();
        if v.len() == 1 {
            v[0].to_string()
        } else {
            format!("({})", v.join(" OR "))
        }
    };
    let mut license = vec![term(&own)];
    license.extend(exprs.iter().map(term));
    let mut names = String::new();
    let mut line = String::from("# Crates:");
    for (n, v, _) in &crates {
        if line.len() + n.len() + v.len() + 2 > 76 {
            names.push_str(&line);
            names.push('\n');
            line = String::from("#  ");
        }
        line.push_str(&format!(" {n}-{v}"));
    }
    names.push_str(&line);
    format!(
        "# Generated by tests/yocto.rs from `cargo metadata` over this recipe's\n\
         # Cargo.lock: the {} crates linked into scgen (normal dependencies for\n\
         # x86_64, aarch64 and armv7; no proc macros, build or dev dependencies),\n\
         # each licence expression once, and every licence file they ship.\n\
         # Rewrite with: BLESS=1 cargo test --test yocto -- licenses\n\
         {}\n\
         LICENSE = \"{}\"\n\
         LIC_FILES_CHKSUM = \"\\\n{}\"\n",
        crates.len(),
        names,
        license.join(" AND "),
        files
            .iter()
            .map(|f| format!("    {f} \\\n"))
            .collect::<String>()
    )
}

/// The SRCREV the release recipe pins.
fn release_srcrev() -> String {
    fs::read_to_string(root().join(SCGEN_RECIPE))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("SRCREV = \""))
        .expect("the release recipe sets SRCREV")
        .trim_end_matches('"')
        .to_string()
}

/// The tree of the release commit, from this repository's history.
fn release_tree(dir: &Path) -> Option<PathBuf> {
    let rev = release_srcrev();
    let tree = dir.join("release-tree");
    let archive = dir.join("release.tar");
    let o = run(Command::new("git")
        .args(["archive", "--format=tar", "-o"])
        .arg(&archive)
        .arg(&rev)
        .current_dir(root()));
    if !o.status.success() {
        missing(&format!(
            "the release's SRCREV {rev} is not in this checkout's history: {}",
            text(&o.stderr)
        ));
        return None;
    }
    fs::create_dir_all(&tree).unwrap();
    let o = run(Command::new("tar")
        .arg("-xf")
        .arg(&archive)
        .arg("-C")
        .arg(&tree));
    assert!(o.status.success(), "untar: {}", text(&o.stderr));
    Some(tree)
}

#[test]
fn licenses_cover_every_crate_linked_in() {
    // The checkout recipe: the checkout's Cargo.lock.
    let inc = root().join("meta-scgen/recipes-devtools/scgen-git/scgen-licenses.inc");
    ensure_file_contents(&inc, licenses_inc(&root()).as_bytes());
    // The release recipe: the Cargo.lock of its SRCREV.
    let dir = tempfile::tempdir().unwrap();
    let Some(tree) = release_tree(dir.path()) else {
        return;
    };
    let inc = root().join("meta-scgen/recipes-devtools/scgen/scgen-licenses.inc");
    ensure_file_contents(&inc, licenses_inc(&tree).as_bytes());
    // Its crate list is that Cargo.lock's too (do_update_crates writes the
    // checkout's; they agree while the lock files do).
    if fs::read(tree.join("Cargo.lock")).unwrap() == fs::read(root().join("Cargo.lock")).unwrap() {
        assert_eq!(
            fs::read_to_string(root().join(RELEASE_CRATES_INC)).unwrap(),
            fs::read_to_string(root().join(CRATES_INC)).unwrap(),
            "the release's Cargo.lock is the checkout's, so is its crate list"
        );
    }
}

// ---------------------------------------------------------------------------
// SoftwareContainer

const SC_RECIPE: &str = "meta-scgen/dynamic-layers/virtualization-layer/recipes-containers/softwarecontainer/softwarecontainer_0.19.0.bb";
const SC_WORK: &str = "tmp/work/x86-64-v3-oe-linux/softwarecontainer/0.19.0";
/// The fixture tarball's sha256 (its README).
const SC_TARBALL_SHA256: &str = "77a351961c15d0b7ac8f2c049f81ec14acbc6fc52d00147aaeaa3dd3aea846e3";

/// ivi-logging's fixture tarball's sha256 (the fixture README).
const IVI_SHA256: &str = "05abdda76a595a57ff0f7ba257bf07b400d897ee8dd9643078af54bf6eb5508d";

fn sc_tarball() -> PathBuf {
    root().join("../shared/fixtures/softwarecontainer/softwarecontainer-13fd268e6.tar.gz")
}

/// Build dir C: meta-scgen with its dynamic layer on (the collections stub
/// names meta-virtualization and meta-oe), SoftwareContainer's source from
/// the fixture's `git archive` of the pinned commit behind a mirror, and
/// what the fixture cannot build (the C++ libraries, LXC, CMake) assumed.
fn sc_dir(y: &mut Yocto) -> BuildDir {
    y.native();
    let c = y.build_dir(
        "softwarecontainer",
        &[
            root().join(LAYER),
            root().join("tests/yocto/meta-host-tools"),
            root().join("tests/yocto/meta-busybox-stub"),
            root().join("tests/yocto/meta-collections-stub"),
            root().join("tests/yocto/meta-cmake-consumer"),
        ],
    );
    let mirror = y.dir.join("sc-mirror");
    fs::create_dir_all(&mirror).unwrap();
    let _ = fs::remove_file(mirror.join("softwarecontainer-13fd268e6.tar.gz"));
    symlink(
        sc_tarball(),
        mirror.join("softwarecontainer-13fd268e6.tar.gz"),
    )
    .unwrap();
    let mut local = fs::read_to_string(c.path.join("conf/local.conf")).unwrap();
    local.push_str(&format!(
        "SOFTWARECONTAINER_SRC_URI = \"https://softwarecontainer.example.invalid/softwarecontainer-13fd268e6.tar.gz;sha256sum={SC_TARBALL_SHA256};striplevel=1;subdir=${{BP}}\"\n\
         PREMIRRORS:prepend = \"https://softwarecontainer.example.invalid/.* file://{}/ \"\n\
         ASSUME_PROVIDED += \"glibmm jansson dbus lxc ivi-logging bridge-utils cmake-native ninja-native pkgconfig-native pkgconf-native\"\n\
         HOSTTOOLS += \"cmake ninja\"\n\
         # quilt-native is assumed provided but not on the host: OE-Core's\n\
         # other patch tool, the host's GNU patch.\n\
         PATCHTOOL:pn-softwarecontainer = \"patch\"\n",
        mirror.display()
    ));
    fs::write(c.path.join("conf/local.conf"), local).unwrap();
    c
}

#[test]
fn softwarecontainer_parses_fetches_patches_and_generates() {
    if !sc_tarball().is_file() {
        missing("the SoftwareContainer fixture tarball is not there");
        return;
    }
    assert!(root().join(SC_RECIPE).is_file());
    let Some(mut y) = yocto() else { return };
    let c = sc_dir(&mut y);

    // The agent series, if any, follows the CMake patch in name order.
    let o = y.bitbake(&c, None, &["-e", "softwarecontainer"]);
    assert!(
        o.status.success(),
        "bitbake -e softwarecontainer: {}",
        text(&o.stderr)
    );
    let env = text(&o.stdout);
    let mut agent: Vec<String> = fs::read_dir(root().join("integration/softwarecontainer/agent"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".patch"))
                .collect()
        })
        .unwrap_or_default();
    agent.sort();
    let patches: Vec<String> = var(&env, "SRC_URI")
        .split_whitespace()
        .filter(|u| u.ends_with(".patch"))
        .map(str::to_string)
        .collect();
    let mut want = vec!["file://softwarecontainer-scgen.patch".to_string()];
    want.extend(agent.iter().map(|n| format!("file://agent/{n}")));
    assert_eq!(patches, want, "the patches, in order");
    // One switch for agent and profile.
    assert!(var(&env, "EXTRA_OECMAKE").contains("-DENABLE_NETWORKGATEWAY=ON"));
    assert_eq!(var(&env, "SCGEN_NETWORK_GATEWAY"), "true");
    assert!(
        var(&env, "EXTRA_OECMAKE").contains(&format!(
            "-DSCGEN_PROFILE={}",
            var(&env, "SCGEN_PROFILE_FILE")
        )),
        "CMake generates from do_scgen's profile"
    );
    let o = y.bitbake(
        &c,
        Some(("off.conf", "PACKAGECONFIG:pn-softwarecontainer = \"\"\n")),
        &["-e", "softwarecontainer"],
    );
    let off = text(&o.stdout);
    assert!(var(&off, "EXTRA_OECMAKE").contains("-DENABLE_NETWORKGATEWAY=OFF"));
    assert_eq!(var(&off, "SCGEN_NETWORK_GATEWAY"), "false");

    // With meta-virtualization in the build, the target scgen depends on lxc
    // (the dynamic layer's bbappend); without it, it cannot.
    let rdepends = |dir: &BuildDir, y: &Yocto| {
        let o = y.bitbake(dir, None, &["-e", "scgen"]);
        assert!(o.status.success(), "bitbake -e scgen: {}", text(&o.stderr));
        words(&var(&text(&o.stdout), "RDEPENDS:scgen"))
    };
    assert!(rdepends(&c, &y).contains("lxc"), "scgen RDEPENDS on lxc");
    let b = y.example_dir();
    assert!(
        !rdepends(&b, &y).contains("lxc"),
        "without meta-virtualization, no lxc"
    );

    // Fetch (mirror), unpack, patch, and do_scgen with scgen-native.
    let o = y.bitbake(&c, None, &["softwarecontainer", "-c", "scgen"]);
    assert!(
        o.status.success(),
        "bitbake softwarecontainer -c scgen: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    no_warnings(&o, "bitbake softwarecontainer -c scgen");
    let work = c.path.join(SC_WORK);
    let s = work.join("sources/softwarecontainer-0.19.0");

    // ivi-logging, which SoftwareContainer builds against (assumed provided
    // above for SoftwareContainer's graph): its source from the fixture's
    // tarball behind the same kind of mirror, and its licence checked.
    let ivi = "ivi-logging-7ec74df.tar.gz";
    let _ = fs::remove_file(y.dir.join("sc-mirror").join(ivi));
    symlink(
        sc_tarball().with_file_name(ivi),
        y.dir.join("sc-mirror").join(ivi),
    )
    .unwrap();
    let o = y.bitbake(
        &c,
        Some((
            "ivi.conf",
            &format!(
                "ASSUME_PROVIDED:remove = \"ivi-logging\"\n\
                 IVI_LOGGING_SRC_URI = \"https://softwarecontainer.example.invalid/{ivi};sha256sum={IVI_SHA256};striplevel=1;subdir=${{BP}}\"\n\
                 PATCHTOOL:pn-ivi-logging = \"patch\"\n"
            ),
        )),
        &["ivi-logging", "-c", "populate_lic"],
    );
    assert!(
        o.status.success(),
        "bitbake ivi-logging -c populate_lic: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    no_warnings(&o, "bitbake ivi-logging -c populate_lic");
    assert!(
        c.path
            .join("tmp/work/x86-64-v3-oe-linux/ivi-logging/1.3.0/license-destdir/ivi-logging/LICENSE.txt")
            .is_file(),
        "ivi-logging's LICENSE.txt passed its checksum and was copied"
    );
    let cmake = fs::read_to_string(s.join("libsoftwarecontainer/CMakeLists.txt")).unwrap();
    assert!(
        cmake.contains("find_package(SCGen CONFIG REQUIRED)"),
        "do_patch applied the scgen patch"
    );
    assert!(
        work.join("recipe-sysroot-native/usr/lib/cmake/SCGen/SCGenConfig.cmake")
            .is_file(),
        "SCGenConfig.cmake is in the recipe's native sysroot for find_package(SCGen)"
    );
    let out = work.join("scgen/out");
    let conf = fs::read_to_string(out.join("softwarecontainer.conf")).unwrap();
    assert!(
        conf.contains("lxc.net.0.link = lxcbr0"),
        "the network gateway is on in the generated config:\n{conf}"
    );
    let log = fs::read_to_string(work.join("temp/log.do_scgen")).unwrap();
    let inputs = log
        .lines()
        .find(|l| l.contains("scgen: inputs "))
        .unwrap_or_default();
    assert!(
        inputs.contains(
            &s.join("libsoftwarecontainer/softwarecontainer.toml")
                .display()
                .to_string()
        ),
        "do_scgen read the patched tree's profile (from the depfile):\n{log}"
    );
}

#[test]
fn find_package_scgen_works_under_the_cmake_class() {
    let Some(mut y) = yocto() else { return };
    if !have("cmake") || !have("ninja") {
        return;
    }
    let c = sc_dir(&mut y);
    let o = y.bitbake(&c, None, &["scgen-cmake-consumer", "-c", "install"]);
    assert!(
        o.status.success(),
        "bitbake scgen-cmake-consumer -c install: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    no_warnings(&o, "bitbake scgen-cmake-consumer -c install");
    let work = c
        .path
        .join("tmp/work/x86-64-v3-oe-linux/scgen-cmake-consumer/1.0");
    let log = fs::read_to_string(work.join("temp/log.do_configure")).unwrap();
    let sysroot = work.join("recipe-sysroot-native");
    assert!(
        log.contains(&format!(
            "SCGen from {}",
            sysroot.join("usr/lib/cmake/SCGen").display()
        )) && log.contains(&format!(
            "scgen {}",
            sysroot.join("usr/bin/scgen").display()
        )),
        "find_package(SCGen) found scgen-native's package and binary:\n{log}"
    );
    let image = work.join("image");
    let mut want: BTreeSet<String> = ARTIFACTS
        .iter()
        .map(|a| format!("/usr/share/softwarecontainer/scgen/{a}"))
        .collect();
    want.insert("/usr/share/softwarecontainer/lxc-templates/lxc-softwarecontainer".into());
    want.insert("/etc/softwarecontainer/softwarecontainer.conf".into());
    assert_eq!(files(&image), want, "scgen_generate(INSTALL) installed");
}

#[test]
fn do_scgen_checks_seccomp_inputs_and_leaves_the_gateway_to_the_profile() {
    let Some(mut y) = yocto() else { return };
    let b = y.example_dir();
    let work = b.path.join(WORK);

    // The profile's policy is on (security.seccomp's default), the feature
    // is not: the task fails and says why.
    let o = y.bitbake(
        &b,
        Some(("no-seccomp.conf", "DISTRO_FEATURES:remove = \"seccomp\"\n")),
        &["softwarecontainer-rootfs", "-c", "scgen"],
    );
    assert!(!o.status.success(), "do_scgen fails without seccomp");
    let log = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        log.contains("\"seccomp\" is not in DISTRO_FEATURES") && log.contains("security.seccomp"),
        "the failure names the feature and the profile key:\n{log}"
    );
    // With the policy off in the profile, no feature is needed.
    let o = y.bitbake(
        &b,
        Some((
            "no-seccomp.conf",
            "DISTRO_FEATURES:remove = \"seccomp\"\n\
             SCGEN_EXTRA_ARGS:pn-softwarecontainer-rootfs = \"--set security.seccomp=off\"\n",
        )),
        &["softwarecontainer-rootfs", "-c", "scgen"],
    );
    assert!(
        o.status.success(),
        "security.seccomp = off needs no seccomp feature: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );

    // A profile outside WORKDIR is an input BitBake does not track.
    let outside = root().join(PROFILE);
    let o = y.bitbake(
        &b,
        Some((
            "outside.conf",
            &format!(
                "SCGEN_PROFILE:pn-softwarecontainer-rootfs = \"{}\"\n",
                outside.display()
            ),
        )),
        &["softwarecontainer-rootfs", "-c", "scgen"],
    );
    assert!(!o.status.success(), "an untracked input fails do_scgen");
    let log = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        log.contains(&outside.display().to_string()) && log.contains("SRC_URI"),
        "the failure names the file and SRC_URI:\n{log}"
    );

    // No SCGEN_NETWORK_GATEWAY: the profile this class writes sets no
    // gateway, so the recipe's profile decides (here: off, the default).
    let o = y.bitbake(
        &b,
        Some((
            "no-gateway-setting.conf",
            "SCGEN_NETWORK_GATEWAY:pn-softwarecontainer-rootfs = \"\"\n",
        )),
        &["softwarecontainer-rootfs", "-c", "scgen"],
    );
    assert!(
        o.status.success(),
        "do_scgen without a gateway setting: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let written = fs::read_to_string(work.join("scgen/profile/softwarecontainer.toml")).unwrap();
    assert!(
        !written.contains("gateway"),
        "no gateway setting passed:\n{written}"
    );
    let stage = fs::read_to_string(work.join("scgen/out/stage.toml")).unwrap();
    assert!(
        stage.contains("iptables = false"),
        "the example profile leaves the gateway off:\n{stage}"
    );
}
