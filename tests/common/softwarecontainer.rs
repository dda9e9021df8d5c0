//! The fixture's SoftwareContainer (and the ivi-logging library it needs),
//! built once and cached under `target/softwarecontainer/`, for the tests
//! that run its real agent (`tests/agent.rs`).
//!
//! A build takes minutes on two cores, so it is keyed: the SHA-256 of both
//! fixture tarballs, the CMake options and the bytes of every patch of the
//! [`Variant`]. A second `cargo test` finds the `ok` stamp of its key and
//! builds nothing. Test binaries (and threads) that ask at once take an
//! exclusive `flock` on `target/softwarecontainer/.lock`: the first builds,
//! the others wait and reuse. A build that died half way has no stamp and
//! is redone from scratch.
//!
//! The install prefix is the cache directory itself, because the agent
//! compiles its template path (`LXCTEMPLATE`) and the RPATH in: the install
//! cannot be moved after the build. The tests put their own copies over
//! the template and config paths inside a private mount namespace
//! (`common::agent`), so one install serves every test.
//!
//! The fixture lives in `../shared/fixtures/softwarecontainer/`; the
//! environment variable `SCGEN_SC_FIXTURE` names another directory.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// Bumped when what this file does to a build changes, so old caches are
/// not taken for new ones.
const BUILDER_VERSION: &str = "1";

const SC_TARBALL: &str = "softwarecontainer-13fd268e6.tar.gz";
const IVI_TARBALL: &str = "ivi-logging-7ec74df.tar.gz";

/// The options of the fixture README that keep the build small: no tests,
/// docs, examples, systemd units, D-Bus policy install (it goes to the
/// absolute `/etc/dbus-1/system.d`), and no pulse, wayland or D-Bus gateway
/// (the last would build dbus-proxy as well).
pub const SMALL_OPTIONS: &[&str] = &[
    "-DENABLE_TEST=OFF",
    "-DENABLE_PULSEGATEWAY=OFF",
    "-DENABLE_WAYLANDGATEWAY=OFF",
    "-DENABLE_DBUSGATEWAY=OFF",
    "-DENABLE_EXAMPLES=OFF",
    "-DENABLE_USER_DOC=OFF",
    "-DENABLE_API_DOC=OFF",
    "-DENABLE_SYSTEMD=OFF",
    "-DENABLE_SYSTEM_BUS=OFF",
];

/// One way to build SoftwareContainer. [`Variant::network`] gives the two
/// the agent tests use; [`Variant::patch`] adds a patch applied to the
/// source (`patch -p1`, in order) before CMake configures it, and
/// [`Variant::option`] a CMake argument, [`Variant::input`] a file the
/// build reads (an option names a path, and the key holds only the path:
/// an input's bytes go in the key too, so a new scgen binary or profile
/// rebuilds). All of them are in the cache key, and the name only labels
/// the cache directory.
#[derive(Clone, Debug)]
pub struct Variant {
    pub name: String,
    pub network: bool,
    pub options: Vec<String>,
    pub patches: Vec<PathBuf>,
    pub inputs: Vec<PathBuf>,
}

impl Variant {
    /// Upstream as is, with `ENABLE_NETWORKGATEWAY` on or off.
    pub fn network(on: bool) -> Self {
        Variant {
            name: if on { "net-on" } else { "net-off" }.to_string(),
            network: on,
            options: Vec::new(),
            patches: Vec::new(),
            inputs: Vec::new(),
        }
    }

    /// With scgen's agent patch series applied
    /// (`integration/softwarecontainer/agent/*.patch`, in name order), the
    /// agent the shipped profiles are made for (`security.agent =
    /// "patched"`).
    pub fn patched(mut self) -> Self {
        self.name.push_str("-patched");
        for p in agent_series() {
            self = self.patch(p);
        }
        self
    }

    /// The same build, named differently (for the cache directory).
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Applies `patch` (a `-p1` diff against the source tree) before
    /// configuring.
    pub fn patch(mut self, patch: impl Into<PathBuf>) -> Self {
        self.patches.push(patch.into());
        self
    }

    /// Adds a CMake argument (`-DKEY=VALUE`), after the small option set.
    pub fn option(mut self, arg: &str) -> Self {
        self.options.push(arg.to_string());
        self
    }

    /// Keys the build on the bytes of `file` as well (a file an option
    /// names, such as `-DSCGEN_EXECUTABLE=...`).
    pub fn input(mut self, file: impl Into<PathBuf>) -> Self {
        self.inputs.push(file.into());
        self
    }

    /// Every CMake argument but the install prefix and the ivi-logging
    /// path: the small set, the network switch, then the variant's own.
    pub fn cmake_args(&self) -> Vec<String> {
        let mut v: Vec<String> = SMALL_OPTIONS.iter().map(|s| s.to_string()).collect();
        v.push(format!(
            "-DENABLE_NETWORKGATEWAY={}",
            if self.network { "ON" } else { "OFF" }
        ));
        v.extend(self.options.iter().cloned());
        v
    }
}

/// scgen's agent patch series, in the order `patch -p1` applies it.
pub fn agent_series() -> Vec<PathBuf> {
    let dir = super::root().join("integration/softwarecontainer/agent");
    let mut v: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "patch"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no patches in {}", dir.display());
    v
}

/// A finished install of one variant.
#[derive(Clone, Debug)]
pub struct Install {
    /// `CMAKE_INSTALL_PREFIX`; bin, share, etc and lib are below it.
    pub prefix: PathBuf,
    /// The unpacked (and patched) source tree, kept for its policy file
    /// and service-manifest examples.
    pub source: PathBuf,
    pub network: bool,
    /// The agent reaps a container's jobs before it stops the container
    /// (patch 0010). Upstream's does not, and its Destroy right after an
    /// Execute can hang for good (issue 21); [`super::agent::Agent`]
    /// waits for an upstream agent's jobs to be reaped before Destroy.
    pub reaps_jobs: bool,
}

impl Install {
    pub fn agent(&self) -> PathBuf {
        self.prefix.join("bin/softwarecontainer-agent")
    }

    pub fn bindir(&self) -> PathBuf {
        self.prefix.join("bin")
    }

    /// `CMAKE_INSTALL_FULL_DATAROOTDIR`.
    pub fn datadir(&self) -> PathBuf {
        self.prefix.join("share")
    }

    /// `CMAKE_INSTALL_FULL_SYSCONFDIR`.
    pub fn sysconfdir(&self) -> PathBuf {
        self.prefix.join("etc")
    }

    /// The compiled-in `LXCTEMPLATE`, where upstream installs its template
    /// and where scgen's drop-in goes.
    pub fn template(&self) -> PathBuf {
        self.datadir()
            .join("softwarecontainer/lxc-templates/lxc-softwarecontainer")
    }

    /// The LXC config the agent reads by default
    /// (`deprecated-lxc-config-path`).
    pub fn lxc_config(&self) -> PathBuf {
        self.sysconfdir()
            .join("softwarecontainer/softwarecontainer.conf")
    }

    /// The agent config CMake generated.
    pub fn agent_config(&self) -> PathBuf {
        self.sysconfdir()
            .join("softwarecontainer/softwarecontainer-config")
    }

    /// The agent's D-Bus system-bus policy (not installed: it would go to
    /// the host's `/etc/dbus-1/system.d`).
    pub fn policy(&self) -> PathBuf {
        self.source.join("agent/softwarecontainer-agent.conf")
    }
}

/// Where the fixture tarballs are.
pub fn fixture_dir() -> PathBuf {
    std::env::var_os("SCGEN_SC_FIXTURE")
        .map(PathBuf::from)
        .unwrap_or_else(|| super::root().join("../shared/fixtures/softwarecontainer"))
}

/// `target/softwarecontainer/`.
pub fn cache_root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is target/tmp")
        .join("softwarecontainer")
}

/// What a build needs from the host; the fixture README lists the Debian
/// packages (`.ci/deps` installs them).
pub fn tools_ready() -> bool {
    ["cmake", "make", "g++", "pkg-config", "patch", "tar"]
        .iter()
        .all(|t| super::have(t))
        && fixture_ready()
}

fn fixture_ready() -> bool {
    let dir = fixture_dir();
    if dir.join(SC_TARBALL).is_file() && dir.join(IVI_TARBALL).is_file() {
        return true;
    }
    let what = format!("the SoftwareContainer fixture is not in {}", dir.display());
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false") {
        panic!("{what}, and CI is set");
    }
    eprintln!("SKIPPED: {what}");
    false
}

fn sha256_file(p: &Path) -> String {
    let bytes = fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    hex::encode(Sha256::digest(&bytes))
}

/// Holds `target/softwarecontainer/.lock` exclusively until dropped.
struct Lock(fs::File);

impl Lock {
    fn take(dir: &Path) -> Lock {
        fs::create_dir_all(dir).unwrap();
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(".lock"))
            .unwrap();
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
            .expect("flock target/softwarecontainer/.lock");
        Lock(f)
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = rustix::fs::flock(&self.0, rustix::fs::FlockOperation::Unlock);
    }
}

/// Runs one build step with its output appended to `log`; panics with the
/// log's tail if it fails.
fn step(log: &Path, cmd: &mut Command) {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    writeln!(f, "$ {cmd:?}").unwrap();
    let status = cmd
        .stdin(std::process::Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f.try_clone().unwrap())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !status.success() {
        let text = fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "{cmd:?} failed ({status}); the log is {}:\n{}",
            log.display(),
            tail.join("\n")
        );
    }
}

/// Unpacks `tarball` (a `git archive` with one top folder) into `into`
/// and returns that folder.
fn unpack(log: &Path, tarball: &Path, into: &Path, top: &str) -> PathBuf {
    fs::create_dir_all(into).unwrap();
    step(
        log,
        Command::new("tar")
            .arg("-xzf")
            .arg(tarball)
            .arg("-C")
            .arg(into),
    );
    into.join(top)
}

/// `cmake` configure, build with two jobs, install.
fn cmake(log: &Path, src: &Path, build: &Path, prefix: &Path, args: &[String]) {
    step(
        log,
        Command::new("cmake")
            .arg("-S")
            .arg(src)
            .arg("-B")
            .arg(build)
            .arg("-DCMAKE_BUILD_TYPE=Release")
            .arg(format!("-DCMAKE_INSTALL_PREFIX={}", prefix.display()))
            .arg("-DCMAKE_INSTALL_LIBDIR=lib")
            .args(args),
    );
    step(
        log,
        Command::new("cmake")
            .arg("--build")
            .arg(build)
            .args(["--parallel", "2"]),
    );
    step(log, Command::new("cmake").arg("--install").arg(build));
}

/// Builds into `dir` unless its `ok` stamp is there; the caller holds the
/// lock. The stamp is written last, so a killed build is redone.
fn cached(dir: &Path, build: impl FnOnce(&Path, &Path)) {
    if dir.join("ok").is_file() {
        return;
    }
    if dir.exists() {
        fs::remove_dir_all(dir).unwrap();
    }
    fs::create_dir_all(dir).unwrap();
    let log = dir.join("build.log");
    build(dir, &log);
    let _ = fs::remove_dir_all(dir.join("build"));
    fs::write(dir.join("ok"), b"").unwrap();
}

/// ivi-logging, built once for every variant: its install prefix.
fn ivi_logging(root: &Path) -> PathBuf {
    let tarball = fixture_dir().join(IVI_TARBALL);
    let key = &sha256_file(&tarball)[..16];
    let dir = root.join(format!("ivi-logging-{key}-v{BUILDER_VERSION}"));
    cached(&dir, |dir, log| {
        let src = unpack(log, &tarball, &dir.join("src"), "ivi-logging");
        cmake(log, &src, &dir.join("build"), &dir.join("prefix"), &[]);
    });
    dir.join("prefix")
}

/// The variant's install, built on first use (minutes) and reused after.
pub fn build(v: &Variant) -> Install {
    let root = cache_root();
    let _lock = Lock::take(&root);
    let ivi = ivi_logging(&root);
    let tarball = fixture_dir().join(SC_TARBALL);
    let mut h = Sha256::new();
    h.update(BUILDER_VERSION);
    h.update(sha256_file(&tarball));
    h.update(sha256_file(&fixture_dir().join(IVI_TARBALL)));
    for a in v.cmake_args() {
        h.update(b"\0arg\0");
        h.update(a);
    }
    for p in &v.patches {
        h.update(b"\0patch\0");
        h.update(fs::read(p).unwrap_or_else(|e| panic!("patch {}: {e}", p.display())));
    }
    for p in &v.inputs {
        h.update(b"\0input\0");
        h.update(p.as_os_str().as_encoded_bytes());
        h.update(sha256_file(p));
    }
    let key = &hex::encode(h.finalize())[..16];
    let dir = root.join(format!("{}-{key}", v.name));
    cached(&dir, |dir, log| {
        let src = unpack(log, &tarball, &dir.join("src"), "softwarecontainer");
        for p in &v.patches {
            step(
                log,
                Command::new("patch")
                    .args(["-p1", "--forward", "--batch", "-i"])
                    .arg(p)
                    .current_dir(&src),
            );
        }
        let mut args = v.cmake_args();
        args.push(format!(
            "-DEXTRA_PKG_CONFIG_PATH={}",
            ivi.join("lib/pkgconfig").display()
        ));
        cmake(log, &src, &dir.join("build"), &dir.join("prefix"), &args);
    });
    let install = Install {
        prefix: dir.join("prefix"),
        source: dir.join("src/softwarecontainer"),
        network: v.network,
        reaps_jobs: v.patches.iter().any(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("0010-agent-reap-"))
        }),
    };
    assert!(
        install.agent().is_file(),
        "{} is missing after the build",
        install.agent().display()
    );
    install
}

/// The patch of `integration/softwarecontainer/`: SoftwareContainer's own
/// build generates and installs scgen's artifacts (`scgen_generate(...
/// SOFTWARECONTAINER INSTALL)`) with the scgen under test.
pub fn scgen_patch() -> PathBuf {
    super::root().join("integration/softwarecontainer/softwarecontainer-scgen.patch")
}

/// Upstream with [`scgen_patch`], `ENABLE_NETWORKGATEWAY` on or off. Keyed
/// on the patch, `cmake/SCGenConfig.cmake` and what the scgen under test
/// generates ([`gen_probe`]), not on its bytes: the build runs only `scgen
/// gen`, and a rebuilt binary that generates the same files must not cost
/// a rebuild of SoftwareContainer.
pub fn scgen_patched(network: bool) -> Variant {
    let root = super::root();
    let net = if network { "on" } else { "off" };
    Variant::network(network)
        .named(&format!("scgen-net-{net}"))
        .patch(scgen_patch())
        .option(&format!("-DSCGen_DIR={}", root.join("cmake").display()))
        .option(&format!(
            "-DSCGEN_EXECUTABLE={}",
            env!("CARGO_BIN_EXE_scgen")
        ))
        .input(root.join("cmake/SCGenConfig.cmake"))
        .input(gen_probe())
}

/// `target/softwarecontainer/scgen-probe`: the `SHA256SUMS` that the scgen
/// under test generates for the default and network profiles, rewritten
/// (temp file, rename) when they change.
fn gen_probe() -> PathBuf {
    let root = cache_root();
    fs::create_dir_all(&root).unwrap();
    let mut text = Vec::new();
    for p in ["default", "network"] {
        let out = tempfile::tempdir().unwrap();
        super::Gen::new()
            .profile(super::root().join(format!("profiles/{p}.toml")))
            .out(out.path())
            .set("install.prefix=/probe")
            .ok();
        text.extend(fs::read(out.path().join("SHA256SUMS")).unwrap());
    }
    let probe = root.join("scgen-probe");
    if fs::read(&probe).ok().as_deref() != Some(&text[..]) {
        let tmp = tempfile::NamedTempFile::new_in(&root).unwrap();
        fs::write(tmp.path(), &text).unwrap();
        tmp.persist(&probe).unwrap();
    }
    probe
}
