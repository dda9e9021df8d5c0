//! Helpers for the stage tests: stand-in host tools ([`Env`]), copies of
//! the shipped artifacts to tamper with, crafted tarballs, fingerprints of
//! what must not change, and a shell prelude for scripts run under
//! `unshare -m`.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Read as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use scgen::contract;
use tempfile::TempDir;

use super::guard::run_within;
use super::*;

/// A scratch directory with stand-in host tools, so the tests do not depend
/// on which busybox, init.lxc or iptables the host has.
pub struct Env {
    dir: TempDir,
}

impl Env {
    pub fn new() -> Self {
        Self::with_applets("printf '%s\\n' busybox cat ls sh iptables mount")
    }

    /// `list` is the shell command the fake `busybox --list` runs.
    pub fn with_applets(list: &str) -> Self {
        let dir = TempDir::new().unwrap();
        let tools = dir.path().join("tools");
        fs::create_dir(&tools).unwrap();
        let bb = tools.join("busybox");
        fs::write(
            &bb,
            format!("#!/bin/sh\n[ \"$1\" = --list ] || exit 1\n{list}\n"),
        )
        .unwrap();
        fs::set_permissions(&bb, fs::Permissions::from_mode(0o755)).unwrap();
        for t in ["init.lxc", "iptables"] {
            fs::write(tools.join(t), "").unwrap();
            fs::set_permissions(tools.join(t), fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::write(dir.path().join("resolv.conf"), "nameserver 192.0.2.53\n").unwrap();
        Env { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn tool(&self, name: &str) -> PathBuf {
        self.path().join("tools").join(name)
    }

    /// `scgen stage` with the stand-in tools; the caller adds the targets.
    pub fn stage(&self, artifacts: &Path) -> Command {
        self.stage_with(artifacts, "", OsStr::new(""))
    }

    /// `cmd` run (as root) in a mount namespace of its own in which
    /// /etc/subuid and /etc/subgid give root the ids of the lxc3 default
    /// map, as a host provisioned for id-mapped containers has them: the
    /// stage checks them when it is given `--mapped-uid/--mapped-gid`, as
    /// lxc-create gives them. The host's files are never touched.
    pub fn with_subids(&self, cmd: &Command) -> Command {
        let subid = self.path().join("subid");
        std::fs::write(&subid, "root:100000:65536\n").unwrap();
        let mut c = Command::new("unshare");
        c.args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(
                "mount --bind \"$0\" /etc/subuid && mount --bind \"$0\" /etc/subgid && exec \"$@\"",
            )
            .arg(&subid)
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c
    }

    /// [`Env::stage`] with `flag`'s value replaced by `value`.
    pub fn stage_with(&self, artifacts: &Path, flag: &str, value: &OsStr) -> Command {
        let mut c = scgen();
        c.env_remove("GATEWAY_DIR")
            .arg("stage")
            .arg("--artifacts")
            .arg(artifacts);
        let defaults = [
            ("--busybox", self.tool("busybox")),
            ("--init-lxc", self.tool("init.lxc")),
            ("--iptables", self.tool("iptables")),
            ("--resolv-conf", self.path().join("resolv.conf")),
        ];
        for (f, v) in defaults {
            c.arg(f).arg(if f == flag { value } else { v.as_os_str() });
        }
        c
    }

    /// Stages into `<scratch>/<name>` with the default rootfs.
    pub fn stage_into(&self, artifacts: &Path, name: &str) -> Output {
        run(self
            .stage(artifacts)
            .arg("--path")
            .arg(self.path().join(name)))
    }

    /// A shell prelude defining `st`, the same command line as [`stage`],
    /// for scripts run under `unshare -m`.
    pub fn shell_prelude(&self, artifacts: &Path) -> String {
        format!(
            "unset GATEWAY_DIR\nst() {{ {} stage --artifacts {} --busybox {} --init-lxc {} --iptables {} --resolv-conf {} \"$@\"; }}\n",
            q(&nosys::scgen_path()),
            q(artifacts),
            q(&self.tool("busybox")),
            q(&self.tool("init.lxc")),
            q(&self.tool("iptables")),
            q(&self.path().join("resolv.conf")),
        )
    }
}

/// Single-quotes a path for sh.
pub fn q(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

pub fn generated(profile: &str) -> PathBuf {
    root().join("generated").join(profile)
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
pub fn expect(o: &Output, want: i32, what: &str) {
    let got = code(o);
    assert_eq!(
        got,
        want,
        "{what}: exit {got}, want {want}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        stderr(o)
    );
    assert!(
        !stderr(o).contains("panicked"),
        "{what}: panicked\n{}",
        stderr(o)
    );
}

#[track_caller]
pub fn expect_ok(o: &Output, what: &str) {
    expect(o, 0, what);
}

/// A copy of `generated/<profile>` the test may rewrite.
pub fn artifacts_copy(profile: &str) -> TempDir {
    let dir = TempDir::new().unwrap();
    for e in fs::read_dir(generated(profile)).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    dir
}

/// Recomputes SHA256SUMS over the names it already lists, so a rewritten
/// artifact passes verification and only the stage's other checks remain.
pub fn resum(dir: &Path) {
    let sums = fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    let names: Vec<String> = sums
        .lines()
        .map(|l| l.split_once("  ").unwrap().1.to_string())
        .collect();
    let files: Vec<(String, Vec<u8>)> = names
        .into_iter()
        .map(|n| {
            let bytes = fs::read(dir.join(&n)).unwrap();
            (n, bytes)
        })
        .collect();
    let text = contract::sha256sums(files.iter().map(|(n, b)| (n.as_str(), b.as_slice())));
    fs::write(dir.join("SHA256SUMS"), text).unwrap();
}

/// The shipped tarball's entries, as (header, data), to build on.
pub fn shipped_entries(profile: &str) -> Vec<(tar::Header, Vec<u8>)> {
    let bytes = fs::read(generated(profile).join("rootfs.tar.gz")).unwrap();
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (e.header().clone(), data)
        })
        .collect()
}

/// One crafted entry, with the name written into the header verbatim (the
/// `tar` crate's `set_path` would refuse `..` and absolute names).
pub enum Crafted<'a> {
    File(&'a [u8], &'a [u8]),
    Symlink(&'a [u8], &'a [u8]),
    HardLink(&'a [u8], &'a [u8]),
    CharDev(&'a [u8]),
    /// A PAX `path` record naming `.0`, then a file whose ustar name is `.1`.
    PaxPath(&'a [u8], &'a [u8]),
}

pub fn raw_header(kind: tar::EntryType, name: &[u8], link: &[u8], size: usize) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    h.set_entry_type(kind);
    h.set_mode(if kind == tar::EntryType::Symlink {
        0o777
    } else {
        0o644
    });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(size as u64);
    if kind == tar::EntryType::Char {
        h.set_device_major(1).unwrap();
        h.set_device_minor(3).unwrap();
    }
    h.set_cksum();
    h
}

/// Writes into `dir` a tarball of the shipped entries followed by `extra`,
/// and recomputes SHA256SUMS so only the stage's archive checks stand.
pub fn hostile_tarball(dir: &Path, profile: &str, extra: &[Crafted]) {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (h, data) in shipped_entries(profile) {
        b.append(&h, &data[..]).unwrap();
    }
    for c in extra {
        match c {
            Crafted::File(name, data) => {
                let h = raw_header(tar::EntryType::Regular, name, b"", data.len());
                b.append(&h, *data).unwrap();
            }
            Crafted::Symlink(name, target) => {
                let h = raw_header(tar::EntryType::Symlink, name, target, 0);
                b.append(&h, &[][..]).unwrap();
            }
            Crafted::HardLink(name, target) => {
                let h = raw_header(tar::EntryType::Link, name, target, 0);
                b.append(&h, &[][..]).unwrap();
            }
            Crafted::CharDev(name) => {
                let h = raw_header(tar::EntryType::Char, name, b"", 0);
                b.append(&h, &[][..]).unwrap();
            }
            Crafted::PaxPath(pax, name) => {
                b.append_pax_extensions([("path", *pax)]).unwrap();
                let h = raw_header(tar::EntryType::Regular, name, b"", 5);
                b.append(&h, &b"owned"[..]).unwrap();
            }
        }
    }
    let gz = b.into_inner().unwrap().finish().unwrap();
    fs::write(dir.join("rootfs.tar.gz"), gz).unwrap();
    resum(dir);
}

/// Bytes, mode, uid, gid, mtime (s, ns).
pub type Print = (Vec<u8>, u32, u32, u32, i64, i64);

/// What a file looks like from outside: bytes, mode, owner, mtime. Equal
/// before and after means it was neither written nor chmod/chowned.
pub fn fingerprint(p: &Path) -> Option<Print> {
    let m = fs::symlink_metadata(p).ok()?;
    let bytes = if m.is_file() {
        fs::read(p).unwrap()
    } else {
        Vec::new()
    };
    Some((bytes, m.mode(), m.uid(), m.gid(), m.mtime(), m.mtime_nsec()))
}

/// Fingerprints of a directory and everything in it.
pub fn dir_fingerprint(dir: &Path) -> BTreeMap<PathBuf, Option<Print>> {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .map(|e| {
            let p = e.unwrap().into_path();
            let f = fingerprint(&p);
            (p, f)
        })
        .collect()
}

/// One line per entry under `root` (itself included): relative path, kind,
/// mode, owner, and link target or content. `etc/machine-id` is listed
/// without its content when `with_id` is false (it is random per rootfs).
pub fn tree(root: &Path, with_id: bool) -> Vec<String> {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            let m = fs::symlink_metadata(e.path()).unwrap();
            let what = if m.file_type().is_symlink() {
                format!("-> {}", fs::read_link(e.path()).unwrap().display())
            } else if m.is_file() {
                if rel == "etc/machine-id" && !with_id {
                    format!("file {} bytes", m.len())
                } else {
                    format!(
                        "file {}",
                        contract::sha256_hex(&fs::read(e.path()).unwrap())
                    )
                }
            } else if m.is_dir() {
                "dir".to_string()
            } else {
                format!("other {:o}", m.mode())
            };
            format!("{rel:?} {:o} {}:{} {what}", m.mode(), m.uid(), m.gid())
        })
        .collect()
}

pub fn valid_machine_id(bytes: &[u8]) -> bool {
    bytes.len() == 33
        && bytes[32] == b'\n'
        && bytes[..32]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

/// Asserts that no write-then-rename temp file is left in `dir`.
#[track_caller]
pub fn no_temp_files(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !(name.starts_with('.') && name.ends_with(".tmp")),
            "temp file {name} left in {}",
            dir.display()
        );
    }
}

/// Runs `script` under `unshare -m` with private mount propagation (mounts
/// vanish with the process); `$T` is the scratch directory.
pub fn in_mount_ns(env: &Env, artifacts: &Path, script: &str) -> Output {
    let full = format!("{}{script}", env.shell_prelude(artifacts));
    run(Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(full)
        .env("T", env.path()))
}

/// The exit code a script stored in `$T/<name>`.
pub fn stored_code(env: &Env, name: &str) -> i32 {
    let p = env.path().join(name);
    fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .parse()
        .unwrap()
}

pub fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn rootfs_lines(config: &str) -> usize {
    config_pairs(config)
        .iter()
        .filter(|(k, _)| k == "lxc.rootfs.path")
        .count()
}

pub fn root_tests_can_run() -> bool {
    is_root() && have("unshare")
}

/// [`Env::stage`] into `<scratch>/<name>`, with a deadline.
pub fn stage_within(env: &Env, art: &Path, name: &str) -> Output {
    let mut c = env.stage(art);
    c.arg("--path").arg(env.path().join(name));
    run_within(&c, name)
}

/// Asserts that `p` is a regular file with one link, `mode` and (when
/// given) `bytes`: what the stage writes, not what it found.
#[track_caller]
pub fn fresh_file(p: &Path, mode: u32, bytes: Option<&[u8]>) {
    let m = fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert!(
        m.file_type().is_file(),
        "{} is not a regular file: {:?}",
        p.display(),
        m.file_type()
    );
    assert_eq!(m.nlink(), 1, "{} still shares its inode", p.display());
    assert_eq!(m.mode() & 0o7777, mode, "{} mode", p.display());
    if let Some(want) = bytes {
        assert_eq!(
            fs::read(p).unwrap(),
            want,
            "{} does not hold what the stage writes",
            p.display()
        );
    }
}

/// The bytes of `rel` in the shipped tarball of `profile`.
pub fn shipped_bytes(profile: &str, rel: &str) -> Vec<u8> {
    shipped_entries(profile)
        .into_iter()
        .find(|(h, _)| h.path().unwrap() == Path::new(rel))
        .unwrap_or_else(|| panic!("{rel} not in {profile}'s tarball"))
        .1
}

/// A host file standing for one a hostile rootfs links to: `bytes`, 0600.
pub fn host_file(env: &Env, name: &str, bytes: &[u8]) -> PathBuf {
    let dir = env.path().join("host");
    fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    fs::write(&p, bytes).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    p
}
