//! scgen: SoftwareContainer's LXC template and config, generated at build
//! time from a declarative profile.
//!
//! The pipeline runs one way, one module per stage, each depending only on
//! those before it and on the leaves:
//!
//! ```text
//! profile -> render -> skeleton -> pack, manifest -> artifacts -> gen
//!                                                     contract -> stage
//! leaves: values, lxc, diag, error, files, contract
//! ```
//!
//! [`profile`] turns TOML into a checked `Profile`; [`render`] makes the
//! config and lxc-create drop-in with minijinja; [`skeleton`] lists the
//! rootfs entries; [`pack`] and [`manifest`] make the tarball and mtree;
//! [`artifacts`] assembles, writes or checks them; [`gen`] runs that per
//! profile. [`contract`] is what build time hands to run time, and the only
//! thing [`stage`] reads. [`cli`] maps the command line onto [`gen`] and
//! [`stage`]; `main.rs` only maps exit codes.

pub mod artifacts;
pub mod cli;
pub mod contract;
pub mod depfile;
pub mod diag;
pub mod error;
pub mod files;
pub mod gen;
pub mod lxc;
pub mod manifest;
pub mod pack;
pub mod profile;
pub mod render;
pub mod skeleton;
pub mod stage;
pub mod values;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

pub use error::{exit, Error, Result};

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
    let entries = skeleton::skeleton(&profile)?;
    let artifacts = artifacts::build(&profile, &rendered, &entries, mtime);
    let mut inputs = profile.inputs.clone();
    inputs.extend(rendered.inputs.iter().cloned());
    Ok(Generated {
        profile,
        artifacts,
        inputs,
    })
}

/// The mtime to pack with: `SOURCE_DATE_EPOCH` if set, else [`DEFAULT_EPOCH`].
pub fn source_date_epoch(value: Option<&OsStr>) -> Result<u64> {
    let bad = || {
        Error::config(
            diag::Diagnostic::new(format!(
                "SOURCE_DATE_EPOCH={:?} is not a whole number of seconds",
                value.unwrap_or_default()
            ))
            .help("unset it, or set it to e.g. `git log -1 --format=%ct`"),
        )
    };
    match value.map(|v| v.to_str()) {
        None => Ok(DEFAULT_EPOCH),
        Some(Some("")) => Ok(DEFAULT_EPOCH),
        Some(Some(v)) => v.trim().parse().map_err(|_| bad()),
        // Not UTF-8: as wrong as `junk`, not a reason to fall back.
        Some(None) => Err(bad()),
    }
}
