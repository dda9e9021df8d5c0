//! The soak (issue 21): many Create, Execute, Destroy cycles on one real
//! agent, Destroy right after Execute, and what the host and the agent hold
//! before and after them. `tests/agent.rs` runs a bounded number of cycles
//! and `benches/agent.rs --soak N` many (bench/run section 6).
//!
//! What "nothing left" means, each compared with a [`Snapshot`] taken after
//! one warm-up cycle (the overlay profile's first Create fills the skeleton
//! store, and LXC's first stop makes its one shared `lxc.pivot` cgroup):
//! the agent's mount table, the entries of the lxcpath, of the agent's
//! shared-mounts dir and of the skeleton store, the agent's open
//! descriptors, its cgroups and its child processes. The cgroups LXC makes
//! per container are checked in every cycle instead ([`ContainerCgroups`]):
//! their names (`lxc.monitor.SC-0`, `lxc.payload.SC-0`) are the same for
//! every agent on the host, so another test's agent may hold the same
//! names at any time, and a count of the host's cgroups would measure it.
//!
//! Every call is bounded (`common::agent::CALL_DEADLINE`): a hang fails.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::agent::Agent;

/// What the host holds for one agent, and what the agent holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The agent's mount table: "mount point, fstype, source" per line
    /// (mount ids left out: they differ for the same mount made again).
    pub mounts: Vec<String>,
    /// Paths under `<scratch>/lxc` (the lxcpath), `<scratch>/shared` (the
    /// shared-mounts dir) and `<scratch>/store` (the skeleton store).
    pub files: Vec<String>,
    /// The agent's descriptors: the number and what each points to (a
    /// socket's or pipe's inode number left out).
    pub fds: Vec<String>,
    /// `/proc/<agent>/cgroup`.
    pub cgroups: Vec<String>,
    /// The agent's child processes, zombies included.
    pub children: Vec<String>,
}

/// The agent's resident set size in kB (`VmRSS`), not part of the
/// comparison: an allocator keeps what it once had.
pub fn rss_kb(a: &Agent) -> u64 {
    fs::read_to_string(format!("/proc/{}/status", a.pid()))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn tree(root: &Path, label: &str, out: &mut Vec<String>) {
    for e in walkdir::WalkDir::new(root)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
    {
        let rel = e.path().strip_prefix(root).unwrap();
        out.push(format!("{label}/{}", rel.display()));
    }
}

/// The children of `pid` (every thread's), with their state.
fn children(pid: u32) -> Vec<String> {
    let mut v = Vec::new();
    for t in fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let list = fs::read_to_string(t.path().join("children")).unwrap_or_default();
        for c in list.split_whitespace() {
            let stat = fs::read_to_string(format!("/proc/{c}/stat")).unwrap_or_default();
            // "pid (comm) S ...": comm may hold spaces, the state follows ')'.
            let state = stat.rsplit_once(')').map_or("?", |(_, r)| r.trim());
            let state = state.split_whitespace().next().unwrap_or("?");
            let comm = fs::read_to_string(format!("/proc/{c}/comm")).unwrap_or_default();
            v.push(format!("{c} {} {state}", comm.trim()));
        }
    }
    v.sort();
    v
}

impl Snapshot {
    pub fn take(a: &Agent) -> Snapshot {
        let pid = a.pid();
        let mut mounts: Vec<String> = a
            .mountinfo()
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                let dash = f.iter().position(|x| *x == "-")?;
                Some(format!(
                    "{} {} {}",
                    f[4],
                    f.get(dash + 1)?,
                    f.get(dash + 2)?
                ))
            })
            .collect();
        mounts.sort();
        let mut files = Vec::new();
        for d in ["lxc", "shared", "store"] {
            tree(&a.seen(&a.scratch().join(d)), d, &mut files);
        }
        let mut fds: Vec<String> = fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| {
                let t = fs::read_link(e.path()).unwrap_or_default();
                let t = t.display().to_string();
                let kind = t.split(":[").next().unwrap_or(&t).to_string();
                format!("{} {kind}", e.file_name().to_string_lossy())
            })
            .collect();
        fds.sort();
        let cgroups = fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        Snapshot {
            mounts,
            files,
            fds,
            cgroups,
            children: children(pid),
        }
    }

    /// What differs from `before`, one line each ("+" new, "-" gone); empty
    /// when nothing does.
    pub fn diff(&self, before: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        let mut part = |what: &str, old: &[String], new: &[String]| {
            let (o, n): (BTreeSet<_>, BTreeSet<_>) = (old.iter().collect(), new.iter().collect());
            out.extend(n.difference(&o).map(|x| format!("{what}: + {x}")));
            out.extend(o.difference(&n).map(|x| format!("{what}: - {x}")));
            if old.len() != new.len() && n == o {
                out.push(format!("{what}: {} entries, were {}", new.len(), old.len()));
            }
        };
        part("mount", &before.mounts, &self.mounts);
        part("file", &before.files, &self.files);
        part("fd", &before.fds, &self.fds);
        part("cgroup of the agent", &before.cgroups, &self.cgroups);
        part("child of the agent", &before.children, &self.children);
        out
    }
}

/// The cgroup hierarchies mounted on the host: (controllers of
/// `/proc/<pid>/cgroup`, mount point, mount root). Controllers are empty
/// for the unified (v2) hierarchy.
fn hierarchies() -> Vec<(String, PathBuf, String)> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut v = Vec::new();
    for l in info.lines() {
        let f: Vec<&str> = l.split(' ').collect();
        let Some(dash) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        let (fstype, opts) = (f.get(dash + 1).copied(), f.get(dash + 3).copied());
        let (root, point) = (f[3].to_string(), PathBuf::from(f[4]));
        match fstype {
            Some("cgroup2") => v.push((String::new(), point, root)),
            Some("cgroup") => {
                let known = [
                    "rw",
                    "ro",
                    "relatime",
                    "nosuid",
                    "nodev",
                    "noexec",
                    "clone_children",
                ];
                let c: Vec<&str> = opts
                    .unwrap_or("")
                    .split(',')
                    .filter(|o| !known.contains(o) && !o.starts_with("release_agent="))
                    .collect();
                v.push((c.join(","), point, root));
            }
            _ => {}
        }
    }
    v
}

/// The host directories of the cgroups `/proc/<pid>/cgroup` lists.
fn cgroup_dirs(pid: u32) -> Vec<PathBuf> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let hs = hierarchies();
    let mut dirs = Vec::new();
    for l in text.lines() {
        let mut it = l.splitn(3, ':');
        let (_, ctl, path) = (it.next(), it.next().unwrap_or(""), it.next().unwrap_or(""));
        let want: BTreeSet<&str> = ctl.split(',').filter(|c| !c.is_empty()).collect();
        for (c, point, root) in &hs {
            let have: BTreeSet<&str> = c.split(',').filter(|c| !c.is_empty()).collect();
            if have != want {
                continue;
            }
            let rel = path.strip_prefix(root.as_str()).unwrap_or(path);
            dirs.push(point.join(rel.trim_start_matches('/')));
            break;
        }
    }
    dirs
}

/// The cgroups LXC made for one running container: its monitor's and its
/// init's, in every hierarchy.
#[derive(Debug)]
pub struct ContainerCgroups {
    pub dirs: Vec<PathBuf>,
}

impl ContainerCgroups {
    /// Finds the monitor of `SC-<id>` (`[lxc monitor] <lxcpath> SC-<id>`,
    /// in the agent's mount namespace) and its child, the container's init,
    /// and notes the cgroups LXC made for them (`lxc.monitor.*`,
    /// `lxc.payload.*`; a hierarchy where it made none is not theirs).
    pub fn of(a: &Agent, id: i32) -> ContainerCgroups {
        let ns = fs::read_link(format!("/proc/{}/ns/mnt", a.pid())).unwrap();
        let tail = format!(" SC-{id}");
        let monitor = fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .find(|p| {
                let cmd = fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                let cmd = String::from_utf8_lossy(&cmd);
                let cmd = cmd.trim_end_matches('\0');
                cmd.starts_with("[lxc monitor]")
                    && cmd.ends_with(&tail)
                    && fs::read_link(format!("/proc/{p}/ns/mnt")).ok().as_ref() == Some(&ns)
            })
            .unwrap_or_else(|| panic!("no LXC monitor of SC-{id} in the agent's namespace"));
        let init: u32 = fs::read_to_string(format!("/proc/{monitor}/task/{monitor}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the LXC monitor {monitor} of SC-{id} has no child"));
        let mut dirs: Vec<PathBuf> = cgroup_dirs(monitor)
            .into_iter()
            .chain(cgroup_dirs(init))
            .filter(|d| {
                d.components().any(|c| {
                    let c = c.as_os_str().to_string_lossy();
                    c.starts_with("lxc.monitor.") || c.starts_with("lxc.payload.")
                })
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        assert!(
            dirs.iter()
                .any(|d| d.to_string_lossy().contains("lxc.monitor.")),
            "SC-{id}'s monitor is in no lxc.monitor cgroup: {dirs:?}"
        );
        ContainerCgroups { dirs }
    }

    /// The directories left on the host after the container was
    /// destroyed. The names are host-wide, so another agent's container
    /// may take one again at once: while it does, the directory holds its
    /// processes, and for a moment it may be empty (made, not yet entered;
    /// or left for `lxc.pivot`, not yet removed). A left one stays empty or
    /// holds this agent, so a directory counts only if it does for a
    /// second on end. Each is returned with its `cgroup.procs`.
    pub fn left(&self, a: &Agent) -> Vec<(PathBuf, String)> {
        let me = a.pid().to_string();
        let suspect = |d: &PathBuf| -> Option<String> {
            let procs = fs::read_to_string(d.join("cgroup.procs")).ok()?;
            let pids: Vec<&str> = procs.split_whitespace().collect();
            (pids.is_empty() || pids.contains(&me.as_str())).then_some(procs)
        };
        let started = std::time::Instant::now();
        loop {
            let left: Vec<(PathBuf, String)> = self
                .dirs
                .iter()
                .filter_map(|d| Some((d.clone(), suspect(d)?)))
                .collect();
            if left.is_empty() || started.elapsed() > std::time::Duration::from_secs(1) {
                return left;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// A job for cycle `n`: one that has exited (not yet reaped, maybe) or one
/// still running when Destroy comes.
pub fn job(n: usize) -> &'static str {
    if n.is_multiple_of(2) {
        "/bin/true"
    } else {
        "/bin/sleep 600"
    }
}

/// One cycle: Create, Execute [`job`]`(n)`, Destroy right after; checks
/// that the container's cgroups and its lxcpath dir are gone.
#[track_caller]
pub fn cycle(a: &Agent, n: usize, create: &str) {
    let id = a.create(create);
    let cgroups = ContainerCgroups::of(a, id);
    a.execute(id, job(n));
    a.destroy(id);
    let left = cgroups.left(a);
    assert!(
        left.is_empty(),
        "cycle {n}: SC-{id}'s cgroups are left after Destroy (with their cgroup.procs; the agent is {}): {left:?}",
        a.pid()
    );
    assert!(
        !a.seen(&a.lxc_dir(id)).exists(),
        "cycle {n}: SC-{id} is left in the lxcpath after Destroy"
    );
}
