//! Make/Ninja depfiles: one rule saying that every artifact of a run
//! depends on every input it read (profiles, links file, templates), so a
//! build system reruns `scgen gen` exactly when one of them changes.

use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::error::{Error, Result};

/// One Make rule: every target depends on every input. Paths are escaped
/// as both Make and Ninja read them back, byte for byte (a non-UTF-8 path
/// stays as it is); one that cannot be escaped (a line break would end the
/// rule and start a recipe) is refused.
pub fn rule(targets: impl Iterator<Item = PathBuf>, inputs: &[PathBuf]) -> Result<Vec<u8>> {
    let targets: Vec<Vec<u8>> = targets.map(|t| escape(&t)).collect::<Result<_>>()?;
    let deps: Vec<Vec<u8>> = inputs.iter().map(|p| escape(p)).collect::<Result<_>>()?;
    let mut out = targets.join(&b' ');
    out.extend_from_slice(b": ");
    out.extend(deps.join(&b' '));
    out.push(b'\n');
    Ok(out)
}

/// Escapes one path: `\ `, `\#`, `\:` and `\\` as both read them, `$$` for
/// Make's variables. A control character or line break: refused.
fn escape(p: &Path) -> Result<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt as _;
    let bytes = p.as_os_str().as_bytes();
    let lossy = String::from_utf8_lossy(bytes);
    if lossy.chars().any(crate::values::breaks_line) {
        return Err(Error::config(
            Diagnostic::new(format!(
                "{:?} cannot go into a depfile: Make would read its line break as a new rule or recipe",
                crate::values::short(&lossy)
            ))
            .help("rename or move the file, or drop --depfile"),
        ));
    }
    let mut s = Vec::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b' ' | b'#' | b':' | b'\\' => s.extend([b'\\', b]),
            b'$' => s.extend(b"$$"),
            b => s.push(b),
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_make_reads_and_refuses_line_breaks() {
        assert_eq!(
            escape(Path::new("/a b/c:d#e$f")).unwrap(),
            b"/a\\ b/c\\:d\\#e$$f"
        );
        assert!(escape(Path::new("/a\nb")).is_err());
    }
}
