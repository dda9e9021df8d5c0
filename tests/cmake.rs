//! The CMake integration (`cmake/SCGenConfig.cmake`) driven through the
//! example project in `examples/cmake/` with the Ninja generator: configure,
//! build, `DESTDIR=... ninja install`, and the incremental-build contract
//! (no work when nothing changed, a rerun when an input is touched, untouched
//! artifact mtimes when the output is the same, nothing for unrelated files).
//!
//! Needs `cmake` and `ninja` (skipped locally without them, fails under CI).
//! The Makefile generator is not tested here; docs/integration.md says how it
//! differs (no restat: scgen reruns, cheaply, until the inputs are older).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::*;

use scgen::contract::ALL as ARTIFACTS;

/// A copy of the example beside a copy of `profiles/`, laid out as in the
/// repository so the example's relative profile path is the one exercised,
/// and touching files never changes the checkout.
struct Project {
    _tmp: tempfile::TempDir,
    src: PathBuf,
    profile: PathBuf,
    build: PathBuf,
    stage: PathBuf,
    /// The example's OUTPUT_DIR, relative to the build tree.
    out: &'static str,
}

impl Project {
    /// `examples/cmake`.
    fn new() -> Project {
        Project::example("examples/cmake", "scgen/default")
    }

    /// `examples/cmake/softwarecontainer`: SoftwareContainer's options.
    fn softwarecontainer() -> Project {
        Project::example("examples/cmake/softwarecontainer", "scgen")
    }

    fn example(dir: &str, out: &'static str) -> Project {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join(dir);
        fs::create_dir_all(&src).unwrap();
        for entry in fs::read_dir(root().join(dir)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                fs::copy(entry.path(), src.join(entry.file_name())).unwrap();
            }
        }
        fs::write(src.join("NOTES.txt"), "not an input of anything\n").unwrap();
        let profiles = tmp.path().join("profiles");
        fs::create_dir_all(&profiles).unwrap();
        let profile = profiles.join("default.toml");
        fs::copy(root().join("profiles/default.toml"), &profile).unwrap();
        Project {
            build: tmp.path().join("build"),
            stage: tmp.path().join("stage"),
            src,
            profile,
            out,
            _tmp: tmp,
        }
    }

    /// Configures; fails on a CMake warning.
    fn configure(&self, extra: &[&str], epoch: Option<&str>) {
        let err = self.configure_stderr(extra, epoch);
        assert!(!err.contains("Warning"), "cmake warned:\n{err}");
    }

    /// Configures; returns CMake's stderr.
    fn configure_stderr(&self, extra: &[&str], epoch: Option<&str>) -> String {
        let mut cmd = Command::new("cmake");
        cmd.arg("-S")
            .arg(&self.src)
            .arg("-B")
            .arg(&self.build)
            .args(["-G", "Ninja"])
            .arg(format!(
                "-DSCGEN_EXECUTABLE={}",
                env!("CARGO_BIN_EXE_scgen")
            ))
            .arg(format!("-DSCGen_DIR={}", root().join("cmake").display()))
            .args(extra)
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("CMAKE_GENERATOR")
            .env_remove("DESTDIR");
        if let Some(e) = epoch {
            cmd.env("SOURCE_DATE_EPOCH", e);
        }
        let o = run(&mut cmd);
        assert!(
            o.status.success(),
            "cmake configure failed:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    /// Runs ninja in the build tree; returns its stdout.
    fn ninja(&self, args: &[&str], destdir: Option<&Path>) -> String {
        let mut cmd = Command::new("ninja");
        cmd.arg("-C").arg(&self.build).args(args);
        cmd.env_remove("SOURCE_DATE_EPOCH").env_remove("DESTDIR");
        if let Some(d) = destdir {
            cmd.env("DESTDIR", d);
        }
        let o = run(&mut cmd);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "ninja {args:?} failed:\n{out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        out
    }

    fn out_dir(&self) -> PathBuf {
        self.build.join(self.out)
    }

    fn mtimes(&self) -> Vec<SystemTime> {
        ARTIFACTS
            .iter()
            .map(|a| mtime(&self.out_dir().join(a)))
            .collect()
    }
}

fn mtime(p: &Path) -> SystemTime {
    fs::metadata(p).unwrap().modified().unwrap()
}

/// Sets `p`'s mtime well past every artifact's, without sleeping.
fn touch_later(p: &Path, than: &[SystemTime]) {
    let newest = than.iter().max().copied().unwrap_or_else(SystemTime::now);
    let f = fs::File::options().append(true).open(p).unwrap();
    f.set_modified(newest.max(SystemTime::now()) + Duration::from_secs(5))
        .unwrap();
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

const NO_WORK: &str = "ninja: no work to do.";
const RAN: &str = "scgen: generating default";

#[test]
fn example_builds_installs_and_rebuilds_only_when_inputs_change() {
    if !have("cmake") || !have("ninja") {
        return;
    }
    let p = Project::new();
    p.configure(&[], None);

    let out = p.ninja(&[], None);
    assert!(out.contains(RAN), "first build did not run scgen:\n{out}");
    // With the default prefix and no SOURCE_DATE_EPOCH the build must give
    // exactly the committed golden output of the same profile.
    for a in ARTIFACTS {
        assert!(
            fs::read(p.out_dir().join(a)).unwrap()
                == fs::read(root().join("generated/default").join(a)).unwrap(),
            "{a} built through CMake differs from generated/default/{a}"
        );
    }

    // Install into a DESTDIR and check the whole tree.
    p.ninja(&["install"], Some(&p.stage));
    let prefix = p.stage.join("usr/local");
    let dropin = prefix.join("share/softwarecontainer/lxc-templates/lxc-softwarecontainer");
    let conf = prefix.join("etc/softwarecontainer/softwarecontainer.conf");
    let scgen_dir = prefix.join("share/softwarecontainer/scgen");
    assert_eq!(mode(&dropin), 0o755, "drop-in is not executable");
    assert_eq!(
        fs::read(&dropin).unwrap(),
        fs::read(p.out_dir().join("lxc-softwarecontainer")).unwrap()
    );
    assert_eq!(
        fs::read_to_string(&conf).unwrap(),
        fs::read_to_string(p.out_dir().join("softwarecontainer.conf")).unwrap(),
        "installed conf differs from the generated one"
    );
    assert_eq!(mode(&conf), 0o644);
    for a in ARTIFACTS {
        let installed = scgen_dir.join(a);
        assert_eq!(
            fs::read(&installed).unwrap(),
            fs::read(p.out_dir().join(a)).unwrap(),
            "{}",
            installed.display()
        );
        let want = if a == "lxc-softwarecontainer" {
            0o755
        } else {
            0o644
        };
        assert_eq!(mode(&installed), want, "{}", installed.display());
    }
    let mut files: Vec<String> = walkdir::WalkDir::new(&p.stage)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            e.path()
                .strip_prefix(&p.stage)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    files.sort();
    // The artifacts, the drop-in and config again where upstream's are,
    // and (SUBIDS) root's subordinate ids for the id-mapped default.
    assert_eq!(
        files.len(),
        ARTIFACTS.len() + 4,
        "unexpected installed files: {files:#?}"
    );
    for f in ["etc/subuid", "etc/subgid"] {
        assert_eq!(
            fs::read_to_string(p.stage.join(f)).unwrap(),
            "root:100000:65536\n",
            "{f}"
        );
    }
    // A second install adds nothing.
    p.ninja(&["install"], Some(&p.stage));
    assert_eq!(
        fs::read_to_string(p.stage.join("etc/subuid")).unwrap(),
        "root:100000:65536\n"
    );

    // Nothing changed: nothing to do.
    assert!(p.ninja(&[], None).contains(NO_WORK));

    // An unrelated file of the source dir changes nothing.
    let before = p.mtimes();
    touch_later(&p.src.join("NOTES.txt"), &before);
    assert!(p.ninja(&[], None).contains(NO_WORK));

    // Touching the profile reruns scgen; the same output leaves every
    // artifact's mtime alone, and Ninja's restat makes the next build a no-op.
    touch_later(&p.profile, &before);
    let out = p.ninja(&[], None);
    assert!(
        out.contains(RAN),
        "touching the profile did not rerun scgen:\n{out}"
    );
    // `gen --quiet`: the rule's COMMENT, not a line per artifact.
    assert!(
        !out.contains("unchanged ") && !out.contains("wrote "),
        "scgen reported into the build log:\n{out}"
    );
    assert_eq!(
        p.mtimes(),
        before,
        "an unchanged regeneration touched artifacts"
    );
    assert!(p.ninja(&[], None).contains(NO_WORK));

    // A real change rewrites what changed, and only that.
    let text = fs::read_to_string(&p.profile)
        .unwrap()
        .replace("uts-name = \"contained\"", "uts-name = \"edited\"");
    fs::write(&p.profile, text).unwrap();
    touch_later(&p.profile, &before);
    let out = p.ninja(&[], None);
    assert!(out.contains(RAN), "{out}");
    let conf_built = fs::read_to_string(p.out_dir().join("softwarecontainer.conf")).unwrap();
    assert!(conf_built.contains("lxc.uts.name = edited"), "{conf_built}");
    let after = p.mtimes();
    for (i, a) in ARTIFACTS.iter().enumerate() {
        let changed = matches!(*a, "softwarecontainer.conf" | "SHA256SUMS");
        assert_eq!(
            after[i] != before[i],
            changed,
            "{a}: mtime changed = {}",
            !changed
        );
    }
    assert!(p.ninja(&[], None).contains(NO_WORK));
    // A fresh DESTDIR: CMake's install skips ("Up-to-date") a file whose
    // mtime is within one second of the installed copy's, and this test is
    // fast enough for the rewrite to land within a second of the first build.
    fs::remove_dir_all(&p.stage).unwrap();
    p.ninja(&["install"], Some(&p.stage));
    assert_eq!(fs::read_to_string(&conf).unwrap(), conf_built);
}

#[test]
fn prefix_and_source_date_epoch_reach_scgen() {
    if !have("cmake") || !have("ninja") {
        return;
    }
    let p = Project::new();
    p.configure(&["-DCMAKE_INSTALL_PREFIX=/opt/sc"], Some("1700000000"));
    p.ninja(&[], None);
    let mtree = fs::read_to_string(p.out_dir().join("rootfs.mtree")).unwrap();
    assert!(mtree.contains("time=1700000000.0"), "{mtree}");
    assert!(!mtree.contains(&format!("time={}.0", scgen::DEFAULT_EPOCH)));
    let dropin = fs::read_to_string(p.out_dir().join("lxc-softwarecontainer")).unwrap();
    assert!(dropin.contains("'/opt/sc/bin/scgen'"), "{dropin}");
    assert!(
        dropin.contains("'/opt/sc/share/softwarecontainer/scgen'"),
        "{dropin}"
    );
    let conf = fs::read_to_string(p.out_dir().join("softwarecontainer.conf")).unwrap();
    assert!(
        conf.contains("lxc.mount.entry = /opt/sc opt/sc none ro,bind 0 0"),
        "{conf}"
    );

    // Reconfiguring without SOURCE_DATE_EPOCH changes the command, so Ninja
    // reruns scgen and the default epoch comes back.
    p.configure(&["-DCMAKE_INSTALL_PREFIX=/opt/sc"], None);
    let out = p.ninja(&[], None);
    assert!(out.contains(RAN), "{out}");
    let mtree = fs::read_to_string(p.out_dir().join("rootfs.mtree")).unwrap();
    assert!(mtree.contains(&format!("time={}.0", scgen::DEFAULT_EPOCH)));

    p.ninja(&["install"], Some(&p.stage));
    assert!(p
        .stage
        .join("opt/sc/share/softwarecontainer/lxc-templates/lxc-softwarecontainer")
        .is_file());
    assert!(p
        .stage
        .join("opt/sc/etc/softwarecontainer/softwarecontainer.conf")
        .is_file());
}

/// The `lxc.net.*` lines of a config, in order.
fn net_lines(conf: &str) -> Vec<&str> {
    conf.lines().filter(|l| l.starts_with("lxc.net.")).collect()
}

/// `scgen_generate(... SOFTWARECONTAINER INSTALL)` takes
/// ENABLE_NETWORKGATEWAY, SC_BRIDGE_DEVICE and the install dirs into the
/// profile: the artifacts are byte for byte those of `scgen gen` with the
/// matching `--set`s, a changed option reruns scgen, the files install where
/// SoftwareContainer's build puts its own (prefix /usr: the config in /etc),
/// and an explicit SET still wins, with a warning.
#[test]
fn softwarecontainer_options_reach_the_profile() {
    if !have("cmake") || !have("ninja") {
        return;
    }
    let p = Project::softwarecontainer();
    let base = [
        "-DCMAKE_INSTALL_PREFIX=/usr",
        "-DCMAKE_INSTALL_BINDIR=libexec/sc",
        "-DSC_BRIDGE_DEVICE=scbr7",
    ];
    // What `scgen gen` gives with the sets the mapping must pass.
    let expect = |sets: &[&str]| -> tempfile::TempDir {
        let out = tempfile::tempdir().unwrap();
        let mut g = Gen::new().profile(&p.profile).out(out.path());
        for kv in [
            "install.prefix=/usr",
            "install.bindir=/usr/libexec/sc",
            "install.datadir=/usr/share",
        ]
        .iter()
        .chain(sets)
        {
            g = g.set(kv);
        }
        g.ok();
        out
    };
    let same_as = |want: &Path| {
        for a in ARTIFACTS {
            assert!(
                fs::read(p.out_dir().join(a)).unwrap() == fs::read(want.join(a)).unwrap(),
                "{a} built through CMake differs from scgen gen with the mapped --sets"
            );
        }
    };

    // Gateway off: no network block, no iptables, even with a bridge named.
    let mut off = base.to_vec();
    off.push("-DENABLE_NETWORKGATEWAY=OFF");
    p.configure(&off, None);
    assert!(p.ninja(&[], None).contains("scgen: generating default"));
    let conf = fs::read_to_string(p.out_dir().join("softwarecontainer.conf")).unwrap();
    assert_eq!(net_lines(&conf), Vec::<&str>::new(), "{conf}");
    let stage = fs::read_to_string(p.out_dir().join("stage.toml")).unwrap();
    assert!(stage.contains("iptables = false"), "{stage}");
    same_as(expect(&["network.gateway=false", "network.bridge=scbr7"]).path());
    let dropin = fs::read_to_string(p.out_dir().join("lxc-softwarecontainer")).unwrap();
    assert!(dropin.contains("'/usr/libexec/sc/scgen'"), "{dropin}");
    assert!(
        dropin.contains("'/usr/share/softwarecontainer/scgen'"),
        "{dropin}"
    );

    // Gateway on: reconfiguring changes scgen's command, so it reruns.
    let mut on = base.to_vec();
    on.push("-DENABLE_NETWORKGATEWAY=ON");
    p.configure(&on, None);
    let out = p.ninja(&[], None);
    assert!(out.contains("scgen: generating default"), "{out}");
    let conf = fs::read_to_string(p.out_dir().join("softwarecontainer.conf")).unwrap();
    assert_eq!(
        net_lines(&conf),
        [
            "lxc.net.0.type = veth",
            "lxc.net.0.link = scbr7",
            "lxc.net.0.name = eth0"
        ],
        "{conf}"
    );
    let stage = fs::read_to_string(p.out_dir().join("stage.toml")).unwrap();
    assert!(stage.contains("iptables = true"), "{stage}");
    same_as(expect(&["network.gateway=true", "network.bridge=scbr7"]).path());
    assert!(p.ninja(&[], None).contains(NO_WORK));

    // Installed where SoftwareContainer's own build installs its files:
    // GNUInstallDirs' full paths, so prefix /usr puts the config in /etc.
    p.ninja(&["install"], Some(&p.stage));
    let dropin = p
        .stage
        .join("usr/share/softwarecontainer/lxc-templates/lxc-softwarecontainer");
    assert_eq!(mode(&dropin), 0o755);
    assert_eq!(
        fs::read(&dropin).unwrap(),
        fs::read(p.out_dir().join("lxc-softwarecontainer")).unwrap()
    );
    assert_eq!(
        fs::read_to_string(p.stage.join("etc/softwarecontainer/softwarecontainer.conf")).unwrap(),
        conf
    );
    for a in ARTIFACTS {
        let installed = p.stage.join("usr/share/softwarecontainer/scgen").join(a);
        assert_eq!(
            fs::read(&installed).unwrap(),
            fs::read(p.out_dir().join(a)).unwrap(),
            "{}",
            installed.display()
        );
    }
    assert!(!p.stage.join("usr/etc").exists());

    // An explicit SET wins over the mapping, and CMake says what it breaks.
    let mut set = on.clone();
    set.push("-DSCGEN_EXAMPLE_SET=network.bridge=other0");
    let err = p.configure_stderr(&set, None);
    assert!(
        err.contains("SET network.bridge=other0 overrides network.bridge=scbr7"),
        "no warning:\n{err}"
    );
    p.ninja(&[], None);
    let conf = fs::read_to_string(p.out_dir().join("softwarecontainer.conf")).unwrap();
    assert!(conf.contains("lxc.net.0.link = other0"), "{conf}");
}
