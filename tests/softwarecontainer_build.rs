//! SoftwareContainer's own build with scgen's patch
//! (`integration/softwarecontainer/softwarecontainer-scgen.patch`): the
//! patch applies cleanly to the fixture's source, and the patched build
//! (ENABLE_NETWORKGATEWAY=ON, through `common::softwarecontainer`, cached
//! under `target/softwarecontainer/`) installs scgen's drop-in at the
//! template path compiled into the agent, scgen's config with the network
//! block the option asks for, and the artifacts where the drop-in
//! finds them. The OFF mapping is tested without SoftwareContainer in
//! `tests/cmake.rs`.
//!
//! Needs the build tools of the fixture README (`.ci/deps`); skipped
//! locally without them, fails under `CI=true`.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::softwarecontainer as sc;
use common::*;

use scgen::contract::ALL as ARTIFACTS;

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The value of `key = value` in an agent or LXC config.
fn value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim())
    })
}

/// `git apply --check` and `patch --dry-run` with no fuzz both take the
/// patch as it is: it applies to the fixture's tree without offsets.
#[test]
fn patch_applies_cleanly_to_the_fixture() {
    if !(sc::tools_ready() && have("git")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let o = run(Command::new("tar")
        .arg("-xzf")
        .arg(sc::fixture_dir().join("softwarecontainer-13fd268e6.tar.gz"))
        .arg("-C")
        .arg(tmp.path()));
    assert!(o.status.success(), "{o:?}");
    let src = tmp.path().join("softwarecontainer");
    let patch = sc::scgen_patch();

    let o = run(Command::new("git")
        .args(["apply", "--check", "-p1"])
        .arg(&patch)
        .current_dir(&src));
    assert!(o.status.success(), "git apply --check: {o:?}");

    let o = run(Command::new("patch")
        .args(["-p1", "--fuzz=0", "--forward", "--batch", "-i"])
        .arg(&patch)
        .current_dir(&src));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "patch -p1: {out}");
    assert!(
        !out.contains("offset") && !out.contains("fuzz"),
        "the patch needs refreshing against the fixture:\n{out}"
    );
    // What the patch is for: no configure_file of the template or config
    // is left, and scgen_generate installs in their place.
    let cml = read(&src.join("libsoftwarecontainer/CMakeLists.txt"));
    assert!(!cml.contains("configure_file(lxc-softwarecontainer.in"));
    assert!(!cml.contains("configure_file(softwarecontainer.conf.in"));
    assert!(cml.contains("SOFTWARECONTAINER INSTALL"), "{cml}");
    assert!(src
        .join("libsoftwarecontainer/softwarecontainer.toml")
        .is_file());

    // The agent patch series, after it, in name order: each a `git
    // format-patch` mail with its reason, applying with no fuzz.
    for p in sc::agent_series() {
        let text = read(&p);
        assert!(
            text.starts_with("From ") && text.contains("\nSubject: [PATCH"),
            "{}: not a git format-patch mail",
            p.display()
        );
        // OE-Core's do_patch refuses a patch without it (meta-scgen's
        // SoftwareContainer recipe applies the series).
        assert!(
            text.contains("\nUpstream-Status: "),
            "{}: no Upstream-Status line",
            p.display()
        );
        let o = run(Command::new("patch")
            .args(["-p1", "--fuzz=0", "--forward", "--batch", "-i"])
            .arg(&p)
            .current_dir(&src));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{}: {out}", p.display());
        assert!(
            !out.contains("offset") && !out.contains("fuzz"),
            "{} needs refreshing against the fixture:\n{out}",
            p.display()
        );
    }
    // What the series is for, in the source it built from.
    let container = read(&src.join("libsoftwarecontainer/src/container.cpp"));
    assert!(container.contains("options.attach_flags &= ~LXC_ATTACH_DROP_CAPABILITIES;"));
    assert!(
        container.contains("MS_REMOUNT | MS_RDONLY | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC")
    );
}

/// The patched SoftwareContainer, built and installed into its prefix.
#[test]
fn patched_build_installs_scgens_template_and_config() {
    if !sc::tools_ready() {
        return;
    }
    let t = Instant::now();
    let inst = sc::build(&sc::scgen_patched(true));
    eprintln!("patched SoftwareContainer ready in {:.1?}", t.elapsed());
    let prefix = &inst.prefix;
    let artifacts = inst.datadir().join("softwarecontainer/scgen");

    // scgen ran inside SoftwareContainer's build, and CMake had nothing to
    // warn about (the build log stays beside the prefix).
    let log = read(&prefix.parent().unwrap().join("build.log"));
    assert!(
        log.contains("scgen: generating softwarecontainer into"),
        "{log}"
    );
    assert!(!log.contains("CMake Warning"), "{log}");

    // The artifacts, byte for byte what `scgen gen` makes of the
    // shipped network profile under the patch profile's name, with the
    // install dirs of the build: the patch's profile is scgen's default
    // and ENABLE_NETWORKGATEWAY=ON, SC_BRIDGE_DEVICE and the install dirs
    // reached it, nothing else.
    let want = tempfile::tempdir().unwrap();
    let profiles = want.path().join("profiles");
    fs::create_dir(&profiles).unwrap();
    fs::copy(
        root().join("profiles/default.toml"),
        profiles.join("default.toml"),
    )
    .unwrap();
    fs::copy(
        root().join("profiles/network.toml"),
        profiles.join("softwarecontainer.toml"),
    )
    .unwrap();
    let out = want.path().join("out");
    Gen::new()
        .profile(profiles.join("softwarecontainer.toml"))
        .out(&out)
        .set(&format!("install.prefix={}", prefix.display()))
        .set(&format!("install.bindir={}", inst.bindir().display()))
        .set(&format!("install.datadir={}", inst.datadir().display()))
        .ok();
    for a in ARTIFACTS {
        assert!(
            fs::read(artifacts.join(a)).unwrap() == fs::read(out.join(a)).unwrap(),
            "installed {a} is not scgen's network profile with the build's install dirs"
        );
    }

    // SHA256SUMS verifies, as the README tells integrators to check.
    let o = run(Command::new("sha256sum")
        .args(["--strict", "-c", "SHA256SUMS"])
        .current_dir(&artifacts));
    assert!(o.status.success(), "sha256sum -c: {o:?}");

    // The template path is scgen's drop-in, executable, pointing at the
    // installed scgen and artifacts.
    let template = inst.template();
    let mode = fs::metadata(&template).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o755, "{}", template.display());
    let dropin = read(&template);
    assert_eq!(dropin, read(&artifacts.join("lxc-softwarecontainer")));
    assert!(
        dropin.contains(&format!("'{}'", inst.bindir().join("scgen").display())),
        "{dropin}"
    );
    assert!(
        dropin.contains(&format!("'{}'", artifacts.display())),
        "{dropin}"
    );
    assert!(
        !dropin.contains("create_rootfs"),
        "upstream's template:\n{dropin}"
    );

    // The config is scgen's, with the network block of ENABLE_NETWORKGATEWAY
    // on the bridge the agent's own config names.
    let conf = read(&inst.lxc_config());
    assert_eq!(conf, read(&artifacts.join("softwarecontainer.conf")));
    let agent_conf = read(&inst.agent_config());
    let bridge = value(&agent_conf, "bridge-device").expect("bridge-device in the agent config");
    assert_eq!(bridge, "lxcbr0");
    let net: Vec<&str> = conf.lines().filter(|l| l.starts_with("lxc.net.")).collect();
    assert_eq!(
        net,
        [
            "lxc.net.0.type = veth",
            &format!("lxc.net.0.link = {bridge}"),
            "lxc.net.0.name = eth0"
        ]
    );
    // ... and the agent reads it there: the installed agent, started with
    // its installed config, logs the LXC config path it uses and where the
    // value came from (the build's default, not a config file).
    let used = agent_lxc_config(&inst);
    assert_eq!(
        used.as_deref(),
        Some(format!("{}\", from Default values", inst.lxc_config().display()).as_str()),
        "the agent's LXC config is not the installed one"
    );

    // The compiled-in LXCTEMPLATE of libsoftwarecontainer names that
    // drop-in, and no other template.
    let lib = fs::read(prefix.join("lib/libsoftwarecontainer.so")).unwrap();
    let needle = format!("{}\0", template.display()).into_bytes();
    assert!(
        lib.windows(needle.len()).any(|w| w == needle),
        "libsoftwarecontainer.so does not name {}",
        template.display()
    );
    let suffix = b"lxc-templates/lxc-softwarecontainer";
    assert_eq!(
        lib.windows(suffix.len()).filter(|w| w == suffix).count(),
        1,
        "more than one template path in libsoftwarecontainer.so"
    );

    // And the drop-in, as lxc-create runs it, stages a container from the
    // installed artifacts (SCGEN stands in for the scgen the device has at
    // <bindir>/scgen; the artifacts dir is the drop-in's own).
    let env = common::stage::Env::new();
    let path = env.path().join("SC-1");
    let gw = env.path().join("gw");
    fs::create_dir(&gw).unwrap();
    let o = run(Command::new(&template)
        .env("SCGEN", env!("CARGO_BIN_EXE_scgen"))
        .env_remove("SCGEN_ARTIFACTS")
        .env("GATEWAY_DIR", &gw)
        .arg(format!("--path={}", path.display()))
        .arg("--name=SC-1")
        .arg(format!("--rootfs={}", path.join("rootfs").display()))
        .arg("--busybox")
        .arg(env.tool("busybox"))
        .arg("--init-lxc")
        .arg(env.tool("init.lxc"))
        .arg("--iptables")
        .arg(env.tool("iptables"))
        .arg("--resolv-conf")
        .arg(env.path().join("resolv.conf")));
    assert!(o.status.success(), "the installed drop-in failed: {o:?}");
    let config = read(&path.join("config"));
    assert!(config.starts_with(&conf), "{config}");
    assert!(
        config.contains(&format!(
            "lxc.mount.entry = {} bin/iptables none ro,bind 0 0",
            env.tool("iptables").display()
        )),
        "{config}"
    );
}

/// What the installed agent logs for `deprecated-lxc-config-path`: the
/// path (its `//` made `/`) and `", from <source>`. The agent runs with
/// its installed config in its own mount and network namespaces (a tmpfs
/// on `/tmp`, where its shared mounts dir is, and on `/var/lib/lxc`), on a
/// session bus that is not there: it reads its config while it starts, then
/// fails to reach the bus (or is stopped by `timeout`).
fn agent_lxc_config(inst: &sc::Install) -> Option<String> {
    // A scratch /tmp for the agent; the build cache (the agent and the
    // ivi-logging it links), when it lives below /tmp (a checkout there), is
    // bound back through a descriptor opened before.
    let script = "exec 3<\"$PREFIX\" && mount -t tmpfs scgen-test /tmp \
        && case \"$PREFIX\" in /tmp/*) mkdir -p \"$PREFIX\" \
            && mount --no-canonicalize --bind /proc/self/fd/3 \"$PREFIX\";; esac \
        && mkdir -p /var/lib/lxc && mount -t tmpfs scgen-test /var/lib/lxc \
        && exec 3<&- && exec timeout 10 \"$AGENT\" --session-bus";
    let o = run(Command::new("unshare")
        .args([
            "--mount",
            "--net",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
        ])
        .env("AGENT", inst.agent())
        .env(
            "PREFIX",
            inst.prefix
                .parent()
                .and_then(Path::parent)
                .expect("the build cache"),
        )
        .env("LD_LIBRARY_PATH", inst.prefix.join("lib"))
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent"));
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let key = "Using config SoftwareContainer::deprecated-lxc-config-path with value \"";
    let found = log.split_once(key).map(|(_, rest)| {
        let line = rest.lines().next().unwrap_or_default();
        let line = line.split(" | ").next().unwrap_or_default().trim_end();
        line.replace("//", "/")
    });
    if found.is_none() {
        eprintln!("the agent's log:\n{log}");
    }
    found
}
