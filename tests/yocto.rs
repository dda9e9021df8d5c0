//! The Yocto integration without BitBake: the shell functions of
//! `yocto/classes/scgen.bbclass` (and of `busybox_%.bbappend`) are cut out
//! of the files and run with `/bin/sh`, in an environment holding the
//! variables a recipe would have. Those come from a small emulation of
//! BitBake's assignments (`=`, `?=`, `??=`, `+=`) over the class and the
//! example recipe, on top of the values bitbake.conf would give (WORKDIR, D,
//! prefix, datadir, sysconfdir, STAGING_DIR_TARGET, SOURCE_DATE_EPOCH).
//!
//! What this does not test: BitBake's own parsing of the class and recipe,
//! its real PACKAGECONFIG processing (re-implemented here: enabled flags give
//! their first field, the others their second), task ordering and sysroot
//! population (the bbappend's function is run, then its output directory is
//! used as the sysroot), EXPORT_FUNCTIONS, packaging and its QA checks (FILES
//! is only checked to cover every installed file), and the scgen-native
//! recipe, which does not exist yet (the binary under test stands in).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const CLASS: &str = "yocto/classes/scgen.bbclass";
const RECIPE: &str = "yocto/recipes-core/softwarecontainer-rootfs/softwarecontainer-rootfs_1.0.bb";
const BBAPPEND: &str = "yocto/recipes-core/busybox/busybox_%.bbappend";
const EPOCH: &str = "1712345678";

/// A metadata file split into its variable assignments (in order), its
/// varflags and its shell functions.
#[derive(Default)]
struct Meta {
    /// (name, operator, raw value), `inherit` lines as ("inherit", "", class).
    assignments: Vec<(String, String, String)>,
    flags: BTreeMap<String, String>,
    functions: BTreeMap<String, String>,
}

fn parse(path: &str) -> Meta {
    let text = fs::read_to_string(root().join(path)).unwrap();
    let mut meta = Meta::default();
    let mut lines = text.lines();
    let mut logical: Vec<String> = Vec::new();
    while let Some(line) = lines.next() {
        // A shell function: `name () {` up to a `}` alone on its line.
        if let Some(name) = line
            .strip_suffix('{')
            .map(str::trim_end)
            .and_then(|l| l.strip_suffix("()"))
            .map(str::trim)
            .filter(|n| !n.is_empty() && !n.contains(' '))
        {
            let mut body = format!("{name} () {{\n");
            for l in lines.by_ref() {
                body.push_str(l);
                body.push('\n');
                if l == "}" {
                    break;
                }
            }
            meta.functions.insert(name.to_string(), body);
            continue;
        }
        let mut line = line.to_string();
        while line.ends_with('\\') {
            line.pop();
            line.push_str(lines.next().unwrap_or(""));
        }
        logical.push(line);
    }
    for line in logical {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(class) = line.strip_prefix("inherit ") {
            meta.assignments
                .push(("inherit".into(), String::new(), class.trim().into()));
            continue;
        }
        let Some((lhs, value)) = line.split_once('"') else {
            continue;
        };
        let value = value.strip_suffix('"').unwrap_or(value).to_string();
        let lhs = lhs.trim_end();
        let (name, op) = ["??=", "?=", "+=", "="]
            .iter()
            .find_map(|op| lhs.strip_suffix(op).map(|n| (n.trim(), *op)))
            .unwrap_or_else(|| panic!("{path}: cannot read `{line}`"));
        if let Some((var, flag)) = name.split_once('[') {
            meta.flags.insert(format!("{var}[{}", flag), value);
            continue;
        }
        meta.assignments.push((name.into(), op.into(), value));
    }
    meta
}

/// The datastore of one recipe, as far as these tests need it.
struct Store {
    vars: BTreeMap<String, String>,
}

impl Store {
    fn apply(&mut self, m: &Meta, weak: &mut Vec<(String, String)>, classes: &[&Meta]) {
        for (name, op, value) in &m.assignments {
            match op.as_str() {
                "" => {
                    for c in classes {
                        self.apply(c, weak, &[]);
                    }
                }
                "=" => {
                    self.vars.insert(name.clone(), value.clone());
                }
                "?=" => {
                    self.vars.entry(name.clone()).or_insert(value.clone());
                }
                "??=" => weak.push((name.clone(), value.clone())),
                "+=" => {
                    let v = self.vars.entry(name.clone()).or_default();
                    *v = format!("{v} {value}").trim().to_string();
                }
                _ => unreachable!(),
            }
        }
    }

    fn expand(&self, value: &str) -> String {
        let mut out = value.to_string();
        for _ in 0..20 {
            let mut next = String::new();
            let mut rest = out.as_str();
            while let Some(i) = rest.find("${") {
                next.push_str(&rest[..i]);
                let after = &rest[i + 2..];
                let end = after.find('}').expect("unclosed ${");
                let name = &after[..end];
                match self.vars.get(name) {
                    Some(v) if !name.starts_with('@') => next.push_str(v),
                    _ => next.push_str(&rest[i..i + 3 + end]),
                }
                rest = &after[end + 1..];
            }
            next.push_str(rest);
            if next == out {
                break;
            }
            out = next;
        }
        out
    }

    fn get(&self, name: &str) -> String {
        self.expand(self.vars.get(name).map(String::as_str).unwrap_or(""))
    }
}

/// The example recipe's datastore on top of bitbake.conf-like defaults for a
/// WORKDIR below `top`; `overrides` act like local.conf `:pn-` overrides.
fn recipe_store(top: &Path, overrides: &[(&str, &str)]) -> (Store, Meta) {
    let class = parse(CLASS);
    let recipe = parse(RECIPE);
    let workdir = top.join("work");
    let mut store = Store {
        vars: BTreeMap::new(),
    };
    let base: &[(&str, String)] = &[
        ("PN", "softwarecontainer-rootfs".into()),
        ("WORKDIR", workdir.display().to_string()),
        ("S", "${WORKDIR}/${PN}-1.0".into()),
        ("B", "${S}".into()),
        ("D", "${WORKDIR}/image".into()),
        ("prefix", "/usr".into()),
        ("datadir", "${prefix}/share".into()),
        ("bindir", "${prefix}/bin".into()),
        ("sysconfdir", "/etc".into()),
        ("STAGING_DIR_TARGET", "${WORKDIR}/recipe-sysroot".into()),
        ("SOURCE_DATE_EPOCH", EPOCH.into()),
    ];
    for (k, v) in base {
        store.vars.insert(k.to_string(), v.clone());
    }
    let mut weak = Vec::new();
    store.apply(&recipe, &mut weak, &[&class]);
    for (k, v) in weak {
        store.vars.entry(k).or_insert(v);
    }
    for (k, v) in overrides {
        store.vars.insert(k.to_string(), v.to_string());
    }
    // base.bbclass: each PACKAGECONFIG flag gives its enabled or disabled
    // arguments to PACKAGECONFIG_CONFARGS.
    let enabled: Vec<String> = store
        .get("PACKAGECONFIG")
        .split_whitespace()
        .map(String::from)
        .collect();
    let mut confargs = Vec::new();
    for (flag, value) in &class.flags {
        let Some(feature) = flag
            .strip_prefix("PACKAGECONFIG[")
            .and_then(|f| f.strip_suffix(']'))
        else {
            continue;
        };
        let fields: Vec<&str> = value.split(',').collect();
        let i = if enabled.iter().any(|e| e == feature) {
            0
        } else {
            1
        };
        if !fields[i].is_empty() {
            confargs.push(fields[i].to_string());
        }
    }
    store
        .vars
        .insert("PACKAGECONFIG_CONFARGS".into(), confargs.join(" "));
    (store, class)
}

/// Runs shell functions as a BitBake task: `/bin/sh`, `set -e`, the bb*
/// logging functions, the task's directory, every variable exported.
fn run_task(store: &Store, meta: &Meta, function: &str, dir: &Path) -> Output {
    fs::create_dir_all(dir).unwrap();
    let mut script = String::from(
        "set -e\n\
         bbnote() { echo \"NOTE: $*\"; }\n\
         bbwarn() { echo \"WARNING: $*\" >&2; }\n\
         bbfatal() { echo \"ERROR: $*\" >&2; exit 1; }\n",
    );
    for body in meta.functions.values() {
        script.push_str(body);
    }
    script.push_str(function);
    script.push('\n');
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_scgen")).parent().unwrap();
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(&script)
        .current_dir(dir)
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()));
    for name in store.vars.keys() {
        if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            cmd.env(name, store.get(name));
        }
    }
    run(&mut cmd)
}

/// A fake target busybox, split like BUSYBOX_SPLIT_SUID = "1": its image
/// directory holds busybox.links.{nosuid,suid}; the bbappend's function
/// stages them into a sysroot-destdir, which becomes the recipe sysroot.
fn stage_busybox(top: &Path, sysroot: &Path) {
    let image = top.join("busybox/image");
    fs::create_dir_all(image.join("etc")).unwrap();
    fs::write(
        image.join("etc/busybox.links.nosuid"),
        "/bin/sh\n/bin/env\n/bin/sleep\n/bin/true\n/usr/bin/nosuid-only\n",
    )
    .unwrap();
    fs::write(image.join("etc/busybox.links.suid"), "/bin/ping\n/bin/su\n").unwrap();
    fs::write(image.join("etc/inittab"), "not staged\n").unwrap();
    let append = parse(BBAPPEND);
    let store = Store {
        vars: BTreeMap::from([
            ("D".to_string(), image.display().to_string()),
            ("SYSROOT_DESTDIR".to_string(), sysroot.display().to_string()),
            ("sysconfdir".to_string(), "/etc".to_string()),
        ]),
    };
    let o = run_task(&store, &append, "scgen_stage_busybox_links", top);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(sysroot.join("etc/busybox.links.suid").is_file());
    assert!(sysroot.join("etc/busybox.links.nosuid").is_file());
    assert!(!sysroot.join("etc/inittab").exists(), "staged all of /etc");
}

struct Built {
    _tmp: tempfile::TempDir,
    store: Store,
    compile: Output,
    install: Option<Output>,
}

impl Built {
    fn d(&self, path: &str) -> PathBuf {
        PathBuf::from(format!("{}{path}", self.store.get("D")))
    }
    fn read(&self, path: &str) -> String {
        fs::read_to_string(self.d(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }
}

/// do_unpack (the recipe's profile into UNPACKDIR), the busybox staging,
/// do_compile and, if it worked, do_install.
fn build(overrides: &[(&str, &str)], with_busybox: bool) -> Built {
    let tmp = tempfile::tempdir().unwrap();
    let (store, class) = recipe_store(tmp.path(), overrides);
    let unpack = PathBuf::from(store.get("UNPACKDIR"));
    fs::create_dir_all(&unpack).unwrap();
    fs::copy(
        root().join("yocto/recipes-core/softwarecontainer-rootfs/files/softwarecontainer.toml"),
        unpack.join("softwarecontainer.toml"),
    )
    .unwrap();
    if with_busybox {
        stage_busybox(tmp.path(), Path::new(&store.get("STAGING_DIR_TARGET")));
    }
    let b = PathBuf::from(store.get("B"));
    let compile = run_task(&store, &class, "scgen_do_compile", &b);
    let install = compile
        .status
        .success()
        .then(|| run_task(&store, &class, "scgen_do_install", &b));
    Built {
        _tmp: tmp,
        store,
        compile,
        install,
    }
}

fn assert_ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn recipe_defaults_install_the_tree_with_the_gateway_and_busybox_applets() {
    let b = build(&[], true);
    assert_ok(&b.compile, "do_compile");
    assert_ok(b.install.as_ref().unwrap(), "do_install");
    assert_eq!(
        b.store.get("PACKAGECONFIG_CONFARGS"),
        "--set network.gateway=true"
    );
    assert_eq!(
        b.store.get("B"),
        format!("{}/build", b.store.get("WORKDIR"))
    );

    // The tree, as the CMake rules install it, with the modes.
    let out = PathBuf::from(b.store.get("SCGEN_OUT"));
    let dropin = b.d("/usr/share/softwarecontainer/lxc-templates/lxc-softwarecontainer");
    assert_eq!(mode(&dropin), 0o755);
    assert_eq!(
        fs::read(&dropin).unwrap(),
        fs::read(out.join("lxc-softwarecontainer")).unwrap()
    );
    let conf = b.read("/etc/softwarecontainer/softwarecontainer.conf");
    assert_eq!(
        conf,
        fs::read_to_string(out.join("softwarecontainer.conf")).unwrap()
    );
    for a in b.store.get("SCGEN_ARTIFACTS").split_whitespace() {
        let p = b.d(&format!("/usr/share/softwarecontainer/scgen/{a}"));
        assert_eq!(fs::read(&p).unwrap(), fs::read(out.join(a)).unwrap(), "{a}");
        let want = if a == "lxc-softwarecontainer" {
            0o755
        } else {
            0o644
        };
        assert_eq!(mode(&p), want, "{a}");
    }

    // install.prefix=${prefix}: the drop-in finds scgen and the artifacts.
    let dropin = fs::read_to_string(&dropin).unwrap();
    assert!(dropin.contains("'/usr/bin/scgen'"), "{dropin}");
    assert!(
        dropin.contains("'/usr/share/softwarecontainer/scgen'"),
        "{dropin}"
    );

    // PACKAGECONFIG networkgateway (the recipe's default).
    let pairs = config_pairs(&conf);
    let net: Vec<_> = pairs
        .iter()
        .filter(|(k, _)| k.starts_with("lxc.net.0."))
        .collect();
    assert_eq!(net.len(), 3, "{conf}");
    assert!(conf.contains("lxc.net.0.link = lxcbr0"), "{conf}");
    let mtree = b.read("/usr/share/softwarecontainer/scgen/rootfs.mtree");
    assert!(mtree.contains("\n./bin/iptables type=file"), "{mtree}");
    assert!(b
        .read("/usr/share/softwarecontainer/scgen/stage.toml")
        .contains("iptables = true"));

    // The applets are both split lists of the staged busybox, in bin/.
    for applet in ["sh", "env", "sleep", "true", "ping", "su", "nosuid-only"] {
        assert!(
            mtree.contains(&format!("\n./bin/{applet} type=link")),
            "{applet} missing:\n{mtree}"
        );
    }
    assert!(b
        .read("/usr/share/softwarecontainer/scgen/stage.toml")
        .contains("applets-at-stage = false"));
    // SOURCE_DATE_EPOCH is every mtime of the skeleton.
    assert!(mtree.contains(&format!("time={EPOCH}.0")));
    assert!(!mtree.contains(&format!("time={}.0", scgen::DEFAULT_EPOCH)));

    // FILES:${PN} covers every installed file; CONFFILES names one of them.
    let files = b.store.get("FILES:${PN}");
    let installed: Vec<String> = walkdir::WalkDir::new(b.store.get("D"))
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            e.path()
                .strip_prefix(b.store.get("D"))
                .unwrap()
                .display()
                .to_string()
        })
        .map(|p| format!("/{p}"))
        .collect();
    assert_eq!(installed.len(), 8, "{installed:#?}");
    for f in &installed {
        assert!(
            files
                .split_whitespace()
                .any(|pat| f == pat || f.starts_with(&format!("{pat}/"))),
            "{f} is not in FILES:${{PN}} = {files}"
        );
    }
    for c in b.store.get("CONFFILES:${PN}").split_whitespace() {
        assert!(
            installed.iter().any(|f| f == c),
            "CONFFILES {c} not installed"
        );
    }
}

#[test]
fn packageconfig_without_networkgateway_drops_the_network() {
    let b = build(&[("PACKAGECONFIG", "")], true);
    assert_ok(&b.compile, "do_compile");
    assert_ok(b.install.as_ref().unwrap(), "do_install");
    assert_eq!(
        b.store.get("PACKAGECONFIG_CONFARGS"),
        "--set network.gateway=false"
    );
    let conf = b.read("/etc/softwarecontainer/softwarecontainer.conf");
    assert!(!conf.contains("lxc.net."), "{conf}");
    let mtree = b.read("/usr/share/softwarecontainer/scgen/rootfs.mtree");
    assert!(!mtree.contains("./bin/iptables"), "{mtree}");
    assert!(b
        .read("/usr/share/softwarecontainer/scgen/stage.toml")
        .contains("iptables = false"));
}

#[test]
fn networkgateway_pulls_iptables_onto_the_device() {
    let class = parse(CLASS);
    let fields: Vec<String> = class.flags["PACKAGECONFIG[networkgateway]"]
        .split(',')
        .map(String::from)
        .collect();
    assert_eq!(fields.get(3).map(String::as_str), Some("iptables"));
}

#[test]
fn missing_busybox_links_fail_with_a_hint() {
    let b = build(&[], false);
    assert!(!b.compile.status.success());
    let err = String::from_utf8_lossy(&b.compile.stderr);
    assert!(err.contains("busybox_%.bbappend"), "{err}");
    assert!(err.contains("SCGEN_BUSYBOX_LINKS"), "{err}");
}

#[test]
fn empty_links_list_leaves_the_applets_to_the_stage() {
    let b = build(&[("SCGEN_BUSYBOX_LINKS", "")], false);
    assert_ok(&b.compile, "do_compile");
    assert!(b
        .read("/usr/share/softwarecontainer/scgen/stage.toml")
        .contains("applets-at-stage = true"));
    assert!(!Path::new(&b.store.get("B")).join("busybox.links").exists());
}
