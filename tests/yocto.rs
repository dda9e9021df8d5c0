//! The Yocto layer (`yocto/`) under the real BitBake 2.19 and OE-Core of
//! `../shared/fixtures/yocto/bitbake-oe-core.tar.xz` (override the path with
//! `SCGEN_YOCTO_FIXTURE`). Emulating BitBake hid a layer that the current
//! release refused, a recipe that no longer parsed and a missing recipe, so
//! everything here goes through BitBake itself, offline:
//!
//! * `bitbake -e -b` parses each recipe (target, `virtual:native:`,
//!   `virtual:nativesdk:`) and the class the example recipe inherits;
//! * tinfoil (`tests/yocto_tinfoil.py`) parses the layer with its bbappends,
//!   runs busybox's `do_populate_sysroot` with the append in place, and
//!   unpacks scgen's `file://` sources to check LIC_FILES_CHKSUM;
//! * `bitbake -b softwarecontainer-rootfs -c package_qa` runs the example
//!   recipe's own tasks through packaging and its QA, with the binary under
//!   test as the host `scgen` (`HOSTTOOLS += "scgen"`), Debian's pseudo as
//!   pseudo-native, Debian's `rpmdeps` as rpm-native's, and the busybox
//!   applet lists where the sysroot would hold them.
//!
//! Not covered: building scgen itself with the cargo class (the fixture has
//! no Rust toolchain and the crates need the network), dependency
//! resolution (`-b` resolves none), and the `build-deps` QA check, which
//! needs the dependency graph `-b` does not build. Running as root (as CI
//! does), BitBake's `host-user-contaminated` check cannot tell pseudo's root
//! from the real one, so it is off then; `HOME` points into the build dir so
//! the `buildpaths` check does not mistake the skeleton's `./root` for root's
//! home directory.
//!
//! The tests share one unpacked fixture and one build directory under
//! `CARGO_TARGET_TMPDIR`; BitBake locks a build directory, so they take
//! turns through a mutex. Missing tools: `SKIPPED` locally, a failure with
//! `CI` set.
//!
//! `scgen-crates.inc` is generated from Cargo.lock here too:
//! `BLESS=1 cargo test --test yocto` rewrites it.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};

use common::*;

const RECIPE: &str = "yocto/recipes-core/softwarecontainer-rootfs/softwarecontainer-rootfs_1.0.bb";
const PROFILE: &str = "yocto/recipes-core/softwarecontainer-rootfs/files/softwarecontainer.toml";
const SCGEN_RECIPE: &str = "yocto/recipes-devtools/scgen/scgen_0.1.0.bb";
const CRATES_INC: &str = "yocto/recipes-devtools/scgen/scgen-crates.inc";
/// Where the example recipe's WORKDIR lands for MACHINE = qemux86-64.
const WORK: &str = "tmp/work/x86-64-v3-oe-linux/softwarecontainer-rootfs/1.0";
/// SOURCE_DATE_EPOCH_FALLBACK for the test build: what OE-Core gives a
/// recipe whose S is UNPACKDIR, so it must reach the tarball.
const EPOCH: &str = "1712345678";
/// The applet lists put where the busybox bbappend stages them, in the order
/// scgen.bbclass concatenates them (SCGEN_BUSYBOX_LINKS).
const LINKS_NOSUID: &str = "/bin/sh\n/bin/ls\n/bin/env\n/bin/sleep\n/usr/bin/env\n";
const LINKS_SUID: &str = "/bin/ping\n/bin/su\n";

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

/// Debian's libpseudo.so (multiarch path), which pseudo preloads.
fn libpseudo() -> Option<PathBuf> {
    let mut candidates = vec![PathBuf::from("/usr/lib/pseudo/libpseudo.so")];
    if let Ok(dirs) = fs::read_dir("/usr/lib") {
        for d in dirs.flatten() {
            candidates.push(d.path().join("pseudo/libpseudo.so"));
        }
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// Everything BitBake needs on the host, checked before the fixture is used.
fn prerequisites() -> bool {
    for tool in [
        "python3", "chrpath", "cpio", "diffstat", "gawk", "lz4", "zstd", "file", "tar", "xz",
        "pseudo", "locale",
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
    if libpseudo().is_none() {
        return missing("libpseudo.so is not installed (apt-get install libpseudo)");
    }
    if !Path::new("/usr/lib/rpm/rpmdeps").is_file() {
        return missing("/usr/lib/rpm/rpmdeps is not installed (apt-get install rpm)");
    }
    if !fixture_tarball().is_file() {
        return missing(&format!(
            "the BitBake fixture {} is not there",
            fixture_tarball().display()
        ));
    }
    true
}

/// The unpacked fixture and the build directory the tests share.
struct Bitbake {
    dir: PathBuf,
    build: PathBuf,
    /// What `tests/yocto_tinfoil.py` found, run once for the tests that ask.
    tinfoil: Option<serde_json::Value>,
}

static BITBAKE: OnceLock<Option<Mutex<Bitbake>>> = OnceLock::new();

/// The shared BitBake setup, locked for the caller; `None` when skipping.
fn bitbake() -> Option<MutexGuard<'static, Bitbake>> {
    BITBAKE
        .get_or_init(|| prerequisites().then(|| Mutex::new(Bitbake::setup())))
        .as_ref()
        // A test that failed while holding the lock leaves nothing half done
        // that the next one relies on: each run names its own tasks.
        .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()))
}

impl Bitbake {
    /// Unpacks the fixture and makes a fresh build dir, once per test binary.
    fn setup() -> Bitbake {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("yocto");
        if dir.exists() {
            fs::remove_dir_all(&dir).unwrap();
        }
        let build = dir.join("build");
        for d in ["conf", "bin", "home"] {
            fs::create_dir_all(build.join(d)).unwrap();
        }
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

        // The binary under test is the host scgen the tasks see.
        symlink(env!("CARGO_BIN_EXE_scgen"), build.join("bin/scgen")).unwrap();

        let layers = format!(
            "BBPATH = \"${{TOPDIR}}\"\nBBFILES ?= \"\"\nBBLAYERS = \"{} {}\"\n",
            dir.join("openembedded-core/meta").display(),
            root().join("yocto").display()
        );
        fs::write(build.join("conf/bblayers.conf"), layers).unwrap();
        let mut local = String::from(
            "MACHINE = \"qemux86-64\"\n\
             BB_NO_NETWORK = \"1\"\n\
             # No host sanity checks (they refuse root) and no uninative download.\n\
             INHERIT:remove = \"sanity uninative\"\n\
             HOSTTOOLS += \"scgen\"\n\
             # -b builds no dependency graph, which this check reads.\n\
             ERROR_QA:remove = \"build-deps\"\n",
        );
        local.push_str(&format!("SOURCE_DATE_EPOCH_FALLBACK = \"{EPOCH}\"\n"));
        if is_uid0() {
            local.push_str(
                "# As root, pseudo's root and the real one are the same uid.\n\
                 ERROR_QA:remove = \"host-user-contaminated\"\n\
                 WARN_QA:remove = \"host-user-contaminated\"\n",
            );
        }
        fs::write(build.join("conf/local.conf"), local).unwrap();

        // pseudo-native: Debian's pseudo where PSEUDO_SYSROOT points.
        let pseudo = build.join(format!(
            "tmp/sysroots-components/{}/pseudo-native/usr",
            std::env::consts::ARCH
        ));
        fs::create_dir_all(pseudo.join("bin")).unwrap();
        symlink("/usr/bin/pseudo", pseudo.join("bin/pseudo")).unwrap();
        for lib in ["lib", "lib64"] {
            let d = pseudo.join("lib/pseudo").join(lib);
            fs::create_dir_all(&d).unwrap();
            symlink(libpseudo().unwrap(), d.join("libpseudo.so")).unwrap();
        }

        // What busybox (through the bbappend) and rpm-native would put in
        // the example recipe's sysroots.
        let work = build.join(WORK);
        fs::create_dir_all(work.join("recipe-sysroot/etc")).unwrap();
        fs::write(
            work.join("recipe-sysroot/etc/busybox.links.nosuid"),
            LINKS_NOSUID,
        )
        .unwrap();
        fs::write(
            work.join("recipe-sysroot/etc/busybox.links.suid"),
            LINKS_SUID,
        )
        .unwrap();
        fs::create_dir_all(work.join("recipe-sysroot-native/usr/lib/rpm")).unwrap();
        symlink(
            "/usr/lib/rpm/rpmdeps",
            work.join("recipe-sysroot-native/usr/lib/rpm/rpmdeps"),
        )
        .unwrap();
        Bitbake {
            dir,
            build,
            tinfoil: None,
        }
    }

    /// A command in the build dir with the environment BitBake needs.
    fn command(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        let path = format!(
            "{}:{}:{}",
            self.dir.join("bitbake/bin").display(),
            self.build.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        c.current_dir(&self.build)
            .env("PATH", path)
            .env("LANG", "en_US.UTF-8")
            .env("LC_ALL", "en_US.UTF-8")
            .env("HOME", self.build.join("home"))
            .env("PYTHONPATH", self.dir.join("bitbake/lib"))
            .env_remove("BBPATH")
            .env_remove("BUILDDIR")
            .env_remove("SOURCE_DATE_EPOCH");
        c
    }

    /// `bitbake ARGS`, with `extra` as a `-R` post-read conf when given.
    fn run(&self, extra: Option<(&str, &str)>, args: &[&str]) -> Output {
        let mut c = self.command(&self.dir.join("bitbake/bin/bitbake"));
        if let Some((name, conf)) = extra {
            let path = self.build.join("conf").join(name);
            fs::write(&path, conf).unwrap();
            c.arg("-R").arg(path);
        }
        run(c.args(args))
    }

    /// `bitbake -e -b TARGET`, which must succeed without warnings other than
    /// the one `-b` always prints; returns the environment.
    fn env(&self, target: &str) -> String {
        let o = self.run(None, &["-e", "-b", target]);
        assert!(
            o.status.success(),
            "bitbake -e -b {target}: {}",
            text(&o.stderr)
        );
        warnings_are_only_the_b_notice(&o, &format!("bitbake -e -b {target}"));
        text(&o.stdout)
    }

    fn work(&self) -> PathBuf {
        self.build.join(WORK)
    }
}

fn is_uid0() -> bool {
    rustix::process::geteuid().is_root()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn warnings_are_only_the_b_notice(o: &Output, what: &str) {
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

/// Every file and directory below `dir`, as `/`-rooted paths.
fn tree(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in walkdir::WalkDir::new(dir).min_depth(1) {
        let e = e.unwrap();
        out.insert(format!(
            "/{}",
            e.path().strip_prefix(dir).unwrap().to_str().unwrap()
        ));
    }
    out
}

/// One `NAME: value` line of a pkgdata runtime file.
fn pkgdata(build: &Path, pkg: &str, key: &str) -> String {
    let path = build.join("tmp/pkgdata/qemux86-64/runtime").join(pkg);
    let data = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    data.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")).map(str::to_string))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// scgen-crates.inc

/// The .inc `cargo-update-recipe-crates` would write for Cargo.lock: every
/// crates.io package, with the checksum Cargo.lock records.
fn crates_inc(lock: &str) -> String {
    let lock: toml::Table = toml::from_str(lock).expect("Cargo.lock is TOML");
    let packages = lock["package"].as_array().expect("[[package]]");
    let mut uris = String::new();
    let mut sums = String::new();
    for p in packages {
        let source = p.get("source").and_then(|s| s.as_str()).unwrap_or("");
        if !source.starts_with("registry+") || !source.contains("crates.io") {
            continue;
        }
        let name = p["name"].as_str().unwrap();
        let version = p["version"].as_str().unwrap();
        let sum = p["checksum"]
            .as_str()
            .expect("a registry crate has a checksum");
        uris.push_str(&format!("    crate://crates.io/{name}/{version} \\\n"));
        sums.push_str(&format!(
            "SRC_URI[{name}-{version}.sha256sum] = \"{sum}\"\n"
        ));
    }
    format!(
        "# Generated from Cargo.lock by tests/yocto.rs; regenerate with\n\
         #   BLESS=1 cargo test --test yocto\n\n\
         # from Cargo.lock\nSRC_URI += \" \\\n{uris}\"\n\n{sums}"
    )
}

#[test]
fn crates_inc_lists_every_registry_crate_of_cargo_lock() {
    let lock = fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let want = crates_inc(&lock);
    let path = root().join(CRATES_INC);
    if std::env::var_os("BLESS").is_some_and(|v| !v.is_empty()) {
        fs::write(&path, &want).unwrap();
    }
    let have = fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        let diff = similar::TextDiff::from_lines(&have, &want)
            .unified_diff()
            .header(CRATES_INC, "from Cargo.lock")
            .to_string();
        panic!(
            "{CRATES_INC} does not match Cargo.lock; run `BLESS=1 cargo test --test yocto`\n{diff}"
        );
    }
    let crates = lock.matches("source = \"registry+").count();
    assert_eq!(
        want.matches("crate://crates.io/").count(),
        crates,
        "one crate:// URI per registry package of Cargo.lock"
    );
    assert_eq!(
        want.matches(".sha256sum]").count(),
        crates,
        "one checksum per crate"
    );
}

// ---------------------------------------------------------------------------
// Parsing

#[test]
fn every_recipe_parses_with_bitbake() {
    let Some(bb) = bitbake() else { return };
    let recipe = root().join(RECIPE);
    let scgen = root().join(SCGEN_RECIPE);

    let e = bb.env(recipe.to_str().unwrap());
    assert_eq!(var(&e, "PN"), "softwarecontainer-rootfs", "example: PN");
    assert_eq!(var(&e, "prefix"), "/usr", "example: prefix");
    assert_eq!(var(&e, "bindir"), "/usr/bin", "example: bindir");
    assert_eq!(var(&e, "datadir"), "/usr/share", "example: datadir");
    assert_eq!(var(&e, "sysconfdir"), "/etc", "example: sysconfdir");
    assert_eq!(
        var(&e, "S"),
        var(&e, "UNPACKDIR"),
        "example: S is UNPACKDIR (not WORKDIR)"
    );
    let depends = words(&var(&e, "DEPENDS"));
    for d in ["scgen-native", "busybox"] {
        assert!(depends.contains(d), "example: DEPENDS has {d}: {depends:?}");
    }
    assert_eq!(
        words(&var(&e, "RDEPENDS:softwarecontainer-rootfs")),
        words("scgen busybox iptables"),
        "example: RDEPENDS with the networkgateway default"
    );
    assert_eq!(
        var(&e, "PACKAGECONFIG_CONFARGS").trim(),
        "--set network.gateway=true",
        "example: PACKAGECONFIG networkgateway on by default"
    );
    assert_eq!(
        var(&e, "CONFFILES:softwarecontainer-rootfs").trim(),
        "/etc/softwarecontainer/softwarecontainer.conf",
        "example: CONFFILES"
    );

    let e = bb.env(scgen.to_str().unwrap());
    assert_eq!(var(&e, "PN"), "scgen", "scgen: PN");
    assert_eq!(
        var(&e, "PV"),
        env!("CARGO_PKG_VERSION"),
        "scgen: PV is Cargo.toml's"
    );
    assert_eq!(var(&e, "LICENSE"), "MIT OR Apache-2.0", "scgen: LICENSE");
    assert_eq!(
        words(&var(&e, "BBCLASSEXTEND")),
        words("native nativesdk"),
        "scgen: BBCLASSEXTEND"
    );
    assert!(
        words(&var(&e, "DEPENDS")).contains("cargo-native"),
        "scgen: inherits cargo (DEPENDS cargo-native)"
    );
    assert_eq!(
        var(&e, "CARGO_PROFILE_RELEASE_STRIP"),
        "false",
        "scgen: cargo leaves stripping to OE-Core (already-stripped QA)"
    );
    let src_uri = words(&var(&e, "SRC_URI"));
    let lock = fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let lock: toml::Table = toml::from_str(&lock).unwrap();
    for p in lock["package"].as_array().unwrap() {
        if p.get("source").is_none() {
            continue;
        }
        let uri = format!(
            "crate://crates.io/{}/{}",
            p["name"].as_str().unwrap(),
            p["version"].as_str().unwrap()
        );
        assert!(src_uri.contains(&uri), "scgen: SRC_URI has {uri}");
    }

    let e = bb.env(&format!("virtual:native:{}", scgen.display()));
    assert_eq!(var(&e, "PN"), "scgen-native", "scgen-native: PN");
    let e = bb.env(&format!("virtual:nativesdk:{}", scgen.display()));
    assert_eq!(var(&e, "PN"), "nativesdk-scgen", "nativesdk-scgen: PN");
}

/// What `tests/yocto_tinfoil.py` found (run on first use).
fn tinfoil(bb: &mut Bitbake) -> serde_json::Value {
    if let Some(t) = &bb.tinfoil {
        return t.clone();
    }
    let out = bb.build.join("tinfoil.json");
    let work = bb.build.join("tinfoil");
    fs::create_dir_all(&work).unwrap();
    let o = run(bb
        .command(Path::new("python3"))
        .arg(root().join("tests/yocto_tinfoil.py"))
        .arg(root().join("yocto"))
        .arg(&out)
        .arg(&work));
    assert!(
        o.status.success(),
        "tinfoil: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    warnings_are_only_the_b_notice(&o, "tinfoil");
    let t: serde_json::Value = serde_json::from_str(&fs::read_to_string(out).unwrap()).unwrap();
    bb.tinfoil = Some(t.clone());
    t
}

#[test]
fn tinfoil_parses_the_layer_with_its_bbappends_and_classes() {
    let Some(mut bb) = bitbake() else { return };
    let t = tinfoil(&mut bb);
    let layer = root().join("yocto");

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
    for e in walkdir::WalkDir::new(&layer) {
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

    // scgen's own sources, as the recipe lists them.
    assert_eq!(
        t["scgen_other_urls"],
        serde_json::json!([]),
        "scgen: only file:// and crate:// sources"
    );
    for lic in t["scgen_licenses"].as_array().unwrap() {
        assert_eq!(
            lic["got"], lic["want"],
            "scgen: LIC_FILES_CHKSUM md5 of {}",
            lic["path"]
        );
    }
    assert_eq!(
        t["scgen_licenses"].as_array().unwrap().len(),
        2,
        "MIT and Apache-2.0 files"
    );
    // Whatever src/ embeds at compile time must be among the sources.
    let s = PathBuf::from(t["scgen_S"].as_str().unwrap());
    assert!(
        s.join("Cargo.toml").is_file() && s.join("Cargo.lock").is_file(),
        "scgen: S holds the manifest and lock"
    );
    let mut embedded = 0;
    for e in walkdir::WalkDir::new(s.join("src")) {
        let e = e.unwrap();
        if e.path().extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let code = fs::read_to_string(e.path()).unwrap();
        for part in code
            .split("include_str!(\"")
            .skip(1)
            .chain(code.split("include_bytes!(\"").skip(1))
        {
            let rel = part.split('"').next().unwrap();
            let target = e.path().parent().unwrap().join(rel);
            assert!(
                target.is_file(),
                "scgen: {} embeds {rel}, which SRC_URI does not bring",
                e.path().display()
            );
            embedded += 1;
        }
    }
    assert!(
        embedded >= 3,
        "found the templates and default profile embedded"
    );
}

#[test]
fn busybox_bbappend_stages_the_applet_lists_in_populate_sysroot() {
    let Some(mut bb) = bitbake() else { return };
    let t = tinfoil(&mut bb);
    assert_eq!(
        t["busybox_funcs"],
        serde_json::json!(["scgen_stage_busybox_links"]),
        "busybox: SYSROOT_PREPROCESS_FUNCS"
    );
    let history = t["busybox_funcs_history"].as_array().unwrap();
    assert!(
        history
            .iter()
            .any(|h| h == &serde_json::json!(["busybox_%.bbappend", "append"])),
        "the bbappend's += is what adds it: {history:?}"
    );
    assert_eq!(t["busybox_func_is_shell"], true, "a shell function");
    // busybox's do_populate_sysroot, run on a ${D} with the lists and an
    // inittab: the lists reach the sysroot, the rest of /etc does not.
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
// Running the example recipe

/// The artifacts scgen writes.
const ARTIFACTS: [&str; 7] = scgen::contract::ALL;

/// Runs `scgen gen` as do_compile would, with the same `--set`s.
fn reference_gen(dir: &Path, gateway: bool) -> PathBuf {
    let links = dir.join("links");
    fs::write(&links, format!("{LINKS_NOSUID}{LINKS_SUID}")).unwrap();
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
        .args(["--set", "install.datadir=/usr/share"])
        .arg("--set")
        .arg(format!("busybox.links-file={}", links.display()))
        .arg("--set")
        .arg(format!("network.gateway={gateway}")));
    assert!(
        o.status.success(),
        "reference scgen gen: {}",
        text(&o.stderr)
    );
    out
}

fn assert_same_artifacts(built: &Path, reference: &Path, what: &str) {
    for a in ARTIFACTS {
        assert!(
            fs::read(built.join(a)).unwrap() == fs::read(reference.join(a)).unwrap(),
            "{what}: do_compile's {a} is byte-identical to `scgen gen` with the same --set"
        );
    }
}

#[test]
fn example_recipe_runs_through_package_qa() {
    let Some(bb) = bitbake() else { return };
    let recipe = root().join(RECIPE);
    let o = bb.run(None, &["-b", recipe.to_str().unwrap(), "-c", "package_qa"]);
    assert!(
        o.status.success(),
        "bitbake -c package_qa: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    warnings_are_only_the_b_notice(&o, "do_package_qa");

    let image = bb.work().join("image");
    let installed = tree(&image);
    let files: BTreeSet<String> = installed
        .iter()
        .filter(|p| image.join(&p[1..]).is_file())
        .cloned()
        .collect();
    let mut want: BTreeSet<String> = ARTIFACTS
        .iter()
        .map(|a| format!("/usr/share/softwarecontainer/scgen/{a}"))
        .collect();
    want.insert("/usr/share/softwarecontainer/lxc-templates/lxc-softwarecontainer".into());
    want.insert("/etc/softwarecontainer/softwarecontainer.conf".into());
    assert_eq!(files, want, "installed files");
    for f in &files {
        let exec = f.ends_with("/lxc-softwarecontainer");
        assert_eq!(
            mode(&image.join(&f[1..])),
            if exec { 0o755 } else { 0o644 },
            "mode of {f}"
        );
    }
    let dropin = fs::read_to_string(
        image.join("usr/share/softwarecontainer/lxc-templates/lxc-softwarecontainer"),
    )
    .unwrap();
    assert!(
        dropin.contains("scgen=${SCGEN:-'/usr/bin/scgen'}")
            && dropin.contains("exec \"$scgen\" stage"),
        "the drop-in execs ${{bindir}}/scgen:\n{dropin}"
    );
    assert!(
        dropin.contains("'/usr/share/softwarecontainer/scgen'"),
        "the drop-in names the installed artifacts:\n{dropin}"
    );

    // Packaging: FILES puts every installed file in the main package,
    // CONFFILES and RDEPENDS as declared.
    let packaged: BTreeSet<String> =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&pkgdata(
            &bb.build,
            "softwarecontainer-rootfs",
            "FILES_INFO:softwarecontainer-rootfs",
        ))
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(packaged, files, "FILES:${{PN}} covers everything installed");
    assert_eq!(
        pkgdata(
            &bb.build,
            "softwarecontainer-rootfs",
            "CONFFILES:softwarecontainer-rootfs"
        )
        .trim(),
        "/etc/softwarecontainer/softwarecontainer.conf",
        "packaged CONFFILES"
    );
    assert_eq!(
        words(&pkgdata(
            &bb.build,
            "softwarecontainer-rootfs",
            "RDEPENDS:softwarecontainer-rootfs"
        )),
        words("busybox iptables scgen"),
        "packaged RDEPENDS with networkgateway"
    );

    // The gateway is on by default.
    let conf =
        fs::read_to_string(image.join("etc/softwarecontainer/softwarecontainer.conf")).unwrap();
    assert!(
        conf.contains("lxc.net.0.link = lxcbr0"),
        "networkgateway on: a veth on lxcbr0\n{conf}"
    );
    let mtree =
        fs::read_to_string(image.join("usr/share/softwarecontainer/scgen/rootfs.mtree")).unwrap();
    assert!(
        mtree.contains("./bin/iptables "),
        "networkgateway on: the iptables placeholder"
    );
    for applet in ["./bin/ping ", "./bin/ls ", "./bin/sleep "] {
        assert!(
            mtree.contains(applet),
            "busybox applet {applet} from the staged lists"
        );
    }

    // BitBake's SOURCE_DATE_EPOCH (the fallback, for S = UNPACKDIR) is every
    // mtime in the tarball.
    let tarball = fs::read(image.join("usr/share/softwarecontainer/scgen/rootfs.tar.gz")).unwrap();
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&tarball[..])
        .read_to_end(&mut tar)
        .unwrap();
    let mut archive = tar::Archive::new(&tar[..]);
    let mut entries = 0;
    for e in archive.entries().unwrap() {
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

    let dir = tempfile::tempdir().unwrap();
    let reference = reference_gen(dir.path(), true);
    assert_same_artifacts(
        &bb.work().join("build/scgen"),
        &reference,
        "networkgateway on",
    );
}

#[test]
fn packageconfig_without_networkgateway_drops_the_network() {
    let Some(bb) = bitbake() else { return };
    let recipe = root().join(RECIPE);
    let o = bb.run(
        Some((
            "no-gateway.conf",
            "PACKAGECONFIG:pn-softwarecontainer-rootfs = \"\"\n",
        )),
        &["-b", recipe.to_str().unwrap(), "-c", "package_qa"],
    );
    assert!(
        o.status.success(),
        "bitbake -c package_qa without networkgateway: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let image = bb.work().join("image");
    let conf =
        fs::read_to_string(image.join("etc/softwarecontainer/softwarecontainer.conf")).unwrap();
    assert!(
        !conf.contains("lxc.net."),
        "networkgateway off: no network\n{conf}"
    );
    let mtree =
        fs::read_to_string(image.join("usr/share/softwarecontainer/scgen/rootfs.mtree")).unwrap();
    assert!(
        !mtree.contains("./bin/iptables"),
        "networkgateway off: no iptables placeholder"
    );
    assert_eq!(
        words(&pkgdata(
            &bb.build,
            "softwarecontainer-rootfs",
            "RDEPENDS:softwarecontainer-rootfs"
        )),
        words("busybox scgen"),
        "networkgateway off: no iptables in RDEPENDS"
    );
    let dir = tempfile::tempdir().unwrap();
    let reference = reference_gen(dir.path(), false);
    assert_same_artifacts(
        &bb.work().join("build/scgen"),
        &reference,
        "networkgateway off",
    );
}

#[test]
fn missing_busybox_links_stop_do_compile_with_a_hint() {
    let Some(bb) = bitbake() else { return };
    let recipe = root().join(RECIPE);
    let o = bb.run(
        Some((
            "no-links.conf",
            "SCGEN_BUSYBOX_LINKS_DIR:pn-softwarecontainer-rootfs = \"${WORKDIR}/no-such-dir\"\n",
        )),
        &["-b", recipe.to_str().unwrap(), "-c", "compile"],
    );
    assert!(
        !o.status.success(),
        "do_compile fails without the applet lists"
    );
    let log = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        log.contains("busybox_%.bbappend") && log.contains("SCGEN_BUSYBOX_LINKS"),
        "the failure names the bbappend and SCGEN_BUSYBOX_LINKS:\n{log}"
    );
}
