//! SoftwareContainer's own agent, for real (issue 14): the fixture's
//! SoftwareContainer is built once (`common::softwarecontainer`), scgen's
//! artifacts are installed where docs/softwarecontainer.md says, and one real
//! `softwarecontainer-agent` per test, in its own mount and network
//! namespaces with its own lxcpath and D-Bus daemon (`common::agent`), is
//! driven with `gdbus call --system` through the documented flow:
//! Create, BindMount, Execute, Suspend, Resume, ListCapabilities,
//! SetCapabilities (file, env and, with the network profile, network
//! gateways from `tests/agent/*.json`), Destroy.
//!
//! Everything is asserted on the host, as the agent's mount namespace sees
//! it: the file a command wrote through the bind mount, the one it wrote
//! into `/gateways`, where its rootfs writes landed (the container's own
//! rootfs, or the agent's write buffer), the file gateway's file and the
//! env gateway's variable as a command in the container saw them, `eth0`
//! with an address on the bridge, and nothing left after Destroy.
//!
//! One test per (profile, write buffer): default and overlay with an agent
//! built with `ENABLE_NETWORKGATEWAY=OFF`, network with one built `ON` (a
//! network-enabled agent needs a profile with the gateway on). With `CI`
//! set, a missing tool or root fails them.
//!
//! The flow runs in the default container: id-mapped (the container's
//! root is host uid 100000; its `uid_map` says so and its writes on the
//! host belong to uid 100000), with the agent built with scgen's patch
//! series (`integration/softwarecontainer/agent/`), whose apps keep only
//! the 7 base capabilities (a job's `CapEff` is asserted) while every
//! gateway works. `agent_upstream_*` run upstream's build with
//! `security.agent = "upstream"` and assert its two failures exactly, so
//! that the series is shown to be what fixes them: a write through
//! BindMount with the write buffer on (EACCES: the agent's buffer dir is
//! root's, mode 0700), and the file gateway's read-only remount of a file
//! on a `nodev`/`nosuid` mount (EPERM: the kernel locks those flags on
//! mounts propagated into the container's user namespace, and upstream's
//! remount would clear them). docs/security.md, "Privileges", has the table.

mod common;

use common::agent::{self, Agent, Setup};
use common::softwarecontainer::{self as sc, Variant};
use std::fs;
use std::path::Path;
use std::time::Duration;

/// How long a command the agent started may take to leave its mark.
const MARK: Duration = Duration::from_secs(15);

/// Both builds the agent tests use come from the cache: each installs the
/// agent, the compiled-in template path and the LXC config, and asking
/// again reuses the install (the agent binary is not rewritten).
#[test]
fn softwarecontainer_builds_once_per_variant() {
    if !sc::tools_ready() {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    for on in [false, true] {
        let i = sc::build(&Variant::network(on));
        assert!(i.agent().is_file());
        assert!(i.template().is_file(), "{}", i.template().display());
        assert!(i.lxc_config().is_file(), "{}", i.lxc_config().display());
        assert!(i.policy().is_file());
        assert_eq!(
            i.bindir().join("setup_softwarecontainer.sh").is_file(),
            on,
            "the network script comes with ENABLE_NETWORKGATEWAY=ON only"
        );
        let before = fs::metadata(i.agent()).unwrap();
        let again = sc::build(&Variant::network(on));
        assert_eq!(again.prefix, i.prefix);
        let after = fs::metadata(again.agent()).unwrap();
        assert_eq!(
            (before.ino(), before.mtime(), before.mtime_nsec()),
            (after.ino(), after.mtime(), after.mtime_nsec()),
            "the second build() rebuilt the agent"
        );
    }
}

/// Waits for the file `p` (as the agent sees it) to hold `want`.
fn expect_file(a: &Agent, p: &Path, want: &str, what: &str) {
    match a.wait_for_file(p, MARK) {
        Some(got) => assert_eq!(got, want, "{what}: {}", p.display()),
        None => panic!("{what}: {} did not appear within {MARK:?}", p.display()),
    }
}

/// The upper dir of the overlay the agent mounted for BindMount with the
/// write buffer on, as the agent sees it.
fn wait_for_buffer(a: &Agent, id: i32) -> std::path::PathBuf {
    let root = a.seen(&a.container_root(id));
    let started = std::time::Instant::now();
    loop {
        let found = fs::read_dir(&root).ok().and_then(|d| {
            d.flatten().map(|e| e.path()).find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("bindmount-upper-")
            })
        });
        if let Some(p) = found {
            // Back to the agent's own path: `seen` is applied again by the
            // caller.
            return a.container_root(id).join(p.file_name().unwrap());
        }
        assert!(
            started.elapsed() < MARK,
            "no bindmount-upper-* in {}",
            root.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The interfaces on the test's bridge, in the agent's network namespace.
fn bridge_ports(a: &Agent) -> String {
    let o = common::run(
        std::process::Command::new("nsenter")
            .args(["--target", &a.pid().to_string(), "--net", "--"])
            .args(["ip", "-o", "link", "show", "master", agent::BRIDGE]),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// `lxc-info -s` of `SC-<id>`, asked inside the agent's namespaces.
fn lxc_info(a: &Agent, id: i32) -> std::process::Output {
    common::run(
        std::process::Command::new("nsenter")
            .args(["--target", &a.pid().to_string(), "--mount", "--net", "--"])
            .args(["lxc-info", "-P", "/var/lib/lxc", "-s", "-n"])
            .arg(format!("SC-{id}")),
    )
}

/// The LXC state of `SC-<id>`; a panic unless lxc-info says one.
#[track_caller]
fn lxc_state(a: &Agent, id: i32) -> String {
    let o = lxc_info(a, id);
    let out = String::from_utf8_lossy(&o.stdout);
    match out.trim().strip_prefix("State:") {
        Some(state) if o.status.success() => state.trim().to_string(),
        _ => panic!("lxc-info of SC-{id}: {o:?}"),
    }
}

/// Panics unless lxc-info, in the agent's namespaces, says that `SC-<id>`
/// does not exist (not merely fails).
#[track_caller]
fn assert_lxc_gone(a: &Agent, id: i32) {
    let o = lxc_info(a, id);
    assert!(
        !o.status.success()
            && String::from_utf8_lossy(&o.stderr).contains(&format!("SC-{id} doesn't exist")),
        "SC-{id} still known to LXC: {o:?}"
    );
}

/// The type of the filesystem mounted on `dir` in the agent's mount
/// namespace, if a mount is there.
fn mounted_on(a: &Agent, dir: &Path) -> Option<String> {
    let dir = dir.to_str().unwrap();
    a.mountinfo().lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let point = left.split(' ').nth(4)?;
        (point == dir).then(|| right.split(' ').next().unwrap_or_default().to_string())
    })
}

/// Which agent runs the containers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Build {
    /// scgen's patch series applied: the shipped profiles' agent.
    Patched,
    /// Upstream's agent, with `security.agent = "upstream"` in the profile
    /// (as `profiles/upstream-agent.toml` sets it).
    Upstream,
}

/// The SoftwareContainer build of `b` with the network gateway on or off.
fn install(network: bool, b: Build) -> sc::Install {
    let v = Variant::network(network);
    sc::build(&match b {
        Build::Patched => v.patched(),
        Build::Upstream => v,
    })
}

/// `CapEff` of an app (an Execute'd job): the 7 base capabilities, and
/// with the upstream agent what the enabled gateways need for its steps.
fn app_caps(b: Build, network: bool) -> &'static str {
    match (b, network) {
        // chown dac_override fowner fsetid kill setgid setuid
        (Build::Patched, _) => "00000000000000fb",
        // upstream's iptables is exec'd: + net_admin net_raw
        (Build::Upstream, false) => "00000000000000fb",
        (Build::Upstream, true) => "00000000000030fb",
    }
}

/// The whole documented flow for one profile, with the write buffer on or
/// off, in the default container (id-mapped) with the patched agent.
fn cycle(profile: &str, write_buffer: bool) {
    cycle_with(profile, write_buffer, true, Build::Patched)
}

fn cycle_with(profile: &str, write_buffer: bool, idmap: bool, build: Build) {
    if !agent::ready() {
        return;
    }
    let network = profile == "network";
    let install = install(network, build);
    let mut sets: Vec<&str> = Vec::new();
    if profile == "overlay" {
        sets.push("container.skeleton-store=@S@/store");
    }
    if build == Build::Upstream {
        sets.push("security.agent=upstream");
    }
    let sets = &sets[..];
    let manifests: &[&str] = if network {
        &["gateways.json", "network.json"]
    } else {
        &["gateways.json"]
    };
    let a = Agent::start(&Setup {
        install: &install,
        profile,
        sets,
        manifests,
        idmap,
    });
    let s = a.scratch().to_path_buf();
    if idmap && profile == "overlay" {
        // The stage fills the skeleton as the container's root: its store
        // belongs to the mapped root (docs/guide.md, "Overlay containers").
        let store = s.join("store");
        fs::create_dir(&store).unwrap();
        let root = Some(agent::MAPPED_ROOT);
        std::os::unix::fs::chown(&store, root, root).unwrap();
    }
    let app = s.join("host/app");
    fs::create_dir_all(&app).unwrap();
    if idmap {
        // The container's root is host uid 100000: it writes where that
        // uid may, as any other unprivileged user of the host.
        let root = Some(agent::MAPPED_ROOT);
        std::os::unix::fs::chown(&app, root, root).unwrap();
    }
    fs::write(
        s.join("host/for-the-file-gateway"),
        "from-the-file-gateway\n",
    )
    .unwrap();

    // Create: the drop-in ran (scgen's config in the container dir) and
    // the container runs.
    let id = a.create(&format!("[{{\"writeBufferEnabled\": {write_buffer}}}]"));
    let config = fs::read_to_string(a.seen(&a.lxc_dir(id).join("config")))
        .unwrap_or_else(|e| panic!("no container config: {e}"));
    assert!(
        config.contains("# >>> scgen stage:"),
        "the drop-in did not run scgen stage:\n{config}"
    );
    assert!(
        config.contains("lxc.mount.auto = shmounts:"),
        "no mount tunnel for /gateways:\n{config}"
    );
    // Without the write buffer the overlay profile's container is an
    // overlay on the test's store. With it the rootfs is the agent's own
    // overlay mount, which cannot be an upper dir: the stage makes it a
    // plain `dir:` tree there and says so (docs/softwarecontainer.md, "The write buffer").
    // Without the write buffer the rootfs is bounded (`security.disk-max`):
    // the container's own dir over the skeleton, under the tmpfs's upper.
    if !write_buffer {
        let want = match profile {
            "overlay" => format!(
                "lxc.rootfs.path = overlay:/var/lib/lxc/SC-{id}/rootfs:{}/store/",
                s.display()
            ),
            _ => format!("lxc.rootfs.path = overlay:/var/lib/lxc/SC-{id}/rootfs:/var/lib/lxc/SC-{id}/writes/upper"),
        };
        assert!(config.contains(&want), "not {want}:\n{config}");
        assert!(
            config.contains("lxc.hook.pre-mount = "),
            "no hook for the bound:\n{config}"
        );
    }
    if profile == "overlay" && write_buffer {
        let rootfs = config
            .lines()
            .rfind(|l| l.starts_with("lxc.rootfs.path"))
            .unwrap_or_default();
        assert_eq!(
            rootfs,
            format!("lxc.rootfs.path = dir:/var/lib/lxc/SC-{id}/rootfs"),
            "{config}"
        );
        let log = fs::read_to_string(s.join("agent.log")).unwrap();
        assert!(
            log.contains("plain dir: rootfs"),
            "no note of the stage's plain dir: rootfs in the agent's log:\n{log}"
        );
    }
    assert_eq!(lxc_state(&a, id), "RUNNING");
    // The drop-in's `scgen stage` reported to the agent's output.
    let log = fs::read_to_string(s.join("agent.log")).unwrap();
    assert!(
        log.contains(&format!("staged SC-{id} in /var/lib/lxc/SC-{id}/rootfs")),
        "no report of scgen stage in the agent's log"
    );
    if write_buffer {
        // The buffer's filesystem: the agent mounts a tmpfs on the
        // container root for it. Upstream passes that mount a size it
        // never initialises, so it can fail ("Could not mount tmpfs",
        // logged), and the buffer then is on the shared-mounts dir's
        // filesystem (the scratch dir's, not a tmpfs here): which one
        // happened is asserted. The series (0012) initialises it: always
        // a tmpfs, of the agent's default size, 100485760 bytes (sic; the
        // kernel rounds it up to a page) (docs/softwarecontainer.md, "The
        // write buffer").
        let tmpfs_failed = a
            .errors()
            .iter()
            .any(|e| e.contains("Could not mount tmpfs into directory"));
        let on_root = mounted_on(&a, &a.container_root(id));
        assert_eq!(
            on_root.as_deref(),
            if tmpfs_failed { None } else { Some("tmpfs") },
            "the write buffer's filesystem (the agent logged the tmpfs mount failing: {tmpfs_failed})"
        );
        if build == Build::Patched {
            assert!(
                !tmpfs_failed,
                "the patched agent's buffer tmpfs failed to mount"
            );
            let root = a.seen(&a.container_root(id));
            let st = rustix::fs::statfs(&root).unwrap();
            let bytes = st.f_blocks * st.f_bsize as u64;
            assert!(
                (100_485_760..100_485_760 + 4096).contains(&bytes),
                "the patched agent's buffer tmpfs has {bytes} bytes"
            );
        }
    }
    // The agent's buffer: the upper dir of the overlay it mounts on the
    // rootfs before create(), in the container root. Without it the
    // write goes to the tmpfs of security.disk-max, never to the host.
    let buffer = a.container_root(id).join("rootfs-upper");

    // BindMount, then Execute: through the bind mount, into /gateways, and
    // into the rootfs.
    a.ok(
        "BindMount",
        &[&id.to_string(), app.to_str().unwrap(), "/app", "false"],
    );
    a.execute(
        id,
        "/bin/sh -c '(echo through-the-bind-mount > /app/hello) 2> /gateways/app-error; \
         echo into-gateways > /gateways/hello; \
         echo into-the-rootfs > /written-by-the-container; \
         cat /written-by-the-container > /gateways/rootfs-write; \
         grep CapEff /proc/self/status > /gateways/capeff; \
         cat /proc/self/uid_map > /gateways/uid_map'",
    );
    let gw = a.container_root(id).join("gateways");
    if idmap {
        // The agent made the gateway dir (mkdir 0777 under its umask),
        // owned by the host's root; the stage, as the container's root,
        // still gave it gateways.mode: lxc-create maps the caller into the
        // template's namespace, so root there may chmod it.
        use std::os::unix::fs::MetadataExt;
        let status = fs::read_to_string(format!("/proc/{}/status", a.pid())).unwrap();
        assert!(
            status.contains("Umask:\t0022"),
            "the agent's umask:\n{status}"
        );
        let m = fs::metadata(a.seen(&gw)).unwrap();
        assert_eq!((m.uid(), m.mode() & 0o7777), (0, 0o777), "the gateway dir");
    }
    let uid_map = a
        .wait_for_file(&gw.join("uid_map"), MARK)
        .expect("no uid_map from the container");
    assert_eq!(
        uid_map.split_whitespace().collect::<Vec<_>>().join(" "),
        if idmap {
            "0 100000 65536"
        } else {
            "0 0 4294967295"
        },
        "the container's /proc/self/uid_map"
    );
    // An app keeps none of the gateways' capabilities (patched agent).
    assert_eq!(
        fs::read_to_string(a.seen(&gw.join("capeff"))).unwrap(),
        format!("CapEff:\t{}\n", app_caps(build, network)),
        "an app's capabilities"
    );
    let app_error = fs::read_to_string(a.seen(&gw.join("app-error"))).unwrap();
    let upstream_buffer = idmap && write_buffer && build == Build::Upstream;
    if upstream_buffer {
        // Upstream's write buffer makes its upper dir with mkdtemp: 0700,
        // owned by the host's root. Overlayfs gives the merged dir the
        // upper dir's owner and mode, and the container's root (host uid
        // 100000, the host's root unmapped) may not write there.
        assert!(
            app_error.contains("can't create /app/hello: Permission denied"),
            "a write through BindMount with the write buffer in an id-mapped container: {app_error:?}"
        );
        let upper = wait_for_buffer(&a, id);
        let meta = fs::metadata(a.seen(&upper)).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            (meta.uid(), meta.mode() & 0o7777),
            (0, 0o700),
            "the write buffer's upper dir"
        );
        assert!(!a.seen(&upper.join("hello")).exists());
    } else {
        assert_eq!(app_error, "", "a write through the bind mount failed");
    }
    if upstream_buffer {
        // Asserted above.
    } else if write_buffer {
        // With the write buffer the agent mounts an overlay, not a bind:
        // the host dir is its lower dir, and the write stays in the
        // buffer's upper dir (`<container root>/bindmount-upper-XXXXXX`).
        // Upstream's Destroy does not copy it back (only the rootfs
        // overlay gets an OverlaySyncCleanupHandler), so nothing else is
        // asserted of the host dir.
        let upper = wait_for_buffer(&a, id);
        expect_file(
            &a,
            &upper.join("hello"),
            "through-the-bind-mount\n",
            "a write through the bind mount, in the agent's write buffer",
        );
        // The patched agent gives the buffer to the container's root.
        use std::os::unix::fs::MetadataExt;
        let owner = fs::metadata(a.seen(&upper)).unwrap().uid();
        assert_eq!(owner, if idmap { agent::MAPPED_ROOT } else { 0 });
        assert!(
            !app.join("hello").exists(),
            "the write buffer let a write through to the host dir"
        );
    } else {
        expect_file(
            &a,
            &app.join("hello"),
            "through-the-bind-mount\n",
            "a write through the bind mount",
        );
        assert_eq!(
            fs::read_to_string(app.join("hello")).unwrap(),
            "through-the-bind-mount\n",
            "seen in the test's own mount namespace too"
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            fs::metadata(app.join("hello")).unwrap().uid(),
            if idmap { agent::MAPPED_ROOT } else { 0 },
            "the owner on the host of a file the container's root wrote"
        );
    }
    expect_file(
        &a,
        &a.container_root(id).join("gateways/hello"),
        "into-gateways\n",
        "a write into /gateways",
    );
    expect_file(
        &a,
        &gw.join("rootfs-write"),
        "into-the-rootfs\n",
        "a rootfs write, read back in the container",
    );
    if write_buffer {
        expect_file(
            &a,
            &buffer.join("written-by-the-container"),
            "into-the-rootfs\n",
            "a rootfs write, in the agent's write buffer",
        );
    } else {
        for dir in ["rootfs", "writes/upper"] {
            let p = a.seen(&a.lxc_dir(id).join(dir).join("written-by-the-container"));
            assert!(
                !p.exists(),
                "a rootfs write reached the host's disk past security.disk-max: {}",
                p.display()
            );
        }
    }

    // Suspend: frozen, and Execute is refused; Resume: it runs again.
    a.ok("Suspend", &[&id.to_string()]);
    assert_eq!(lxc_state(&a, id), "FROZEN");
    assert!(
        a.call("Execute", &[&id.to_string(), "/bin/true", "/", "", "{}"])
            .is_err(),
        "Execute in a suspended container succeeded"
    );
    a.ok("Resume", &[&id.to_string()]);
    assert_eq!(lxc_state(&a, id), "RUNNING");
    a.execute(id, "/bin/sh -c 'echo resumed > /gateways/resumed'");
    expect_file(
        &a,
        &a.container_root(id).join("gateways/resumed"),
        "resumed\n",
        "a command after Resume",
    );

    // ListCapabilities, SetCapabilities: the gateways did their jobs.
    let caps = a.ok("ListCapabilities", &[]);
    let mut wanted = vec!["scgen.test.file", "scgen.test.env"];
    if network {
        wanted.push("scgen.test.network");
    }
    for c in &wanted {
        assert!(caps.contains(c), "ListCapabilities: {caps}");
    }
    let list = format!(
        "[{}]",
        wanted
            .iter()
            .map(|c| format!("'{c}'"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    a.ok("SetCapabilities", &[&id.to_string(), &list]);
    let mut probe = String::from(
        "cat /from-the-file-gateway > /gateways/file-seen 2>&1; \
         (echo overwritten > /from-the-file-gateway) 2>/gateways/file-ro-error \
         && echo writable > /gateways/file-ro || echo refused > /gateways/file-ro; \
         echo \"$SCGEN_TEST_ENV\" > /gateways/env-seen; ",
    );
    if network {
        probe.push_str(&format!(
            "cat /sys/class/net/eth0/operstate > /gateways/eth0-state 2>&1; \
             ip -4 -o addr show dev eth0 > /gateways/eth0-addr 2>&1; \
             nc -w 5 {} 9 < /dev/null > /gateways/tcp 2>&1; ",
            agent::BRIDGE_IP
        ));
    }
    probe.push_str("echo done > /gateways/probed");
    a.execute(id, &format!("/bin/sh -c '{probe}'"));
    let gw = a.container_root(id).join("gateways");
    expect_file(&a, &gw.join("probed"), "done\n", "the gateway probe");
    let read = |n: &str| fs::read_to_string(a.seen(&gw.join(n))).unwrap_or_default();
    assert_eq!(
        read("file-seen"),
        "from-the-file-gateway\n",
        "the file gateway's file in the container"
    );
    // The manifest says read-only: the agent remounts it so in the
    // container (EROFS; without the remount an id-mapped container's
    // root is refused too, with EACCES, as the file is the host root's),
    // and the host's file keeps its bytes.
    assert_eq!(
        read("file-ro"),
        "refused\n",
        "a write to the file gateway's file"
    );
    assert!(
        read("file-ro-error").contains("Read-only file system"),
        "the file gateway's file is not read-only: {:?}",
        read("file-ro-error")
    );
    assert_eq!(
        fs::read_to_string(s.join("host/for-the-file-gateway")).unwrap(),
        "from-the-file-gateway\n"
    );
    assert_eq!(
        read("env-seen"),
        "set-by-the-env-gateway\n",
        "the env gateway's variable in an Executed command"
    );
    if network {
        assert_eq!(read("eth0-state"), "up\n", "eth0 in the container");
        let addr = read("eth0-addr");
        assert!(
            addr.contains("inet 10.0.3."),
            "eth0 has no address on the bridge's net: {addr}"
        );
        // An app has no raw socket for ping (no net_raw): a TCP connection
        // to a closed port of the bridge's address, answered by a reset,
        // shows the bridge is reached (an unreachable one times out).
        let tcp = read("tcp");
        assert!(
            tcp.contains("Connection refused"),
            "the bridge from the container: {tcp:?}"
        );
        assert_ne!(
            bridge_ports(&a),
            "",
            "no veth of the container on {}",
            agent::BRIDGE
        );
    }

    // Destroy: nothing is left, and the agent is still there (the checks
    // below would pass if it had died).
    a.destroy(id);
    a.assert_alive();
    assert!(
        !a.seen(&a.lxc_dir(id)).exists(),
        "{} is left after Destroy",
        a.lxc_dir(id).display()
    );
    assert!(
        !a.seen(&a.container_root(id)).exists(),
        "{} is left after Destroy",
        a.container_root(id).display()
    );
    let s_str = s.to_str().unwrap();
    let mounts = a.mountinfo();
    let left: Vec<&str> = mounts
        .lines()
        .filter(|l| {
            l.contains(&format!("{s_str}/lxc/SC-"))
                || l.contains(&format!("{s_str}/shared/SC-"))
                || l.contains("/var/lib/lxc/SC-")
        })
        .collect();
    assert!(left.is_empty(), "mounts left after Destroy: {left:#?}");
    assert_lxc_gone(&a, id);
    if network {
        assert_eq!(bridge_ports(&a), "", "a veth is left on the bridge");
    }
    a.assert_alive();
    // The one error the agent must log is its refusal of the Execute sent
    // while suspended. With the write buffer it may also fail to mount
    // its tmpfs on the container root: upstream never initialises the
    // size it passes (SoftwareContainerConfig's
    // m_temporaryFileSystemSize; DynamicContainerOptions::toConfig drops
    // the Create keys that would set it), so the mount gets a random size
    // and the buffer stays on the shared-mounts dir's file system. Nothing
    // else is allowed.
    let errors: Vec<String> = a
        .errors()
        .into_iter()
        .filter(|e| !(write_buffer && e.contains("Could not mount tmpfs into directory")))
        .collect();
    assert!(
        errors.len() == 1 && errors[0].contains("Invalid to execute code in non ready container"),
        "the agent logged errors: {errors:#?}"
    );
}

#[test]
fn agent_default_profile() {
    cycle("default", false);
}

#[test]
fn agent_default_profile_write_buffer() {
    cycle("default", true);
}

#[test]
fn agent_network_profile() {
    cycle("network", false);
}

#[test]
fn agent_network_profile_write_buffer() {
    cycle("network", true);
}

#[test]
fn agent_overlay_profile() {
    cycle("overlay", false);
}

/// The agent's own overlay is on `<lxcpath>/SC-N/rootfs`, which cannot be
/// an overlayfs upper dir: the stage gives the container a plain `dir:`
/// rootfs in that mount and says so (issue 14, item 2); the cycle asserts
/// the config line and the note.
#[test]
fn agent_overlay_profile_write_buffer() {
    cycle("overlay", true);
}

/// The explicit privileged choice (`container.idmap = []`) still works.
#[test]
fn agent_privileged_default_profile_write_buffer() {
    cycle_with("default", true, false, Build::Patched);
}

/// Upstream's agent: everything but a write through BindMount works; the
/// cycle asserts that write's EACCES and the buffer dir's owner and mode
/// that cause it (patch 0003 fixes it); its apps keep only the base set.
#[test]
fn agent_upstream_default_profile_write_buffer() {
    cycle_with("default", true, true, Build::Upstream);
}

/// Upstream's agent on the network profile: apps keep `net_admin` and
/// `net_raw`, which the iptables it execs in the container needs.
#[test]
fn agent_upstream_network_profile() {
    cycle_with("network", false, true, Build::Upstream);
}

/// The file gateway's read-only file on a `nosuid,nodev` host mount (as
/// `/run` and `/tmp` usually are). Upstream's agent remounts it with
/// `MS_REMOUNT | MS_BIND | MS_RDONLY` and nothing else, which asks the
/// kernel to clear `nosuid` and `nodev` as well. The container's root may
/// in a plain container; in an id-mapped one the kernel has locked those
/// flags (`MNT_LOCK_NOSUID`, `MNT_LOCK_NODEV`) on the mount it propagated
/// into the container's user namespace, and refuses (EPERM). The patched
/// agent keeps `nosuid`, `nodev` and `noexec` (patch 0002), and the
/// gateway works. The upstream run turns the seccomp policy off, so that
/// the kernel alone answers the two remounts it tries.
fn file_gateway_on_a_nodev_mount(idmap: bool, build: Build) {
    if !agent::ready() {
        return;
    }
    let install = install(false, build);
    let sets: &[&str] = match build {
        Build::Patched => &[],
        Build::Upstream => &["security.agent=upstream", "security.seccomp=off"],
    };
    let a = Agent::start(&Setup {
        install: &install,
        profile: "default",
        sets,
        manifests: &["file-nodev.json"],
        idmap,
    });
    let nodev = a.scratch().join("nodev");
    fs::create_dir(&nodev).unwrap();
    let o = common::run(
        std::process::Command::new("nsenter")
            .args(["--target", &a.pid().to_string(), "--mount", "--"])
            .args([
                "mount",
                "-t",
                "tmpfs",
                "-o",
                "nosuid,nodev,size=64k,mode=0755",
            ])
            .arg("scgen-nodev")
            .arg(&nodev),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    fs::write(a.seen(&nodev.join("file")), "on-a-nodev-mount\n").unwrap();

    let id = a.create("[{\"writeBufferEnabled\": false}]");
    let set = a.call(
        "SetCapabilities",
        &[&id.to_string(), "['scgen.test.file-nodev']"],
    );
    let remount_failed =
        |e: &String| e.contains("Could not remount /from-a-nodev-mount read-only in container");
    if idmap && build == Build::Upstream {
        assert!(set.is_err(), "SetCapabilities succeeded: {set:?}");
        let errors = a.errors();
        assert!(
            errors.iter().any(remount_failed),
            "not the read-only remount that failed: {errors:#?}"
        );
        // After the failed gateway the agent refuses every Execute (docs/security.md,
        // "Id-mapped containers and the agent"): each first applies the
        // default capabilities, whose file gateway fails again.
        let why = format!("Could not set default capabilities on container {id}");
        let refused = |e: &String| e.contains(&why);
        for n in 1..=2 {
            let o = a.call("Execute", &[&id.to_string(), "/bin/true", "/", "", "{}"]);
            assert!(o.is_err(), "Execute {n} after the failed gateway: {o:?}");
            assert_eq!(
                a.errors().iter().filter(|e| refused(e)).count(),
                n,
                "{:#?}",
                a.errors()
            );
        }
        // Why: the agent's own call, `mount(path, path, "", MS_REMOUNT |
        // MS_BIND | MS_RDONLY)` (4129), made in the container, is refused
        // with EPERM; the same with MS_NOSUID | MS_NODEV (4135) kept
        // passes. No seccomp policy is loaded here, so the refusal is the
        // kernel's locked flags. (After a failed gateway the agent refuses
        // every Execute: lxc-attach with the agent's capabilities, as its
        // function keeps them (a program started without them, as an app,
        // has no sys_admin); the host's python3 is in the container
        // through the /usr bind.)
        let o = common::run(
            std::process::Command::new("nsenter")
                .args(["--target", &a.pid().to_string(), "--mount", "--net", "--"])
                .args([
                    "lxc-attach",
                    "--elevated-privileges=CAP",
                    "-P",
                    "/var/lib/lxc",
                    "-n",
                ])
                .arg(format!("SC-{id}"))
                .args(["--", "/bin/sh", "-c"])
                .arg(
                    "python3 -c 'import ctypes,errno
libc=ctypes.CDLL(None,use_errno=True)
for f in (4096|32|1, 4096|32|1|2|4):
  r=libc.mount(b\"/from-a-nodev-mount\",b\"/from-a-nodev-mount\",b\"\",f,None)
  print(f, \"ok\" if r == 0 else errno.errorcode[ctypes.get_errno()])
'",
                ),
        );
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "4129 EPERM\n4135 ok\n",
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    } else {
        set.unwrap_or_else(|e| panic!("SetCapabilities failed: {e}"));
        a.execute(
            id,
            "/bin/sh -c 'cat /from-a-nodev-mount > /gateways/seen; \
             (echo x > /from-a-nodev-mount) 2>/dev/null && echo writable > /gateways/ro \
             || echo read-only > /gateways/ro; \
             grep \" /from-a-nodev-mount \" /proc/self/mountinfo | cut -d\" \" -f6 > /gateways/opts'",
        );
        let gw = a.container_root(id).join("gateways");
        expect_file(&a, &gw.join("ro"), "read-only\n", "the file's read-only");
        expect_file(&a, &gw.join("seen"), "on-a-nodev-mount\n", "the file");
        if build == Build::Patched {
            // The remount kept the flags (patch 0002).
            expect_file(
                &a,
                &gw.join("opts"),
                "ro,nosuid,nodev,noexec,relatime\n",
                "its mount options",
            );
        }
        assert!(!a.errors().iter().any(remount_failed));
    }
    a.destroy(id);
}

#[test]
fn agent_file_gateway_on_a_nodev_mount() {
    file_gateway_on_a_nodev_mount(true, Build::Patched);
}

/// Upstream's agent, privileged: its remount may clear the flags.
#[test]
fn agent_upstream_privileged_file_gateway_on_a_nodev_mount() {
    file_gateway_on_a_nodev_mount(false, Build::Upstream);
}

/// Upstream's agent fails (EPERM, asserted) in an id-mapped container: see
/// above.
#[test]
fn agent_upstream_file_gateway_on_a_nodev_mount_is_refused() {
    file_gateway_on_a_nodev_mount(true, Build::Upstream);
}

/// BindMount with `gateways.file = false`, the seccomp policy on or off,
/// and the patched or upstream agent. Returns the BindMount's error, if
/// any, after checking the container ran an Execute either way.
fn bindmount(sets: &[&str], build: Build) -> Option<String> {
    let install = install(false, build);
    let a = Agent::start(&Setup {
        install: &install,
        profile: "default",
        sets,
        manifests: &["gateways.json"],
        idmap: true,
    });
    let app = a.scratch().join("host/app");
    fs::create_dir_all(&app).unwrap();
    std::os::unix::fs::chown(&app, Some(agent::MAPPED_ROOT), Some(agent::MAPPED_ROOT)).unwrap();
    let id = a.create("[{\"writeBufferEnabled\": false}]");
    let config = fs::read_to_string(a.seen(&a.lxc_dir(id).join("config"))).unwrap();
    assert!(
        config.contains("lxc.cap.keep = chown dac_override fowner fsetid kill setgid setuid\n"),
        "{config}"
    );
    a.execute(id, "/bin/sh -c 'echo runs > /gateways/runs'");
    expect_file(
        &a,
        &a.container_root(id).join("gateways/runs"),
        "runs\n",
        "Execute",
    );
    let r = a.call(
        "BindMount",
        &[&id.to_string(), app.to_str().unwrap(), "/app", "false"],
    );
    let r = match r {
        Ok(_) => None,
        Err(err) => {
            assert!(err.contains("Unable to bind mount"), "{err}");
            assert!(
                a.errors()
                    .iter()
                    .any(|e| e.contains("Could not move the mount inside the container")),
                "{:#?}",
                a.errors()
            );
            Some(err)
        }
    };
    a.destroy(id);
    r
}

/// `gateways.file = false`: the built-in policy refuses every `mount(2)`,
/// the agent's own move included, so BindMount fails there; with the
/// policy off the same patched agent's BindMount works. So the policy's
/// mount rule, not a capability, is what `gateways.file` switches.
#[test]
fn agent_bindmount_needs_the_policys_mount_rule_from_gateways_file() {
    if !agent::ready() {
        return;
    }
    let on = bindmount(&["gateways.file=false"], Build::Patched);
    assert!(on.is_some(), "BindMount worked with every mount refused");
    let off = bindmount(
        &["gateways.file=false", "security.seccomp=off"],
        Build::Patched,
    );
    assert_eq!(off, None, "BindMount failed with the policy off");
}

/// Upstream's agent without `sys_admin` for apps (and no policy in the
/// way): its BindMount still works. LXC's attach drops capabilities from
/// the bounding set only, so the agent's mount move, a function run in the
/// container that execs nothing, keeps the agent's effective capabilities;
/// only what a gateway execs (iptables) is held to the container's set.
/// So `security.agent = "upstream"` keeps no `sys_admin` for apps.
#[test]
fn agent_upstream_bindmount_works_without_sys_admin_for_apps() {
    if !agent::ready() {
        return;
    }
    let err = bindmount(
        &[
            "gateways.file=false",
            "security.seccomp=off",
            "security.agent=upstream",
        ],
        Build::Upstream,
    );
    assert_eq!(
        err, None,
        "upstream's BindMount failed without sys_admin for apps"
    );
}
