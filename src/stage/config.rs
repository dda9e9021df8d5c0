//! The container's `config`: the static config (or the existing one) plus
//! a block of host-dependent lines between markers, so a second run
//! replaces its block instead of appending again.

use std::fs;
use std::path::Path;

use crate::contract::{StageSpec, BUSYBOX, INIT_LXC, IPTABLES};
use crate::error::{Error, Result};
use crate::files::write_atomic;
use crate::lxc;

use super::host::{config_path, Tools};

/// Markers around the lines the stage owns in the container config, so a
/// second run replaces them instead of appending again.
const BEGIN: &str = "# >>> scgen stage: host-dependent lines, rewritten by every run";
const END: &str = "# <<< scgen stage";

/// The host-dependent config lines, in the profile's dialect. With an
/// overlay `lower` dir, the rootfs is the upper dir on top of it.
pub(super) fn lines(
    spec: &StageSpec,
    rootfs: &Path,
    lower: Option<&str>,
    tools: &Tools,
    gateway: Option<&str>,
) -> Result<Vec<String>> {
    let d = spec.dialect;
    let rootfs = config_path("rootfs", rootfs)?;
    let ro = |source: &str, target: &str| lxc::mount_entry(d, source, target, "none", "ro,bind");
    let mut lines = vec![
        match lower {
            Some(lower) => format!(
                "{} = {}",
                d.keys().rootfs,
                lxc::overlay_rootfs(lower, &rootfs)
            ),
            None => format!("{} = {}", d.keys().rootfs, d.rootfs_value(&rootfs)),
        },
        ro(spec.prefix.as_str(), spec.prefix.relative()),
        ro(&tools.busybox, BUSYBOX),
    ];
    if let Some(init) = &tools.init_lxc {
        lines.push(ro(init, INIT_LXC));
    }
    if let Some(iptables) = &tools.iptables {
        lines.push(ro(iptables, IPTABLES));
    }
    if let Some(dir) = gateway {
        lines.push(lxc::mount_entry(d, dir, "gateways", "none", "rw,bind"));
    }
    Ok(lines)
}

/// Removes temp files a killed earlier run left beside `path`
/// (`.config.XXXXXX.tmp`, from [`write_atomic`]). Best effort:
/// they are never read, only untidy.
fn remove_stale_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let n = e.file_name();
        let n = n.to_string_lossy();
        if n.starts_with(&prefix) && n.ends_with(".tmp") && e.file_type().is_ok_and(|t| t.is_file())
        {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Writes the container config: the existing one (or the static config for
/// a new container), without the previous run's block, plus a block of
/// `lines` that the rest does not already hold. Unchanged: not written.
pub(super) fn write(path: &Path, static_conf: &str, lines: &[String]) -> Result<bool> {
    remove_stale_temps(path);
    let old = match fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(path, e)),
    };
    let base = old.as_deref().unwrap_or(static_conf);
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
    if old.as_deref() == Some(text.as_str()) {
        return Ok(false);
    }
    write_atomic(path, text.as_bytes(), 0o644)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_block_is_replaced_not_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        let lines = vec![
            "lxc.rootfs.path = dir:/r".to_string(),
            "lxc.mount.entry = /a a none ro,bind 0 0".to_string(),
        ];
        assert!(write(
            &path,
            "lxc.uts.name = c\nlxc.rootfs.path = dir:/r\n",
            &lines
        )
        .unwrap());
        let first = fs::read_to_string(&path).unwrap();
        assert_eq!(first.matches("lxc.rootfs.path").count(), 1, "{first}");
        assert!(!write(&path, "", &lines).unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), first);
    }
}
