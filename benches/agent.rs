//! SoftwareContainer's agent, timed (issue 14): the agent's Create, Execute
//! and Destroy over D-Bus with upstream's own template, scgen's default
//! profile and scgen's overlay profile, interleaved in one run.
//!
//! A benchmark, not a test (`cargo bench --bench agent`; `bench/run` runs
//! it as its section 5): no test checks a time. It reuses the test harness
//! (`tests/common`): the fixture's SoftwareContainer, built once and cached
//! under `target/softwarecontainer/`, and one real agent per arm, each in
//! its own mount and network namespaces with its own lxcpath and D-Bus
//! daemon. The upstream arm runs the install's own template (at the
//! compiled-in `LXCTEMPLATE`) and LXC config; the scgen arms run scgen's
//! drop-in and config, installed as the README says.
//!
//! Every agent is started before the first round and kept across rounds.
//! A round runs, for each filesystem and each arm in turn (A, B, C, A, B,
//! C, ...), so that the machine's load (it is shared) falls on every arm
//! alike: a `ListCapabilities` (the D-Bus round trip every step pays),
//! `Create '[{"writeBufferEnabled": false}]'`, `Execute` of `/bin/true`,
//! `Destroy`. Each call is timed from gdbus's spawn to its exit, the way a
//! client script sees it. The first rounds are warm-up (the overlay arm's
//! first Create fills its skeleton store; it is reported on its own row).
//!
//! Output: a markdown section on stdout (the columns of `bench/run`'s
//! table, section 5), progress on stderr.
//!
//!     cargo bench --bench agent -- [--rounds N] [--warmup N]
//!         [--fs tmpfs,disk] [--tmpfs DIR] [--disk DIR]

#[path = "../tests/common/mod.rs"]
mod common;

use common::agent::{self, Agent, Options, Setup};
use common::softwarecontainer::{self as sc, Variant};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The Create argument of SoftwareContainer's getting-started scripts.
const CREATE: &str = r#"[{"writeBufferEnabled": false}]"#;

/// One way of creating containers.
struct Arm {
    label: &'static str,
    /// The shipped profile (unused by upstream).
    profile: &'static str,
    upstream: bool,
}

const ARMS: [Arm; 3] = [
    Arm {
        label: "upstream's template",
        profile: "default",
        upstream: true,
    },
    Arm {
        label: "scgen default",
        profile: "default",
        upstream: false,
    },
    Arm {
        label: "scgen overlay",
        profile: "overlay",
        upstream: false,
    },
];

/// Where the scratch dirs (lxcpath included) go, and what is on them.
struct Place {
    /// `tmpfs` or `disk`: the option's name.
    name: &'static str,
    dir: PathBuf,
    fstype: String,
}

/// What one (place, arm) agent measured, in milliseconds.
#[derive(Default)]
struct Samples {
    floor: Vec<f64>,
    create: Vec<f64>,
    execute: Vec<f64>,
    destroy: Vec<f64>,
    cycle: Vec<f64>,
    /// Entries in `<lxcpath>/SC-<id>` after Create (same filesystem only).
    entries: Vec<usize>,
    /// The very first Create of this agent (warm-up round 1).
    first_create: Option<f64>,
}

struct Args {
    rounds: usize,
    warmup: usize,
    places: Vec<Place>,
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "benches/agent: {msg}\nusage: cargo bench --bench agent -- [--rounds N] [--warmup N] \
         [--fs tmpfs,disk] [--tmpfs DIR] [--disk DIR]"
    );
    std::process::exit(2)
}

fn fstype(dir: &Path) -> String {
    let o = Command::new("df")
        .args(["--output=fstype"])
        .arg(dir)
        .output()
        .expect("df");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap_or("?")
        .trim()
        .to_string()
}

fn parse_args() -> Args {
    let mut rounds = 15;
    let mut warmup = 2;
    let mut which = vec!["tmpfs".to_string(), "disk".to_string()];
    let env_dir = |k: &str, d: &str| PathBuf::from(std::env::var(k).unwrap_or_else(|_| d.into()));
    let mut tmpfs = env_dir("BENCH_TMPFS", "/dev/shm");
    let mut disk = env_dir("BENCH_DISK", "/var/tmp");
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .unwrap_or_else(|| usage(&format!("{what} needs a value")))
        };
        match a.as_str() {
            // cargo bench passes --bench to every bench binary.
            "--bench" => {}
            "--rounds" => {
                rounds = value("--rounds")
                    .parse()
                    .unwrap_or_else(|_| usage("--rounds N"))
            }
            "--warmup" => {
                warmup = value("--warmup")
                    .parse()
                    .unwrap_or_else(|_| usage("--warmup N"))
            }
            "--fs" => which = value("--fs").split(',').map(str::to_string).collect(),
            "--tmpfs" => tmpfs = value("--tmpfs").into(),
            "--disk" => disk = value("--disk").into(),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if rounds == 0 {
        usage("--rounds must be at least 1");
    }
    let places = which
        .iter()
        .map(|w| {
            let (name, dir) = match w.as_str() {
                "tmpfs" => ("tmpfs", tmpfs.clone()),
                "disk" => ("disk", disk.clone()),
                _ => usage(&format!("--fs takes tmpfs and/or disk, not {w}")),
            };
            if !dir.is_dir() {
                usage(&format!("{} is not a directory", dir.display()));
            }
            Place {
                name,
                fstype: fstype(&dir),
                dir,
            }
        })
        .collect();
    Args {
        rounds,
        warmup,
        places,
    }
}

/// LXC's monitor cgroups named for `SC-0` left on the host (v1 `cpu` or
/// the unified hierarchy): starting a container tries `lxc.monitor.SC-0`,
/// `-1`, `-2`, ... in turn until a name is free, so each one left makes
/// every later start of an `SC-0` a little slower, on every arm alike.
fn monitor_cgroups() -> usize {
    [
        "/sys/fs/cgroup/cpu",
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup",
    ]
    .iter()
    .find_map(|d| fs::read_dir(d).ok())
    .map(|d| {
        d.flatten()
            .filter(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n == "lxc.monitor.SC-0" || n.starts_with("lxc.monitor.SC-0-")
            })
            .count()
    })
    .unwrap_or(0)
}

/// The monitor cgroups that this run's containers left (LXC's own log
/// names them: "Failed to destroy N(lxc.monitor.SC-0-K)"), removed again
/// once empty, so the run neither measures a growing leak nor leaves one on
/// a shared machine. Only names from log lines written since the last
/// look are taken: a name freed earlier may be someone else's by now.
///
/// Why they are left: the agent process itself is moved into its
/// container's `lxc.monitor.SC-N[-K]` cgroup (seen in `/proc/<agent>/cgroup`
/// and the cgroup's `cgroup.procs`), so LXC's rmdir at Destroy fails with
/// EBUSY and is never retried; the cgroup empties when the agent's next
/// container moves it on, or when it exits.
#[derive(Default)]
struct Leaks {
    /// Bytes of each agent's `lxc.log` already read.
    read: Vec<usize>,
    pending: std::collections::BTreeSet<String>,
    removed: usize,
}

impl Leaks {
    fn scan(&mut self, k: usize, a: &Agent) {
        if self.read.len() <= k {
            self.read.resize(k + 1, 0);
        }
        let log = fs::read(a.scratch().join("lxc.log")).unwrap_or_default();
        let new = String::from_utf8_lossy(log.get(self.read[k]..).unwrap_or_default());
        self.read[k] = log.len();
        for l in new.lines() {
            if let Some(rest) = l.split("Failed to destroy ").nth(1) {
                if let Some(name) = rest.split(['(', ')']).nth(1) {
                    if name.starts_with("lxc.monitor.SC-") && !name.contains('/') {
                        self.pending.insert(name.to_string());
                    }
                }
            }
        }
    }

    /// rmdir of every pending name in every hierarchy; what is still busy
    /// stays pending.
    fn sweep(&mut self) {
        let roots: Vec<PathBuf> = fs::read_dir("/sys/fs/cgroup")
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        let mut done = Vec::new();
        for name in &self.pending {
            let mut busy = false;
            for dir in roots
                .iter()
                .map(|r| r.join(name))
                .chain([Path::new("/sys/fs/cgroup").join(name)])
            {
                match fs::remove_dir(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(_) => busy = true,
                }
            }
            if !busy {
                done.push(name.clone());
            }
        }
        for n in done {
            self.pending.remove(&n);
            self.removed += 1;
        }
    }
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn load1() -> f64 {
    loadavg()
        .split_whitespace()
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Runs one `gdbus call` and returns its stdout and the time from spawn
/// to exit; panics (the agent's logs follow, from its `Drop`) if it
/// failed.
fn timed(a: &Agent, method: &str, args: &[&str]) -> (String, f64) {
    let mut cmd = a.call_command(method, args);
    let started = Instant::now();
    let o = cmd.output().expect("gdbus");
    let ms = started.elapsed().as_secs_f64() * 1e3;
    assert!(
        o.status.success(),
        "{method} {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr).trim()
    );
    (String::from_utf8_lossy(&o.stdout).trim().to_string(), ms)
}

/// Waits (untimed, bounded) until the agent has reaped the process that
/// Execute started (`pid` as gdbus prints it, `(1234,)`: a host pid).
///
/// Destroy must not come earlier: the agent reaps its jobs from its main
/// loop, and its Destroy blocks that loop while LXC stops the container,
/// whose init (exiting in `zap_pid_ns_processes`) waits for every process
/// of its pid namespace to be reaped, the unreaped `/bin/true` included.
/// Seen here: agent, LXC and `lxc-stop` then wait for each other for ever.
fn wait_reaped(arm: &Arm, pid: &str) {
    let pid = pid.trim_start_matches('(').trim_end_matches(",)");
    let proc = Path::new("/proc").join(pid);
    let started = Instant::now();
    while proc.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{}: the agent has not reaped its job {pid} after 20 s",
            arm.label
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Entries under `dir` (itself included), on its filesystem only.
fn entries(dir: &Path) -> usize {
    walkdir::WalkDir::new(dir)
        .same_file_system(true)
        .into_iter()
        .filter_map(Result::ok)
        .count()
}

/// Proves, once per agent, that the arm ran the template it claims.
fn check_arm(arm: &Arm, a: &Agent, id: i32) {
    let config = fs::read_to_string(a.seen(&a.lxc_dir(id).join("config")))
        .unwrap_or_else(|e| panic!("{}: no container config: {e}", arm.label));
    let scgen = config.contains("# >>> scgen stage:");
    assert_eq!(
        scgen,
        !arm.upstream,
        "{}: scgen's stage {} in the container config:\n{config}",
        arm.label,
        if scgen { "is" } else { "is not" }
    );
    if arm.upstream {
        assert!(
            config.contains("bin/busybox none ro,bind"),
            "{}: not upstream's template's config:\n{config}",
            arm.label
        );
    }
    if arm.profile == "overlay" && !arm.upstream {
        assert!(
            config.contains("lxc.rootfs.path = overlay:"),
            "{}: not an overlay rootfs:\n{config}",
            arm.label
        );
    }
}

/// One Create, Execute, Destroy cycle (and the D-Bus floor) on `a`.
fn cycle(arm: &Arm, a: &Agent, s: &mut Samples, measured: bool, first: bool) {
    let (_, floor) = timed(a, "ListCapabilities", &[]);
    let (out, create) = timed(a, "Create", &[CREATE]);
    let id: i32 = out
        .trim_start_matches('(')
        .trim_end_matches(",)")
        .parse()
        .unwrap_or_else(|_| panic!("Create answered {out:?}"));
    if first {
        check_arm(arm, a, id);
        s.first_create = Some(create);
    }
    let n = entries(&a.seen(&a.lxc_dir(id)));
    let ids = id.to_string();
    let (pid, execute) = timed(a, "Execute", &[&ids, "/bin/true", "/", "", "{}"]);
    wait_reaped(arm, &pid);
    let (_, destroy) = timed(a, "Destroy", &[&ids]);
    assert!(
        !a.seen(&a.lxc_dir(id)).exists(),
        "{}: SC-{id} is left after Destroy",
        arm.label
    );
    if measured {
        s.floor.push(floor);
        s.create.push(create);
        s.execute.push(execute);
        s.destroy.push(destroy);
        s.cycle.push(create + execute + destroy);
        s.entries.push(n);
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

/// A row of `bench/run`'s table (section 5).
fn row(what: &str, fs: &str, v: &[f64], note: &str) -> String {
    let (lo, hi) = min_max(v);
    format!(
        "| 5 | {what} | {fs} | {:.2} ms | {lo:.2} ms – {hi:.2} ms | {} | {note} |",
        median(v),
        v.len()
    )
}

fn main() {
    let args = parse_args();
    if !agent::ready() {
        eprintln!("benches/agent: cannot run here (root, LXC, dbus-daemon, gdbus and the fixture are needed; see above)");
        std::process::exit(1);
    }
    eprintln!("== SoftwareContainer (cached under target/softwarecontainer/)");
    let install = sc::build(&Variant::network(false));
    let load_start = loadavg();
    let cgroups_start = monitor_cgroups();

    // One agent per (place, arm), all started before the first round.
    let mut agents: Vec<(usize, usize, Agent)> = Vec::new();
    for (p, place) in args.places.iter().enumerate() {
        for (i, arm) in ARMS.iter().enumerate() {
            eprintln!(
                "== agent: {} on {} ({})",
                arm.label, place.name, place.fstype
            );
            let sets: &[&str] = if arm.profile == "overlay" {
                &["container.skeleton-store=@S@/store"]
            } else {
                &[]
            };
            let a = Agent::start_with(
                &Setup {
                    install: &install,
                    profile: arm.profile,
                    sets,
                    manifests: &[],
                },
                &Options {
                    upstream: arm.upstream,
                    scratch_in: Some(&place.dir),
                },
            );
            agents.push((p, i, a));
        }
    }
    let mut samples: Vec<Samples> = agents.iter().map(|_| Samples::default()).collect();
    let mut load1s = Vec::new();
    let mut leaks = Leaks::default();
    let started = Instant::now();
    let total = args.warmup + args.rounds;
    for round in 0..total {
        load1s.push(load1());
        let measured = round >= args.warmup;
        for (k, (_, i, a)) in agents.iter().enumerate() {
            cycle(&ARMS[*i], a, &mut samples[k], measured, round == 0);
            leaks.scan(k, a);
        }
        leaks.sweep();
        eprintln!(
            "  round {}/{total}{} done ({:.0} s, load {})",
            round + 1,
            if measured { "" } else { " (warm-up)" },
            started.elapsed().as_secs_f64(),
            loadavg()
        );
    }
    let load_end = loadavg();
    // Each agent sits in its last container's monitor cgroup (see Leaks)
    // until it exits.
    eprintln!(
        "== done in {:.0} s; stopping the agents",
        started.elapsed().as_secs_f64()
    );
    let keys: Vec<(usize, usize)> = agents.iter().map(|(p, i, _)| (*p, *i)).collect();
    drop(agents);
    let waited = Instant::now();
    while !leaks.pending.is_empty() && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
        leaks.sweep();
    }
    let cgroups_end = monitor_cgroups();
    let lxc = Command::new("lxc-create")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(common::root())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();

    // The report.
    let (lo, hi) = min_max(&load1s);
    println!(
        "## 5. SoftwareContainer's agent: Create, Execute, Destroy over D-Bus (benches/agent.rs)"
    );
    println!();
    println!(
        "- agent: the fixture's SoftwareContainer 0.19.0 (13fd268e6), ENABLE_NETWORKGATEWAY=OFF, \
         release build, on LXC {lxc}; scgen {commit} (release)"
    );
    println!(
        "- arms, interleaved in every round: upstream's template and config (as its install has \
         them), scgen default, scgen overlay; one agent per arm and filesystem, each in its own \
         mount and network namespaces with its own lxcpath and dbus-daemon, kept across rounds"
    );
    println!(
        "- {} rounds measured after {} warm-up; each step is one `gdbus call --system`, timed \
         from spawn to exit: Create `{CREATE}`, Execute `/bin/true`, Destroy",
        args.rounds, args.warmup
    );
    for place in &args.places {
        println!(
            "- lxcpath on {}: {} ({})",
            place.name,
            place.dir.display(),
            place.fstype
        );
    }
    println!(
        "- load average (1, 5, 15 min): {load_start} at start, {load_end} at the end; \
         1 min at each round's start: {lo:.2} – {hi:.2} (nproc {})",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "- LXC monitor cgroups `lxc.monitor.SC-0[-N]` on the host: {cgroups_start} at start, \
         {cgroups_end} at the end. LXC 5.0.2 fails to remove each agent container's \
         (EBUSY: the agent itself is in it), and every start of an `SC-0` tries the names in turn, so each one left costs \
         every later Create, on every arm alike; the bench removed the {} its own containers \
         left ({} still busy)",
        leaks.removed,
        leaks.pending.len()
    );
    println!(
        "- between Execute and Destroy the bench waits (untimed) until the agent has reaped the \
         job: an agent whose Destroy comes first deadlocks with LXC"
    );
    println!();
    println!("| § | benchmark | fs | median | min – max | runs | note |");
    println!("|---|---|---|---|---|---|---|");
    for (p, place) in args.places.iter().enumerate() {
        let fs = &place.fstype;
        let of = |i: usize| {
            let k = keys.iter().position(|&(q, j)| q == p && j == i).unwrap();
            &samples[k]
        };
        let floor: Vec<f64> = (0..ARMS.len()).flat_map(|i| of(i).floor.clone()).collect();
        println!(
            "{}",
            row(
                "agent: D-Bus round trip (`ListCapabilities`)",
                fs,
                &floor,
                "all arms; part of every step below"
            )
        );
        for (i, arm) in ARMS.iter().enumerate() {
            let s = of(i);
            let mut n = s.entries.clone();
            n.sort();
            n.dedup();
            let n = n
                .iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("/");
            println!(
                "{}",
                row(
                    &format!("agent Create, {}", arm.label),
                    fs,
                    &s.create,
                    &format!("{n} entries in <lxcpath>/SC-N")
                )
            );
            println!(
                "{}",
                row(
                    &format!("agent Execute `/bin/true`, {}", arm.label),
                    fs,
                    &s.execute,
                    ""
                )
            );
            println!(
                "{}",
                row(&format!("agent Destroy, {}", arm.label), fs, &s.destroy, "")
            );
            println!(
                "{}",
                row(
                    &format!("agent Create + Execute + Destroy, {}", arm.label),
                    fs,
                    &s.cycle,
                    "per round"
                )
            );
            if let Some(first) = s.first_create {
                let note = if arm.profile == "overlay" && !arm.upstream {
                    "fills the agent's skeleton store"
                } else {
                    "the agent's first container"
                };
                println!(
                    "| 5 | agent first Create (warm-up), {} | {fs} | {first:.2} ms | | 1 | {note} |",
                    arm.label
                );
            }
        }
        let up = median(&of(0).create);
        let def = median(&of(1).create);
        let ov = median(&of(2).create);
        let verdict = if up / ov >= 8.0 { "yes" } else { "NO" };
        println!(
            "| 5 | ratio agent Create, upstream / scgen overlay | {fs} | {:.1}x | | | median over median; target >= 8x: {verdict} |",
            up / ov
        );
        println!(
            "| 5 | ratio agent Create, upstream / scgen default | {fs} | {:.1}x | | | median over median |",
            up / def
        );
        // What the templates and LXC cost apart from gdbus and the bus,
        // which every Create pays alike: a diagnostic, not the target.
        let rt = median(&floor);
        println!(
            "| 5 | diagnostic: ratio upstream / scgen overlay, D-Bus round trip taken from both | {fs} | {:.1}x | | | ({up:.2} − {rt:.2}) / ({ov:.2} − {rt:.2}) ms |",
            (up - rt) / (ov - rt)
        );
    }
}
