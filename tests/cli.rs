//! The command line as integrators and build systems use it: overrides,
//! machine-readable output, depfiles, exit codes, no-op and concurrent
//! regeneration.

mod common;

use common::*;
use pretty_assertions::assert_eq;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

fn default_profile() -> std::path::PathBuf {
    root().join("profiles/default.toml")
}

/// (mtime in ns, inode) of every file in `dir`: what Make and Ninja see.
fn stamps(dir: &Path) -> BTreeMap<String, (i64, u64)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let m = e.metadata().unwrap();
            (
                e.path().display().to_string(),
                (m.mtime() * 1_000_000_000 + m.mtime_nsec(), m.ino()),
            )
        })
        .collect()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn templates_override_built_ins_by_name_and_join_the_depfile() {
    let tmp = tempfile::tempdir().unwrap();
    let tpl = tmp.path().join("tpl");
    std::fs::create_dir(&tpl).unwrap();
    std::fs::write(
        tpl.join("softwarecontainer.conf.j2"),
        "# integrator's own\n{{ keys.uts_name }} = {{ container.uts_name }}-x\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let dep = tmp.path().join("out.d");
    let o = run(scgen()
        .args(["gen", "--profile"])
        .arg(default_profile())
        .arg("--out")
        .arg(&out)
        .arg("--templates")
        .arg(&tpl)
        .arg("--depfile")
        .arg(&dep));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(out.join("softwarecontainer.conf")).unwrap(),
        "# integrator's own\nlxc.uts.name = contained-x\n"
    );
    // The drop-in had no override: still the built-in one.
    assert_eq!(
        std::fs::read(out.join("lxc-softwarecontainer")).unwrap(),
        std::fs::read(root().join("generated/default/lxc-softwarecontainer")).unwrap()
    );
    let depfile = std::fs::read_to_string(&dep).unwrap();
    assert!(
        depfile.contains(&tpl.join("softwarecontainer.conf.j2").display().to_string()),
        "{depfile}"
    );
}

#[test]
fn template_errors_are_config_errors_naming_the_template() {
    let tmp = tempfile::tempdir().unwrap();
    for (body, expect) in [
        ("{{ keys.uts_name }} = {{ nosuch }}\n", "undefined"),
        (
            "{{ keys.uts_name }} = {{ container.uts_name }\n",
            "syntax error",
        ),
        ("rm -rf /\n", "not an LXC config line"),
    ] {
        std::fs::write(tmp.path().join("softwarecontainer.conf.j2"), body).unwrap();
        let out = tmp.path().join("out");
        let o = Gen::new().templates(tmp.path()).out(&out).run();
        assert_eq!(
            o.status.code(),
            Some(code::CONFIG),
            "{body:?}: {}",
            stderr(&o)
        );
        assert!(stderr(&o).contains(expect), "{body:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("softwarecontainer.conf"),
            "{}",
            stderr(&o)
        );
        assert!(!out.exists(), "a failed render wrote output");
    }
    // The variable by name, the template's path, line and column, and the
    // line itself under it (issue 22 item 8: it said `undefined value`).
    std::fs::write(
        tmp.path().join("softwarecontainer.conf.j2"),
        "# ok\n{{ keys.uts_name }} = {{ container.nosuch }}\n",
    )
    .unwrap();
    let o = Gen::new()
        .templates(tmp.path())
        .out(tmp.path().join("out"))
        .run();
    let err = stderr(&o);
    let path = tmp.path().join("softwarecontainer.conf.j2");
    for want in [
        "error: template: `container.nosuch` is undefined".to_string(),
        format!("--> {}:2:26", path.display()),
        "2 | {{ keys.uts_name }} = {{ container.nosuch }}".to_string(),
        "^^^^^^^^^^^^^^^^".to_string(),
        "help: a template sees the variables".to_string(),
    ] {
        assert!(err.contains(&want), "{want} missing:\n{err}");
    }
}

#[test]
fn set_overrides_are_typed_and_checked_like_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = run(scgen()
        .args([
            "gen",
            "--set",
            "network.gateway=true",
            "--set",
            "install.prefix=/opt/sc",
            "--set",
            "container.tty-max=4",
            "--out",
        ])
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let conf = std::fs::read_to_string(out.join("softwarecontainer.conf")).unwrap();
    for line in [
        "lxc.net.0.type = veth",
        "lxc.tty.max = 4",
        "lxc.mount.entry = /opt/sc opt/sc none ro,bind 0 0",
    ] {
        assert!(conf.contains(line), "{line} missing:\n{conf}");
    }
    for (set, expect) in [
        ("container.tty-max=lots", "--set"),
        ("container.tty-mx=1", "did you mean `tty-max`?"),
        ("install.prefix=/", "must not be `/`"),
    ] {
        let o = Gen::new().set(set).out(tmp.path().join("bad")).run();
        assert_eq!(o.status.code(), Some(code::CONFIG), "{set}: {}", stderr(&o));
        assert!(stderr(&o).contains(expect), "{set}: {}", stderr(&o));
    }
    let o = Gen::new().set("no-equals-sign").run();
    assert_eq!(o.status.code(), Some(code::USAGE), "{}", stderr(&o));
}

#[test]
fn json_report_lists_paths_digests_and_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let report = |expect_changed: bool| {
        let o = Gen::new().json().out(&out).run();
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let items = v.as_array().unwrap();
        assert_eq!(items.len(), scgen::contract::ALL.len());
        for item in items {
            let path = Path::new(item["path"].as_str().unwrap());
            let digest = scgen::contract::sha256_hex(&std::fs::read(path).unwrap());
            assert_eq!(item["sha256"].as_str().unwrap(), digest);
            assert_eq!(item["changed"].as_bool().unwrap(), expect_changed, "{item}");
        }
    };
    report(true);
    report(false);
}

#[test]
fn every_subcommand_help_has_an_example() {
    for sub in [
        "gen",
        "stage",
        "profile",
        "schema",
        "init",
        "completions",
        "man",
    ] {
        let o = run(scgen().args([sub, "--help"]));
        assert!(o.status.success());
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("Example"),
            "`scgen {sub} --help` has no example:\n{text}"
        );
    }
}

#[test]
fn depfile_names_every_input_with_make_escaping() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out dir");
    let dep = tmp.path().join("yocto.d");
    let o = run(scgen()
        .current_dir(root())
        .args(["gen", "--profile", "profiles/yocto.toml", "--out"])
        .arg(&out)
        .arg("--depfile")
        .arg(&dep));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&dep).unwrap();
    let (targets, deps) = text.trim_end().split_once(": ").unwrap();
    let escaped_out = out.display().to_string().replace(' ', "\\ ");
    for name in scgen::contract::ALL {
        assert!(
            targets.contains(&format!("{escaped_out}/{name}")),
            "{name} not a target: {text}"
        );
    }
    let deps: Vec<&str> = deps.split(' ').collect();
    assert_eq!(
        deps,
        [
            "profiles/yocto.toml",
            "profiles/network.toml",
            "profiles/default.toml",
            "profiles/yocto-busybox.links"
        ]
    );
}

#[test]
fn noop_regeneration_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let dep = tmp.path().join("out.d");
    let gen = || {
        let o = run(scgen()
            .args(["gen", "--profile"])
            .arg(default_profile())
            .arg("--out")
            .arg(&out)
            .arg("--depfile")
            .arg(&dep));
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    gen();
    let before = stamps(tmp.path());
    std::thread::sleep(std::time::Duration::from_millis(20));
    let report = gen();
    assert_eq!(
        stamps(tmp.path()),
        before,
        "a no-op regeneration rewrote files"
    );
    assert_eq!(
        report.matches("unchanged").count(),
        scgen::contract::ALL.len(),
        "{report}"
    );
}

#[test]
fn concurrent_gens_into_one_directory_all_end_correct() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let children: Vec<_> = (0..6)
        .map(|_| {
            scgen()
                .args(["gen", "--profile"])
                .arg(default_profile())
                .arg("--out")
                .arg(&out)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "temp files left: {names:?}"
    );
    let o = Gen::new()
        .check()
        .profile(default_profile())
        .out(&out)
        .run();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn regeneration_as_another_user_gives_the_same_bytes() {
    if !(is_root() && have("setpriv")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    for profile in shipped_profiles() {
        let name = profile.file_stem().unwrap().to_string_lossy().into_owned();
        let out = tmp.path().join(&name);
        let o = run(std::process::Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                env!("CARGO_BIN_EXE_scgen"),
                "gen",
                "--profile",
            ])
            .arg(&profile)
            .arg("--out")
            .arg(&out)
            .env_remove("SOURCE_DATE_EPOCH"));
        assert!(o.status.success(), "as nobody: {}", stderr(&o));
        assert_eq!(
            std::fs::metadata(out.join("SHA256SUMS")).unwrap().uid(),
            65534,
            "did not run as nobody"
        );
        for entry in std::fs::read_dir(root().join("generated").join(&name)).unwrap() {
            let entry = entry.unwrap();
            let mine = std::fs::read(out.join(entry.file_name())).unwrap();
            assert!(
                mine == std::fs::read(entry.path()).unwrap(),
                "{} differs as nobody",
                entry.path().display()
            );
        }
    }
}

#[test]
fn exit_codes_tell_failures_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let o = Gen::new().out(file.join("sub")).run();
    assert_eq!(
        o.status.code(),
        Some(code::CANT_CREATE),
        "cannot create: {}",
        stderr(&o)
    );
    let o = Gen::new()
        .out(tmp.path().join("x"))
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .run();
    assert_eq!(o.status.code(), Some(code::CONFIG), "{}", stderr(&o));
    assert!(stderr(&o).contains("SOURCE_DATE_EPOCH"));
    let o = run(scgen().args([
        "gen",
        "--out",
        "x",
        "--profile",
        "a.toml",
        "--profile",
        "b.toml",
    ]));
    assert_eq!(o.status.code(), Some(code::USAGE), "{}", stderr(&o));
    let o = Gen::new().profile(tmp.path().join("missing.toml")).run();
    assert_eq!(o.status.code(), Some(code::CONFIG), "{}", stderr(&o));
    let o = run(scgen().args(["frobnicate"]));
    assert_eq!(o.status.code(), Some(code::USAGE));
}

/// `container.idmap` is written in the profile's dialect: `lxc.idmap` for
/// LXC >= 3, `lxc.id_map` for LXC 2 (lxc-update-config's rename), one line
/// per entry in the profile's order; without the key there is none.
#[test]
fn idmap_is_written_in_the_dialects_key() {
    let tmp = tempfile::tempdir().unwrap();
    let map = "container.idmap=[\"u 0 100000 65536\", \"g 0 200000 65536\"]";
    for (dialect, key, other) in [
        ("lxc3", "lxc.idmap", "lxc.id_map"),
        ("lxc2", "lxc.id_map", "lxc.idmap"),
    ] {
        let out = tmp.path().join(dialect);
        Gen::new()
            .set(&format!("lxc.dialect={dialect}"))
            .set(map)
            .out(&out)
            .ok();
        let conf = std::fs::read_to_string(out.join("softwarecontainer.conf")).unwrap();
        let lines: Vec<&str> = conf.lines().filter(|l| l.contains("map = ")).collect();
        assert_eq!(
            lines,
            [
                format!("{key} = u 0 100000 65536"),
                format!("{key} = g 0 200000 65536")
            ],
            "{dialect}:\n{conf}"
        );
        assert!(!conf.contains(&format!("{other} =")), "{dialect}:\n{conf}");
    }
    // The lxc3 default is id-mapped; `[]` is the explicit privileged choice.
    let out = tmp.path().join("default");
    Gen::new().out(&out).ok();
    let conf = std::fs::read_to_string(out.join("softwarecontainer.conf")).unwrap();
    assert!(
        conf.contains("lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n"),
        "{conf}"
    );
    let out = tmp.path().join("none");
    Gen::new().out(&out).set("container.idmap=[]").ok();
    let conf = std::fs::read_to_string(out.join("softwarecontainer.conf")).unwrap();
    assert!(!conf.contains("map = "), "{conf}");
}

/// Copies shipped profiles into `dir/profiles/` (their `extends` included),
/// so a run there writes `dir/generated/`.
fn profiles_in(dir: &Path, names: &[&str]) {
    std::fs::create_dir_all(dir.join("profiles")).unwrap();
    for n in names {
        std::fs::copy(
            root().join("profiles").join(n),
            dir.join("profiles").join(n),
        )
        .unwrap();
    }
}

/// The CI gate as docs/cli.md and docs/internals.md write it: one `--profile` followed by a
/// shell glob's many files. `--check` lists only what is stale, the diff,
/// and one command that fixes all of it, which then does.
#[test]
fn check_takes_a_glob_lists_only_the_stale_and_one_command_fixes_all() {
    let tmp = tempfile::tempdir().unwrap();
    let names = ["default.toml", "upstream-agent.toml", "network.toml"];
    profiles_in(tmp.path(), &names);
    let mut globbed: Vec<String> = names.iter().map(|n| format!("profiles/{n}")).collect();
    globbed.insert(0, "--profile".into());
    let gen = |extra: &[&str]| {
        run(scgen()
            .current_dir(tmp.path())
            .arg("gen")
            .args(extra)
            .args(&globbed))
    };
    let o = gen(&["--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "", "--quiet printed");
    let o = gen(&["--check"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        (String::from_utf8_lossy(&o.stdout).into_owned(), stderr(&o)),
        (String::new(), String::new()),
        "a clean check is silent"
    );

    let conf = tmp.path().join("generated/network/softwarecontainer.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, text.replace("lxcbr0", "br9")).unwrap();
    std::fs::remove_file(tmp.path().join("generated/upstream-agent/stage.toml")).unwrap();
    let o = gen(&["--check"]);
    assert_eq!(o.status.code(), Some(code::STALE), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "    stale generated/upstream-agent/stage.toml\n    stale generated/network/softwarecontainer.conf\n"
    );
    let err = stderr(&o);
    ensure_file_contents(
        &root().join("tests/cli-output/gen_check_stale.stderr"),
        err.as_bytes(),
    );
    let fix = "scgen gen --profile profiles/upstream-agent.toml --profile profiles/network.toml";
    assert_eq!(err.matches("help:").count(), 1, "{err}");
    assert!(
        err.contains(&format!("help: regenerate with `{fix}`")),
        "{err}"
    );
    assert!(!err.contains("cargo") && !err.contains("BLESS"), "{err}");
    let o = run(scgen().current_dir(tmp.path()).args(fix.split(' ').skip(1)));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = gen(&["--check"]);
    assert!(
        o.status.success(),
        "the hint did not fix it: {}",
        stderr(&o)
    );

    // --quiet silences the report, never an error.
    let o = run(scgen().current_dir(tmp.path()).args([
        "gen",
        "--quiet",
        "--profile",
        "profiles/missing.toml",
    ]));
    assert_eq!(o.status.code(), Some(code::CONFIG));
    assert!(stderr(&o).contains("cannot read profile"), "{}", stderr(&o));
}

/// The `lxc.mount.entry` and `lxc.mount.auto` lines of a generated config.
fn mount_lines(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out.join("softwarecontainer.conf"))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("lxc.mount."))
        .map(String::from)
        .collect()
}

/// Issue 22: a profile that extends the default and adds one bind kept
/// only that bind, and `/bin/iptables` broke with `/lib` gone. Lists now
/// add to the inherited ones (with or without `extends`), an entry with an
/// inherited identity replaces that entry in place, and dropping the
/// inherited entries takes `[]` or `replace`.
#[test]
fn lists_add_to_inherited_entries_and_drop_them_only_on_purpose() {
    let tmp = tempfile::tempdir().unwrap();
    profiles_in(tmp.path(), &["default.toml", "network.toml"]);
    let gen = |name: &str, text: &str, sets: &[&str]| -> Vec<String> {
        let path = tmp.path().join("profiles").join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = tmp.path().join("out").join(name);
        sets.iter()
            .fold(Gen::new().profile(&path).out(&out), |g, s| g.set(s))
            .ok();
        mount_lines(&out)
    };
    let one_bind = "[[mounts]]\nsource = \"/srv/data\"\ntarget = \"srv/data\"\n";
    let base = gen("base", "extends = \"network.toml\"\n", &[]);
    let usr = "lxc.mount.entry = /usr usr none ro,bind 0 0";
    let lib = "lxc.mount.entry = /lib lib none ro,bind 0 0";
    let srv = "lxc.mount.entry = /srv/data srv/data none ro,bind 0 0";
    assert!(
        base.contains(&usr.to_string()) && base.contains(&lib.to_string()),
        "{base:#?}"
    );

    for (name, text) in [
        (
            "extends_file",
            format!("extends = \"network.toml\"\n{one_bind}"),
        ),
        (
            "extends_builtin",
            format!("extends = \"default\"\n{one_bind}"),
        ),
        ("no_extends", one_bind.to_string()),
    ] {
        let lines = gen(name, &text, &[]);
        let at = |l: &str| lines.iter().position(|x| x == l);
        assert!(
            at(usr) < at(lib) && at(lib).is_some() && at(srv) > at(lib),
            "{name}: inherited binds lost or reordered:\n{lines:#?}"
        );
    }
    // Same target: replaces the inherited bind in place.
    let lines = gen(
        "same_target",
        "extends = \"network.toml\"\n[[mounts]]\nsource = \"/opt/lib\"\ntarget = \"lib\"\n",
        &[],
    );
    let want_lib = "lxc.mount.entry = /opt/lib lib none ro,bind 0 0";
    assert_eq!(
        lines.iter().filter(|l| l.contains(" lib none")).count(),
        1,
        "{lines:#?}"
    );
    assert_eq!(
        lines.iter().position(|l| l == want_lib),
        Some(2),
        "{lines:#?}"
    );
    // A token's family: `proc:mixed` replaces `proc`, `sys` stays.
    let lines = gen("auto", "[container]\nmount-auto = [\"proc:mixed\"]\n", &[]);
    assert_eq!(lines[0], "lxc.mount.auto = proc:mixed sys", "{lines:#?}");
    // On purpose: the old "replaced whole", and an empty list.
    let lines = gen(
        "replace",
        &format!("replace = [\"mounts\"]\n{one_bind}"),
        &[],
    );
    assert!(!lines.iter().any(|l| l == usr || l == lib), "{lines:#?}");
    assert!(lines.iter().any(|l| l == srv), "{lines:#?}");
    let lines = gen("empty", "mounts = []\n", &[]);
    assert!(!lines.iter().any(|l| l == usr || l == lib), "{lines:#?}");
    // `--set` is a layer like any other: it adds, and `[]` empties.
    let lines = gen(
        "set",
        "",
        &["mounts=[{source = \"/srv/data\", target = \"srv/data\"}]"],
    );
    assert!(
        lines.iter().any(|l| l == usr) && lines.iter().any(|l| l == srv),
        "{lines:#?}"
    );
    let conf = |name: &str| {
        std::fs::read_to_string(
            tmp.path()
                .join("out")
                .join(name)
                .join("softwarecontainer.conf"),
        )
        .unwrap()
    };
    gen(
        "idmap",
        "[container]\nidmap = [\"u 0 100000 65536\", \"g 0 100000 65536\"]\n",
        &[],
    );
    assert!(conf("idmap").contains("lxc.idmap = u 0 100000 65536"));
    // An inherited map is replaced entry by entry (same kind, same
    // container id), and `[]` turns it off.
    gen(
        "idmap_child",
        "extends = \"idmap.toml\"\n[container]\nidmap = [\"u 0 200000 65536\", \"g 0 200000 65536\"]\n",
        &[],
    );
    assert!(
        conf("idmap_child")
            .contains("lxc.idmap = u 0 200000 65536\nlxc.idmap = g 0 200000 65536\n"),
        "{}",
        conf("idmap_child")
    );
    gen(
        "idmap_off",
        "extends = \"idmap.toml\"\n",
        &["container.idmap=[]"],
    );
    assert!(
        !conf("idmap_off").contains("lxc.idmap"),
        "{}",
        conf("idmap_off")
    );
}

/// `scgen init` is a profile to start from: as printed, it is the built-in
/// default (the same artifacts, byte for byte, as `generated/default/`),
/// and `extends = "default"` names that default without a file.
#[test]
fn init_prints_a_profile_that_is_the_default() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(scgen().arg("init"));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.lines().filter(|l| l.starts_with("# ")).count() > 100,
        "init is not commented:\n{text}"
    );
    let path = tmp.path().join("default.toml");
    std::fs::write(&path, &text).unwrap();
    let o = Gen::new()
        .check()
        .profile(&path)
        .out(root().join("generated/default"))
        .run();
    assert!(
        o.status.success(),
        "init differs from the default: {}",
        stderr(&o)
    );
    // Every profile starts from the built-in default: two lines are
    // profiles/network.toml, and so is `extends = "default"` with them.
    for text in [
        "[network]\ngateway = true\n",
        "extends = \"default\"\n[network]\ngateway = true\n",
    ] {
        let path = tmp.path().join("network.toml");
        std::fs::write(&path, text).unwrap();
        let o = Gen::new()
            .check()
            .profile(&path)
            .out(root().join("generated/network"))
            .run();
        assert!(o.status.success(), "{text:?}: {}", stderr(&o));
    }
    // Uncommented, every example value is one the loader takes.
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(kv) if kv.contains(" = ") && !kv.starts_with("cap-drop") => kv,
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, uncommented.replace("extends = \"default\"\n", "")).unwrap();
    let o = Gen::new().profile(&path).out(tmp.path().join("x")).run();
    assert!(
        !stderr(&o).contains("invalid type") && !stderr(&o).contains("unknown key"),
        "an example has the wrong type: {}",
        stderr(&o)
    );
}

/// `profile show`: the merged profile with the layer that set each value
/// (issue 22 item 5: which of the layers set `network.gateway`?). The
/// text loads back to the same artifacts; the JSON names file and line.
#[test]
fn profile_show_prints_the_merged_profile_and_where_each_value_came_from() {
    let show = |args: &[&str]| {
        let o = run(scgen()
            .current_dir(root())
            .args(["profile", "show"])
            .args(args));
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let text = show(&[
        "--profile",
        "profiles/yocto.toml",
        "--origin",
        "--set",
        "network.bridge=br1",
    ]);
    ensure_file_contents(
        &root().join("tests/cli-output/profile_show_origin.toml"),
        text.as_bytes(),
    );
    for line in [
        "gateway = true  # profiles/network.toml:6",
        "prefix = \"/usr\"  # profiles/yocto.toml:8",
        "bridge = \"br1\"  # --set network.bridge=\"br1\"",
        "uts-name = \"contained\"  # profiles/default.toml:23",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    let builtin = show(&["--origin"]);
    for line in [
        "uts-name = \"contained\"  # built-in profiles/default.toml:23",
        "[[mounts]]  # built-in profiles/default.toml:",
    ] {
        assert!(builtin.contains(line), "{line} missing:\n{builtin}");
    }

    // Without --origin: a profile that gives the same artifacts.
    let tmp = tempfile::tempdir().unwrap();
    let plain = show(&["--profile", "profiles/network.toml"]);
    assert!(
        !plain.contains("  # "),
        "origins without --origin:\n{plain}"
    );
    std::fs::write(tmp.path().join("network.toml"), &plain).unwrap();
    let o = Gen::new()
        .check()
        .profile(tmp.path().join("network.toml"))
        .out(root().join("generated/network"))
        .run();
    assert!(o.status.success(), "{}", stderr(&o));

    // A profile that drops inherited binds shows lists that stand alone.
    let only = tmp.path().join("only.toml");
    std::fs::write(
        &only,
        "replace = [\"mounts\"]\n[[mounts]]\nsource = \"/srv\"\ntarget = \"srv\"\n",
    )
    .unwrap();
    let shown = show(&["--profile", only.to_str().unwrap()]);
    std::fs::write(tmp.path().join("shown.toml"), &shown).unwrap();
    let conf = |name: &str| {
        let out = tmp.path().join(format!("out-{name}"));
        Gen::new()
            .profile(tmp.path().join(format!("{name}.toml")))
            .out(&out)
            .ok();
        mount_lines(&out)
    };
    assert_eq!(conf("only"), conf("shown"), "{shown}");
    let json: serde_json::Value = serde_json::from_str(&show(&[
        "--profile",
        "profiles/network.toml",
        "--origin",
        "--format",
        "json",
    ]))
    .unwrap();
    let gateway = json
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "network.gateway")
        .expect("network.gateway listed");
    assert_eq!(
        gateway["origin"],
        serde_json::json!({"layer": "profile", "file": "profiles/network.toml", "line": 6})
    );
    assert_eq!(gateway["value"], true);
    let json: serde_json::Value = serde_json::from_str(&show(&["--format", "json"])).unwrap();
    assert_eq!(json["network"]["gateway"], false, "{json}");
    // A bad profile is refused as `gen` refuses it.
    let o = run(scgen().current_dir(root()).args([
        "profile",
        "show",
        "--profile",
        "tests/bad-profiles/prefix_root.toml",
    ]));
    assert_eq!(o.status.code(), Some(code::CONFIG));
}
