//! The subcommands that run on the target beside the stage: `scgen
//! verify` (a container's tree against `rootfs.mtree`), `scgen subids`
//! (root's subordinate ids for the id map) and `scgen mount-writes` (LXC's
//! pre-mount hook for `security.disk-max`). The work is the library's.

use std::path::PathBuf;

use super::{print, Format};
use crate::error::{Error, Result};

#[derive(Debug, clap::Args)]
pub struct SubidsArgs {
    /// Directory of the artifacts (holding SHA256SUMS); their stage.toml
    /// names the id map.
    #[arg(long, value_name = "DIR")]
    pub artifacts: PathBuf,
    /// The root filesystem whose /etc/subuid and /etc/subgid to change.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Change nothing; exit 67 if root lacks a range.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, clap::Args)]
pub struct MountWritesArgs {
    /// The tmpfs's size in bytes: the profile's `security.disk-max`.
    #[arg(long, value_name = "BYTES")]
    pub size: u64,
    /// The directory to mount it on (`<container dir>/writes`).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// What LXC appends to a hook: the container's name, `lxc` and the
    /// hook type (`pre-mount`); without them, $LXC_HOOK_TYPE says the type.
    #[arg(value_name = "LXC", trailing_var_arg = true, num_args = 0..=3)]
    pub lxc: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Directory of the installed artifacts (holding SHA256SUMS).
    #[arg(long, value_name = "DIR")]
    pub artifacts: PathBuf,
    /// Host ids every entry should have [default: the container root's
    /// under the config's lxc.idmap, else 0:0].
    #[arg(long, value_name = "UID:GID")]
    pub owner: Option<String>,
    /// How to report: lines in mtree's terms, or one JSON object.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// A container directory or skeleton (its rootfs/ is checked), or a rootfs.
    #[arg(value_name = "TREE", value_hint = clap::ValueHint::DirPath)]
    pub tree: PathBuf,
}

pub(super) fn subids(args: SubidsArgs) -> Result<()> {
    let verified = crate::contract::load_verified(&args.artifacts)?;
    let done = crate::stage::subid::provision(&verified.spec.idmap, &args.root, args.check)?;
    let mut text = String::new();
    if verified.spec.idmap.is_empty() {
        text.push_str("no container.idmap: nothing to do\n");
    }
    for p in done {
        match p.missing.is_empty() {
            true => text.push_str(&format!("{}: root has its ranges\n", p.file.display())),
            false => text.push_str(&format!(
                "{}: added {}\n",
                p.file.display(),
                p.missing.join(", ")
            )),
        }
    }
    print(&text)
}

pub(super) fn verify(args: VerifyArgs) -> Result<()> {
    let owner = args
        .owner
        .as_deref()
        .map(|s| {
            s.split_once(':')
                .and_then(|(u, g)| Some((u.parse().ok()?, g.parse().ok()?)))
                .ok_or_else(|| Error::usage(format!("--owner {s:?} is not UID:GID")))
        })
        .transpose()?;
    let report = crate::verify::verify(&crate::verify::Options {
        artifacts: args.artifacts,
        tree: args.tree,
        owner,
    })?;
    print(&match args.format {
        Format::Text => report.text(),
        Format::Json => serde_json::to_string_pretty(&report).expect("a report serialises") + "\n",
    })?;
    match report.drift() {
        false => Ok(()),
        true => Err(Error::drift(format!(
            "{} differs from {}: {} missing, {} changed, {} extra",
            report.rootfs.display(),
            crate::contract::MTREE,
            report.missing.len(),
            report.changed.len(),
            report.extra.len()
        ))),
    }
}

/// LXC names the hook type as the third word it appends (hook version 0)
/// or in `$LXC_HOOK_TYPE` (version 1).
pub fn mount_writes(args: MountWritesArgs) -> Result<()> {
    let hook = match args.lxc.get(2) {
        Some(t) => Some(t.clone()),
        None => std::env::var("LXC_HOOK_TYPE").ok(),
    };
    crate::stage::writes::mount(&args.dir, args.size, hook.as_deref())
}
