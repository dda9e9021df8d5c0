//! Manifests: `rootfs.mtree` (what a reviewer reads in a diff, and what
//! bsdtar can list) and `SHA256SUMS` (what `sha256sum -c` and the stage
//! check).

use sha2::{Digest, Sha256};

use crate::skeleton::{Entry, Kind};

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtree_escapes_spaces_and_hashes() {
        assert_eq!(escape("./a b#c"), "./a\\040b\\043c");
    }

    #[test]
    fn sums_round_trip() {
        let text = sha256sums([("a", b"x".as_slice())]);
        let parsed = parse_sha256sums(&text).unwrap();
        assert_eq!(parsed, vec![("a".to_string(), sha256_hex(b"x"))]);
        assert!(parse_sha256sums("nonsense\n").is_none());
    }
}
