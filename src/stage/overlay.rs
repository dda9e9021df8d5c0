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
//! skeleton up until it has written the container's marker and config;
//! `skeletons prune` takes it exclusively, so it never removes a skeleton
//! between a stage finding it and the record of its use. The marker
//! (`skeletons::MARKER`) keeps that record whatever LXC does to the config
//! afterwards. A directory the tarball makes writable by others is
//! clamped in the shared skeleton and made with its real mode in each
//! upper dir ([`open_dirs`]), so no other user can write in a skeleton.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::fs::{Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use super::applet_link;
use super::beneath::Root;
use super::host::{self, Tools};
use super::skeletons;
use super::stamp::{self, judge, ROOTFS, STAMP};
use super::store::{self, Store};
use super::tree;
use crate::contract::{Entry, Kind, StageSpec};
use crate::error::{Error, Result};
use crate::values::{AbsPath, Applet};

/// One container's view of the store: which skeleton it needs and whether
/// that one is already there.
pub(super) struct Overlay {
    store_path: PathBuf,
    name: String,
    /// The stamp's key lines a skeleton of this name must have.
    key: String,
    owner: (u32, u32),
    /// The store, share-locked while this stage relies on the skeleton.
    store: Option<Store>,
    wait: Duration,
    /// The skeleton is published and passed its checks.
    pub(super) present: bool,
    /// Directories each upper dir holds, with their modes (see `stamp.rs`).
    upper: Vec<(String, u32)>,
}

impl Overlay {
    /// Works out the skeleton's name and checks the store (its whole path)
    /// and any skeleton already published under it. Writes nothing.
    pub(super) fn plan(
        store_path: &AbsPath,
        digest: &str,
        spec: &StageSpec,
        tools: &Tools,
        upper: &Path,
        wait: Duration,
    ) -> Result<Self> {
        host::overlay_path("rootfs", upper)?;
        let owner = skeletons::effective_owner();
        let key = key(digest, spec, tools, owner)?;
        let mut me = Overlay {
            store_path: PathBuf::from(store_path.as_str()),
            name: stamp::name_of(&key),
            key,
            owner,
            store: store::open(Path::new(store_path.as_str()), Some(owner.0), false)?,
            wait,
            present: false,
            upper: Vec::new(),
        };
        me.not_in_store(upper)?;
        if let Some(s) = &me.store {
            s.lock(false, wait)?;
            if let Some(j) = judge(s, &me.name, Some(owner))? {
                me.accept(j)?;
            }
        }
        Ok(me)
    }

    /// The upper dir must not be in the store: the stage would write into
    /// a published skeleton, and the config would name it as its own lower.
    fn not_in_store(&self, upper: &Path) -> Result<()> {
        let refuse = || {
            Err(Error::unsafe_target(format!(
                "rootfs {} is inside the skeleton store {}; a container's upper dir must be its own",
                upper.display(),
                self.store_path.display()
            ))
            .with_help("give the container a rootfs outside the store (the default is <path>/rootfs)"))
        };
        if upper.starts_with(&self.store_path) {
            return refuse();
        }
        let Some(s) = &self.store else { return Ok(()) };
        let st = rustix::fs::fstat(&s.fd).map_err(|e| Error::io(&self.store_path, e.into()))?;
        for dir in upper.ancestors() {
            if let Ok(m) = rustix::fs::stat(dir) {
                if (m.st_dev, m.st_ino) == (st.st_dev, st.st_ino) {
                    return refuse();
                }
            }
        }
        Ok(())
    }

    fn accept(&mut self, j: stamp::Judged) -> Result<()> {
        if j.key != self.key {
            return Err(Error::data(format!(
                "skeleton {} fails its stamp check: its stamp is not the one its name stands for; it is never used",
                self.store_path.join(&self.name).display()
            )));
        }
        self.upper = j.upper;
        self.present = true;
        Ok(())
    }

    /// The lower dir: the skeleton's tree, as LXC's config names it.
    pub(super) fn lower(&self) -> String {
        format!("{}/{}/{ROOTFS}", self.store_path.display(), self.name)
    }

    /// Makes sure the skeleton is published: fills and publishes it unless
    /// it is there. Returns the entries this stage created for it (0 when
    /// it was there or another stage published first).
    pub(super) fn ensure(&mut self, entries: &[Entry], applets: &[Applet]) -> Result<usize> {
        if self.present {
            return Ok(0);
        }
        let store = match self.store.take() {
            Some(s) => s,
            None => {
                let s =
                    store::open(&self.store_path, Some(self.owner.0), true)?.ok_or_else(|| {
                        Error::create(&self.store_path, std::io::ErrorKind::NotFound.into())
                    })?;
                s.lock(false, self.wait)?;
                s
            }
        };
        let created = self.fill(&store, entries, applets)?;
        let judged = judge(&store, &self.name, Some(self.owner))?.ok_or_else(|| {
            Error::io(
                self.store_path.join(&self.name),
                std::io::Error::other("vanished right after it was published"),
            )
        })?;
        self.accept(judged)?;
        self.store = Some(store);
        Ok(created)
    }

    fn fill(&self, store: &Store, entries: &[Entry], applets: &[Applet]) -> Result<usize> {
        let final_path = self.store_path.join(&self.name);
        let upper = open_dirs(entries)?;
        // Removed on drop unless published: a failed or losing fill leaves
        // nothing behind (a killed one leaves a `.NAME.*` dir, which
        // `skeletons prune` removes once no live stage holds its lock).
        // It stays 0700 until published: no one else can open it, so no
        // one else can hold its lock.
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{}.", self.name))
            .tempdir_in(&self.store_path)
            .map_err(|e| Error::create(&final_path, e))?;
        let tmp_name = tmp.path().file_name().expect("a temp dir has a name");
        let tmp_fd = rustix::fs::openat(
            &store.fd,
            tmp_name,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(|e| Error::io(tmp.path(), e.into()))?;
        // Marks the temp dir as being filled, for `skeletons prune`.
        rustix::fs::flock(&tmp_fd, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| Error::io(tmp.path(), e.into()))?;
        let mut root = Root::open(tmp.path(), Some(self.owner), 0o700)?;
        root.put(&Entry {
            path: ROOTFS.into(),
            mode: 0o755,
            kind: Kind::Dir,
        })?;
        for e in entries {
            // No one but the owner may write in a shared skeleton; the
            // real mode is the upper dir's.
            let mode = match e.kind {
                Kind::Symlink(_) => e.mode,
                _ => e.mode & !0o022,
            };
            root.put(&Entry {
                path: format!("{ROOTFS}/{}", e.path),
                mode,
                kind: e.kind.clone(),
            })?;
        }
        for a in applets {
            root.put(&applet_link(&format!("{ROOTFS}/bin/{a}")))?;
        }
        let rootfs_fd = rustix::fs::openat(&tmp_fd, ROOTFS, store::DIR, Mode::empty())
            .map_err(|e| Error::io(tmp.path(), e.into()))?;
        let tree = tree::digest(&rootfs_fd)
            .map_err(|e| Error::io(tmp.path(), std::io::Error::other(e)))?;
        root.write_file(
            STAMP,
            stamp::text(&self.key, &upper, &tree).as_bytes(),
            0o444,
        )?;
        // The bytes reach the disk before the name does, so a crash never
        // leaves a named half skeleton.
        rustix::fs::syncfs(&tmp_fd).map_err(|e| Error::io(tmp.path(), e.into()))?;
        match rustix::fs::renameat_with(
            &store.fd,
            tmp_name,
            &store.fd,
            &self.name,
            RenameFlags::NOREPLACE,
        ) {
            Ok(()) => {
                let _ = tmp.keep();
                // Readable now that it is published and complete.
                rustix::fs::fchmod(&tmp_fd, Mode::from_raw_mode(0o755))
                    .map_err(|e| Error::io(&final_path, e.into()))?;
                Ok(root.created)
            }
            // Another stage published first: use its skeleton, drop ours.
            Err(Errno::EXIST) | Err(Errno::NOTEMPTY) => Ok(0),
            Err(Errno::NOSYS) => Err(Error::unavailable(format!(
                "{}: {}",
                final_path.display(),
                super::walk::describe("renameat2", Errno::NOSYS)
            ))),
            Err(e) => Err(Error::io(&final_path, e.into())),
        }
    }

    /// The entries of a container's upper dir: `etc`, for machine-id and
    /// resolv.conf, and the directories others may write (`tmp`), with
    /// the tarball's modes, which overlayfs shows over the skeleton's.
    pub(super) fn upper(&self, root: &mut Root) -> Result<()> {
        root.put(&Entry {
            path: "etc".into(),
            mode: 0o755,
            kind: Kind::Dir,
        })?;
        for (path, mode) in &self.upper {
            root.put(&Entry {
                path: path.clone(),
                mode: *mode,
                kind: Kind::Dir,
            })?;
        }
        Ok(())
    }
}

/// The directories others may write (and their parents, with their
/// modes, parents first), which go into each upper dir. A file others may
/// write cannot be shared at all and is refused before any write.
pub(super) fn open_dirs(entries: &[Entry]) -> Result<Vec<(String, u32)>> {
    let mut out: Vec<(String, u32)> = Vec::new();
    for e in entries {
        if matches!(e.kind, Kind::Symlink(_)) || e.mode & 0o022 == 0 {
            continue;
        }
        if !matches!(e.kind, Kind::Dir) {
            return Err(Error::data(format!(
                "rootfs entry {} is a file others may write (mode {:04o}); a shared overlay skeleton cannot hold one",
                e.path, e.mode
            )));
        }
        let mut prefix = String::new();
        for part in e.path.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if !out.iter().any(|(p, _)| *p == prefix) {
                let mode = entries
                    .iter()
                    .find(|x| x.path == prefix)
                    .map_or(0o755, |x| x.mode);
                out.push((prefix.clone(), mode & 0o7777));
            }
        }
    }
    Ok(out)
}

/// What the skeleton's tree depends on, one `key value` line each.
fn key(digest: &str, spec: &StageSpec, tools: &Tools, owner: (u32, u32)) -> Result<String> {
    let busybox = if spec.applets_at_stage {
        tools.busybox_identity()?
    } else {
        "not-listed".into()
    };
    Ok(format!(
        "scgen skeleton 2\nartifacts {digest}\nbusybox {busybox}\nuid-map {}\ngid-map {}\nowner {}:{}\n",
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
