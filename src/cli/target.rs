//! The subcommands that look at a target rather than make one: `scgen
//! verify` (a container's tree against `rootfs.mtree`) and `scgen subids`
//! (root's subordinate ids for the id map). The work is the library's.

use super::{print, Format, SubidsArgs, VerifyArgs};
use crate::error::{Error, Result};

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
