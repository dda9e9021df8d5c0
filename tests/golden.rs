//! Golden files: the committed `generated/` must be exactly what the shipped
//! profiles generate, tarball bytes included. `BLESS=1 cargo test`
//! rewrites it (rust-analyzer's ensure_file_contents).

mod common;

use common::*;
use pretty_assertions::assert_eq;
use scgen::profile::Origin;

#[test]
fn generated_matches_every_shipped_profile() {
    let profiles = shipped_profiles();
    assert!(
        profiles.len() >= 4,
        "profiles/ lost a shipped profile: {profiles:?}"
    );
    for profile in profiles {
        let g = scgen::generate(
            &Origin::File(profile.clone()),
            &[],
            None,
            scgen::DEFAULT_EPOCH,
        )
        .unwrap();
        let dir = root().join("generated").join(&g.profile.name);
        if bless() {
            // The same writer as `gen`, so new files get their modes too.
            scgen::artifacts::write(&dir, &g.artifacts).unwrap();
        }
        for a in &g.artifacts {
            ensure_file_contents(&dir.join(a.name), &a.bytes);
        }
    }
}

#[test]
fn check_flag_is_clean_on_committed_output() {
    let mut cmd = scgen();
    // As docs/internals.md has it: `--check --profile profiles/*.toml`.
    cmd.current_dir(root())
        .args(["gen", "--check", "--profile"]);
    for p in shipped_profiles() {
        cmd.arg(p.strip_prefix(root()).unwrap());
    }
    let o = run(&mut cmd);
    assert!(
        o.status.success(),
        "gen --check: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "",
        "a clean check is silent"
    );
    let embedded = run(scgen().current_dir(root()).args(["gen", "--check"]));
    assert!(
        embedded.status.success(),
        "built-in default differs from generated/default: {}",
        String::from_utf8_lossy(&embedded.stderr)
    );
}

#[test]
fn check_flag_fails_with_diff_and_hint_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("default");
    gen_into(&root().join("profiles/default.toml"), &out);
    let conf = out.join("softwarecontainer.conf");
    let edited = std::fs::read_to_string(&conf)
        .unwrap()
        .replace("contained", "edited");
    std::fs::write(&conf, &edited).unwrap();
    let o = Gen::new()
        .check()
        .profile(root().join("profiles/default.toml"))
        .out(&out)
        .set("container.tty-max=1")
        .run();
    assert_eq!(o.status.code(), Some(code::STALE));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("softwarecontainer.conf: stale"), "{err}");
    assert!(
        err.contains("-lxc.uts.name = edited") && err.contains("+lxc.uts.name = contained"),
        "{err}"
    );
    // The hint repeats every argument that shaped the output.
    assert!(
        err.contains("help: regenerate with `scgen gen --profile")
            && err.contains("--set container.tty-max=1`"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        edited,
        "--check wrote a file"
    );
}

/// The JSON Schema, man page and completions are generated from the code
/// and committed; they must not go stale either.
#[test]
fn schema_man_and_completions_match_committed_files() {
    let files = [
        ("generated/profile.schema.json", vec!["schema"]),
        ("generated/init.toml", vec!["init"]),
        (
            "generated/completions/scgen.bash",
            vec!["completions", "bash"],
        ),
        ("generated/completions/_scgen", vec!["completions", "zsh"]),
        (
            "generated/completions/scgen.fish",
            vec!["completions", "fish"],
        ),
    ];
    for (path, args) in files {
        let o = run(scgen().args(&args));
        assert!(
            o.status.success(),
            "scgen {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        ensure_file_contents(&root().join(path), &o.stdout);
    }
}

/// Every man page `scgen man --list` names is committed in generated/man/
/// (what the Debian package installs), and nothing else is there: a page
/// of a removed subcommand would be shipped stale.
#[test]
fn every_man_page_matches_its_committed_file() {
    let list = run(scgen().args(["man", "--list"]));
    assert!(list.status.success());
    let names: Vec<String> = String::from_utf8(list.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert!(names.len() > 2, "{names:?}");
    let dir = root().join("generated/man");
    for name in &names {
        let o = run(scgen().args(["man", name]));
        assert!(o.status.success(), "scgen man {name}");
        ensure_file_contents(&dir.join(name), &o.stdout);
    }
    let o = run(scgen().arg("man"));
    assert_eq!(
        o.stdout,
        std::fs::read(dir.join("scgen.1")).unwrap(),
        "`scgen man` is scgen.1"
    );
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut want = names.clone();
    want.sort();
    assert_eq!(
        on_disk, want,
        "generated/man/ holds a page `scgen man --list` does not name; remove it"
    );
}

/// The exit-code table of docs/cli.md and scgen(1)'s EXIT STATUS (from
/// `exit::TABLE`) name the same codes.
#[test]
fn the_docs_name_every_exit_code() {
    let cli = std::fs::read_to_string(root().join("docs/cli.md")).unwrap();
    let section = cli
        .split_once("### Exit codes")
        .and_then(|(_, rest)| rest.split_once("\n#"))
        .expect("docs/cli.md has an Exit codes section")
        .0;
    let mut documented: Vec<u8> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| ")?.split(' ').next()?.parse().ok())
        .collect();
    documented.sort_unstable();
    let mut codes: Vec<u8> = scgen::exit::TABLE.iter().map(|(c, _)| *c).collect();
    codes.sort_unstable();
    assert_eq!(
        documented, codes,
        "docs/cli.md exit codes vs scgen::exit::TABLE"
    );
}
