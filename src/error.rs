//! One error type for the whole pipeline, and the exit code each kind maps
//! to. Errors stay data (a kind and a [`Diagnostic`]) until `cli::main`
//! renders them.
//!
//! The codes follow sysexits(3), as typos and other build tools do, so that a
//! CMake or Yocto log tells "your profile is wrong" (78) apart from "the disk
//! is full" (74) without parsing text.

use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;

/// The exit codes, defined once; the tests use these names too.
pub mod exit {
    pub const OK: u8 = 0;
    /// `gen --check`: generated files are stale.
    pub const STALE: u8 = 1;
    /// Bad command line (clap uses 2 as well).
    pub const USAGE: u8 = 2;
    /// `verify`: the tree differs from `rootfs.mtree` (a report on stdout).
    pub const DRIFT: u8 = 3;
    /// EX_DATAERR: artifacts fail their sums, or hold an unsafe entry.
    pub const DATA: u8 = 65;
    /// EX_NOINPUT: stage: the source of a bind (not `optional`) is missing
    /// on the host, so `lxc-start` would fail.
    pub const MISSING_SOURCE: u8 = 66;
    /// EX_UNAVAILABLE: a host tool or the gateway dir is missing.
    pub const UNAVAILABLE: u8 = 69;
    /// EX_NOUSER: an id-mapped container, and root (who runs the agent)
    /// has no subordinate ids for its map where LXC maps through
    /// newuidmap/newgidmap.
    pub const NO_SUBIDS: u8 = 67;
    /// EX_OSERR: overlay: the container's rootfs is on a filesystem that
    /// cannot be an overlayfs upper dir (overlayfs, NFS, FAT, ...).
    pub const UPPER_FS: u8 = 71;
    /// EX_CANTCREAT.
    pub const CANT_CREATE: u8 = 73;
    /// EX_IOERR.
    pub const IO: u8 = 74;
    /// EX_TEMPFAIL: a lock of the skeleton store, the shared bin or the
    /// container was held for longer than the wait allows; try again.
    pub const BUSY: u8 = 75;
    /// EX_NOPERM: a target scgen refuses to write into.
    pub const UNSAFE: u8 = 77;
    /// EX_CONFIG: bad profile, `--set`, links file, template or epoch.
    pub const CONFIG: u8 = 78;

    /// Every code with what it means, for `scgen(1)`'s EXIT STATUS.
    pub const TABLE: &[(u8, &str)] = &[
        (OK, "Success."),
        (STALE, "gen --check: generated files are stale (a diff is printed)."),
        (USAGE, "Usage error: an unknown argument, --out with several profiles, --set without `=`, a bad --owner."),
        (DRIFT, "verify: the tree differs from rootfs.mtree (each difference is printed)."),
        (DATA, "Artifacts fail SHA256SUMS or hold an unsafe entry; a skeleton fails its check (stage, skeletons list); skeletons prune cannot judge a container config."),
        (MISSING_SOURCE, "stage: the host source of a bind in the container's config is missing (a mount without `optional`); nothing is written."),
        (NO_SUBIDS, "stage: an id-mapped container, and root lacks its host ids in /etc/subuid or /etc/subgid where LXC maps through newuidmap; nothing is written. subids: a range another user holds, or (--check) one root lacks."),
        (UNAVAILABLE, "stage: busybox, init.lxc, iptables or the gateway dir is missing; skeletons: the store does not exist."),
        (UPPER_FS, "stage, overlay: the rootfs cannot be an overlayfs upper dir; nothing is written."),
        (CANT_CREATE, "An output file or directory cannot be created."),
        (IO, "I/O error while reading or writing; skeletons prune: a removal failed."),
        (BUSY, "A lock was held for longer than 60 s or SCGEN_LOCK_WAIT seconds."),
        (UNSAFE, "stage or skeletons: a refused target (the host's /, `..`, a symlink, a directory others may write, ...)."),
        (CONFIG, "Bad profile, --set, links file, template, depfile path or SOURCE_DATE_EPOCH (EX_CONFIG)."),
    ];
}

/// Everything that can stop `scgen`. Each diagnostic names the file or
/// argument at fault and, where one exists, a fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A profile, a `--set` value, a busybox.links file, an integrator
    /// template or `SOURCE_DATE_EPOCH` is wrong.
    #[error("{0}")]
    Config(Box<Diagnostic>),
    /// `gen --check` found generated files that differ from the committed ones.
    #[error("{0}")]
    Stale(Box<Diagnostic>),
    /// The command line is wrong in a way clap cannot see.
    #[error("{0}")]
    Usage(Box<Diagnostic>),
    /// Artifacts fail their SHA256SUMS, or a tarball holds an entry that would
    /// land outside the rootfs.
    #[error("{0}")]
    Data(Box<Diagnostic>),
    /// A target the stage refuses to write into (`/`, empty, outside the
    /// container, or reached through a symlink).
    #[error("{0}")]
    Unsafe(Box<Diagnostic>),
    /// A bind mount's source is missing on the host.
    #[error("{0}")]
    MissingSource(Box<Diagnostic>),
    /// `verify` found the tree different from the manifest.
    #[error("{0}")]
    Drift(Box<Diagnostic>),
    /// A host program the stage needs (busybox, init.lxc, iptables) is missing.
    #[error("{0}")]
    Unavailable(Box<Diagnostic>),
    /// The rootfs cannot be an overlayfs upper dir.
    #[error("{0}")]
    UpperFs(Box<Diagnostic>),
    /// Root lacks the subordinate ids an id-mapped container needs.
    #[error("{0}")]
    NoSubids(Box<Diagnostic>),
    /// A lock was held for longer than the wait allows.
    #[error("{0}")]
    Busy(Box<Diagnostic>),
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
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Stale(_) => exit::STALE,
            Error::Usage(_) => exit::USAGE,
            Error::Data(_) => exit::DATA,
            Error::MissingSource(_) => exit::MISSING_SOURCE,
            Error::Drift(_) => exit::DRIFT,
            Error::Unavailable(_) => exit::UNAVAILABLE,
            Error::Create { .. } => exit::CANT_CREATE,
            Error::Io { .. } => exit::IO,
            Error::Unsafe(_) => exit::UNSAFE,
            Error::UpperFs(_) => exit::UPPER_FS,
            Error::NoSubids(_) => exit::NO_SUBIDS,
            Error::Busy(_) => exit::BUSY,
            Error::Config(_) => exit::CONFIG,
        }
    }

    /// The diagnostic to print.
    pub fn diagnostic(&self) -> Diagnostic {
        match self {
            Error::Config(d)
            | Error::Stale(d)
            | Error::Usage(d)
            | Error::Data(d)
            | Error::MissingSource(d)
            | Error::Drift(d)
            | Error::Unsafe(d)
            | Error::Unavailable(d)
            | Error::UpperFs(d)
            | Error::NoSubids(d)
            | Error::Busy(d) => (**d).clone(),
            Error::Create { .. } | Error::Io { .. } => Diagnostic::new(self.to_string()),
        }
    }

    pub fn config(d: Diagnostic) -> Self {
        Error::Config(Box::new(d))
    }

    /// A refusal with a plain message (and optional hint), for the kinds
    /// that carry no source snippet.
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(Box::new(Diagnostic::new(message)))
    }

    pub fn data(message: impl Into<String>) -> Self {
        Error::Data(Box::new(Diagnostic::new(message)))
    }

    pub fn missing_source(message: impl Into<String>) -> Self {
        Error::MissingSource(Box::new(Diagnostic::new(message)))
    }

    pub fn drift(message: impl Into<String>) -> Self {
        Error::Drift(Box::new(Diagnostic::new(message)))
    }

    pub fn unsafe_target(message: impl Into<String>) -> Self {
        Error::Unsafe(Box::new(Diagnostic::new(message)))
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::Unavailable(Box::new(Diagnostic::new(message)))
    }

    pub fn upper_fs(message: impl Into<String>) -> Self {
        Error::UpperFs(Box::new(Diagnostic::new(message)))
    }

    pub fn no_subids(message: impl Into<String>) -> Self {
        Error::NoSubids(Box::new(Diagnostic::new(message)))
    }

    pub fn busy(message: impl Into<String>) -> Self {
        Error::Busy(Box::new(Diagnostic::new(message)))
    }

    /// Adds a hint to an error that carries a diagnostic.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        if let Error::Config(d)
        | Error::Stale(d)
        | Error::Usage(d)
        | Error::Data(d)
        | Error::MissingSource(d)
        | Error::Drift(d)
        | Error::Unsafe(d)
        | Error::Unavailable(d)
        | Error::UpperFs(d)
        | Error::NoSubids(d)
        | Error::Busy(d) = &mut self
        {
            d.help = Some(help.into());
        }
        self
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
