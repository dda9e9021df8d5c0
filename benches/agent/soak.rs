//! The soak (issue 21, bench/run section 6): the real agent, with scgen's
//! patch series, through many Create, Execute, Destroy cycles per scgen
//! profile (default, overlay), Destroy right after Execute, with the checks
//! of `tests/common/soak.rs` (its bounded twin is `tests/agent_soak.rs`).
//! Every cycle checks that the container's cgroups and lxcpath dir are
//! gone; at the end, the agent's mounts, descriptors, cgroups and children,
//! the lxcpath, shared-mounts dir and skeleton store are compared with a
//! snapshot taken after one warm-up cycle, and the agent's resident memory
//! (`VmRSS`) is reported at both ends and at each tenth of the run. A
//! difference fails the bench (exit 1) after printing it.

use crate::common::agent::{Agent, Options, Setup};
use crate::common::soak::{self, Snapshot};
use crate::common::softwarecontainer::Install;
use crate::{loadavg, Place, CREATE};
use std::time::Instant;

struct Outcome {
    profile: &'static str,
    seconds: f64,
    rss: Vec<(usize, u64)>,
    after: Snapshot,
    diff: Vec<String>,
}

fn one(install: &Install, place: &Place, profile: &'static str, cycles: usize) -> Outcome {
    eprintln!(
        "== soak: scgen {profile} on {} ({})",
        place.name, place.fstype
    );
    let sets: &[&str] = if profile == "overlay" {
        &["container.skeleton-store=@S@/store"]
    } else {
        &[]
    };
    let a = Agent::start_with(
        &Setup {
            install,
            profile,
            sets,
            manifests: &[],
            idmap: false,
        },
        &Options {
            upstream: false,
            scratch_in: Some(&place.dir),
        },
    );
    soak::cycle(&a, 0, CREATE);
    let before = Snapshot::take(&a);
    let mut rss = vec![(0, soak::rss_kb(&a))];
    let started = Instant::now();
    let step = (cycles / 10).max(1);
    for n in 1..=cycles {
        soak::cycle(&a, n, CREATE);
        if n.is_multiple_of(step) || n == cycles {
            rss.push((n, soak::rss_kb(&a)));
            eprintln!(
                "  {n}/{cycles} cycles ({:.0} s, agent RSS {} kB, load {})",
                started.elapsed().as_secs_f64(),
                rss.last().unwrap().1,
                loadavg()
            );
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let after = Snapshot::take(&a);
    let diff = after.diff(&before);
    Outcome {
        profile,
        seconds,
        rss,
        after,
        diff,
    }
}

/// Runs the soak on both profiles and prints section 6 on stdout.
pub fn run(install: &Install, place: &Place, cycles: usize) {
    let outcomes: Vec<Outcome> = ["default", "overlay"]
        .into_iter()
        .map(|p| one(install, place, p, cycles))
        .collect();
    println!("## 6. Soak: the agent through many Create, Execute, Destroy cycles (benches/agent/soak.rs)");
    println!();
    println!(
        "- the agent with scgen's patch series (integration/softwarecontainer/agent/), one per \
         profile, lxcpath on {} ({}); each cycle: Create `{CREATE}`, Execute (`{}` and `{}` in \
         turn: an exited job maybe not reaped yet, a running one), Destroy right after Execute",
        place.name,
        place.fstype,
        soak::job(0),
        soak::job(1)
    );
    println!(
        "- checked after every Destroy: the container's monitor and payload cgroups and its \
         lxcpath dir are gone; after the last one, against a snapshot taken after one warm-up \
         cycle: the agent's mounts, open descriptors, cgroups and child processes, and the \
         entries of the lxcpath, the shared-mounts dir and the skeleton store"
    );
    println!();
    println!("| profile | cycles | time | agent RSS before → after | RSS along the run (kB) | fds, mounts at the end | left |");
    println!("|---|---|---|---|---|---|---|");
    let mut failed = false;
    for o in &outcomes {
        let along: Vec<String> = o.rss.iter().map(|(n, kb)| format!("{n}: {kb}")).collect();
        println!(
            "| scgen {} | {cycles} | {:.0} s | {} kB → {} kB | {} | {}, {} | {} |",
            o.profile,
            o.seconds,
            o.rss.first().unwrap().1,
            o.rss.last().unwrap().1,
            along.join(", "),
            o.after.fds.len(),
            o.after.mounts.len(),
            if o.diff.is_empty() {
                "nothing".to_string()
            } else {
                format!("{} differences", o.diff.len())
            }
        );
        if !o.diff.is_empty() {
            failed = true;
            eprintln!(
                "soak {}: left after {cycles} cycles:\n{}",
                o.profile,
                o.diff.join("\n")
            );
        }
    }
    if failed {
        std::process::exit(1);
    }
}
