//! The busybox applet list a profile fixes at build time: an array in the
//! profile, or a Yocto `busybox.links` file read here. Either way the list
//! is sorted, unique, and never holds `busybox` itself.

use std::collections::BTreeSet;
use std::path::Path;

use super::check::parse;
use super::layers::Problem;
use crate::diag::Source;
use crate::values::{Applet, Invalid};

/// A fixed applet list: sorted, unique, without `busybox` itself.
pub(super) fn applet_list(list: &[String]) -> Result<Vec<Applet>, Problem> {
    let mut out = BTreeSet::new();
    for (i, name) in list.iter().enumerate() {
        let a = parse(&format!("busybox.applets[{i}]"), name, Applet::parse)?;
        if !a.is_busybox() {
            out.insert(a);
        }
    }
    Ok(out.into_iter().collect())
}

/// Reads a Yocto `busybox.links` file: one absolute path per line. Every
/// applet lands in `bin/` as the seed put them; the directory is dropped.
pub(super) fn links_file(path: &Path) -> Result<Vec<Applet>, Problem> {
    const KEY: &str = "busybox.links-file";
    let text = crate::files::read_input(path, 16 << 20).map_err(|e| {
        Problem::new(
            KEY,
            format!("cannot read {}: {e}", path.display()),
            Some("the path is relative to the profile that sets it"),
        )
    })?;
    let source = Source {
        name: path.display().to_string(),
        dir: None,
        text,
    };
    let mut out = BTreeSet::new();
    // Editors' leftovers are not errors: a BOM, and CR, LF or CRLF ends.
    let body = source.text.strip_prefix('\u{feff}').unwrap_or(&source.text);
    let mut offset = source.text.len() - body.len();
    for line in body.split_inclusive(['\n', '\r']) {
        let span = offset..offset + line.trim_end().len();
        offset += line.len();
        let entry = line.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        let fail = |message: String, hint: &str| {
            let invalid = Invalid {
                message,
                hint: Some(hint.into()),
            };
            Problem::in_file(KEY, invalid, &source, span.clone())
        };
        if !entry.starts_with('/') {
            return Err(fail(
                format!("`{entry}` is not an absolute path"),
                "busybox.links lists one absolute path per line, e.g. `/bin/ls`",
            ));
        }
        let base = entry.rsplit('/').next().unwrap_or("");
        match Applet::parse(base) {
            Ok(a) if a.is_busybox() => {}
            Ok(a) => {
                out.insert(a);
            }
            Err(i) => return Err(fail(i.message, "each line must end in an applet name")),
        }
    }
    Ok(out.into_iter().collect())
}
