//! The container's `config`: the static config (or the existing one) plus
//! a block of host-dependent lines between markers, so a second run
//! replaces its block instead of appending again.

use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, OFlags};

use crate::contract::{StageSpec, BUSYBOX, INIT_LXC, IPTABLES};
use crate::error::{Error, Result};
use crate::lxc;

use super::beneath::{plain, read_plain, replace};
use super::host::{config_path, Tools};
use super::skeletons::MARKER;
use super::writes::Writes;

/// Markers around the lines the stage owns in the container config, so a
/// second run replaces them instead of appending again.
const BEGIN: &str = "# >>> scgen stage: host-dependent lines, rewritten by every run";
const END: &str = "# <<< scgen stage";

/// The host-dependent config lines, in the profile's dialect. With an
/// overlay `lower` dir, the rootfs is the upper dir on top of it; with a
/// bound on `writes`, both are read-only below the bound's upper dir.
pub(super) fn lines(
    spec: &StageSpec,
    rootfs: &Path,
    lower: Option<&str>,
    writes: Option<&Writes>,
    tools: &Tools,
    gateway: Option<&str>,
) -> Result<Vec<String>> {
    let d = spec.dialect;
    let rootfs = config_path("rootfs", rootfs)?;
    let bind = |source: &str, target: &str, options: &str| {
        lxc::mount_entry(d, source, target, "none", options).map_err(|len| {
            Error::unsafe_target(format!(
                "{source}: its lxc.mount.entry would be {len} bytes; liblxc reads {} and would cut it",
                lxc::MOUNT_ENTRY_MAX
            ))
        })
    };
    let value = match (lower, writes) {
        (None, None) => d.rootfs_value(&rootfs),
        (Some(lower), None) => lxc::overlay_rootfs(&[lower], &rootfs),
        (lower, Some(w)) => {
            let lowers: Vec<&str> = std::iter::once(rootfs.as_str()).chain(lower).collect();
            lxc::overlay_rootfs(&lowers, &w.upper())
        }
    };
    let mut lines = vec![
        format!("{} = {value}", d.keys().rootfs),
        bind(spec.prefix.as_str(), spec.prefix.relative(), "ro,bind")?,
        bind(&tools.busybox, BUSYBOX, "ro,bind")?,
    ];
    if let Some(init) = &tools.init_lxc {
        lines.push(bind(init, INIT_LXC, "ro,bind")?);
    }
    if let Some(iptables) = &tools.iptables {
        lines.push(bind(iptables, IPTABLES, "ro,bind")?);
    }
    if let Some(w) = writes {
        lines.push(w.hook_line(d));
    }
    if let Some(policy) = &tools.seccomp {
        lines.push(format!("{} = {policy}", d.keys().seccomp));
    }
    match gateway {
        Some(dir) if spec.gateways_slave => {
            let token = lxc::shmounts(dir, "/gateways").map_err(|c| {
                Error::unsafe_target(format!(
                    "gateway dir {dir} holds {c:?}, which LXC's mount tunnel (`lxc.mount.auto = shmounts:`) cannot carry"
                ))
                .with_help(
                    "use a gateway dir without blanks, `:` or `\\`; or generate with `--set gateways.slave=false` (then BindMount fails on LXC >= 4)",
                )
            })?;
            lines.push(format!("{} = {token}", d.keys().mount_auto));
        }
        Some(dir) => lines.push(bind(dir, "gateways", "rw,bind")?),
        None => {}
    }
    Ok(lines)
}

/// The largest config the stage reads back; a bigger `config` is not one
/// it wrote, and is replaced unread.
const CONFIG_MAX: i64 = 1 << 20;

/// Removes temp files a killed earlier run left in the container dir
/// (`.config.XXXX.tmp`). Safe under the container lock: no other stage's
/// temp file is live. Best effort: they are never read, only untidy.
fn remove_stale_temps(dir: &OwnedFd) {
    let Ok(entries) = rustix::fs::Dir::read_from(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy();
        if name.starts_with(".config.") && name.ends_with(".tmp") {
            let name = name.into_owned();
            let regular = rustix::fs::statat(dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile);
            if regular {
                let _ = rustix::fs::unlinkat(dir, name.as_str(), AtFlags::empty());
            }
        }
    }
}

/// The container's `config`, if it is a plain file the stage may read.
fn existing(dir: &OwnedFd) -> Option<String> {
    read_plain(dir, "config", &plain, CONFIG_MAX).and_then(|b| String::from_utf8(b).ok())
}

/// The lines of `base` outside the previous run's block.
fn outside_block(base: &str) -> Vec<&str> {
    let mut kept = Vec::new();
    let mut inside = false;
    for line in base.lines() {
        match line {
            BEGIN => inside = true,
            END => inside = false,
            l if !inside => kept.push(l),
            _ => {}
        }
    }
    kept
}

/// The lines [`write`] will keep, read before any write to check them: of
/// the existing `config` in `container` when there is one it would read
/// (opened as [`write`] does, never through a symlink), else of
/// `static_conf`.
pub(super) fn kept_lines(container: &Path, static_conf: &str) -> Vec<String> {
    let flags =
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let old = rustix::fs::open(container, flags, rustix::fs::Mode::empty())
        .ok()
        .and_then(|fd| existing(&fd));
    outside_block(old.as_deref().unwrap_or(static_conf))
        .into_iter()
        .map(String::from)
        .collect()
}

/// Writes the container config below `dir` (the container directory,
/// `shown` in messages): the existing one (or the static config for a new
/// container), without the previous run's block, plus a block of `lines`
/// that the rest does not already hold. An existing `config` is read only
/// if it is a plain file (a planted symlink, FIFO, device or hard link is
/// replaced unread), and the new one is renamed into place with its mode
/// and owner set on the descriptor. Unchanged: not written.
pub(super) fn write(
    dir: &OwnedFd,
    shown: &Path,
    static_conf: &str,
    lines: &[String],
    owner: Option<(u32, u32)>,
) -> Result<bool> {
    remove_stale_temps(dir);
    let old = existing(dir);
    let kept = outside_block(old.as_deref().unwrap_or(static_conf));
    let mut text: String = kept.iter().map(|l| format!("{l}\n")).collect();
    text.push_str(BEGIN);
    text.push('\n');
    for line in lines {
        if !kept.iter().any(|k| k.trim() == line) {
            text.push_str(line);
            text.push('\n');
        }
    }
    text.push_str(END);
    text.push('\n');
    let ours = || {
        let st = rustix::fs::statat(dir, "config", AtFlags::SYMLINK_NOFOLLOW).ok()?;
        let (uid, gid) = owner.unwrap_or((st.st_uid, st.st_gid));
        Some(plain(&st) && st.st_mode & 0o7777 == 0o644 && (st.st_uid, st.st_gid) == (uid, gid))
    };
    if old.as_deref() == Some(text.as_str()) && ours() == Some(true) {
        return Ok(false);
    }
    replace(dir, "config", text.as_bytes(), 0o644, owner)
        .map_err(|e| Error::io(shown.join("config"), e.into()))?;
    Ok(true)
}

/// Writes the container's marker naming its skeleton's `lower` dir (see
/// [`MARKER`]), unless it already says so.
pub(super) fn mark(
    dir: &OwnedFd,
    shown: &Path,
    lower: &str,
    owner: Option<(u32, u32)>,
) -> Result<()> {
    let text = format!("{lower}\n");
    if read_plain(dir, MARKER, &plain, 4096).as_deref() == Some(text.as_bytes()) {
        return Ok(());
    }
    replace(dir, MARKER, text.as_bytes(), 0o644, owner)
        .map_err(|e| Error::io(shown.join(MARKER), e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_block_is_replaced_not_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        let fd = super::super::host::make_dir(dir.path()).unwrap();
        let lines = vec![
            "lxc.rootfs.path = dir:/r".to_string(),
            "lxc.mount.entry = /a a none ro,bind 0 0".to_string(),
        ];
        assert!(write(
            &fd,
            dir.path(),
            "lxc.uts.name = c\nlxc.rootfs.path = dir:/r\n",
            &lines,
            None
        )
        .unwrap());
        let first = std::fs::read_to_string(&path).unwrap();
        assert_eq!(first.matches("lxc.rootfs.path").count(), 1, "{first}");
        assert!(!write(&fd, dir.path(), "", &lines, None).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
    }
}
