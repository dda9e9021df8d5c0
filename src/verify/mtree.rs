//! Reading `rootfs.mtree` back: the full-line form `manifest.rs` writes
//! (verify may not use that module: it runs where only the artifacts are).

use super::walk::Kind;

/// One line of the manifest.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Expected {
    pub(super) path: String,
    pub(super) kind: Kind,
    pub(super) mode: u32,
}

/// Parses the full-line form `manifest.rs` writes (each line stands alone;
/// `/set` is refused). Owners are not read: every entry is the container
/// root's, which [`Options::owner`] names on the host.
pub(super) fn parse_mtree(text: &str) -> std::result::Result<Vec<Expected>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |m: &str| format!("line {}: {m}", n + 1);
        let mut fields = line.split_whitespace();
        let name = crate::lxc::fstab_unescape(fields.next().unwrap_or_default());
        if name.starts_with('/') {
            return Err(bad(
                "`/set` and other special lines are not what scgen writes",
            ));
        }
        let path = match name.strip_prefix("./") {
            Some(p) if !p.is_empty() && !p.split('/').any(|c| c == ".." || c.is_empty()) => p,
            _ => return Err(bad(&format!("path {name:?} is not below `.`"))),
        };
        let (mut kind, mut mode, mut size, mut sum, mut link) = ("", None, 0, None, None);
        for kv in fields {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| bad(&format!("{kv:?} is not key=value")))?;
            match k {
                "type" => kind = v,
                "mode" => mode = u32::from_str_radix(v, 8).ok(),
                "size" => size = v.parse().map_err(|_| bad("size is not a number"))?,
                "sha256digest" => sum = Some(v.to_ascii_lowercase()),
                "link" => link = Some(crate::lxc::fstab_unescape(v)),
                _ => {}
            }
        }
        let kind = match (kind, link) {
            ("dir", _) => Kind::Dir,
            ("file", _) => Kind::File(size, sum),
            ("link", Some(t)) => Kind::Link(t),
            _ => return Err(bad("type is not dir, file or link (with its link=)")),
        };
        let mode = mode.ok_or_else(|| bad("no octal mode="))?;
        out.push(Expected {
            path: path.to_string(),
            kind,
            mode,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract;

    #[test]
    fn the_manifest_gen_writes_parses_back() {
        let entries = [
            contract::Entry {
                path: "a b".into(),
                mode: 0o755,
                kind: contract::Kind::Dir,
            },
            contract::Entry {
                path: "a b/f#".into(),
                mode: 0o644,
                kind: contract::Kind::File(b"x".to_vec()),
            },
        ];
        // Written as manifest.rs writes it (verify may not use it).
        let text = format!(
            "#mtree\n./a\\040b type=dir uid=0 gid=0 mode=0755 time=1.0\n./a\\040b/f\\043 type=file uid=0 gid=0 mode=0644 time=1.0 size=1 sha256digest={}\n",
            contract::sha256_hex(b"x")
        );
        let got = parse_mtree(&text).unwrap();
        assert_eq!(got[0].path, entries[0].path);
        assert_eq!(got[1].path, entries[1].path);
        assert_eq!(got[1].kind, Kind::File(1, Some(contract::sha256_hex(b"x"))));
        assert!(parse_mtree("./../x type=dir mode=0755\n").is_err());
        assert!(parse_mtree("/set type=dir\n").is_err());
    }
}
