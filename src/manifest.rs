//! The manifest: `rootfs.mtree`, what a reviewer reads in a diff and what
//! bsdtar can list. (`SHA256SUMS` is part of the stage's contract, in
//! [`crate::contract`].)

use crate::contract::{sha256_hex, Entry, Kind};

/// A BSD mtree(5) manifest of exactly the tarball's entries, one full line
/// each (no `/set`), so every line stands alone in a diff.
pub fn mtree(entries: &[Entry], mtime: u64) -> String {
    let mut out = String::from("#mtree\n");
    for e in entries {
        let common = format!("uid=0 gid=0 mode={:04o} time={mtime}.0", e.mode);
        let name = escape(&format!("./{}", e.path));
        let line = match &e.kind {
            Kind::Dir => format!("{name} type=dir {common}"),
            Kind::File(data) => format!(
                "{name} type=file {common} size={} sha256digest={}",
                data.len(),
                sha256_hex(data)
            ),
            Kind::Symlink(target) => format!("{name} type=link {common} link={}", escape(target)),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// mtree escapes anything but visible ASCII (and `\`, `#`) as `\ooo`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_graphic() && b != b'\\' && b != b'#' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\{b:03o}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtree_escapes_spaces_and_hashes() {
        assert_eq!(escape("./a b#c"), "./a\\040b\\043c");
    }
}
