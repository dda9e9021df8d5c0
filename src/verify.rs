//! `scgen verify`: a container's tree (or a skeleton's) checked against
//! the artifacts' `rootfs.mtree`, as `mtree -f rootfs.mtree -p TREE`
//! would, on a device and without bsdtar.
//!
//! It reads the artifacts it needs (verified against `SHA256SUMS`, as the
//! stage does), walks the tree through descriptors only ([`walk`]: no link
//! followed, no FIFO or device opened) and reports each entry that is
//! missing, extra or changed, by mtree keyword (`type`, `mode`, `uid`,
//! `gid`, `link`, `size`, `sha256digest`; not `time`, which the stage
//! does not keep). What the stage writes from the host (`etc/machine-id`,
//! `etc/resolv.conf`, the busybox applet links of `busybox --list`) is not
//! in the manifest; it is listed as host-dependent, not as drift. In a
//! skeleton, modes are expected without group and other write, as the
//! stage stores them there. It writes nothing. Like the stage, it knows the contract, never the profile.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::contract::{self, StageSpec};
use crate::error::{Error, Result};

mod mtree;
mod walk;

use mtree::{parse_mtree, Expected};

use walk::{Found, Kind};

/// What to check.
#[derive(Debug, Clone)]
pub struct Options {
    /// The installed artifacts (with `SHA256SUMS`).
    pub artifacts: PathBuf,
    /// A container directory (its `rootfs/` is checked), a skeleton
    /// (`<store>/<name>`, idem) or a rootfs.
    pub tree: PathBuf,
    /// The host ids every entry should belong to [default: the container's
    /// root as the config's `lxc.idmap` maps it, else 0:0].
    pub owner: Option<(u32, u32)>,
}

/// One difference, in mtree's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    pub path: String,
    pub keyword: &'static str,
    pub expected: String,
    pub found: String,
}

/// An entry on one side only, or written by the stage from the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// A symlink's target (never followed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<&'static str>,
}

impl Entry {
    fn line(&self) -> String {
        match &self.link {
            Some(t) => format!("./{} type={} link={t}", self.path, self.kind),
            None => format!("./{} type={}", self.path, self.kind),
        }
    }
}

/// The result of a verify.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub rootfs: PathBuf,
    /// Entries of the manifest.
    pub checked: usize,
    pub missing: Vec<Entry>,
    pub extra: Vec<Entry>,
    pub changed: Vec<Changed>,
    pub host: Vec<Entry>,
}

impl Report {
    pub fn drift(&self) -> bool {
        !(self.missing.is_empty() && self.extra.is_empty() && self.changed.is_empty())
    }

    /// One line per finding, then a summary line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for e in &self.missing {
            out.push_str(&format!("missing {}\n", e.line()));
        }
        for c in &self.changed {
            out.push_str(&format!(
                "changed ./{} {} (expected {}, found {})\n",
                c.path, c.keyword, c.expected, c.found
            ));
        }
        for e in &self.extra {
            out.push_str(&format!("extra {}\n", e.line()));
        }
        let links = self.host.iter().filter(|e| e.kind == "link").count();
        for e in self.host.iter().filter(|e| e.kind != "link") {
            let why = e.why.unwrap_or("");
            out.push_str(&format!("host {} ({why})\n", e.line()));
        }
        if links > 0 {
            out.push_str(&format!(
                "host ./bin/*: {links} links to busybox (linked by scgen stage from the host busybox's --list)\n"
            ));
        }
        out.push_str(&format!(
            "{}: {} entries of {}: {} missing, {} changed, {} extra, {} host-dependent\n",
            self.rootfs.display(),
            self.checked,
            contract::MTREE,
            self.missing.len(),
            self.changed.len(),
            self.extra.len(),
            self.host.len()
        ));
        out
    }
}

/// Checks the tree; a difference is in the report, not an error.
pub fn verify(opts: &Options) -> Result<Report> {
    let (mtree, spec, conf) = load(&opts.artifacts)?;
    let expected = parse_mtree(&mtree).map_err(|m| {
        Error::data(format!(
            "{}: {m}",
            opts.artifacts.join(contract::MTREE).display()
        ))
    })?;
    let owner = opts.owner.unwrap_or_else(|| idmap_root(&conf));
    let rootfs = rootfs_of(&opts.tree);
    // An overlay container's rootfs is only its upper dir; its tree is the
    // skeleton its marker names.
    let marker = (rootfs != opts.tree)
        .then(|| walk::small_file(&opts.tree, "scgen-skeleton"))
        .flatten();
    if let Some(lower) = marker {
        let skeleton = Path::new(lower.trim()).parent().unwrap_or(Path::new("?"));
        return Err(Error::usage(format!(
            "{} is an overlay container: its rootfs holds only its own changes, on the shared skeleton {}",
            opts.tree.display(),
            skeleton.display()
        ))
        .with_help(format!(
            "verify the skeleton: scgen verify --artifacts {} {}",
            opts.artifacts.display(),
            skeleton.display()
        )));
    }
    // A skeleton of the store (`<name>/{stamp,rootfs}`) is shared by every
    // overlay container: no one but its owner may write in it, so the
    // stage stores each mode without group and other write.
    let skeleton = spec.skeleton_store.is_some()
        && rootfs != opts.tree
        && std::fs::symlink_metadata(opts.tree.join("stamp")).is_ok_and(|m| m.is_file());
    let mask = if skeleton { !0o022 } else { !0 };
    // Digests only where the size already matches: a file the container
    // grew to a terabyte is a size change, never read.
    let digest: BTreeMap<String, u64> = expected
        .iter()
        .filter_map(|e| match e.kind {
            Kind::File(size, _) => Some((e.path.clone(), size)),
            _ => None,
        })
        .collect();
    let mut walked = walk::walk(&rootfs, &digest)?;
    let mut report = Report {
        rootfs,
        checked: expected.len(),
        missing: Vec::new(),
        extra: Vec::new(),
        changed: Vec::new(),
        host: Vec::new(),
    };
    for want in &expected {
        let Some(got) = walked.found.remove(&want.path) else {
            report.missing.push(entry(&want.path, &want.kind, None));
            continue;
        };
        compare(want, &got, owner, mask, &mut report.changed);
    }
    for (path, got) in walked.found {
        match host_dependent(&path, &got, &spec) {
            Some(why) => report.host.push(entry(&path, &got.kind, Some(why))),
            None => report.extra.push(entry(&path, &got.kind, None)),
        }
    }
    for path in walked.too_deep {
        report.changed.push(Changed {
            path,
            keyword: "depth",
            expected: "not entered".into(),
            found: format!("a directory {} levels down, not walked", walk::MAX_DEPTH),
        });
    }
    Ok(report)
}

/// The artifacts verify reads, each checked against `SHA256SUMS`.
fn load(dir: &Path) -> Result<(String, StageSpec, String)> {
    let data = |m: String| Error::data(format!("artifacts in {}: {m}", dir.display()));
    let read = |name: &str| {
        crate::files::read_input_bytes(&dir.join(name), 256 << 20)
            .map_err(|e| data(format!("cannot read {name}: {e}")))
    };
    let sums = String::from_utf8(read(contract::SUMS)?).unwrap_or_default();
    let listed = contract::parse_sha256sums(&sums)
        .ok_or_else(|| data(format!("{} is not in `sha256sum` format", contract::SUMS)))?;
    let text = |name: &str| -> Result<String> {
        let want = listed
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| data(format!("{} does not list {name}", contract::SUMS)))?;
        let bytes = read(name)?;
        if contract::sha256_hex(&bytes) != want.1 {
            return Err(data(format!(
                "{name} does not match {}; reinstall the artifacts",
                contract::SUMS
            )));
        }
        String::from_utf8(bytes).map_err(|_| data(format!("{name} is not UTF-8")))
    };
    let mtree = text(contract::MTREE)?;
    let spec: StageSpec = toml::from_str(&text(contract::STAGE)?)
        .map_err(|e| data(format!("{}: {}", contract::STAGE, e.message())))?;
    let conf = text(contract::CONF)?;
    Ok((mtree, spec, conf))
}

/// A container dir or skeleton holds `rootfs/` (not a symlink); anything
/// else is taken to be the rootfs itself.
fn rootfs_of(tree: &Path) -> PathBuf {
    let sub = tree.join("rootfs");
    match std::fs::symlink_metadata(&sub) {
        Ok(m) if m.is_dir() => sub,
        _ => tree.to_path_buf(),
    }
}

/// The host ids of the container's root: `lxc.idmap = u 0 <host> <n>` and
/// `g 0 ...` of the static config, else 0:0.
fn idmap_root(conf: &str) -> (u32, u32) {
    let mut ids = (0, 0);
    for line in conf.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != "lxc.idmap" && key.trim() != "lxc.id_map" {
            continue;
        }
        let f: Vec<&str> = value.split_whitespace().collect();
        if let [kind, "0", host, _] = f[..] {
            if let Ok(h) = host.parse() {
                match kind {
                    "u" => ids.0 = h,
                    "g" => ids.1 = h,
                    _ => {}
                }
            }
        }
    }
    ids
}

/// Why the stage put `path` there from the host, if it did.
fn host_dependent(path: &str, got: &Found, spec: &StageSpec) -> Option<&'static str> {
    match (path, &got.kind) {
        ("etc/machine-id", Kind::File(..)) => Some("written by scgen stage: random per container"),
        ("etc/resolv.conf", Kind::File(..)) => Some("copied from the host by scgen stage"),
        (p, Kind::Link(t)) if spec.applets_at_stage && t == "busybox" => p
            .strip_prefix("bin/")
            .filter(|a| !a.contains('/'))
            .map(|_| "a busybox applet link of the host's busybox --list"),
        _ => None,
    }
}

fn type_name(k: &Kind) -> String {
    match k {
        Kind::Dir => "dir".into(),
        Kind::File(..) => "file".into(),
        Kind::Link(_) => "link".into(),
        Kind::Other(t) => (*t).into(),
    }
}

fn entry(path: &str, kind: &Kind, why: Option<&'static str>) -> Entry {
    Entry {
        path: path.to_string(),
        kind: type_name(kind),
        link: match kind {
            Kind::Link(t) => Some(t.clone()),
            _ => None,
        },
        why,
    }
}

/// The keywords of `want` that `got` does not match.
fn compare(want: &Expected, got: &Found, owner: (u32, u32), mask: u32, out: &mut Vec<Changed>) {
    let mut diff = |keyword: &'static str, expected: String, found: String| {
        if expected != found {
            out.push(Changed {
                path: want.path.clone(),
                keyword,
                expected,
                found,
            });
        }
    };
    let (tw, tg) = (type_name(&want.kind), type_name(&got.kind));
    if tw != tg {
        return diff("type", tw, tg);
    }
    if !matches!(want.kind, Kind::Link(_)) {
        diff(
            "mode",
            format!("{:04o}", want.mode & mask),
            format!("{:04o}", got.mode),
        );
    }
    diff("uid", owner.0.to_string(), got.uid.to_string());
    diff("gid", owner.1.to_string(), got.gid.to_string());
    match (&want.kind, &got.kind) {
        (Kind::Link(a), Kind::Link(b)) => diff("link", a.clone(), b.clone()),
        (Kind::File(size, sum), Kind::File(gsize, gsum)) => {
            diff("size", size.to_string(), gsize.to_string());
            if size == gsize {
                let unreadable = "unreadable".to_string();
                diff(
                    "sha256digest",
                    sum.clone().unwrap_or_default(),
                    gsum.clone().unwrap_or(unreadable),
                );
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_container_root_is_read_from_the_idmap() {
        assert_eq!(
            idmap_root("lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 200000 65536\n"),
            (100000, 200000)
        );
        assert_eq!(idmap_root("lxc.uts.name = c\n"), (0, 0));
    }
}
