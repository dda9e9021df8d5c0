//! The install story (issue 22, item 3): the Debian package that
//! Cargo.toml's `[package.metadata.deb]` (cargo-deb's format) describes,
//! built here with dpkg-deb from that table and installed with the real
//! dpkg into a scratch root (never the host's), and the release tarball
//! `git archive` makes.
//!
//! cargo-deb is not in Debian 12 and building it from crates.io costs
//! minutes of CI, so the test reads the same table cargo-deb reads and
//! builds the package the way cargo-deb lays it out; `cargo deb` gives the
//! same tree where it is installed.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use tempfile::TempDir;

fn manifest() -> toml::Table {
    fs::read_to_string(root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap()
}

fn version() -> String {
    manifest()["package"]["version"]
        .as_str()
        .unwrap()
        .to_string()
}

fn ok(cmd: &mut Command) -> String {
    let o = run(cmd);
    assert!(
        o.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The files an asset source names: itself, or what its `*` in the file
/// name matches (cargo-deb's glob), sorted. The release binary is the
/// binary under test (same source, debug profile).
fn sources(src: &str) -> Vec<PathBuf> {
    if src == "target/release/scgen" {
        return vec![PathBuf::from(env!("CARGO_BIN_EXE_scgen"))];
    }
    let path = root().join(src);
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let Some((pre, post)) = name.split_once('*') else {
        assert!(path.is_file(), "asset {src} does not exist");
        return vec![path];
    };
    let mut v: Vec<PathBuf> = fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with(pre) && n.ends_with(post) && n.len() >= pre.len() + post.len()
        })
        .collect();
    v.sort();
    assert!(!v.is_empty(), "asset {src} matches nothing");
    v
}

/// Lays out the package tree from the metadata and builds the .deb.
fn build_deb(scratch: &Path) -> PathBuf {
    let m = manifest();
    let deb = m["package"]["metadata"]["deb"].as_table().unwrap();
    let tree = scratch.join("pkg");
    for asset in deb["assets"].as_array().unwrap() {
        let a: Vec<&str> = asset
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let [src, dest, mode] = a[..] else {
            panic!("asset {asset:?} is not [source, dest, mode]")
        };
        for file in sources(src) {
            let mut to = tree.join(dest);
            if dest.ends_with('/') {
                to = to.join(file.file_name().unwrap());
            }
            fs::create_dir_all(to.parent().unwrap()).unwrap();
            fs::copy(&file, &to).unwrap();
            let mode = u32::from_str_radix(mode, 8).unwrap();
            fs::set_permissions(&to, fs::Permissions::from_mode(mode)).unwrap();
            // Debian policy 12.1: man pages are compressed with gzip -9n.
            if dest.starts_with("usr/share/man/") {
                ok(Command::new("gzip").arg("-9n").arg(&to));
            }
        }
    }
    let doc = tree.join("usr/share/doc/scgen");
    fs::create_dir_all(&doc).unwrap();
    let license = deb["license-file"][0].as_str().unwrap();
    fs::write(
        doc.join("copyright"),
        format!(
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nFiles: *\nCopyright: {}\nLicense: {}\n{}",
            deb["copyright"].as_str().unwrap(),
            m["package"]["license"].as_str().unwrap(),
            fs::read_to_string(root().join(license))
                .unwrap()
                .lines()
                .map(|l| if l.trim().is_empty() { " .\n".to_string() } else { format!(" {l}\n") })
                .collect::<String>()
        ),
    )
    .unwrap();
    let arch = ok(Command::new("dpkg").arg("--print-architecture"));
    let extended: String = deb["extended-description"]
        .as_str()
        .unwrap()
        .lines()
        .map(|l| format!(" {l}\n"))
        .collect();
    let depends = deb["depends"].as_str().unwrap().replace("$auto", "libc6");
    let control = format!(
        "Package: scgen\nVersion: {}-1\nArchitecture: {}\nMaintainer: {}\nSection: {}\nPriority: {}\nDepends: {depends}\nRecommends: {}\nSuggests: {}\nDescription: {}\n{extended}",
        version(),
        arch.trim(),
        deb["maintainer"].as_str().unwrap(),
        deb["section"].as_str().unwrap(),
        deb["priority"].as_str().unwrap(),
        deb["recommends"].as_str().unwrap(),
        deb["suggests"].as_str().unwrap(),
        m["package"]["description"].as_str().unwrap(),
    );
    fs::create_dir_all(tree.join("DEBIAN")).unwrap();
    fs::write(tree.join("DEBIAN/control"), control).unwrap();
    let out = scratch.join(format!("scgen_{}-1_{}.deb", version(), arch.trim()));
    ok(Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zgzip", "--build"])
        .arg(&tree)
        .arg(&out));
    out
}

/// Pins the package: every asset the metadata names exists; the .deb
/// installs with the real dpkg into an empty root; there the binary runs,
/// every page `scgen man --list` names is in man1/man5 (gzipped, the bytes
/// `scgen man PAGE` prints), the completions are where bash-completion,
/// zsh and fish look, the profiles are examples; dpkg knows the files and
/// removes them; and the host's /usr/bin/scgen is not touched.
#[test]
fn the_debian_package_installs_on_a_clean_root() {
    if !(have("dpkg-deb") && have("dpkg") && have("gzip") && is_root()) {
        return;
    }
    let host = Path::new("/usr/bin/scgen");
    let host_before = fs::symlink_metadata(host).ok().map(|m| m.len());
    let scratch = TempDir::new().unwrap();
    let deb = build_deb(scratch.path());
    let fields = ok(Command::new("dpkg-deb").arg("-f").arg(&deb));
    assert!(
        fields.contains(&format!("Version: {}-1", version())),
        "{fields}"
    );

    let r = scratch.path().join("root");
    let admin = r.join("var/lib/dpkg");
    for d in ["info", "updates", "triggers"] {
        fs::create_dir_all(admin.join(d)).unwrap();
    }
    fs::write(admin.join("status"), "").unwrap();
    fs::write(admin.join("available"), "").unwrap();
    ok(Command::new("dpkg")
        .arg(format!("--root={}", r.display()))
        .args(["--force-depends", "--force-script-chrootless", "-i"])
        .arg(&deb));
    let status = ok(Command::new("dpkg")
        .arg(format!("--root={}", r.display()))
        .args(["-s", "scgen"]));
    assert!(status.contains("Status: install ok installed"), "{status}");

    let bin = r.join("usr/bin/scgen");
    let v = ok(Command::new(&bin).arg("--version"));
    assert_eq!(v.trim(), format!("scgen {}", version()));
    let pages = ok(Command::new(&bin).args(["man", "--list"]));
    assert!(pages.lines().count() > 2, "{pages}");
    for page in pages.lines() {
        let section = page.rsplit_once('.').unwrap().1;
        let gz = r.join(format!("usr/share/man/man{section}/{page}.gz"));
        let text = ok(Command::new("gzip").arg("-dc").arg(&gz));
        assert_eq!(text, ok(Command::new(&bin).args(["man", page])), "{page}");
    }
    for (path, shell) in [
        ("usr/share/bash-completion/completions/scgen", "bash"),
        ("usr/share/zsh/vendor-completions/_scgen", "zsh"),
        ("usr/share/fish/vendor_completions.d/scgen.fish", "fish"),
    ] {
        let installed = fs::read_to_string(r.join(path)).unwrap();
        assert_eq!(
            installed,
            ok(Command::new(&bin).args(["completions", shell])),
            "{path}"
        );
    }
    assert!(r
        .join("usr/share/doc/scgen/examples/default.toml")
        .is_file());
    assert!(r.join("usr/share/doc/scgen/SECURITY.md").is_file());
    assert!(r.join("usr/share/doc/scgen/copyright").is_file());
    // The packaged default profile generates what the repository commits.
    let out = scratch.path().join("gen");
    ok(Command::new(&bin)
        .arg("gen")
        .arg("--profile")
        .arg(r.join("usr/share/doc/scgen/examples/default.toml"))
        .arg("--out")
        .arg(&out)
        .env_remove("SOURCE_DATE_EPOCH"));
    assert_eq!(
        fs::read(out.join("SHA256SUMS")).unwrap(),
        fs::read(root().join("generated/default/SHA256SUMS")).unwrap()
    );

    let listed = ok(Command::new("dpkg")
        .arg(format!("--root={}", r.display()))
        .args(["-L", "scgen"]));
    assert!(listed.lines().any(|l| l == "/usr/bin/scgen"), "{listed}");
    ok(Command::new("dpkg")
        .arg(format!("--root={}", r.display()))
        .args(["--force-script-chrootless", "-r", "scgen"]));
    assert!(!bin.exists(), "dpkg -r left the binary");
    assert_eq!(
        fs::symlink_metadata(host).ok().map(|m| m.len()),
        host_before,
        "the host's /usr/bin/scgen changed"
    );
}

/// Pins the release tarball: `git archive --prefix=scgen-<version>/` of
/// the committed tree holds what a build and the package need (manifest,
/// lock file, sources, licenses, changelog, security policy, every asset
/// of the package but the binary), nothing under target/, the same bytes
/// twice, and a manifest cargo reads with the version the changelog names.
#[test]
fn the_release_tarball_from_git_archive() {
    if !root().join(".git").exists() {
        eprintln!("SKIPPED: not a git checkout");
        return;
    }
    if !(have("git") && have("tar")) {
        return;
    }
    let v = version();
    let scratch = TempDir::new().unwrap();
    let archive = |name: &str| {
        let out = scratch.path().join(name);
        ok(Command::new("git")
            .arg("-C")
            .arg(root())
            .args(["archive", "--format=tar.gz"])
            .arg(format!("--prefix=scgen-{v}/"))
            .arg("-o")
            .arg(&out)
            .arg("HEAD"));
        out
    };
    let a = archive("a.tar.gz");
    assert_eq!(
        fs::read(&a).unwrap(),
        fs::read(archive("b.tar.gz")).unwrap()
    );
    let listing = ok(Command::new("tar").arg("-tzf").arg(&a));
    let names: Vec<&str> = listing.lines().collect();
    assert!(names.iter().all(|n| n.starts_with(&format!("scgen-{v}/"))));
    assert!(
        !names.iter().any(|n| n.contains("/target/")),
        "target/ is in the tarball"
    );
    let mut want = vec![
        "Cargo.toml".to_string(),
        "Cargo.lock".into(),
        "src/main.rs".into(),
        "LICENSE-MIT".into(),
        "LICENSE-APACHE".into(),
        "CHANGELOG.md".into(),
        "SECURITY.md".into(),
        "README.md".into(),
    ];
    let m = manifest();
    for asset in m["package"]["metadata"]["deb"]["assets"]
        .as_array()
        .unwrap()
    {
        let src = asset[0].as_str().unwrap();
        if !src.starts_with("target/") {
            want.extend(
                sources(src)
                    .iter()
                    .map(|p| p.strip_prefix(root()).unwrap().display().to_string()),
            );
        }
    }
    for w in &want {
        assert!(
            names.contains(&format!("scgen-{v}/{w}").as_str()),
            "{w} is not in the tarball (committed?)"
        );
    }
    ok(Command::new("tar")
        .arg("-xzf")
        .arg(&a)
        .arg("-C")
        .arg(scratch.path()));
    let meta = ok(Command::new("cargo")
        .args([
            "metadata",
            "--offline",
            "--no-deps",
            "--format-version=1",
            "--manifest-path",
        ])
        .arg(scratch.path().join(format!("scgen-{v}/Cargo.toml"))));
    assert!(meta.contains(&format!("\"version\":\"{v}\"")), "{meta}");
    let changelog = fs::read_to_string(root().join("CHANGELOG.md")).unwrap();
    assert!(
        changelog.contains(&format!("## [{v}]")),
        "CHANGELOG.md has no {v} section"
    );
}
