//! The markdown section `benches/agent.rs` prints: what ran, where, under
//! which load, and one row per arm and step in `bench/run`'s columns
//! (section 5).

use crate::{Args, Samples, ARMS, CREATE};

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

/// What a run measured and saw, for [`print`].
pub struct Run<'a> {
    pub args: &'a Args,
    /// One per agent, in the order of `keys`.
    pub samples: &'a [Samples],
    /// (place, arm) of each agent.
    pub keys: &'a [(usize, usize)],
    pub load_start: &'a str,
    pub load_end: &'a str,
    /// The 1-minute load average at each round's start.
    pub load1s: &'a [f64],
    pub lxc: &'a str,
    pub commit: &'a str,
}

/// Prints the section on stdout.
pub fn print(run: &Run) {
    let Run {
        samples,
        keys,
        load_start,
        load_end,
        load1s,
        lxc,
        commit,
        ..
    } = run;
    let (lo, hi) = min_max(load1s);
    println!(
        "## 5. SoftwareContainer's agent: Create, Execute, Destroy over D-Bus (benches/agent.rs)"
    );
    println!();
    println!(
        "- agent: the fixture's SoftwareContainer 0.19.0 (13fd268e6), ENABLE_NETWORKGATEWAY=OFF, \
         release build, on LXC {lxc}; scgen {commit} (release)"
    );
    let labels: Vec<&str> = ARMS.iter().skip(1).map(|a| a.label).collect();
    println!(
        "- arms, interleaved in every round: upstream's template and config (as its install has \
         them), {}; one agent per arm and filesystem, each in its own mount and network \
         namespaces with its own lxcpath and dbus-daemon, kept across rounds",
        labels.join(", ")
    );
    println!(
        "- {} rounds measured after {} warm-up; each step is one `gdbus call --system`, timed \
         from spawn to exit: Create `{CREATE}`, Execute `/bin/true`, Destroy",
        run.args.rounds, run.args.warmup
    );
    for place in &run.args.places {
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
        "- the agent carries scgen's patch series (integration/softwarecontainer/agent/): Destroy \
         comes right after Execute (the patched agent reaps the job itself), and after every \
         Destroy the bench checks that the container's monitor and payload cgroups are gone"
    );
    println!();
    println!("| § | benchmark | fs | median | min – max | runs | note |");
    println!("|---|---|---|---|---|---|---|");
    for (p, place) in run.args.places.iter().enumerate() {
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
        // The disk bound's cost: the same overlay profile, unbounded.
        let ov_free = median(&of(3).create);
        println!(
            "| 5 | disk-max's cost: agent Create, scgen overlay bounded − unbounded | {fs} | {:+.2} ms | | | median − median ({ov:.2} − {ov_free:.2} ms): the tmpfs and its pre-mount hook |",
            ov - ov_free
        );
        // The id map's cost: the same overlay profile, privileged.
        let ov_priv = median(&of(4).create);
        println!(
            "| 5 | id map's cost: agent Create, scgen overlay id-mapped − privileged | {fs} | {:+.2} ms | | | median − median ({ov:.2} − {ov_priv:.2} ms) |",
            ov - ov_priv
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
