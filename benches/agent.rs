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
//!         [--fs tmpfs,disk] [--tmpfs DIR] [--disk DIR] [--soak N]
//!
//! `--soak N` runs the soak instead (`benches/agent/soak.rs`, bench/run
//! section 6): N cycles per scgen profile on the first `--fs` place.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "agent/report.rs"]
mod report;
#[path = "agent/soak.rs"]
mod soak;

use common::agent::{self, Agent, Options, Setup};
use common::soak::ContainerCgroups;
use common::softwarecontainer::{self as sc, Variant};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The Create argument of SoftwareContainer's getting-started scripts.
const CREATE: &str = r#"[{"writeBufferEnabled": false}]"#;

/// One way of creating containers.
struct Arm {
    label: &'static str,
    /// The shipped profile (unused by upstream).
    profile: &'static str,
    upstream: bool,
    /// `security.disk-max = "max"`: writes on the host's disk, to show
    /// what the default bound (a tmpfs and its pre-mount hook) costs.
    unbounded: bool,
    /// The default id-mapped container; false: `container.idmap = []`,
    /// to show what the id map costs.
    idmap: bool,
}

const ARMS: [Arm; 5] = [
    Arm {
        label: "upstream's template",
        profile: "default",
        upstream: true,
        unbounded: false,
        idmap: false,
    },
    Arm {
        label: "scgen default",
        profile: "default",
        upstream: false,
        unbounded: false,
        idmap: true,
    },
    Arm {
        label: "scgen overlay",
        profile: "overlay",
        upstream: false,
        unbounded: false,
        idmap: true,
    },
    Arm {
        label: "scgen overlay, unbounded",
        profile: "overlay",
        upstream: false,
        unbounded: true,
        idmap: true,
    },
    Arm {
        label: "scgen overlay, privileged",
        profile: "overlay",
        upstream: false,
        unbounded: false,
        idmap: false,
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
    /// `--soak N`: the soak (section 6) instead of the timing, N cycles per
    /// profile on the first place.
    soak: usize,
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "benches/agent: {msg}\nusage: cargo bench --bench agent -- [--rounds N] [--warmup N] \
         [--fs tmpfs,disk] [--tmpfs DIR] [--disk DIR] [--soak N]"
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
    let mut soak = 0;
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
            "--soak" => {
                soak = value("--soak")
                    .parse()
                    .unwrap_or_else(|_| usage("--soak N"))
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
        soak,
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
    if !arm.upstream {
        assert_eq!(
            config.contains("lxc.hook.pre-mount = "),
            !arm.unbounded,
            "{}: the disk bound's hook:\n{config}",
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
    let cgroups = ContainerCgroups::of(a, id);
    let ids = id.to_string();
    let (_, execute) = timed(a, "Execute", &[&ids, "/bin/true", "/", "", "{}"]);
    let (_, destroy) = timed(a, "Destroy", &[&ids]);
    assert!(
        !a.seen(&a.lxc_dir(id)).exists(),
        "{}: SC-{id} is left after Destroy",
        arm.label
    );
    let left = cgroups.left(a);
    assert!(
        left.is_empty(),
        "{}: SC-{id}'s cgroups are left: {left:?}",
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

fn main() {
    let args = parse_args();
    if !agent::ready() {
        eprintln!("benches/agent: cannot run here (root, LXC, dbus-daemon, gdbus and the fixture are needed; see above)");
        std::process::exit(1);
    }
    eprintln!("== SoftwareContainer (cached under target/softwarecontainer/)");
    // The agent the shipped profiles are made for: with scgen's series.
    let install = sc::build(&Variant::network(false).patched());
    if args.soak > 0 {
        soak::run(&install, &args.places[0], args.soak);
        return;
    }
    let load_start = loadavg();

    // One agent per (place, arm), all started before the first round.
    let mut agents: Vec<(usize, usize, Agent)> = Vec::new();
    for (p, place) in args.places.iter().enumerate() {
        for (i, arm) in ARMS.iter().enumerate() {
            eprintln!(
                "== agent: {} on {} ({})",
                arm.label, place.name, place.fstype
            );
            let mut sets = Vec::new();
            if arm.profile == "overlay" {
                sets.push("container.skeleton-store=@S@/store");
            }
            if arm.unbounded {
                sets.push("security.disk-max=max");
            }
            let a = Agent::start_with(
                &Setup {
                    install: &install,
                    profile: arm.profile,
                    sets: &sets,
                    manifests: &[],
                    idmap: arm.idmap,
                },
                &Options {
                    upstream: arm.upstream,
                    scratch_in: Some(&place.dir),
                },
            );
            if arm.idmap && arm.profile == "overlay" {
                // The skeleton store belongs to the mapped root.
                let store = a.scratch().join("store");
                fs::create_dir(&store).unwrap();
                let root = Some(agent::MAPPED_ROOT);
                std::os::unix::fs::chown(&store, root, root).unwrap();
            }
            agents.push((p, i, a));
        }
    }
    let mut samples: Vec<Samples> = agents.iter().map(|_| Samples::default()).collect();
    let mut load1s = Vec::new();
    let started = Instant::now();
    let total = args.warmup + args.rounds;
    for round in 0..total {
        load1s.push(load1());
        let measured = round >= args.warmup;
        for (k, (_, i, a)) in agents.iter().enumerate() {
            cycle(&ARMS[*i], a, &mut samples[k], measured, round == 0);
        }
        eprintln!(
            "  round {}/{total}{} done ({:.0} s, load {})",
            round + 1,
            if measured { "" } else { " (warm-up)" },
            started.elapsed().as_secs_f64(),
            loadavg()
        );
    }
    let load_end = loadavg();
    eprintln!(
        "== done in {:.0} s; stopping the agents",
        started.elapsed().as_secs_f64()
    );
    let keys: Vec<(usize, usize)> = agents.iter().map(|(p, i, _)| (*p, *i)).collect();
    drop(agents);
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
    report::print(&report::Run {
        args: &args,
        samples: &samples,
        keys: &keys,
        load_start: &load_start,
        load_end: &load_end,
        load1s: &load1s,
        lxc: &lxc,
        commit: &commit,
    });
}
