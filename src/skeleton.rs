//! The rootfs skeleton: the seed's FHS-like tree as a sorted list of
//! [`Entry`]s, computed from the profile alone, so it can be packed at
//! build time.
//!
//! Nothing here touches the filesystem. This is also where a profile's
//! mount points meet the tree, so the check that none lies below a file is
//! made here, and reported at the profile's line.

use std::collections::BTreeMap;

use crate::contract::{placeholders, Entry, Kind};
use crate::error::{Error, Result};
use crate::profile::{Applets, Profile};

/// Directories every container has. Most stay empty mount points; the
/// template's comment says the same of its tree.
const DIRS: &[&str] = &[
    "bin",
    "dev",
    "etc",
    "etc/pulse",
    "gateways",
    "home",
    "lib",
    "proc",
    "root",
    "sbin",
    "sys",
    "usr/lib",
    "usr/sbin",
];

/// The skeleton of `profile`, sorted by path, parents before children.
pub fn skeleton(profile: &Profile) -> Result<Vec<Entry>> {
    let mut tree = Tree::default();
    for dir in DIRS {
        tree.dir(dir, 0o755);
    }
    // /tmp is world-writable and sticky as on any FHS system; the seed's
    // blanket `chmod 755` took that away.
    tree.dir("tmp", 0o1777);
    if profile.container.lib64 {
        tree.dir("lib64", 0o755);
        tree.dir("usr/lib64", 0o755);
    }
    for m in &profile.mounts {
        if !m.lxc_creates_target() {
            tree.dir(m.target.as_str(), 0o755);
        }
    }
    tree.file("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\n");
    tree.file("etc/group", 0o644, "root:x:0:root\n");
    // No shm may be mounted in the container, so pulse must not try it.
    tree.file("etc/pulse/client.conf", 0o644, "disable-shm=yes\n");
    // With a shared bin directory, /bin is a mount point and the stage puts
    // the placeholders and links in the shared directory instead.
    if profile.shared_bin.is_none() {
        for path in placeholders(profile.container.init_lxc, profile.network.is_some()) {
            tree.file(path, 0o755, "");
        }
        for (path, target) in applet_links(profile) {
            tree.link(&path, target);
        }
    }
    let entries: Vec<Entry> = tree.entries.into_values().collect();
    mount_points_are_dirs(profile, &entries)?;
    Ok(entries)
}

/// A mount target below a file or symlink of the skeleton (`etc/passwd/x`,
/// `bin/ls/x` with a fixed applet list) would put a directory under a file
/// in rootfs.tar.gz, which no tar can unpack, and no mount could use.
fn mount_points_are_dirs(profile: &Profile, entries: &[Entry]) -> Result<()> {
    // By path, so each mount looks up its target's parents: a profile's
    // mounts each add a directory, and a scan of every entry per mount
    // would grow with their square.
    let not_dirs: std::collections::HashMap<&str, &Entry> = entries
        .iter()
        .filter(|e| e.kind != Kind::Dir)
        .map(|e| (e.path.as_str(), e))
        .collect();
    for m in &profile.mounts {
        let target = m.target.as_str();
        let blocker = target
            .match_indices('/')
            .find_map(|(i, _)| not_dirs.get(&target[..i]).copied());
        if let Some(e) = blocker {
            let what = match e.kind {
                Kind::Symlink(_) => "symlink",
                _ => "file",
            };
            return Err(Error::config(profile.diagnostic(
                &m.key,
                &format!(
                    "mount point `{}` lies below the rootfs {what} `{}`",
                    m.target, e.path
                ),
                Some("mount onto a directory; the skeleton's files and links cannot hold one"),
            )));
        }
    }
    Ok(())
}

/// The applet links known at build time.
fn applet_links(profile: &Profile) -> Vec<(String, &'static str)> {
    match &profile.applets {
        Applets::Fixed(applets) => applets
            .iter()
            .map(|a| (format!("bin/{a}"), "busybox"))
            .collect(),
        Applets::Stage => Vec::new(),
    }
}

/// Entries by path; a `BTreeMap` keeps them sorted byte-wise, which puts a
/// parent before its children.
#[derive(Default)]
struct Tree {
    entries: BTreeMap<String, Entry>,
}

impl Tree {
    fn parents(&mut self, path: &str) {
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            end += i;
            let parent = &path[..end];
            self.entries.entry(parent.to_string()).or_insert(Entry {
                path: parent.to_string(),
                mode: 0o755,
                kind: Kind::Dir,
            });
            end += 1;
        }
    }

    fn dir(&mut self, path: &str, mode: u32) {
        self.parents(path);
        self.entries.entry(path.to_string()).or_insert(Entry {
            path: path.to_string(),
            mode,
            kind: Kind::Dir,
        });
    }

    fn file(&mut self, path: &str, mode: u32, content: &str) {
        self.put(path, mode, Kind::File(content.as_bytes().to_vec()));
    }

    fn link(&mut self, path: &str, target: &str) {
        // An applet named like a placeholder (`iptables`) must not replace
        // the file the stage binds the real binary onto.
        if !self.entries.contains_key(path) {
            self.put(path, 0o777, Kind::Symlink(target.to_string()));
        }
    }

    fn put(&mut self, path: &str, mode: u32, kind: Kind) {
        self.parents(path);
        self.entries.insert(
            path.to_string(),
            Entry {
                path: path.to_string(),
                mode,
                kind,
            },
        );
    }
}
