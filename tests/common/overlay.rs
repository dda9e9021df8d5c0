//! The overlay profile's scratch setup, shared by the overlay suites
//! (`overlay`, `store_hostile`): stand-in host tools, overlay artifacts
//! whose skeleton store is in the scratch dir, containers below it, and
//! `scgen skeletons` on that store. Every run has the hostile suites'
//! deadline, so a hang fails the test.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::guard::run_within;
use super::{root, scgen, Gen};

/// A scratch dir others may traverse (not write), with stand-in tools,
/// overlay artifacts whose store is `<scratch>/<store>`, containers below.
pub struct OverlayEnv {
    pub tools: super::stage::Env,
}

impl OverlayEnv {
    pub fn new() -> Self {
        Self::with_store("store")
    }

    /// With the profile's store at `<scratch>/<rel>` (which a test may
    /// then make a symlink, a file, ...).
    pub fn with_store(rel: &str) -> Self {
        let env = OverlayEnv {
            tools: super::stage::Env::with_applets("printf '%s\\n' busybox cat ls sh mount"),
        };
        fs::set_permissions(env.path(), fs::Permissions::from_mode(0o755)).unwrap();
        Gen::new()
            .profile(root().join("profiles/overlay.toml"))
            .out(env.art())
            .set(&format!(
                "container.skeleton-store={}",
                env.path().join(rel).display()
            ))
            .ok();
        env
    }

    pub fn path(&self) -> &Path {
        self.tools.path()
    }

    pub fn art(&self) -> PathBuf {
        self.path().join("art")
    }

    pub fn store(&self) -> PathBuf {
        self.path().join("store")
    }

    /// `scgen stage` of container `<scratch>/<name>`, not yet run.
    pub fn stage_cmd(&self, name: &str) -> Command {
        let mut c = self.tools.stage(&self.art());
        c.arg("--path").arg(self.path().join(name));
        c
    }

    pub fn stage(&self, name: &str) -> Output {
        run_within(&self.stage_cmd(name), name)
    }

    /// `scgen skeletons --store STORE ARGS...`.
    pub fn skeletons_in(&self, store: &Path, args: &[&str]) -> Output {
        let mut c = scgen();
        c.arg("skeletons").arg("--store").arg(store).args(args);
        run_within(&c, "skeletons")
    }

    /// `scgen skeletons` on the profile's own store.
    pub fn skeletons(&self, args: &[&str]) -> Output {
        self.skeletons_in(&self.store(), args)
    }

    pub fn prune(&self, lxcpath: &Path) -> Output {
        self.skeletons(&["prune", "--lxcpath", lxcpath.to_str().unwrap()])
    }

    /// The published skeletons of `store` (temp dirs excluded), sorted.
    pub fn published_in(&self, store: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(store)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    pub fn published(&self) -> Vec<String> {
        self.published_in(&self.store())
    }

    /// The one published skeleton.
    pub fn skeleton(&self) -> PathBuf {
        let names = self.published();
        assert_eq!(names.len(), 1, "{names:?}");
        self.store().join(&names[0])
    }
}
