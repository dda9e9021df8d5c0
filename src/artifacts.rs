//! The artifact set of one profile, and getting it onto disk.
//!
//! [`build`] assembles the bytes; [`write`] and [`check`] are the two sinks
//! (uv's Write/Check modes): the same bytes either land atomically or are
//! compared, so `gen --check` can never disagree with `gen`.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::contract::{self, Entry, StageSpec};
use crate::error::{Error, Result};
use crate::files::{read_existing, write_atomic, Found};
use crate::manifest;
use crate::pack;
use crate::profile::{Applets, Profile};
use crate::render::Rendered;

/// What the stage needs of `p`: the profile reduced to the contract.
pub fn stage_spec(p: &Profile) -> StageSpec {
    StageSpec {
        profile: p.name.clone(),
        dialect: p.dialect,
        prefix: p.prefix.clone(),
        init_lxc: p.container.init_lxc,
        iptables: p.network.is_some(),
        applets_at_stage: p.applets == Applets::Stage,
        gateways_dir: p.gateways.dir.clone(),
        gateways_mode: p.gateways.mode,
        gateways_slave: p.gateways.slave,
        seccomp_builtin: p.security.seccomp_builtin,
        shared_bin: p.shared_bin.clone(),
        skeleton_store: p.skeleton_store.clone(),
        applets: match (&p.shared_bin, &p.applets) {
            (Some(_), Applets::Fixed(list)) => Some(list.clone()),
            _ => None,
        },
        idmap: p.container.idmap.clone(),
        disk_max: p.security.disk_max,
    }
}

/// One output file.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    pub mode: u32,
}

/// Assembles every artifact of a profile from its rendered text and
/// skeleton, in [`contract::ALL`] order.
pub fn build(
    profile: &Profile,
    rendered: &Rendered,
    entries: &[Entry],
    mtime: u64,
) -> Vec<Artifact> {
    use contract::*;
    let mut out = vec![
        file(DROPIN, rendered.dropin.clone().into_bytes(), 0o755),
        file(MTREE, manifest::mtree(entries, mtime).into_bytes(), 0o644),
        file(TARBALL, pack::tar_gz(entries, mtime), 0o644),
        file(SECCOMP, rendered.seccomp.clone().into_bytes(), 0o644),
        file(CONF, rendered.conf.clone().into_bytes(), 0o644),
        file(STAGE, stage_spec(profile).to_toml().into_bytes(), 0o644),
    ];
    let sums = sha256sums(out.iter().map(|a| (a.name, a.bytes.as_slice())));
    out.push(file(SUMS, sums.into_bytes(), 0o644));
    debug_assert!(out.iter().map(|a| a.name).eq(ALL));
    out
}

fn file(name: &'static str, bytes: Vec<u8>, mode: u32) -> Artifact {
    Artifact { name, bytes, mode }
}

/// What happened to one artifact.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub path: PathBuf,
    pub sha256: String,
    /// Whether the file on disk was (or, with `--check`, would be) changed.
    pub changed: bool,
}

/// Writes the artifacts into `dir`. A file whose bytes and mode already
/// match is not touched, so its mtime stays and Make/Ninja see no change;
/// any other is written to a temp file beside it and renamed over it.
pub fn write(dir: &Path, artifacts: &[Artifact]) -> Result<Vec<Outcome>> {
    fs::create_dir_all(dir).map_err(|e| Error::create(dir, e))?;
    let mut out = Vec::new();
    for a in artifacts {
        let path = dir.join(a.name);
        let changed = differs(&on_disk(&path)?, a);
        if changed {
            write_atomic(&path, &a.bytes, a.mode)?;
        }
        out.push(outcome(path, a, changed));
    }
    Ok(out)
}

/// The most of an existing output `gen` reads to compare: far above any
/// artifact, and a bound on what a planted file can make it read.
const READ_LIMIT: u64 = 256 << 20;

/// What is on disk at `path`, read without following a link or opening a
/// FIFO or device.
fn on_disk(path: &Path) -> Result<Found> {
    read_existing(path, READ_LIMIT)
}

fn differs(found: &Found, a: &Artifact) -> bool {
    !matches!(found, Found::File { bytes, mode } if *bytes == a.bytes && *mode == a.mode)
}

fn outcome(path: PathBuf, a: &Artifact, changed: bool) -> Outcome {
    Outcome {
        path,
        sha256: contract::sha256_hex(&a.bytes),
        changed,
    }
}

/// Compares the artifacts with `dir` without writing. Returns the outcomes
/// and, for each stale file, a readable diff.
pub fn check(dir: &Path, artifacts: &[Artifact]) -> Result<(Vec<Outcome>, String)> {
    let mut report = String::new();
    let mut out = Vec::new();
    for a in artifacts {
        let path = dir.join(a.name);
        let found = on_disk(&path)?;
        let changed = differs(&found, a);
        if changed {
            report.push_str(&stale(&path, &found, a));
        }
        out.push(outcome(path, a, changed));
    }
    Ok((out, report))
}

fn stale(path: &Path, found: &Found, a: &Artifact) -> String {
    let shown = path.display();
    let old = match found {
        Found::File { bytes, .. } => bytes,
        Found::Missing => return format!("{shown}: missing\n"),
        Found::Other(kind) => {
            return format!("{shown}: is {kind}, not a regular file; not read, `gen` replaces it\n")
        }
    };
    match (std::str::from_utf8(old), std::str::from_utf8(&a.bytes)) {
        (Ok(old_text), Ok(new_text)) if old_text != new_text => {
            let diff = similar::TextDiff::from_lines(old_text, new_text);
            format!(
                "{shown}: stale\n{}",
                diff.unified_diff().context_radius(2).header(
                    &format!("{shown} (on disk)"),
                    &format!("{shown} (generated)")
                )
            )
        }
        _ if *old == a.bytes => format!("{shown}: mode differs (want {:04o})\n", a.mode),
        _ => format!(
            "{shown}: binary content differs (sha256 on disk {}, generated {})\n",
            contract::sha256_hex(old),
            contract::sha256_hex(&a.bytes)
        ),
    }
}
