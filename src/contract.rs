//! The contract between build time and run time: the artifact file names,
//! what the rootfs tarball may hold, what `stage.toml` says, and how the
//! stage reads the installed set back ([`load_verified`]).
//!
//! Both sides depend on this module and on nothing of each other: `gen`
//! writes what is described here, and the stage (which never sees a
//! profile) reads it. Every value in [`StageSpec`] is a checked type from
//! [`crate::values`], parsed with the same parser the profile used.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostic, Source};
use crate::error::{Error, Result};
use crate::lxc::Dialect;
use crate::values::{AbsPath, Applet, IdMap, Mode};

pub const CONF: &str = "softwarecontainer.conf";
pub const TARBALL: &str = "rootfs.tar.gz";
pub const MTREE: &str = "rootfs.mtree";
pub const STAGE: &str = "stage.toml";
pub const DROPIN: &str = "lxc-softwarecontainer";
pub const SUMS: &str = "SHA256SUMS";
pub const SECCOMP: &str = "seccomp.policy";

/// Every artifact, in the order `gen` writes and reports them: sorted by
/// name byte-wise, `SHA256SUMS` last (a run killed half-way leaves sums that no
/// longer match, and the stage refuses). This is also the depfile's target
/// order, and Ninja insists that a depfile's first target is its rule's
/// first output: cmake/SCGenConfig.cmake lists OUTPUT in the same order
/// (tests/tidy.rs fails if any list of artifacts parts from this one).
pub const ALL: [&str; 7] = [DROPIN, MTREE, TARBALL, SECCOMP, CONF, STAGE, SUMS];

/// Where the installed artifacts live below the data directory.
pub const ARTIFACTS_DIR: &str = "softwarecontainer/scgen";

/// Placeholders the stage bind-mounts host binaries onto, relative to the
/// rootfs.
pub const BUSYBOX: &str = "bin/busybox";
pub const INIT_LXC: &str = "bin/init.lxc";
pub const IPTABLES: &str = "bin/iptables";

/// The placeholders a container needs: busybox always, init.lxc and
/// iptables when wanted.
pub fn placeholders(init_lxc: bool, iptables: bool) -> Vec<&'static str> {
    [(BUSYBOX, true), (INIT_LXC, init_lxc), (IPTABLES, iptables)]
        .into_iter()
        .filter_map(|(path, wanted)| wanted.then_some(path))
        .collect()
}

/// What an entry of the rootfs skeleton is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File(Vec<u8>),
    /// Target, relative to the link's directory.
    Symlink(String),
}

/// One entry of the rootfs skeleton, with a path relative to the rootfs.
/// Owners are always 0:0 (what the packer writes), so only path, kind and
/// mode are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub mode: u32,
    pub kind: Kind,
}

/// What the runtime stage needs to know of the profile. The stage never
/// reads profiles: integrators install only the artifacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StageSpec {
    pub profile: String,
    pub dialect: Dialect,
    /// Install prefix; its ro bind is in the static config, and the stage
    /// adds it to a container config that lacks it.
    pub prefix: AbsPath,
    /// Bind the host's init.lxc onto `bin/init.lxc`.
    pub init_lxc: bool,
    /// Bind the host's iptables onto `bin/iptables` (network gateway on).
    pub iptables: bool,
    /// Link `busybox --list` into `bin/` (the list was not fixed at build).
    pub applets_at_stage: bool,
    /// Host directory bound on `/gateways`, when the profile fixes it.
    pub gateways_dir: Option<AbsPath>,
    /// Mode given to the gateway directory.
    pub gateways_mode: Mode,
    /// Bind the gateway directory as LXC's mount tunnel (`shmounts`), a
    /// slave mount in the container, not a plain bind.
    pub gateways_slave: bool,
    /// Load the `seccomp.policy` artifact: the stage names it in the
    /// container config by the path it verified it at.
    pub seccomp_builtin: bool,
    /// Host directory holding the placeholders and applet links for every
    /// container, bound on `bin`.
    pub shared_bin: Option<AbsPath>,
    /// Overlay rootfs: the host directory of the shared, read-only
    /// skeletons; each container gets only an upper dir. Unset: a plain
    /// directory tree per container.
    pub skeleton_store: Option<AbsPath>,
    /// With a shared bin directory and a list fixed at build time: the
    /// applets to link there (without one, the links are in the tarball).
    pub applets: Option<Vec<Applet>>,
    /// The container's id map (`container.idmap`), for the stage to check
    /// that root holds those subordinate ids where LXC needs them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub idmap: Vec<IdMap>,
    /// `security.disk-max` in bytes: the container's writes go to a tmpfs
    /// of this size (the stage names it in the config); unset: to the
    /// host's disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_max: Option<u64>,
}

impl StageSpec {
    /// The file's text, with a header saying where it comes from.
    pub fn to_toml(&self) -> String {
        format!(
            "# What `scgen stage` needs of profile \"{}\". Generated by scgen; do not edit.\n{}",
            self.profile,
            toml::to_string(self).expect("a flat struct serialises")
        )
    }

    /// What the types cannot say: no path may be the host's `/`.
    fn check(&self) -> std::result::Result<(), String> {
        let not_root = |key: &str, p: &AbsPath| match p.is_root() {
            true => Err(format!("{key} must not be `/`")),
            false => Ok(()),
        };
        not_root("prefix", &self.prefix)?;
        if let Some(dir) = &self.gateways_dir {
            not_root("gateways-dir", dir)?;
        }
        if let Some(dir) = &self.shared_bin {
            not_root("shared-bin", dir)?;
        }
        if let Some(dir) = &self.skeleton_store {
            not_root("skeleton-store", dir)?;
            if dir.as_str().contains([':', ',', '\\']) {
                return Err("skeleton-store must not hold `:`, `,` or `\\`".into());
            }
            if self.dialect != Dialect::Lxc3 || self.shared_bin.is_some() {
                return Err("skeleton-store needs the lxc3 dialect and no shared-bin".into());
            }
        }
        Ok(())
    }
}

/// The artifacts the stage needs, read and verified against `SHA256SUMS`.
pub struct Verified {
    pub spec: StageSpec,
    /// The static `softwarecontainer.conf`.
    pub conf: String,
    pub tarball: Vec<u8>,
    /// SHA-256 of `SHA256SUMS` itself: names this exact artifact set.
    pub digest: String,
}

/// The largest artifact the stage reads: a bound on what a planted FIFO or
/// device in the artifact directory can cost.
const MAX_ARTIFACT: u64 = 256 << 20;

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `SHA256SUMS` in the format `sha256sum -c` reads: digest, two spaces, name.
pub fn sha256sums<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    files
        .into_iter()
        .map(|(name, bytes)| format!("{}  {name}\n", sha256_hex(bytes)))
        .collect()
}

/// Parses `SHA256SUMS` back into (name, digest) pairs; `None` if a line is
/// not in `sha256sum` format.
pub fn parse_sha256sums(text: &str) -> Option<Vec<(String, String)>> {
    text.lines()
        .map(|l| {
            let (digest, name) = l.split_once("  ")?;
            let ok = digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit());
            ok.then(|| (name.to_string(), digest.to_ascii_lowercase()))
        })
        .collect()
}

/// Reads `dir`'s artifacts and checks every one `SHA256SUMS` lists, and that
/// it lists all the stage needs. Any mismatch is [`Error::Data`]: a tampered
/// or half-installed artifact directory must stop the stage before it
/// writes anything.
pub fn load_verified(dir: &Path) -> Result<Verified> {
    let data = |m: String| Error::data(format!("artifacts in {}: {m}", dir.display()));
    let read = |name: &str| {
        crate::files::read_input_bytes(&dir.join(name), MAX_ARTIFACT)
            .map_err(|e| data(format!("cannot read {name}: {e}")))
    };
    let sums = String::from_utf8(read(SUMS)?).map_err(|_| data(format!("{SUMS} is not UTF-8")))?;
    let listed = parse_sha256sums(&sums)
        .ok_or_else(|| data(format!("{SUMS} is not in `sha256sum` format")))?;
    let mut files = BTreeMap::new();
    for (name, digest) in listed {
        if name.contains('/') || name.starts_with('.') {
            return Err(data(format!(
                "{SUMS} names a file outside the directory: {name:?}"
            )));
        }
        let bytes = read(&name)?;
        let actual = sha256_hex(&bytes);
        if actual != digest {
            return Err(data(format!(
                "{name} does not match {SUMS} (sha256 {actual}, expected {digest}); reinstall the artifacts"
            )));
        }
        files.insert(name, bytes);
    }
    let mut take = |name: &str| {
        files
            .remove(name)
            .ok_or_else(|| data(format!("{SUMS} does not list {name}")))
    };
    let spec_text =
        String::from_utf8(take(STAGE)?).map_err(|_| data(format!("{STAGE} is not UTF-8")))?;
    let source = Source {
        name: dir.join(STAGE).display().to_string(),
        dir: None,
        text: spec_text,
    };
    let spec: StageSpec = toml::from_str(&source.text).map_err(|e| {
        Error::Data(Box::new(
            Diagnostic::new(format!("{STAGE}: {}", e.message().trim()))
                .at(&source, e.span())
                .help("stage.toml is written by `scgen gen`; reinstall the artifacts"),
        ))
    })?;
    spec.check().map_err(|m| data(format!("{STAGE}: {m}")))?;
    let conf = String::from_utf8(take(CONF)?).map_err(|_| data(format!("{CONF} is not UTF-8")))?;
    Ok(Verified {
        spec,
        conf,
        tarball: take(TARBALL)?,
        digest: sha256_hex(sums.as_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_round_trip() {
        let text = sha256sums([("a", b"x".as_slice())]);
        let parsed = parse_sha256sums(&text).unwrap();
        assert_eq!(parsed, vec![("a".to_string(), sha256_hex(b"x"))]);
        assert!(parse_sha256sums("nonsense\n").is_none());
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
