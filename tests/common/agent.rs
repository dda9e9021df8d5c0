//! One real `softwarecontainer-agent` per test, isolated, with scgen's
//! artifacts installed as docs/softwarecontainer.md says, driven with `gdbus call
//! --system` the way SoftwareContainer's getting-started scripts do.
//!
//! Isolation: the agent runs after `unshare --mount --net --propagation
//! private`. In that namespace a scratch directory is bound on
//! `/var/lib/lxc` (the agent destroys every `SC-*` container of its
//! lxcpath at start), `/run/lxc` is a tmpfs (LXC's locks), and the sysfs of
//! the new network namespace is bound over `/sys/class/net` and
//! `/sys/devices/virtual/net` (LXC looks bridges up there). LXC's command
//! sockets are abstract, so per network namespace: two agents never
//! collide on `SC-0`. The bus is a `dbus-daemon` of its own (Debian's
//! system-bus policy plus the agent's policy file) on a socket in the
//! scratch dir, which `gdbus call --system` reaches through
//! `DBUS_SYSTEM_BUS_ADDRESS`. The shell side is `tests/agent/launch.sh`,
//! the bus config `tests/agent/bus.conf`.
//!
//! The SoftwareContainer install is shared by every test (it is built once,
//! `common::softwarecontainer`), so each test binds its own copies over
//! `<prefix>/bin`, `<prefix>/share/softwarecontainer` and
//! `<prefix>/etc/softwarecontainer` inside its namespace: the agent (hard
//! linked), scgen at `<bindir>/scgen`, the drop-in at the compiled-in
//! `LXCTEMPLATE`, the six artifacts in `<datadir>/softwarecontainer/scgen`,
//! the config at `<sysconfdir>/softwarecontainer/softwarecontainer.conf`,
//! the agent config and the service manifests. No `SCGEN` or
//! `SCGEN_ARTIFACTS` override is set: the drop-in finds everything where
//! docs/softwarecontainer.md puts it.
//!
//! The host side looks into the agent's mount namespace through
//! `/proc/<agent>/root` and `/proc/<agent>/mountinfo`, so a write buffer on
//! a tmpfs the agent mounted is seen too. Dropping the [`Agent`] stops any
//! container left, then the agent and its bus; the namespaces go with them.
//!
//! `benches/agent.rs` uses the same harness through [`Agent::start_with`]
//! ([`Options`]: upstream's own template and config, the scratch dir on a
//! chosen filesystem) and [`Agent::call_command`] (to time the calls).

use std::fs;
use std::io::Read as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::softwarecontainer::Install;

pub const DEST: &str = "com.pelagicore.SoftwareContainerAgent";
pub const OBJECT: &str = "/com/pelagicore/SoftwareContainerAgent";

/// How long one D-Bus call may take (gdbus's own `--timeout` is shorter,
/// so it reports first).
pub const CALL_DEADLINE: Duration = Duration::from_secs(30);
const GDBUS_TIMEOUT: &str = "25";

/// The bridge of the network profile (scgen's default `network.bridge`, the
/// agent's default `bridge-device`), made in the agent's own network
/// namespace with the agent's default address.
pub const BRIDGE: &str = "lxcbr0";
pub const BRIDGE_IP: &str = "10.0.3.1";

/// Whether an agent test can run: root and the tools (a `SKIPPED` notice
/// locally, a failure under CI).
pub fn ready() -> bool {
    super::is_root()
        && [
            "unshare",
            "nsenter",
            "ip",
            "dbus-daemon",
            "gdbus",
            "lxc-create",
            "lxc-ls",
            "brctl",
        ]
        .iter()
        .all(|t| super::have(t))
        && super::softwarecontainer::tools_ready()
}

/// What the test's agent is set up with.
pub struct Setup<'a> {
    /// The SoftwareContainer build; its `network` must match the profile's
    /// `network.gateway`.
    pub install: &'a Install,
    /// A shipped profile, `profiles/<name>.toml`.
    pub profile: &'a str,
    /// `--set KEY=VALUE`s for `scgen gen` after the install dirs; `@S@`
    /// stands for the scratch dir.
    pub sets: &'a [&'a str],
    /// Service manifests (`tests/agent/<name>`), with `@S@` replaced by
    /// the scratch dir, put in `service-manifest.d`.
    pub manifests: &'a [&'a str],
    /// An id-mapped container (the default; false: `container.idmap = []`,
    /// a privileged one): the profile gets [`IDMAP`] (the container's
    /// root is host uid and gid [`MAPPED_ROOT`]), the agent's namespace a
    /// `/etc/subuid` and `/etc/subgid` that give root that range (LXC
    /// insists on it where `newuidmap` is installed), and the scratch dir
    /// is opened to the mapped root, which must reach the lxcpath and the
    /// agent's shared-mounts dir. The SoftwareContainer prefix is then one
    /// flat copy instead of three binds (`tests/agent/launch.sh`): the
    /// container's non-recursive bind of the prefix would otherwise be
    /// refused (EINVAL) for the mounts below it.
    pub idmap: bool,
}

/// Host uid and gid of an id-mapped container's root.
pub const MAPPED_ROOT: u32 = 100_000;

/// `container.idmap` of the id-mapped tests: 65536 ids from [`MAPPED_ROOT`].
pub const IDMAP: &str = "container.idmap=[\"u 0 100000 65536\", \"g 0 100000 65536\"]";

/// How [`Agent::start_with`] departs from what the tests run; the default
/// is what [`Agent::start`] does.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options<'a> {
    /// Upstream's own template and LXC config, as the SoftwareContainer
    /// install has them, instead of scgen's: `<datadir>/softwarecontainer`
    /// is not bound over (the compiled-in `LXCTEMPLATE` is upstream's
    /// script) and the config is the install's `softwarecontainer.conf`
    /// (with the same LXC log lines). The setup's `profile` and `sets` are
    /// not used. For `benches/agent.rs`, which compares the two.
    pub upstream: bool,
    /// Where the scratch dir (and so the lxcpath, the shared-mounts dir and
    /// an overlay profile's skeleton store under `@S@`) is made, instead of
    /// `CARGO_TARGET_TMPDIR`: the benchmark puts it on tmpfs or on disk.
    pub scratch_in: Option<&'a Path>,
}

/// A running agent and what belongs to it.
pub struct Agent {
    /// The scratch dir: `lxc` (the lxcpath), `shared` (the agent's
    /// `shared-mounts-dir`), `root` (the per-test install copies),
    /// `agent.log`, `bus.sock`.
    pub dir: tempfile::TempDir,
    child: Child,
    bus: String,
    /// [`Install::reaps_jobs`].
    reaps_jobs: bool,
    /// The host pids of the jobs [`Agent::execute`] started, by container.
    jobs: std::cell::RefCell<Vec<(i32, u32)>>,
}

/// Runs in the new namespaces, then execs the agent (so the child's pid
/// is the agent's).
const LAUNCH: &str = include_str!("../agent/launch.sh");

/// Hard links `from` to `to` (same file system: both under `target/`), or
/// copies it.
fn link_or_copy(from: &Path, to: &Path) {
    if fs::hard_link(from, to).is_err() {
        fs::copy(from, to)
            .unwrap_or_else(|e| panic!("{} -> {}: {e}", from.display(), to.display()));
    }
}

impl Agent {
    /// Generates the profile, installs everything in the scratch dir,
    /// starts the bus and the agent, and waits (bounded) until the agent
    /// answers `Introspect` on the bus, as `02_introspect.sh` does.
    pub fn start(setup: &Setup) -> Agent {
        Agent::start_with(setup, &Options::default())
    }

    /// [`Agent::start`], departing from it as `options` say.
    pub fn start_with(setup: &Setup, options: &Options) -> Agent {
        let install = setup.install;
        let dir = tempfile::Builder::new()
            .prefix("agent.")
            .tempdir_in(
                options
                    .scratch_in
                    .unwrap_or(Path::new(env!("CARGO_TARGET_TMPDIR"))),
            )
            .unwrap();
        let s = dir.path();
        let subst = |t: &str| t.replace("@S@", &s.display().to_string());
        for d in ["lxc", "shared", "gen", "root/bin", "root/share", "root/etc"] {
            fs::create_dir_all(s.join(d)).unwrap();
        }
        let prefix = install.prefix.clone();

        // scgen gen with the agent's install dirs, as docs/softwarecontainer.md says.
        if !options.upstream {
            let mut gen = super::Gen::new()
                .profile(super::root().join(format!("profiles/{}.toml", setup.profile)))
                .out(s.join("gen"))
                .set(&format!("install.prefix={}", prefix.display()))
                .set("install.bindir=bin")
                .set("install.datadir=share");
            for kv in setup.sets {
                gen = gen.set(&subst(kv));
            }
            // The lxc3 default is id-mapped; a privileged container is the
            // explicit choice of an empty map.
            gen = gen.set(if setup.idmap {
                IDMAP
            } else {
                "container.idmap=[]"
            });
            gen.ok();
        }
        if setup.idmap {
            // The mapped root walks through the scratch dir (a 0700 temp
            // dir) to the lxcpath, the rootfs and the shared-mounts dir.
            fs::set_permissions(s, fs::Permissions::from_mode(0o755)).unwrap();
        }

        // <bindir>: the agent (and its network script), and scgen.
        let bin = s.join("root/bin");
        for e in fs::read_dir(install.bindir()).unwrap() {
            let e = e.unwrap();
            link_or_copy(&e.path(), &bin.join(e.file_name()));
        }
        link_or_copy(Path::new(env!("CARGO_BIN_EXE_scgen")), &bin.join("scgen"));

        // <datadir>/softwarecontainer: the drop-in and the artifacts (with
        // upstream's template: the install's own, not bound over).
        if !options.upstream {
            let share = s.join("root/share");
            fs::create_dir_all(share.join("lxc-templates")).unwrap();
            fs::create_dir_all(share.join("scgen")).unwrap();
            for e in fs::read_dir(s.join("gen")).unwrap() {
                let e = e.unwrap();
                fs::copy(e.path(), share.join("scgen").join(e.file_name())).unwrap();
            }
            let dropin = share.join("lxc-templates/lxc-softwarecontainer");
            fs::copy(s.join("gen/lxc-softwarecontainer"), &dropin).unwrap();
            fs::set_permissions(&dropin, fs::Permissions::from_mode(0o755)).unwrap();
        }

        // <sysconfdir>/softwarecontainer: the LXC config, the agent config
        // and the manifests.
        let etc = s.join("root/etc");
        let sc_etc = install.sysconfdir().join("softwarecontainer");
        // scgen's config, plus an LXC log in the scratch dir: the agent logs
        // only "Error starting container", LXC says why.
        let conf_from = if options.upstream {
            install.lxc_config()
        } else {
            s.join("gen/softwarecontainer.conf")
        };
        let mut conf = fs::read_to_string(&conf_from)
            .unwrap_or_else(|e| panic!("{}: {e}", conf_from.display()));
        conf.push_str(&format!(
            "\n# tests/common/agent.rs: LXC's own log, printed when a test fails\n\
             lxc.log.file = {}\nlxc.log.level = WARN\n",
            s.join("lxc.log").display()
        ));
        fs::write(etc.join("softwarecontainer.conf"), conf).unwrap();
        fs::create_dir_all(etc.join("service-manifest.d")).unwrap();
        fs::create_dir_all(etc.join("service-manifest.default.d")).unwrap();
        for m in setup.manifests {
            let text = fs::read_to_string(super::root().join("tests/agent").join(m)).unwrap();
            fs::write(etc.join("service-manifest.d").join(m), subst(&text)).unwrap();
        }
        let mut config = format!(
            "[SoftwareContainer]\n\
             use-session-bus = false\n\
             shutdown-timeout = 1\n\
             shared-mounts-dir = {shared}\n\
             deprecated-lxc-config-path = {etc}/softwarecontainer.conf\n\
             service-manifest-dir = {etc}/service-manifest.d/\n\
             default-service-manifest-dir = {etc}/service-manifest.default.d/\n",
            shared = s.join("shared").display(),
            etc = sc_etc.display(),
        );
        if install.network {
            // The test makes the bridge itself; the agent's check script
            // (setup_softwarecontainer.sh) then only looks for it.
            config.push_str(&format!(
                "create-bridge = false\n\
                 bridge-device = {BRIDGE}\n\
                 bridge-ip = {BRIDGE_IP}\n\
                 bridge-netmask = 255.255.255.0\n\
                 bridge-netmask-bitlength = 24\n\
                 bridge-netaddr = 10.0.3.0\n"
            ));
        }
        fs::write(etc.join("softwarecontainer-config"), config).unwrap();

        // The bus: Debian's system-bus config plus the agent's policy.
        let bus = include_str!("../agent/bus.conf");
        let policy = install.policy().display().to_string();
        fs::write(s.join("bus.conf"), bus.replace("@POLICY@", &policy)).unwrap();

        let child = Command::new("unshare")
            .args(["--mount", "--net", "--propagation", "private", "sh", "-c"])
            .arg(LAUNCH)
            .env("S", s)
            .env("PREFIX", &prefix)
            .env("BRIDGE", if install.network { BRIDGE } else { "" })
            .env("BRIDGE_IP", BRIDGE_IP)
            .env(
                "SUBID",
                if setup.idmap {
                    format!("root:{MAPPED_ROOT}:65536")
                } else {
                    String::new()
                },
            )
            .env("BIND_SHARE", if options.upstream { "" } else { "1" })
            .env_remove("SCGEN")
            .env_remove("SCGEN_ARTIFACTS")
            .env_remove("GATEWAY_DIR")
            .env_remove("DBUS_SYSTEM_BUS_ADDRESS")
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare");
        let mut agent = Agent {
            bus: format!("unix:path={}", s.join("bus.sock").display()),
            dir,
            child,
            reaps_jobs: install.reaps_jobs,
            jobs: Default::default(),
        };
        agent.wait_until_on_the_bus();
        agent
    }

    /// `gdbus introspect` until the agent's object lists its methods
    /// (`02_introspect.sh`); a panic (the logs are printed by `Drop`) if
    /// the agent exits first or [`CALL_DEADLINE`] passes.
    fn wait_until_on_the_bus(&mut self) {
        let started = Instant::now();
        loop {
            let introspect = [
                "introspect",
                "--system",
                "--dest",
                DEST,
                "--object-path",
                OBJECT,
            ];
            let o = super::guard::run_within(&self.gdbus(&introspect), "gdbus introspect");
            if o.status.success() && String::from_utf8_lossy(&o.stdout).contains("SetCapabilities")
            {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the agent (or its launch script) exited with {status} before it was on the bus");
            }
            assert!(
                started.elapsed() < CALL_DEADLINE,
                "the agent is not on the bus after {CALL_DEADLINE:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The agent's pid (the namespaces' first process).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// `p` as the agent sees it (through its mount namespace).
    pub fn seen(&self, p: &Path) -> PathBuf {
        Path::new(&format!("/proc/{}/root", self.pid())).join(p.strip_prefix("/").unwrap_or(p))
    }

    /// The agent's mount table; a panic if it cannot be read (the agent
    /// is gone: an empty table would pass every "nothing left" check).
    pub fn mountinfo(&self) -> String {
        let p = format!("/proc/{}/mountinfo", self.pid());
        fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}: the agent is gone"))
    }

    /// Panics unless the agent process is still there and not a zombie:
    /// checks made after a step mean nothing if the agent died in it.
    #[track_caller]
    pub fn assert_alive(&self) {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .unwrap_or_else(|e| panic!("the agent is gone ({e})"));
        let (comm, rest) = stat
            .split_once(") ")
            .unwrap_or_else(|| panic!("/proc/{}/stat: {stat}", self.pid()));
        assert!(
            comm.ends_with("(softwarecontain") && !rest.starts_with('Z'),
            "the agent died: {stat}"
        );
    }

    /// `<shared-mounts-dir>/SC-<id>`: the agent's container root, whose
    /// `gateways` is the container's `/gateways`.
    pub fn container_root(&self, id: i32) -> PathBuf {
        self.scratch().join(format!("shared/SC-{id}"))
    }

    /// `<lxcpath>/SC-<id>`.
    pub fn lxc_dir(&self, id: i32) -> PathBuf {
        self.scratch().join(format!("lxc/SC-{id}"))
    }

    fn gdbus(&self, args: &[&str]) -> Command {
        let mut c = Command::new("gdbus");
        c.args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.bus)
            .stdin(Stdio::null());
        c
    }

    /// `gdbus call --system --dest ... --object-path ... --method
    /// com.pelagicore.SoftwareContainerAgent.<method> <args>`, as the doc's
    /// scripts run it, within [`CALL_DEADLINE`]. Ok: gdbus's stdout; Err:
    /// its stderr.
    pub fn call(&self, method: &str, args: &[&str]) -> Result<String, String> {
        let o =
            super::guard::run_within(&self.call_command(method, args), &format!("gdbus {method}"));
        if o.status.success() {
            Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&o.stderr).trim().to_string())
        }
    }

    /// The `gdbus call` of [`Agent::call`], not run: for the benchmark,
    /// which times it from spawn to exit (gdbus's own `--timeout` bounds
    /// it).
    pub fn call_command(&self, method: &str, args: &[&str]) -> Command {
        let m = format!("{DEST}.{method}");
        let mut all = vec![
            "call",
            "--system",
            "--timeout",
            GDBUS_TIMEOUT,
            "--dest",
            DEST,
            "--object-path",
            OBJECT,
            "--method",
            &m,
        ];
        all.extend_from_slice(args);
        self.gdbus(&all)
    }

    /// `call`, or a panic with the agent's log.
    #[track_caller]
    pub fn ok(&self, method: &str, args: &[&str]) -> String {
        // The logs are printed when the Agent is dropped.
        self.call(method, args)
            .unwrap_or_else(|e| panic!("{method} {args:?} failed: {e}"))
    }

    /// `Create '<config>'`; the container id.
    #[track_caller]
    pub fn create(&self, config: &str) -> i32 {
        let out = self.ok("Create", &[config]);
        // gdbus prints "(0,)".
        out.trim_start_matches('(')
            .trim_end_matches(",)")
            .parse()
            .unwrap_or_else(|_| panic!("Create answered {out:?}"))
    }

    /// `Execute <id> <command> <workdir> "" {}`: the pid on the host.
    #[track_caller]
    pub fn execute(&self, id: i32, command: &str) -> String {
        let out = self.ok("Execute", &[&id.to_string(), command, "/", "", "{}"]);
        // gdbus prints "(1234,)".
        let pid = out.trim().trim_start_matches('(').trim_end_matches(",)");
        let pid = pid
            .parse()
            .unwrap_or_else(|_| panic!("Execute answered {out:?}"));
        self.jobs.borrow_mut().push((id, pid));
        out
    }

    /// `Destroy`. The patched agent reaps the container's jobs itself
    /// first (`integration/softwarecontainer/agent/0010-*`), so it is
    /// called whatever they are doing. Upstream's agent would hang for good
    /// on a job that has not been reaped (issue 21: its Destroy blocks the
    /// main loop that reaps, while the container's init waits for that
    /// job), so with it this first waits (bounded) until every job
    /// [`Agent::execute`] started in `id` has exited and been reaped.
    #[track_caller]
    pub fn destroy(&self, id: i32) {
        if !self.reaps_jobs {
            let jobs: Vec<u32> = self
                .jobs
                .borrow()
                .iter()
                .filter(|(c, _)| *c == id)
                .map(|(_, pid)| *pid)
                .collect();
            let started = Instant::now();
            while let Some(pid) = jobs.iter().find(|p| self.is_child(**p)) {
                assert!(
                    started.elapsed() < CALL_DEADLINE,
                    "upstream's agent has not reaped its job {pid} of container {id} \
                     after {CALL_DEADLINE:?}\n{}",
                    self.logs()
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.ok("Destroy", &[&id.to_string()]);
    }

    /// Whether `pid` is a child of the agent, running or a zombie (not yet
    /// reaped). A pid reused since names another parent.
    fn is_child(&self, pid: u32) -> bool {
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parens.
        let after_comm = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        after_comm.split_whitespace().nth(1) == Some(&self.pid().to_string())
    }

    /// Waits (bounded) until `p`, as the agent sees it, exists, and returns
    /// its contents; `None` after `deadline`.
    pub fn wait_for_file(&self, p: &Path, deadline: Duration) -> Option<String> {
        let seen = self.seen(p);
        let started = Instant::now();
        loop {
            if let Ok(mut f) = fs::File::open(&seen) {
                let mut s = String::new();
                if f.read_to_string(&mut s).is_ok() && s.ends_with('\n') {
                    return Some(s);
                }
            }
            if started.elapsed() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The agent's log, the launch log and the bus's, for failure messages.
    pub fn logs(&self) -> String {
        let read = |n: &str| fs::read_to_string(self.scratch().join(n)).unwrap_or_default();
        format!(
            "--- agent log ({}) ---\n{}\n--- LXC log ---\n{}\n--- setup log ---\n{}",
            self.scratch().join("agent.log").display(),
            read("agent.log"),
            read("lxc.log"),
            read("setup.log")
        )
    }

    /// The agent's log lines that say error.
    pub fn errors(&self) -> Vec<String> {
        fs::read_to_string(self.scratch().join("agent.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("[ Error ]"))
            .map(str::to_string)
            .collect()
    }

    /// Stops and destroys any container left in the lxcpath, from inside
    /// the agent's namespaces. Each stop is bounded: an agent that hung in
    /// Destroy keeps its container's init from exiting (an unreaped job),
    /// and `lxc-stop` then waits for as long as the agent lives; `Drop`
    /// kills the agent and comes back.
    fn stop_containers(&self, pid: u32) {
        let pid = pid.to_string();
        let _ = Command::new("nsenter")
            .args(["--target", &pid, "--mount", "--net", "--", "sh", "-c"])
            .arg(
                r#"for c in $(lxc-ls -P /var/lib/lxc 2>/dev/null); do
                    timeout 10 lxc-stop -P /var/lib/lxc -n "$c" -k >/dev/null 2>&1 || true
                    timeout 10 lxc-destroy -P /var/lib/lxc -n "$c" -f >/dev/null 2>&1 || true
                done"#,
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let dbus = fs::read_to_string(self.scratch().join("dbus.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok());
        let agent_alive = self.child.try_wait().ok().flatten().is_none();
        // nsenter needs a live process of the namespaces: the agent, or
        // else its bus.
        if let Some(target) = agent_alive.then(|| self.pid()).or(dbus.map(|p| p as u32)) {
            self.stop_containers(target);
        }
        if agent_alive {
            // SIGTERM: the agent quits its main loop; then SIGKILL.
            let pid = rustix::process::Pid::from_raw(self.pid() as i32).unwrap();
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let started = Instant::now();
            while self.child.try_wait().ok().flatten().is_none() {
                if started.elapsed() > Duration::from_secs(10) {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if let Some(d) = dbus.filter(|_| agent_alive) {
            // What an agent that hung held back can stop now.
            self.stop_containers(d as u32);
        }
        if let Some(pid) = dbus.and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
    }
}
