//! Overlay rootfs (profile `container.rootfs = "overlay"`): the skeleton is
//! filled once per host into a store, read-only from then on, and each
//! container gets only an overlayfs upper dir on top of it.
//!
//! A skeleton is named by what its tree depends on: the artifact set
//! (`Verified::digest`), the busybox whose `--list` made the applet links
//! (when the list is taken at stage time), the user-namespace id map and
//! the owner. Its `stamp` file says exactly that, plus a digest of the
//! tree. It is filled in a temp dir beside its final name, then renamed
//! into place with `RENAME_NOREPLACE`, so a reader sees either no skeleton
//! or a complete one; of several first stages racing, one rename wins and
//! the others discard their temp and use the winner. A published skeleton
//! is never written again. One whose stamp does not match its name, or
//! that is a symlink, not owned by the stage's owner or writable by
//! others, is refused (never repaired in place: a container may be using
//! it). `scgen skeletons` lists, checks and prunes them.
//!
//! The stage holds a shared `flock` on the store from the moment it looks a
//! skeleton up until it has written the container config; `skeletons
//! prune` takes it exclusively, so it never removes a skeleton between a
//! stage finding it and the config that names it.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use super::applet_link;
use super::beneath::Root;
use super::host::{self, Tools};
use super::skeletons::{self, ROOTFS, STAMP};
use crate::contract::{Entry, Kind, StageSpec};
use crate::error::{Error, Result};
use crate::values::{AbsPath, Applet};

/// One container's view of the store: which skeleton it needs and whether
/// that one is already there.
pub(super) struct Overlay {
    store: PathBuf,
    name: String,
    /// The stamp a skeleton of this name must start with.
    key: String,
    owner: (u32, u32),
    /// The store, share-locked while this stage relies on the skeleton.
    lock: Option<OwnedFd>,
    /// The skeleton is published and passed its checks.
    pub(super) present: bool,
}

impl Overlay {
    /// Works out the skeleton's name and checks the store and any skeleton
    /// already published under it. Writes nothing.
    pub(super) fn plan(
        store: &AbsPath,
        digest: &str,
        spec: &StageSpec,
        tools: &Tools,
        upper: &Path,
    ) -> Result<Self> {
        let upper_s = host::config_path("rootfs", upper)?;
        if let Some(c) = upper_s.chars().find(|c| matches!(c, ':' | ',' | '\\')) {
            return Err(Error::unsafe_target(format!(
                "rootfs {upper_s} holds `{c}`, which would split LXC's `overlay:<lower>:<upper>` value or the overlay mount options"
            )));
        }
        let owner = skeletons::effective_owner();
        let key = key(digest, spec, tools, owner)?;
        let name = contract_name(&key);
        let mut me = Overlay {
            store: PathBuf::from(store.as_str()),
            name,
            key,
            owner,
            lock: None,
            present: false,
        };
        if let Some(fd) = skeletons::open_store(&me.store, owner)? {
            rustix::fs::flock(&fd, FlockOperation::LockShared)
                .map_err(|e| Error::io(&me.store, e.into()))?;
            me.present = skeletons::open_checked(&fd, &me.store, &me.name, &me.key, owner)?;
            me.lock = Some(fd);
        }
        Ok(me)
    }

    /// The lower dir: the skeleton's tree, as LXC's config names it.
    pub(super) fn lower(&self) -> String {
        format!("{}/{}/{ROOTFS}", self.store.display(), self.name)
    }

    /// Makes sure the skeleton is published: fills and publishes it unless
    /// it is there. Returns the entries this stage created for it (0 when
    /// it was there or another stage published first).
    pub(super) fn ensure(&mut self, entries: &[Entry], applets: &[Applet]) -> Result<usize> {
        if self.present {
            return Ok(0);
        }
        let store = match self.lock.take() {
            Some(fd) => fd,
            None => {
                let fd = skeletons::create_store(&self.store, self.owner)?;
                rustix::fs::flock(&fd, FlockOperation::LockShared)
                    .map_err(|e| Error::io(&self.store, e.into()))?;
                fd
            }
        };
        let created = self.fill(&store, entries, applets)?;
        if !skeletons::open_checked(&store, &self.store, &self.name, &self.key, self.owner)? {
            return Err(Error::io(
                self.store.join(&self.name),
                std::io::Error::other("vanished right after it was published"),
            ));
        }
        self.lock = Some(store);
        self.present = true;
        Ok(created)
    }

    fn fill(&self, store: &OwnedFd, entries: &[Entry], applets: &[Applet]) -> Result<usize> {
        let final_path = self.store.join(&self.name);
        // Removed on drop unless published: a failed or losing fill leaves
        // nothing behind (a killed one leaves a `.NAME.*` dir, which
        // `skeletons prune` removes once no live stage holds its lock).
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{}.", self.name))
            .tempdir_in(&self.store)
            .map_err(|e| Error::create(&final_path, e))?;
        let tmp_name = tmp.path().file_name().expect("a temp dir has a name");
        let tmp_fd = rustix::fs::openat(
            store,
            tmp_name,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(|e| Error::io(tmp.path(), e.into()))?;
        // Marks the temp dir as being filled, for `skeletons prune`.
        rustix::fs::flock(&tmp_fd, FlockOperation::LockExclusive)
            .map_err(|e| Error::io(tmp.path(), e.into()))?;
        let mut root = Root::open(tmp.path(), Some(self.owner), 0o700)?;
        root.put(&Entry {
            path: ROOTFS.into(),
            mode: 0o755,
            kind: Kind::Dir,
        })?;
        for e in entries {
            root.put(&Entry {
                path: format!("{ROOTFS}/{}", e.path),
                ..e.clone()
            })?;
        }
        for a in applets {
            root.put(&applet_link(&format!("{ROOTFS}/bin/{a}")))?;
        }
        let tree = skeletons::tree_digest(&tmp.path().join(ROOTFS))
            .map_err(|e| Error::io(tmp.path(), e))?;
        root.write_file(
            STAMP,
            format!("{}tree {tree}\n", self.key).as_bytes(),
            0o444,
        )?;
        // Readable now that it is complete; the bytes reach the disk before
        // the name does, so a crash never leaves a named half skeleton.
        rustix::fs::fchmod(&tmp_fd, Mode::from_raw_mode(0o755))
            .map_err(|e| Error::io(tmp.path(), e.into()))?;
        rustix::fs::syncfs(&tmp_fd).map_err(|e| Error::io(tmp.path(), e.into()))?;
        match rustix::fs::renameat_with(store, tmp_name, store, &self.name, RenameFlags::NOREPLACE)
        {
            Ok(()) => {
                let _ = tmp.keep();
                Ok(root.created)
            }
            // Another stage published first: use its skeleton, drop ours.
            Err(Errno::EXIST) | Err(Errno::NOTEMPTY) => Ok(0),
            Err(e) => Err(Error::io(&final_path, e.into())),
        }
    }
}

/// The entries of a container's upper dir: only `etc`, for machine-id and
/// resolv.conf. Same mode as the skeleton's, since overlayfs shows the
/// upper dir's attributes.
pub(super) fn upper(root: &mut Root) -> Result<()> {
    root.put(&Entry {
        path: "etc".into(),
        mode: 0o755,
        kind: Kind::Dir,
    })
}

/// What the skeleton's tree depends on, one `key value` line each.
fn key(digest: &str, spec: &StageSpec, tools: &Tools, owner: (u32, u32)) -> Result<String> {
    let busybox = if spec.applets_at_stage {
        tools.busybox_identity()?
    } else {
        "not-listed".into()
    };
    Ok(format!(
        "scgen skeleton 1\nartifacts {digest}\nbusybox {busybox}\nuid-map {}\ngid-map {}\nowner {}:{}\n",
        id_map("uid_map"),
        id_map("gid_map"),
        owner.0,
        owner.1
    ))
}

/// This process's user-namespace id map, one `inside outside count`
/// triple per range, `;`-separated; `none` where the kernel has none.
fn id_map(file: &str) -> String {
    match fs::read_to_string(format!("/proc/self/{file}")) {
        Ok(text) => text
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(";"),
        Err(_) => "none".into(),
    }
}

/// A skeleton's directory name: 32 hex digits of its key's SHA-256.
fn contract_name(key: &str) -> String {
    crate::contract::sha256_hex(key.as_bytes())[..32].to_string()
}
