//! The soak, bounded (issue 21): one real agent per profile (default and
//! overlay), built with scgen's agent patch series, is driven through
//! [`CYCLES`] Create, Execute, Destroy cycles, Destroy right after Execute:
//! every other job has exited (maybe not reaped yet), the others still
//! run. Nothing may hang (every call is bounded) and nothing may be left:
//! each container's monitor and payload cgroups are gone after its
//! Destroy, and the agent's mounts, descriptors, cgroups and children, the
//! lxcpath, the shared-mounts dir and the skeleton store are as they were
//! after the warm-up cycle (`common::soak`).
//!
//! The unpatched agent fails this: its Destroy right after an Execute
//! hangs, and it leaves one `lxc.monitor.SC-N` cgroup per container.
//! `cargo bench --bench agent -- --soak N` runs many more cycles and
//! reports the agent's memory (bench/run section 6).

mod common;

use common::agent::{self, Agent, Setup};
use common::soak::{self, Snapshot};
use common::softwarecontainer::{self as sc, Variant};

/// Cycles after the warm-up one: enough to see a per-cycle leak many times
/// over, few enough for CI (about half a second each).
const CYCLES: usize = 16;

const CREATE: &str = r#"[{"writeBufferEnabled": false}]"#;

fn soak(profile: &str) {
    if !agent::ready() {
        return;
    }
    let install = sc::build(&Variant::network(false).patched());
    let sets: &[&str] = if profile == "overlay" {
        &["container.skeleton-store=@S@/store"]
    } else {
        &[]
    };
    let a = Agent::start(&Setup {
        install: &install,
        profile,
        sets,
        manifests: &[],
        idmap: false,
    });
    soak::cycle(&a, 0, CREATE);
    let before = Snapshot::take(&a);
    let rss_before = soak::rss_kb(&a);
    for n in 1..=CYCLES {
        soak::cycle(&a, n, CREATE);
    }
    let after = Snapshot::take(&a);
    eprintln!(
        "soak {profile}: {CYCLES} cycles; agent RSS {rss_before} kB -> {} kB; {} fds, {} mounts",
        soak::rss_kb(&a),
        after.fds.len(),
        after.mounts.len()
    );
    let diff = after.diff(&before);
    assert!(
        diff.is_empty(),
        "{profile}: after {CYCLES} cycles the host or the agent holds what it did not before:\n{}",
        diff.join("\n")
    );
    if profile == "overlay" {
        assert!(
            before.files.iter().any(|f| f.starts_with("store/")),
            "the overlay profile's skeleton store is empty: {:?}",
            before.files
        );
    }
    let errors = a.errors();
    assert!(errors.is_empty(), "the agent logged errors: {errors:#?}");
}

#[test]
fn agent_soak_default_profile() {
    soak("default");
}

#[test]
fn agent_soak_overlay_profile() {
    soak("overlay");
}
