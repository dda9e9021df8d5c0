//! scgen: SoftwareContainer's LXC template and config, generated at build
//! time from a declarative profile.
//!
//! The pipeline runs one way, one module per stage, each depending only on
//! those before it and on the leaves:
//!
//! ```text
//! profile -> render -> skeleton -> pack, manifest -> artifacts -> gen
//!                                                     contract -> stage
//!                                                     contract -> verify
//! leaves: values, lxc, diag, error, files, contract
//! ```
//!
//! [`profile`] turns TOML into a checked `Profile`; [`render`] makes the
//! config and lxc-create drop-in with minijinja; [`skeleton`] lists the
//! rootfs entries; [`pack`] and [`manifest`] make the tarball and mtree;
//! [`artifacts`] assembles, writes or checks them; [`gen`] runs that per
//! profile. [`contract`] is what build time hands to run time, and the only
//! thing [`stage`] and [`verify`] read. [`cli`] maps the command line onto [`gen`] and
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
pub mod verify;

pub use error::{exit, Error, Result};
pub use gen::{generate, source_date_epoch, Generated, DEFAULT_EPOCH};
