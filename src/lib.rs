//! scgen: SoftwareContainer's LXC template and config, generated at build
//! time from a declarative profile.
//!
//! The pipeline runs one way, one module per stage:
//! [`profile`] (TOML -> checked `Profile`) -> [`render`] (minijinja ->
//! config and lxc-create drop-in) -> [`skeleton`] (rootfs entries) ->
//! [`pack`] / [`manifest`] (tar.gz, mtree, SHA256SUMS) -> [`artifacts`]
//! (atomic write or check) -> [`stage`] (run time: host-dependent parts).
//! [`cli`] wires them to the command line; `main.rs` only maps exit codes.

pub mod artifacts;
pub mod cli;
pub mod diag;
pub mod error;
pub mod lxc;
pub mod manifest;
pub mod pack;
pub mod profile;
pub mod render;
pub mod skeleton;
pub mod stage;

use std::path::{Path, PathBuf};

pub use error::{Error, Result};

/// mtime of every tarball entry when `SOURCE_DATE_EPOCH` is unset:
/// 2017-01-01T00:00:00Z, the year of the seed template.
pub const DEFAULT_EPOCH: u64 = 1_483_228_800;

/// One profile's generated output, before it is written anywhere.
pub struct Generated {
    pub profile: profile::Profile,
    pub artifacts: Vec<artifacts::Artifact>,
    /// Every file the output depends on (profiles, links file, templates).
    pub inputs: Vec<PathBuf>,
}

/// Runs the build-time pipeline for one profile, in memory.
pub fn generate(
    origin: &profile::Origin,
    sets: &[String],
    templates: Option<&Path>,
    mtime: u64,
) -> Result<Generated> {
    let profile = profile::load(origin, sets)?;
    let rendered = render::render(&profile, templates)?;
    let artifacts = artifacts::build(&profile, &rendered, mtime);
    let mut inputs = profile.inputs.clone();
    inputs.extend(rendered.inputs.iter().cloned());
    Ok(Generated {
        profile,
        artifacts,
        inputs,
    })
}

/// The mtime to pack with: `SOURCE_DATE_EPOCH` if set, else [`DEFAULT_EPOCH`].
pub fn source_date_epoch(value: Option<&str>) -> Result<u64> {
    match value {
        None | Some("") => Ok(DEFAULT_EPOCH),
        Some(v) => v.trim().parse().map_err(|_| {
            Error::Config(format!(
                "error: SOURCE_DATE_EPOCH={v:?} is not a whole number of seconds\n  = help: unset it, or set it to e.g. `git log -1 --format=%ct`"
            ))
        }),
    }
}
