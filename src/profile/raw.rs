//! The profile as written: every key optional, unknown keys rejected
//! (`deny_unknown_fields`), values still plain strings. These types are
//! also the source of the JSON Schema (`scgen schema`), so their doc
//! comments are what an editor shows for each key.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::lxc::Dialect;

/// The profile as written: every key optional, unknown keys rejected.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(
    title = "scgen profile",
    description = "A SoftwareContainer profile for scgen (see docs/profile.md, the profile reference)."
)]
pub struct RawProfile {
    /// Another profile this one builds on, relative to this file, or
    /// `default` for the built-in default (every profile starts from it
    /// anyway). Its values apply first; a value set here wins, tables merge
    /// key by key, and lists add to the base's: a mount replaces the one
    /// with the same `target`, an id map the one with the same kind and
    /// container id, a device rule the one for the same device, a
    /// mount-auto token the one of its family (`proc:ro` a `proc`). `[]`
    /// empties a list.
    pub extends: Option<String>,
    /// Lists whose inherited entries this file drops, e.g. `["mounts"]`:
    /// its own list then stands alone (without one: the key is unset, so
    /// its built-in default applies). What "arrays are replaced whole" did
    /// before lists appended.
    pub replace: Option<Vec<String>>,
    /// Which LXC generation the config is written for.
    pub lxc: Option<RawLxc>,
    /// Where SoftwareContainer is installed.
    pub install: Option<RawInstall>,
    /// Container settings the seed config hard-coded.
    pub container: Option<RawContainer>,
    /// Static mounts, added to the inherited ones (by default /usr and
    /// /lib, read-only binds); one with an inherited `target` replaces
    /// that mount. `mounts = []` or `replace = ["mounts"]` drops them.
    pub mounts: Option<Vec<RawMount>>,
    /// The network gateway (upstream's ENABLE_NETWORKGATEWAY).
    pub network: Option<RawNetwork>,
    /// The host directory bound on /gateways (upstream's GATEWAY_DIR).
    pub gateways: Option<RawGateways>,
    /// Where the busybox applet list comes from.
    pub busybox: Option<RawBusybox>,
    /// What a container's processes may do: capabilities, seccomp, devices,
    /// no_new_privs and cgroup limits (`lxc3` only).
    pub security: Option<RawSecurity>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawLxc {
    /// `lxc3` (LXC >= 3.0 keys, default) or `lxc2` (the seed's legacy keys).
    pub dialect: Option<Dialect>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawInstall {
    /// CMAKE_INSTALL_PREFIX: absolute, not `/`; bound read-only at the same
    /// path in the container. Default `/usr/local`.
    pub prefix: Option<String>,
    /// Where scgen is installed, like CMAKE_INSTALL_BINDIR: relative to the
    /// prefix, or absolute. The drop-in execs `<bindir>/scgen`. Default `bin`.
    pub bindir: Option<String>,
    /// Like CMAKE_INSTALL_DATADIR: relative to the prefix, or absolute. The
    /// artifacts are installed in `<datadir>/softwarecontainer/scgen`.
    /// Default `share`.
    pub datadir: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawContainer {
    /// Host name inside the container. Default `contained`.
    pub uts_name: Option<String>,
    /// Let LXC populate /dev. Default true.
    pub autodev: Option<bool>,
    /// Number of ttys. Default 1.
    pub tty_max: Option<u32>,
    /// Number of ptys. Default 1.
    pub pty_max: Option<u32>,
    /// Signal that halts the container: `SIGNAME` or a number. Default
    /// `SIGKILL`.
    pub halt_signal: Option<String>,
    /// lxc.mount.auto tokens. Default `["proc", "sys"]`.
    pub mount_auto: Option<Vec<String>>,
    /// Create /lib64 and /usr/lib64 and bind the host's /lib64 if it has
    /// one. Default true.
    pub lib64: Option<bool>,
    /// Bind the host's init.lxc onto /bin/init.lxc. LXC >= 4.0.10 does not
    /// use it; set false where no init.lxc is installed. Default true.
    pub init_lxc: Option<bool>,
    /// The user-namespace id map: LXC `lxc.idmap` entries `u|g NSID HOSTID
    /// RANGE`, e.g. `["u 0 100000 65536", "g 0 100000 65536"]`. The
    /// container's root is then host id HOSTID, not the host's root. Both
    /// kinds must map id 0; ranges may not overlap; host id 0 is refused.
    /// The host ids must be root's in /etc/subuid and /etc/subgid where
    /// newuidmap is installed (the stage checks it). Default in `lxc3`:
    /// `["u 0 100000 65536", "g 0 100000 65536"]`, so an app that escapes
    /// its restrictions is still not the host's root. `[]`: a privileged
    /// container, whose root is the host's root; LXC itself says such a
    /// container cannot be made root-safe. Default in `lxc2`: none.
    pub idmap: Option<Vec<String>>,
    /// How each container's root filesystem is made. `dir` (default): the
    /// stage unpacks the whole skeleton into every container, as the seed
    /// did. `overlay`: the stage fills the skeleton once per host (in
    /// `skeleton-store`), read-only, and each container gets only an
    /// overlayfs upper dir on top of it, so creating one costs a few
    /// entries whatever the tree holds. Needs the `lxc3` dialect and a
    /// kernel with overlayfs.
    pub rootfs: Option<RootfsKind>,
    /// With `rootfs = "overlay"`: the host directory holding the shared,
    /// read-only skeletons, one per artifact set (and busybox, id map).
    /// Absolute, not `/`, without `:`, `,` or `\` (they would split LXC's
    /// `overlay:<lower>:<upper>` value or the mount options). Default
    /// `/var/lib/softwarecontainer/skeletons`.
    pub skeleton_store: Option<String>,
}

/// How a container's root filesystem is laid out on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RootfsKind {
    /// A plain directory per container holding the whole tree.
    Dir,
    /// An overlayfs upper dir per container on one shared, read-only
    /// skeleton.
    Overlay,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawMount {
    /// Absolute host path.
    pub source: String,
    /// Path in the container, relative to its root (`usr`, not `/usr`).
    pub target: String,
    /// Filesystem type. Default `none` (a bind).
    pub fstype: Option<String>,
    /// Mount options, one per item. Default `["ro", "bind"]`.
    pub options: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawNetwork {
    /// A veth on `bridge`, and the host's iptables in the container.
    /// Default false.
    pub gateway: Option<bool>,
    /// Host bridge (upstream's SC_BRIDGE_DEVICE). Default `lxcbr0`.
    pub bridge: Option<String>,
    /// Interface name in the container. Default `eth0`.
    pub interface: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawGateways {
    /// Absolute host directory bound read-write on /gateways. Unset: the
    /// stage takes `--gateway-dir` or `$GATEWAY_DIR`, or binds nothing.
    pub dir: Option<String>,
    /// Octal mode the stage gives that directory. Default "0777".
    pub mode: Option<String>,
    /// Make /gateways a slave mount in the container (LXC's mount tunnel,
    /// `lxc.mount.auto = shmounts:`), so SoftwareContainer's agent can move
    /// its bind mounts out of it: LXC >= 4 makes the whole tree shared after
    /// pivot_root, and the kernel refuses MS_MOVE out of a shared mount.
    /// Default true with `lxc3` (needs LXC >= 3.1); LXC 2 has no shmounts
    /// and needs none.
    pub slave: Option<bool>,
    /// The agent's BindMount and file gateway: it moves mounts out of
    /// /gateways and remounts them read-only from inside the container,
    /// with its own capabilities. The default (true) has the built-in
    /// seccomp policy pass exactly those two mount calls; false refuses
    /// every mount call, and BindMount and the file gateway fail.
    pub file: Option<bool>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawSecurity {
    /// Which SoftwareContainer agent runs the containers. `patched`
    /// (default): the agent built with scgen's patch series
    /// (integration/softwarecontainer/agent/), which runs its own gateway
    /// steps in the container with its own rights, so apps keep none of
    /// the gateways' capabilities. `upstream`: the unpatched agent, whose
    /// network gateway runs iptables with the apps' capabilities, so with
    /// `network.gateway` every app keeps net_admin and net_raw.
    pub agent: Option<Agent>,
    /// The capabilities a container's apps keep (`lxc.cap.keep`), all
    /// others dropped. Default: chown, dac_override, fowner, fsetid, kill,
    /// setgid, setuid; with `agent = "upstream"` and `network.gateway`
    /// also net_admin and net_raw, which a list must then hold.
    pub cap_keep: Option<Vec<String>>,
    /// Instead of `cap-keep`: the capabilities to drop (`lxc.cap.drop`),
    /// all others kept. `[]` keeps every capability, as the seed did.
    pub cap_drop: Option<Vec<String>>,
    /// `builtin` (default: scgen's policy, installed as the `seccomp.policy`
    /// artifact), `off`, or the absolute path of an LXC seccomp policy on
    /// the target.
    pub seccomp: Option<String>,
    /// Device cgroup allowlist (`TYPE MAJOR:MINOR ACCESS`); every other
    /// device is denied. Default: null, zero, full, random, urandom, tty,
    /// console, ptmx and the ptys, what autodev makes and a shell uses; the
    /// host's disks and memory are not among them. `[]`: no device rules,
    /// as the seed.
    pub devices: Option<Vec<String>>,
    /// Set PR_SET_NO_NEW_PRIVS on the container's processes (and attached
    /// ones): no setuid or file-capability gain. Default true: the agent
    /// runs every job as root already, so nothing legitimate gains by exec.
    pub no_new_privs: Option<bool>,
    /// cgroup2 memory.max of the container, e.g. "512M"; "max" for none.
    /// Default "512M", so one runaway app cannot take the device's memory.
    pub memory_max: Option<RawLimit>,
    /// The most a container may write into its root filesystem, e.g.
    /// "100M"; "max" for no bound. The writes go to a tmpfs of this size,
    /// mounted in the container's own mount namespace as its rootfs's
    /// overlay upper dir, never to the host's disk; its pages count
    /// against memory-max, and the container loses them when it stops (a
    /// SoftwareContainer container lives from Create to Destroy). Default
    /// "100M", the agent's own write buffer size: an app cannot fill the
    /// host's disk. "max": the writes go to the host's disk, unbounded.
    pub disk_max: Option<RawLimit>,
    /// cgroup2 pids.max of the container: a number, or "max" for none.
    /// Default 1024, so a fork bomb stops there.
    pub pids_max: Option<RawLimit>,
    /// CPUs' worth of time the container may use (cgroup2 cpu.max, v1
    /// cpu.cfs_quota_us per 100 ms), e.g. 0.5 or "2"; "max" for none.
    /// Default 1, so a busy loop leaves the host's other CPUs to the
    /// platform and the other containers.
    pub cpu_max: Option<RawCpus>,
    /// Bounds on block devices, "MAJOR:MINOR KEY=N ..." as cgroup2 io.max
    /// reads them (keys rbps, wbps, riops, wiops; bytes or operations per
    /// second), also written as cgroup v1 blkio.throttle.* files. Default
    /// none: a bound names the device's numbers, which only the device's
    /// own profile knows.
    pub io_max: Option<Vec<String>>,
}

/// CPUs as written: a number (`0.5`, `2`) or a string (`"0.5"`, `"max"`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawCpus {
    Integer(u64),
    Number(f64),
    Text(String),
}

impl RawCpus {
    pub fn text(&self) -> String {
        match self {
            RawCpus::Integer(n) => n.to_string(),
            RawCpus::Number(n) => n.to_string(),
            RawCpus::Text(t) => t.clone(),
        }
    }
}

/// The SoftwareContainer agent a profile is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Agent {
    /// Built with scgen's patch series: gateway steps run with the agent's
    /// rights (attach without dropping capabilities).
    #[default]
    Patched,
    /// Upstream's agent: gateway steps run with the apps' capabilities.
    Upstream,
}

/// A limit as written: a number, or a string such as "512M" or "max".
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawLimit {
    Number(u64),
    Text(String),
}

impl RawLimit {
    pub fn text(&self) -> String {
        match self {
            RawLimit::Number(n) => n.to_string(),
            RawLimit::Text(t) => t.clone(),
        }
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawBusybox {
    /// A fixed applet list, linked into /bin at build time.
    pub applets: Option<Vec<String>>,
    /// A Yocto busybox.links file (one absolute path per line), relative to
    /// the profile that sets it. Neither key: the stage asks the host's
    /// `busybox --list`.
    pub links_file: Option<String>,
    /// A host directory that holds the applet links once for every
    /// container, bound read-only on /bin. Each container then costs ~270
    /// fewer directory entries; the stage fills the directory the first time
    /// (and again when the host's busybox changes). Unset: links in each
    /// rootfs, as the seed made them.
    pub shared_bin: Option<String>,
}

/// The profile's JSON Schema, derived from the types the loader uses.
pub fn schema() -> String {
    use schemars::transform::{RecursiveTransform, Transform};
    let mut schema = schemars::schema_for!(RawProfile);
    // TOML has no null: an absent key is how a profile says "default", so
    // `Option<T>` is plain `T` here.
    RecursiveTransform(|s: &mut schemars::Schema| {
        let Some(obj) = s.as_object_mut() else { return };
        if let Some(serde_json::Value::Array(types)) = obj.get_mut("type") {
            types.retain(|t| t != "null");
            if types.len() == 1 {
                let only = types.remove(0);
                obj.insert("type".into(), only);
            }
        }
        if let Some(serde_json::Value::Array(any)) = obj.get_mut("anyOf") {
            any.retain(|v| v != &serde_json::json!({"type": "null"}));
            if any.len() == 1 {
                let only = any.remove(0);
                obj.remove("anyOf");
                if let serde_json::Value::Object(only) = only {
                    obj.extend(only);
                }
            }
        }
    })
    .transform(&mut schema);
    serde_json::to_string_pretty(&schema).expect("a schema serialises") + "\n"
}
