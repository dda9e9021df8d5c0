//! One error type for the whole pipeline, and the exit code each kind maps to.
//!
//! The codes follow sysexits(3), as typos and other build tools do, so that a
//! CMake or Yocto log tells "your profile is wrong" (78) apart from "the disk
//! is full" (74) without parsing text.

use std::path::{Path, PathBuf};

/// Everything that can stop `scgen`. Each variant's message is complete: it
/// names the file or argument at fault and, where one exists, a fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A profile, a `--set` value, a busybox.links file or an integrator
    /// template is wrong. The text is a rendered diagnostic with a snippet.
    #[error("{0}")]
    Config(String),
    /// `gen --check` found generated files that differ from the committed ones.
    #[error("{0}")]
    Stale(String),
    /// The command line is wrong in a way clap cannot see.
    #[error("{0}")]
    Usage(String),
    /// Artifacts fail their SHA256SUMS, or a tarball holds an entry that would
    /// land outside the rootfs.
    #[error("{0}")]
    Data(String),
    /// A target the stage refuses to write into (`/`, empty, outside the
    /// container, or reached through a symlink).
    #[error("{0}")]
    Unsafe(String),
    /// A host program the stage needs (busybox, init.lxc, iptables) is missing.
    #[error("{0}")]
    Unavailable(String),
    /// A file or directory could not be created.
    #[error("cannot create {}: {source}", path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Reading or writing failed after the target was created.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Error {
    /// The process exit code for this error (sysexits.h where one fits).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Stale(_) => 1,
            Error::Usage(_) => 2,
            Error::Data(_) => 65,
            Error::Unavailable(_) => 69,
            Error::Create { .. } => 73,
            Error::Io { .. } => 74,
            Error::Unsafe(_) => 77,
            Error::Config(_) => 78,
        }
    }

    /// An I/O error while reading or writing `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// An I/O error while creating `path`.
    pub fn create(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Create {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
