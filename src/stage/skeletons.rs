//! `scgen skeletons list|prune`: the housekeeping of the skeleton store of
//! overlay containers.
//!
//! Layout: `<store>/<name>/{stamp,rootfs/}`, where `<name>` is 32 hex
//! digits of the SHA-256 of the stamp's key lines (see `overlay.rs`), and
//! `<store>/.<name>.XXXXXX` are fills in progress (each holds an exclusive
//! `flock` while its stage lives) or left by a killed one, and
//! `.<name>.pruned` a removal cut short. Nothing else in a store is
//! scgen's, and prune leaves it alone. Both commands check the store with
//! the stage's rules ([`super::store`]) and judge each skeleton with the
//! stage's code ([`super::stamp::judge`]); everything after the check goes
//! through the store's descriptor.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::fs::{AtFlags, FlockOperation, Mode, RenameFlags};
use rustix::io::Errno;

use super::beneath::{plain, read_plain};
use super::stamp::{is_name, judge, ROOTFS};
use super::store::{self, Store, DIR};
use super::tree;
use crate::error::{Error, Result};

/// A file in each overlay container's directory naming its lower dir, so
/// prune sees the container use its skeleton whatever LXC does to the
/// config after the stage (lxc-create rewrites it with O_TRUNC).
pub(super) const MARKER: &str = "scgen-skeleton";

/// The largest container config prune reads; a bigger one is a doubt.
const CONFIG_MAX: i64 = 1 << 20;

/// Who owns skeletons made by this process: its effective ids, which in a
/// user namespace are the container's root (the mapped root on the host).
pub(super) fn effective_owner() -> (u32, u32) {
    (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    )
}

/// One entry of the store, as `scgen skeletons` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    pub state: State,
    /// Containers (`<lxcpath>/<name>`) that use this skeleton.
    pub users: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Passes the stage's checks (and, for `list`, its tree digest).
    Ok,
    /// Fails a check; never used by a stage. The reason.
    Bad(String),
    /// A fill in progress (`live`), or left by a killed stage or prune.
    Temp { live: bool },
    /// Not something a stage made; left alone.
    Foreign,
}

/// What prune did with one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Removed,
    Kept,
    /// `prune --dry-run`: would have been removed.
    WouldRemove,
    /// Its removal failed; the others went on.
    Failed(String),
}

/// The store after a `list` or `prune`, and the containers whose use of
/// a skeleton could not be told (then prune removes no skeleton).
#[derive(Debug, Default)]
pub struct Report {
    pub items: Vec<(Item, Outcome)>,
    pub doubts: Vec<String>,
}

/// Lists the store, judging each skeleton as the stage does and
/// recomputing its tree digest, with the containers under `lxcpaths`
/// that use it.
pub fn list(store: &Path, lxcpaths: &[PathBuf], wait: Duration) -> Result<Report> {
    let s = existing(store)?;
    s.lock(false, wait)?;
    scan(&s, lxcpaths, true, |_, _| Ok(Outcome::Kept))
}

/// Removes every skeleton of scgen's that no container under `lxcpaths`
/// uses, and the temp dirs of killed fills; keeps everything when a
/// container's use cannot be told. Holds the store's lock exclusively, so
/// no stage is between finding a skeleton and recording its use.
/// With `dry_run`, removes nothing and says what it would remove, under
/// the store's shared lock (a stage may go on meanwhile).
pub fn prune(store: &Path, lxcpaths: &[PathBuf], wait: Duration, dry_run: bool) -> Result<Report> {
    let s = existing(store)?;
    s.lock(!dry_run, wait)?;
    scan(&s, lxcpaths, false, |item, doubt| {
        let remove = match item.state {
            State::Temp { live } => !live,
            State::Ok => item.users.is_empty() && !doubt,
            State::Bad(_) | State::Foreign => false,
        };
        if !remove {
            return Ok(Outcome::Kept);
        }
        if dry_run {
            return Ok(Outcome::WouldRemove);
        }
        Ok(match out_of_sight(&s, &item.name) {
            Ok(()) => Outcome::Removed,
            Err(why) => Outcome::Failed(why),
        })
    })
}

/// The store, checked as the stage checks it; a store that does not exist
/// is an error (69), not an empty list: `--store` is likely mistyped.
fn existing(store: &Path) -> Result<Store> {
    store::open(store, None, false)?.ok_or_else(|| {
        Error::unavailable(format!("skeleton store {} does not exist", store.display()))
            .with_help("give the profile's `container.skeleton-store` as --store; a stage of an overlay container creates it")
    })
}

/// Renames a skeleton to `.<name>.pruned` (one step, so no stage can find
/// it half removed), then removes that. A removal cut short leaves the
/// `.pruned` dir for the next prune.
fn out_of_sight(s: &Store, name: &str) -> std::result::Result<(), String> {
    let gone = match name.strip_suffix(".pruned") {
        Some(_) => name.to_string(),
        None => format!(
            ".{}.pruned",
            name.trim_start_matches('.')
                .split('.')
                .next()
                .unwrap_or(name)
        ),
    };
    if gone != name {
        match rustix::fs::renameat_with(&s.fd, name, &s.fd, gone.as_str(), RenameFlags::NOREPLACE) {
            Ok(()) => {}
            Err(Errno::EXIST | Errno::NOTEMPTY) => {
                tree::remove(&s.fd, &gone).map_err(|e| format!("{gone}: {e}"))?;
                rustix::fs::renameat_with(
                    &s.fd,
                    name,
                    &s.fd,
                    gone.as_str(),
                    RenameFlags::NOREPLACE,
                )
                .map_err(|e| format!("{name}: {}", super::walk::describe("renameat2", e)))?;
            }
            Err(e) => return Err(format!("{name}: {}", super::walk::describe("renameat2", e))),
        }
    }
    tree::remove(&s.fd, &gone).map_err(|e| format!("{gone}: {e}"))
}

/// What kind of entry `name` is by its name alone.
fn temp_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.') else {
        return false;
    };
    let Some((hex, tail)) = rest.split_once('.') else {
        return false;
    };
    let hex_ok = !hex.is_empty()
        && hex.len() <= 32
        && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let tail_ok =
        tail == "pruned" || (tail.len() == 6 && tail.bytes().all(|b| b.is_ascii_alphanumeric()));
    hex_ok && tail_ok
}

fn scan(
    s: &Store,
    lxcpaths: &[PathBuf],
    digest: bool,
    mut act: impl FnMut(&Item, bool) -> Result<Outcome>,
) -> Result<Report> {
    let (users, doubts) = users(lxcpaths)?;
    let mut names = Vec::new();
    for e in rustix::fs::Dir::read_from(&s.fd).map_err(|e| Error::io(&s.path, e.into()))? {
        let e = e.map_err(|e| Error::io(&s.path, e.into()))?;
        let n = e.file_name().to_string_lossy().into_owned();
        if n != "." && n != ".." {
            names.push(n);
        }
    }
    names.sort();
    let mut report = Report {
        items: Vec::new(),
        doubts,
    };
    for name in names {
        let state = if is_name(&name) {
            judged(s, &name, digest)
        } else if temp_name(&name) {
            State::Temp {
                live: is_live(s, &name),
            }
        } else {
            State::Foreign
        };
        let id = match state {
            State::Ok | State::Bad(_) => rustix::fs::statat(
                &s.fd,
                format!("{name}/{ROOTFS}").as_str(),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .ok()
            .map(|st| (st.st_dev, st.st_ino)),
            _ => None,
        };
        let item = Item {
            users: id
                .and_then(|id| users.get(&id).cloned())
                .unwrap_or_default(),
            name,
            state,
        };
        let outcome = act(&item, !report.doubts.is_empty())?;
        report.items.push((item, outcome));
    }
    Ok(report)
}

/// The stage's judgement of a skeleton, plus the tree digest for `list`.
fn judged(s: &Store, name: &str, digest: bool) -> State {
    match judge(s, name, None) {
        Ok(Some(j)) if digest => match tree::digest(&j.rootfs) {
            Ok(actual) if actual == j.tree => State::Ok,
            Ok(actual) => State::Bad(format!(
                "the tree changed since it was published (digest {actual})"
            )),
            Err(why) => State::Bad(format!("its tree fails: {why}")),
        },
        Ok(Some(_)) => State::Ok,
        Ok(None) => State::Bad("vanished".into()),
        Err(e) => State::Bad(e.diagnostic().message),
    }
}

/// Whether a live stage holds the lock of the temp dir `name`: a lock
/// held by a process of another user (who could only have opened a temp
/// dir an older scgen left readable) does not count.
fn is_live(s: &Store, name: &str) -> bool {
    let Ok(fd) = rustix::fs::openat(&s.fd, name, DIR, Mode::empty()) else {
        return false;
    };
    if rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive).is_ok() {
        return false;
    }
    let Ok(st) = rustix::fs::fstat(&fd) else {
        return true;
    };
    let dev = format!(
        "{:02x}:{:02x}:{}",
        rustix::fs::major(st.st_dev),
        rustix::fs::minor(st.st_dev),
        st.st_ino
    );
    let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    let holders: Vec<&str> = locks
        .lines()
        .filter(|l| !l.contains("->"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 5 && f[5] == dev).then(|| f[4])
        })
        .collect();
    // Unknown holders (another pid namespace shows pid 0) count as live.
    holders.is_empty()
        || holders.iter().any(
            |pid| match rustix::fs::stat(format!("/proc/{pid}").as_str()) {
                Ok(p) => p.st_uid == 0 || p.st_uid == s.owner.0,
                Err(_) => true,
            },
        )
}

/// Lower dirs in use, by (device, inode), with the containers using each;
/// and the doubts: containers whose use cannot be told. A container uses
/// the lower dir its `config`, a snapshot's config (`snaps/*/config`) or
/// its [`MARKER`] names. An lxcpath that cannot be read is an error.
type Users = BTreeMap<(u64, u64), Vec<PathBuf>>;

fn users(lxcpaths: &[PathBuf]) -> Result<(Users, Vec<String>)> {
    let mut out = Users::new();
    let mut doubts = Vec::new();
    for lxcpath in lxcpaths {
        let entries = std::fs::read_dir(lxcpath).map_err(|e| Error::io(lxcpath, e))?;
        let mut containers: Vec<PathBuf> =
            entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        containers.sort();
        for c in containers {
            let cfd = match rustix::fs::open(&c, DIR, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::LOOP) if c.join("config").exists() => {
                    doubts.push(format!(
                        "{} is a symlink to a container; prune cannot tell which skeleton it uses",
                        c.display()
                    ));
                    continue;
                }
                Err(_) => continue,
            };
            let mut files = vec![("config".to_string(), false), (MARKER.to_string(), true)];
            if let Ok(snaps) = rustix::fs::openat(&cfd, "snaps", DIR, Mode::empty()) {
                if let Ok(d) = rustix::fs::Dir::read_from(&snaps) {
                    for e in d.flatten() {
                        let n = e.file_name().to_string_lossy().into_owned();
                        if n != "." && n != ".." {
                            files.push((format!("snaps/{n}/config"), false));
                        }
                    }
                }
            }
            for (rel, marker) in files {
                let lower = match read_config(&cfd, &rel) {
                    Ok(None) => continue,
                    Ok(Some(text)) if marker => Some(text.trim_end().to_string()),
                    Ok(Some(text)) => overlay_lower(&text).map(str::to_string),
                    Err(why) => {
                        doubts.push(format!("{}/{rel} {why}", c.display()));
                        continue;
                    }
                };
                if let Some(m) = lower.and_then(|l| std::fs::metadata(l).ok()) {
                    use std::os::unix::fs::MetadataExt as _;
                    let v = out.entry((m.dev(), m.ino())).or_default();
                    if !v.contains(&c) {
                        v.push(c.clone());
                    }
                }
            }
        }
    }
    Ok((out, doubts))
}

/// A container's config (or marker) below its directory: `None` if there
/// is none; `Err(why)` if it is there but cannot be judged (a symlink, not
/// a plain file, over 1 MiB, unreadable).
fn read_config(dir: &OwnedFd, rel: &str) -> std::result::Result<Option<String>, String> {
    let (parent, name) = match rel.rsplit_once('/') {
        Some((p, n)) => match rustix::fs::openat(dir, p, DIR, Mode::empty()) {
            Ok(fd) => (fd, n),
            Err(e) => return Err(format!("cannot be opened ({e})")),
        },
        None => (dir.try_clone().map_err(|e| e.to_string())?, rel),
    };
    let st = match rustix::fs::statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(format!("cannot be read ({e})")),
    };
    if !plain(&st) {
        return Err(
            "is not a plain file (a symlink?); prune cannot tell which skeleton it uses".into(),
        );
    }
    if st.st_size > CONFIG_MAX {
        return Err(format!(
            "is over {CONFIG_MAX} bytes; prune cannot tell which skeleton it uses"
        ));
    }
    let bytes = read_plain(&parent, name, &plain, CONFIG_MAX).ok_or("changed while it was read")?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| "is not UTF-8".into())
}

/// The bottom lower dir of the last `lxc.rootfs.path` (the one LXC uses)
/// when it is an overlay: `overlay:<lower>:<upper>`, or with a bound on
/// writes `overlay:<container's dir>:<lower>:<upper>`.
pub fn overlay_lower(config: &str) -> Option<&str> {
    let value = config
        .lines()
        .rev()
        .filter_map(|l| l.trim().split_once('='))
        .find(|(k, _)| k.trim() == "lxc.rootfs.path")
        .map(|(_, v)| v.trim())?;
    let rest = value
        .strip_prefix("overlay:")
        .or_else(|| value.strip_prefix("overlayfs:"))?;
    rest.rsplit_once(':')
        .and_then(|(lowers, _)| lowers.rsplit(':').next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_rootfs_line_names_the_lower_dir() {
        let conf =
            "lxc.rootfs.path = dir:/c/rootfs\nlxc.rootfs.path = overlay:/s/x/rootfs:/c/rootfs\n";
        assert_eq!(overlay_lower(conf), Some("/s/x/rootfs"));
        let bounded = "lxc.rootfs.path = overlay:/c/rootfs:/s/x/rootfs:/c/writes/upper\n";
        assert_eq!(overlay_lower(bounded), Some("/s/x/rootfs"));
        assert_eq!(overlay_lower("lxc.rootfs.path = dir:/c/rootfs\n"), None);
        assert_eq!(
            overlay_lower("lxc.rootfs.path = overlay:/a:/b\nlxc.rootfs.path = dir:/r\n"),
            None
        );
    }

    #[test]
    fn only_scgen_names_are_temp_dirs() {
        for ok in [
            ".deadbeef.abc123",
            ".cafe.live01",
            ".0123456789abcdef0123456789abcdef.pruned",
        ] {
            assert!(temp_name(ok), "{ok}");
        }
        for no in [
            "store",
            ".lock",
            ".x.abc123",
            ".cafe.toolong7",
            "..",
            ".cafe.",
        ] {
            assert!(!temp_name(no), "{no}");
        }
    }
}
