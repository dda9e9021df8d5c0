//! Oracles: the generated artifacts checked by the tools that will consume
//! them, not by scgen's own idea of correct.
//!
//! - liblxc (`lxc-info --rcfile`) loads every lxc3 config, and every signal
//!   and lxc.mount.auto token scgen lets through.
//! - `lxc-update-config` (LXC's own lxc2 -> lxc3 converter) turns each lxc2
//!   config into exactly the lxc3 one with `[security]` off (lxc2 has none;
//!   its keys are checked by liblxc and by booting, tests/privileges.rs).
//! - bsdtar lists the mtree and the tarball alike, and unpacks the tarball
//!   with /tmp 1777 and everything 0:0.
//! - Output bytes do not depend on TZ, umask, locale, cwd or how the profile
//!   path is spelled; SOURCE_DATE_EPOCH moves only timestamps.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use pretty_assertions::assert_eq;
use scgen::profile::Origin;

// ---------------------------------------------------------------- helpers

/// `generated/<profile>/` of every shipped profile.
fn generated_dirs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("generated"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("SHA256SUMS").is_file())
        .collect();
    v.sort();
    assert!(v.len() >= 4, "generated/ lost a profile: {v:?}");
    v
}

/// The dialect a generated directory was made with, from its stage.toml.
fn dialect(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("stage.toml")).unwrap();
    let table: toml::Table = text.parse().unwrap();
    table["dialect"].as_str().unwrap().to_string()
}

fn uid_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n")
}

/// Whether lxc-info can run here (and, as root, in a private mount
/// namespace).
fn can_lxc_info() -> bool {
    have("lxc-info") && (!uid_is_root() || have("unshare"))
}

/// Loads `conf` with real liblxc and prints `lxc.uts.name`. As root,
/// lxc-info makes lock directories under /run/lxc: it runs in a private
/// mount namespace with a tmpfs over /run, so the host is not touched.
fn lxc_info(conf: &Path) -> Output {
    let tmp = tempfile::tempdir().unwrap();
    let lxcpath = tmp.path().join("lxcpath");
    let xdg = tmp.path().join("xdg");
    std::fs::create_dir(&lxcpath).unwrap();
    std::fs::create_dir(&xdg).unwrap();
    let mut cmd = if uid_is_root() {
        let mut c = Command::new("unshare");
        c.args([
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount -t tmpfs none /run && mkdir /run/lxc && \
             exec lxc-info -P \"$1\" -n t --rcfile \"$2\" -c lxc.uts.name",
            "sh",
        ]);
        c.arg(&lxcpath).arg(conf);
        c
    } else {
        let mut c = Command::new("lxc-info");
        c.arg("-P")
            .arg(&lxcpath)
            .args(["-n", "t", "--rcfile"])
            .arg(conf)
            .args(["-c", "lxc.uts.name"]);
        c
    };
    cmd.env("XDG_RUNTIME_DIR", &xdg).env("LC_ALL", "C");
    let out = run(&mut cmd);
    assert_eq!(
        std::fs::read_dir(&lxcpath).unwrap().count(),
        0,
        "lxc-info wrote into its lxcpath"
    );
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The files of a directory: name -> (bytes, permission bits).
fn read_dir_files(dir: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            assert!(meta.is_file(), "{}: not a file", e.path().display());
            (
                e.file_name().to_string_lossy().into_owned(),
                (
                    std::fs::read(e.path()).unwrap(),
                    meta.permissions().mode() & 0o7777,
                ),
            )
        })
        .collect()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

// ------------------------------------------------- a. liblxc loads configs

#[test]
fn liblxc_loads_every_lxc3_config() {
    if !can_lxc_info() {
        return;
    }
    let mut checked = Vec::new();
    for dir in generated_dirs() {
        if dialect(&dir) != "lxc3" {
            continue;
        }
        let conf = dir.join("softwarecontainer.conf");
        let o = lxc_info(&conf);
        assert!(
            o.status.success(),
            "liblxc rejects {}: {}",
            conf.display(),
            text(&o.stderr)
        );
        assert_eq!(
            text(&o.stdout),
            "lxc.uts.name = contained\n",
            "{}",
            conf.display()
        );
        checked.push(dir);
    }
    assert!(checked.len() >= 3, "only {checked:?} are lxc3");
}

/// The oracle can fail: LXC 5 refuses a legacy key, and so the whole of
/// the lxc2 profile's config; the same file with the current key loads.
#[test]
fn liblxc_rejects_legacy_keys() {
    if !can_lxc_info() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.conf");
    let bad = tmp.path().join("bad.conf");
    std::fs::write(&good, "lxc.uts.name = x\n").unwrap();
    std::fs::write(&bad, "lxc.utsname = x\n").unwrap();

    let o = lxc_info(&good);
    assert!(o.status.success(), "control: {}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "lxc.uts.name = x\n");

    let o = lxc_info(&bad);
    assert!(!o.status.success(), "liblxc took lxc.utsname");
    assert!(
        text(&o.stderr).contains("Failed to load rcfile"),
        "{}",
        text(&o.stderr)
    );

    let legacy = root().join("generated/legacy-lxc2/softwarecontainer.conf");
    let o = lxc_info(&legacy);
    assert!(
        !o.status.success(),
        "LXC 5 should refuse the lxc2 dialect, but loaded {}",
        legacy.display()
    );
}

/// Every value scgen accepts for `container.halt-signal` and
/// `container.mount-auto` is one liblxc accepts: scgen's checks are never
/// looser than LXC's own parser. Each candidate is checked both ways: as
/// scgen renders it, and as a raw line (so a liblxc "no" is not an artefact
/// of scgen's rendering).
#[test]
fn liblxc_accepts_every_signal_and_mount_auto_scgen_accepts() {
    if !can_lxc_info() {
        return;
    }
    // Everything scgen's own tables accept, so a bad addition is caught.
    let mut signals: Vec<String> = scgen::values::SIGNALS
        .iter()
        .map(|s| format!("SIG{s}"))
        .collect();
    signals.extend(
        [
            "sigterm",
            "SIGRTMIN+0",
            "SIGRTMIN+30",
            "SIGRTMAX-30",
            "sigrtmax-1",
            "SIGRTMIN",
            "SIGRTMAX",
            "SIGRTMIN++3",
            "SIGRTMIN+31",
            "1",
            "9",
            "64",
            "0",
            "65",
            "KILL",
            "SIGNOPE",
        ]
        .map(String::from),
    );
    let tokens: Vec<String> = scgen::values::MOUNT_AUTO
        .iter()
        .chain(&["proc:ro", "sysfs"])
        .map(|s| s.to_string())
        .collect();

    let tmp = tempfile::tempdir().unwrap();
    let mut loose = Vec::new();
    let mut accepted = 0;
    let cases = signals
        .iter()
        .map(|s| ("container.halt-signal", "lxc.signal.halt", s.clone()))
        .chain(
            tokens
                .iter()
                .map(|t| ("container.mount-auto", "lxc.mount.auto", t.clone())),
        );
    for (i, (key, lxc_key, value)) in cases.enumerate() {
        let set = if key == "container.mount-auto" {
            format!("{key}=[\"{value}\"]")
        } else {
            format!("{key}={value}")
        };
        let raw = tmp.path().join(format!("raw{i}.conf"));
        std::fs::write(
            &raw,
            format!("lxc.uts.name = contained\n{lxc_key} = {value}\n"),
        )
        .unwrap();
        let lxc_ok = lxc_info(&raw).status.success();
        let Ok(g) = scgen::generate(
            &Origin::File(root().join("profiles/default.toml")),
            std::slice::from_ref(&set),
            None,
            scgen::DEFAULT_EPOCH,
        ) else {
            continue;
        };
        accepted += 1;
        let conf = g
            .artifacts
            .iter()
            .find(|a| a.name == "softwarecontainer.conf")
            .unwrap();
        let path = tmp.path().join(format!("scgen{i}.conf"));
        std::fs::write(&path, &conf.bytes).unwrap();
        let o = lxc_info(&path);
        if !lxc_ok || !o.status.success() {
            loose.push(format!(
                "--set {set}: scgen accepts, liblxc (raw line: {}) says: {}",
                if lxc_ok { "ok" } else { "rejected" },
                text(&o.stderr).trim()
            ));
        }
    }
    assert_eq!(loose, Vec::<String>::new(), "scgen is looser than liblxc");
    assert!(accepted >= 60, "scgen accepted only {accepted} candidates");
}

// --------------------------------------- b. lxc-update-config as dialect oracle

/// The artifacts of shipped `profile` with [`SECURITY_OFF`] and `sets`,
/// generated into `out`.
fn gen_without_security(profile: &str, sets: &[&str], out: &Path) {
    let mut g = Gen::new()
        .profile(root().join(format!("profiles/{profile}.toml")))
        .out(out);
    for s in SECURITY_OFF.iter().chain(sets) {
        g = g.set(s);
    }
    g.ok();
}

/// Runs LXC's converter on a copy of `lxc2_conf` and checks the result has
/// exactly the key = value pairs of `lxc3_conf`; the converted file must
/// also load in liblxc.
fn assert_update_config_gives(lxc2_conf: &[u8], lxc3_conf: &Path) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("softwarecontainer.conf");
    std::fs::write(&file, lxc2_conf).unwrap();
    let want = std::fs::read_to_string(lxc3_conf).unwrap();
    let before = text(lxc2_conf);
    assert!(
        config_pairs(&before) != config_pairs(&want),
        "control: the lxc2 input already has the lxc3 keys"
    );
    // It makes a scratch file in its cwd: run it inside the temp dir.
    let o = run(Command::new("lxc-update-config")
        .arg("-c")
        .arg(&file)
        .current_dir(tmp.path()));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let got = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        config_pairs(&got),
        config_pairs(&want),
        "lxc-update-config of the lxc2 config vs {}",
        lxc3_conf.display()
    );
    // Its only side effect: FILE.backup, the untouched input.
    let mut left: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["softwarecontainer.conf", "softwarecontainer.conf.backup"]
    );
    assert_eq!(
        std::fs::read(tmp.path().join("softwarecontainer.conf.backup")).unwrap(),
        lxc2_conf
    );
    if can_lxc_info() {
        let o = lxc_info(&file);
        assert!(o.status.success(), "converted: {}", text(&o.stderr));
    }
}

#[test]
fn lxc_update_config_turns_legacy_profile_into_default() {
    if !have("lxc-update-config") {
        return;
    }
    let lxc2 = std::fs::read(root().join("generated/legacy-lxc2/softwarecontainer.conf")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    gen_without_security("default", &[], tmp.path());
    assert_update_config_gives(&lxc2, &tmp.path().join("softwarecontainer.conf"));
}

/// Covers lxc.network.{type,link,name} -> lxc.net.0.*.
#[test]
fn lxc_update_config_turns_lxc2_network_into_network() {
    if !have("lxc-update-config") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("network-lxc2");
    let o = run(scgen()
        .current_dir(root())
        .args([
            "gen",
            "--profile",
            "profiles/network.toml",
            "--set",
            "lxc.dialect=lxc2",
        ])
        .arg("--out")
        .arg(&out));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let lxc2 = std::fs::read(out.join("softwarecontainer.conf")).unwrap();
    assert!(
        text(&lxc2).contains("\nlxc.network.type = veth\n"),
        "{}",
        text(&lxc2)
    );
    let lxc3 = tmp.path().join("network");
    gen_without_security("network", &[], &lxc3);
    assert_update_config_gives(&lxc2, &lxc3.join("softwarecontainer.conf"));
}

// ------------------------------------------------ c. bsdtar: mtree vs tarball

/// One line of `bsdtar -tv --numeric-owner`, normalised.
#[derive(Debug, PartialEq, Eq)]
struct Listed {
    mode: String,
    uid: String,
    gid: String,
    size: String,
    name: String,
    link: Option<String>,
}

/// `bsdtar -tv` of `archive` (cwd an empty directory, so the mtree reader
/// cannot pick up files).
fn bsdtar_list(archive: &Path) -> Vec<Listed> {
    let empty = tempfile::tempdir().unwrap();
    let o = run(Command::new("bsdtar")
        .args(["-tv", "--numeric-owner", "-f"])
        .arg(archive)
        .current_dir(empty.path())
        .env("LC_ALL", "C")
        .env("TZ", "UTC"));
    assert!(
        o.status.success(),
        "bsdtar -tvf {}: {}",
        archive.display(),
        text(&o.stderr)
    );
    text(&o.stdout)
        .lines()
        .map(|line| {
            // mode nlink uid gid size month day year|time name [-> target]
            let f: Vec<&str> = line.split_whitespace().collect();
            assert!(f.len() >= 9, "odd bsdtar line: {line:?}");
            let rest = f[8..].join(" ");
            let (name, link) = match rest.split_once(" -> ") {
                Some((n, l)) => (n.to_string(), Some(l.to_string())),
                None => (rest, None),
            };
            let name = name.strip_prefix("./").unwrap_or(&name);
            Listed {
                mode: f[0].to_string(),
                uid: f[2].to_string(),
                gid: f[3].to_string(),
                size: f[4].to_string(),
                name: name.trim_end_matches('/').to_string(),
                link,
            }
        })
        .collect()
}

#[test]
fn bsdtar_lists_mtree_and_tarball_alike() {
    if !have("bsdtar") {
        return;
    }
    for dir in generated_dirs() {
        let from_mtree = bsdtar_list(&dir.join("rootfs.mtree"));
        let from_tar = bsdtar_list(&dir.join("rootfs.tar.gz"));
        let mtree_lines = std::fs::read_to_string(dir.join("rootfs.mtree"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .count();
        assert_eq!(from_mtree.len(), mtree_lines, "{}", dir.display());
        assert_eq!(from_mtree, from_tar, "{}", dir.display());
        for e in &from_tar {
            assert_eq!((&*e.uid, &*e.gid), ("0", "0"), "{}: {e:?}", dir.display());
        }
        let tmp = from_tar.iter().find(|e| e.name == "tmp").unwrap();
        assert_eq!(tmp.mode, "drwxrwxrwt", "{}", dir.display());
    }
}

#[test]
fn tarball_gzip_header_and_entries_are_anonymous() {
    for dir in generated_dirs() {
        let gz = std::fs::read(dir.join("rootfs.tar.gz")).unwrap();
        let shown = dir.display();
        assert_eq!(gz[..3], [0x1f, 0x8b, 8], "{shown}: not gzip/deflate");
        // FLG: no FTEXT/FHCRC/FEXTRA/FNAME/FCOMMENT, so no file name.
        assert_eq!(gz[3], 0, "{shown}: gzip flags {:#04x}", gz[3]);
        assert_eq!(gz[4..8], [0, 0, 0, 0], "{shown}: gzip MTIME is set");
        let tar = gunzip(&gz);
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut n = 0;
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let h = entry.header();
            let path = entry.path().unwrap().display().to_string();
            assert_eq!(
                (h.uid().unwrap(), h.gid().unwrap()),
                (0, 0),
                "{shown}: {path}"
            );
            assert_eq!(
                (
                    h.username().unwrap().unwrap_or(""),
                    h.groupname().unwrap().unwrap_or("")
                ),
                ("", ""),
                "{shown}: {path}"
            );
            assert_eq!(h.mtime().unwrap(), scgen::DEFAULT_EPOCH, "{shown}: {path}");
            n += 1;
        }
        assert!(n > 20, "{shown}: only {n} entries");
    }
}

// ------------------------------------------------------ d. reproducibility

/// How one `scgen gen` run is set up.
struct Run<'a> {
    cwd: &'a Path,
    profile: PathBuf,
    out: PathBuf,
    umask: &'a str,
    tz: &'a str,
    lc_all: &'a str,
    epoch: Option<&'a str>,
}

impl Run<'_> {
    fn gen(&self) {
        let mut c = Command::new("sh");
        c.args(["-c", "umask \"$1\"; shift; exec \"$@\"", "sh", self.umask])
            .arg(env!("CARGO_BIN_EXE_scgen"))
            .args(["gen", "--profile"])
            .arg(&self.profile)
            .arg("--out")
            .arg(&self.out)
            .current_dir(self.cwd)
            .env("TZ", self.tz)
            .env("LC_ALL", self.lc_all)
            .env_remove("SOURCE_DATE_EPOCH");
        if let Some(e) = self.epoch {
            c.env("SOURCE_DATE_EPOCH", e);
        }
        let o = run(&mut c);
        assert!(
            o.status.success(),
            "gen {}: {}",
            self.profile.display(),
            text(&o.stderr)
        );
    }
}

/// Names the profile by file stem, as scgen does.
fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

fn assert_no_build_paths(dir: &Path, paths: &[&Path]) {
    for (name, (bytes, _)) in read_dir_files(dir) {
        let mut texts = vec![bytes.clone()];
        if name.ends_with(".gz") {
            texts.push(gunzip(&bytes));
        }
        for t in texts {
            let t = text(&t);
            for p in paths {
                let p = p.to_string_lossy();
                assert!(
                    !t.contains(&*p),
                    "{}/{name} holds the build path {p}",
                    dir.display()
                );
            }
        }
    }
}

#[test]
fn output_does_not_depend_on_environment() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let root = root();
    for profile in shipped_profiles() {
        let name = stem(&profile);
        Run {
            cwd: &root,
            profile: profile.strip_prefix(&root).unwrap().to_path_buf(),
            out: a.path().join(&name),
            umask: "022",
            tz: "UTC",
            lc_all: "C",
            epoch: None,
        }
        .gen();
        Run {
            cwd: b.path(),
            profile: profile.clone(),
            out: PathBuf::from(&name),
            umask: "077",
            tz: "NPT-5:45",
            lc_all: "C.UTF-8",
            epoch: None,
        }
        .gen();
        let one = read_dir_files(&a.path().join(&name));
        let two = read_dir_files(&b.path().join(&name));
        assert_eq!(
            one.keys().collect::<Vec<_>>(),
            two.keys().collect::<Vec<_>>(),
            "{name}"
        );
        for (file, (bytes, mode)) in &one {
            let (bytes2, mode2) = &two[file];
            assert!(bytes == bytes2, "{name}/{file} differs between runs");
            assert_eq!(
                format!("{mode:04o}"),
                format!("{mode2:04o}"),
                "{name}/{file}: mode"
            );
        }
        // And both equal the committed goldens.
        let golden = read_dir_files(&root.join("generated").join(&name));
        assert!(golden == one, "{name}: differs from generated/{name}");
        assert_no_build_paths(&a.path().join(&name), &[a.path(), b.path(), &root]);
        assert_no_build_paths(&b.path().join(&name), &[a.path(), b.path(), &root]);
    }
}

#[test]
fn source_date_epoch_moves_only_timestamps() {
    let tmp = tempfile::tempdir().unwrap();
    let root = root();
    for profile in shipped_profiles() {
        let name = stem(&profile);
        let dirs: Vec<PathBuf> = ["unset", "default", "other"]
            .iter()
            .map(|d| tmp.path().join(d).join(&name))
            .collect();
        for (dir, epoch) in dirs
            .iter()
            .zip([None, Some("1483228800"), Some("1700000000")])
        {
            Run {
                cwd: &root,
                profile: profile.clone(),
                out: dir.clone(),
                umask: "022",
                tz: "UTC",
                lc_all: "C",
                epoch,
            }
            .gen();
        }
        let unset = read_dir_files(&dirs[0]);
        let same = read_dir_files(&dirs[1]);
        let other = read_dir_files(&dirs[2]);
        assert!(
            unset == same,
            "{name}: SOURCE_DATE_EPOCH=1483228800 != unset"
        );

        for file in [
            "softwarecontainer.conf",
            "lxc-softwarecontainer",
            "stage.toml",
        ] {
            assert_eq!(
                text(&unset[file].0),
                text(&other[file].0),
                "{name}/{file} depends on SOURCE_DATE_EPOCH"
            );
        }
        assert!(
            unset["rootfs.tar.gz"].0 != other["rootfs.tar.gz"].0,
            "{name}: SOURCE_DATE_EPOCH did not reach the tarball"
        );
        let m1 = text(&unset["rootfs.mtree"].0);
        let m2 = text(&other["rootfs.mtree"].0);
        assert!(
            m1 != m2,
            "{name}: SOURCE_DATE_EPOCH did not reach the mtree"
        );
        assert!(m2.contains(" time=1700000000.0"), "{m2}");
        let untimed = |m: &str| -> String {
            m.lines()
                .map(|l| {
                    l.split(' ')
                        .map(|w| if w.starts_with("time=") { "time=T" } else { w })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(untimed(&m1), untimed(&m2), "{name}: mtree beyond time=");
        // The tarball differs only in its headers' mtime: same listing.
        let t1 = gunzip(&unset["rootfs.tar.gz"].0);
        let t2 = gunzip(&other["rootfs.tar.gz"].0);
        assert_eq!(t1.len(), t2.len(), "{name}: tar length");
    }
}

// ------------------------------------------------------- e. bsdtar unpacks

#[test]
fn bsdtar_unpacks_sticky_tmp_and_root_owned_files() {
    if !is_root() || !have("bsdtar") {
        return;
    }
    for dir in generated_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let o = run(Command::new("sh")
            .args(["-c", "umask 077; exec bsdtar -xpf \"$1\" -C \"$2\"", "sh"])
            .arg(dir.join("rootfs.tar.gz"))
            .arg(tmp.path()));
        assert!(o.status.success(), "{}", text(&o.stderr));
        let rootfs = tmp.path();
        let tmp_meta = std::fs::symlink_metadata(rootfs.join("tmp")).unwrap();
        assert!(tmp_meta.is_dir());
        assert_eq!(
            format!("{:04o}", tmp_meta.mode() & 0o7777),
            "1777",
            "{}: /tmp",
            dir.display()
        );
        // Every entry: owned 0:0, with the mode the mtree promises.
        let mtree = std::fs::read_to_string(dir.join("rootfs.mtree")).unwrap();
        let mut want = BTreeMap::new();
        for line in mtree.lines().filter(|l| !l.starts_with('#')) {
            let mut words = line.split(' ');
            let name = words.next().unwrap().trim_start_matches("./").to_string();
            let mode = words.find_map(|w| w.strip_prefix("mode=")).unwrap();
            let kind = line
                .split(' ')
                .find_map(|w| w.strip_prefix("type="))
                .unwrap();
            want.insert(name, (kind.to_string(), mode.to_string()));
        }
        let mut got = BTreeMap::new();
        for e in walkdir::WalkDir::new(rootfs).min_depth(1) {
            let e = e.unwrap();
            let meta = e.path().symlink_metadata().unwrap();
            let rel = e.path().strip_prefix(rootfs).unwrap();
            assert_eq!(
                (meta.uid(), meta.gid()),
                (0, 0),
                "{}: {}",
                dir.display(),
                rel.display()
            );
            let kind = if meta.is_dir() {
                "dir"
            } else if meta.file_type().is_symlink() {
                "link"
            } else {
                "file"
            };
            let mode = if kind == "link" {
                "0777".to_string()
            } else {
                format!("{:04o}", meta.mode() & 0o7777)
            };
            got.insert(rel.display().to_string(), (kind.to_string(), mode));
        }
        assert_eq!(want, got, "{}: unpacked tree vs mtree", dir.display());
    }
}

/// The stage writes its own lines in the profile's dialect too: the lxc2
/// container config (`lxc.rootfs` without `dir:`), put through
/// lxc-update-config, is key for key the lxc3 one for the same rootfs, and
/// it loads in liblxc.
#[test]
fn staged_lxc2_config_converts_to_the_staged_lxc3_config() {
    if !(have("lxc-update-config") && have("busybox")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = tmp.path().join("rootfs");
    let lxc3 = tmp.path().join("lxc3");
    gen_without_security("default", &[], &lxc3);
    for (art, dir) in [(root().join("generated/legacy-lxc2"), "c2"), (lxc3, "c3")] {
        let o = run(scgen()
            .args(["stage", "--artifacts"])
            .arg(&art)
            .arg("--path")
            .arg(tmp.path().join(dir))
            .arg("--rootfs")
            .arg(&rootfs)
            .env_remove("GATEWAY_DIR"));
        assert!(o.status.success(), "stage {dir}: {}", text(&o.stderr));
    }
    let lxc2 = std::fs::read(tmp.path().join("c2/config")).unwrap();
    assert!(text(&lxc2).contains(&format!("lxc.rootfs = {}\n", rootfs.display())));
    assert_update_config_gives(&lxc2, &tmp.path().join("c3/config"));
}
