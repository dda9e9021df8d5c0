//! LXC's monitor cgroups that the agent's containers leave on the host
//! (`benches/agent.rs`): counted, and this run's own removed again.

use crate::common::agent::Agent;
use std::fs;

/// LXC's monitor cgroups named for `SC-0` left on the host (v1 `cpu` or
/// the unified hierarchy): starting a container tries `lxc.monitor.SC-0`,
/// `-1`, `-2`, ... in turn until a name is free, so each one left makes
/// every later start of an `SC-0` a little slower, on every arm alike.
pub fn monitor_cgroups() -> usize {
    [
        "/sys/fs/cgroup/cpu",
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup",
    ]
    .iter()
    .find_map(|d| fs::read_dir(d).ok())
    .map(|d| {
        d.flatten()
            .filter(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n == "lxc.monitor.SC-0" || n.starts_with("lxc.monitor.SC-0-")
            })
            .count()
    })
    .unwrap_or(0)
}

/// The monitor cgroups that this run's containers left (LXC's own log
/// names them: "Failed to destroy N(lxc.monitor.SC-0-K)"), removed again
/// once empty, so the run neither measures a growing leak nor leaves one on
/// a shared machine. Only names from log lines written since the last
/// look are taken: a name freed earlier may be someone else's by now.
///
/// Why they are left: the agent process itself is moved into its
/// container's `lxc.monitor.SC-N[-K]` cgroup (seen in `/proc/<agent>/cgroup`
/// and the cgroup's `cgroup.procs`), so LXC's rmdir at Destroy fails with
/// EBUSY and is never retried; the cgroup empties when the agent's next
/// container moves it on, or when it exits.
#[derive(Default)]
pub struct Leaks {
    /// Bytes of each agent's `lxc.log` already read.
    read: Vec<usize>,
    pub pending: std::collections::BTreeSet<String>,
    pub removed: usize,
}

impl Leaks {
    pub fn scan(&mut self, k: usize, a: &Agent) {
        if self.read.len() <= k {
            self.read.resize(k + 1, 0);
        }
        let log = fs::read(a.scratch().join("lxc.log")).unwrap_or_default();
        let new = String::from_utf8_lossy(log.get(self.read[k]..).unwrap_or_default());
        self.read[k] = log.len();
        self.pending
            .extend(crate::common::agent::leaked_monitor_cgroups(&new));
    }

    /// rmdir of every pending name in every hierarchy; what is still busy
    /// stays pending.
    pub fn sweep(&mut self) {
        let done: Vec<String> = self
            .pending
            .iter()
            .filter(|n| crate::common::agent::remove_cgroup(n))
            .cloned()
            .collect();
        for n in done {
            self.pending.remove(&n);
            self.removed += 1;
        }
    }
}
