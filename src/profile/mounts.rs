//! The static mounts of a profile: each `[[mounts]]` entry checked, and
//! the read-only binds scgen adds itself.

use super::check::parse;
use super::layers::Problem;
use super::raw::RawMount;
use super::Mount;
use crate::values::{AbsPath, FstabWord, RelPath};

pub(super) fn word(w: &str) -> FstabWord {
    FstabWord::parse(w).expect("a built-in fstab word")
}

/// A read-only bind that scgen adds itself; `key` is what implied it.
pub(super) fn ro_bind(source: &str, target: &str, key: &str) -> Mount {
    Mount {
        source: AbsPath::parse(source).expect("a checked path"),
        target: RelPath::parse(target).expect("a checked path"),
        fstype: word("none"),
        options: vec![word("ro"), word("bind")],
        key: key.to_string(),
    }
}

pub(super) fn mount(i: usize, m: RawMount) -> Result<Mount, Problem> {
    let key = |k: &str| format!("mounts[{i}].{k}");
    let options = match &m.options {
        None => vec![word("ro"), word("bind")],
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(j, o)| parse(&key(&format!("options[{j}]")), o, FstabWord::parse))
            .collect::<Result<_, _>>()?,
    };
    Ok(Mount {
        source: parse(&key("source"), &m.source, AbsPath::parse)?,
        target: parse(&key("target"), &m.target, RelPath::parse)?,
        fstype: parse(
            &key("fstype"),
            m.fstype.as_deref().unwrap_or("none"),
            FstabWord::parse,
        )
        .map_err(|p| {
            p.hint("a filesystem type is one word, such as `none` (a bind), `tmpfs` or `proc`: no spaces, commas or `#`")
        })?,
        options,
        key: key("target"),
    })
}
