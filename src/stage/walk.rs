//! Opening a path below a directory descriptor without following any
//! symlink, on every kernel the stage supports.
//!
//! Where the kernel has `openat2` (Linux 5.6), [`open_beneath`] asks it for
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`. Where it
//! does not (older kernels, qemu-user 7.2, a seccomp policy that answers
//! ENOSYS or EPERM), the same guarantee comes from a walk one component at
//! a time: each directory is opened with `O_DIRECTORY | O_NOFOLLOW` from
//! the descriptor of the one before and checked with `fstat`, so a symlink
//! anywhere in the path is refused (ELOOP or ENOTDIR, as `openat2` refuses
//! it), `..` and absolute paths are refused before any lookup (EXDEV, as
//! `RESOLVE_BENEATH` does), and nothing is ever resolved by path from
//! anywhere but a descriptor already checked. A swap of a component for a
//! symlink between two steps only makes the next step fail: no step
//! follows a name it has not just opened itself.
//!
//! Which one is used is decided once per process by a probe (an `openat2`
//! of `.` with `O_PATH`), not by the errors of real opens: EPERM from a real
//! open can mean an immutable file, so it must not switch paths.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use rustix::io::{Errno, Result};

const BENEATH: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

/// How an intermediate directory is opened by the walk: for search only
/// (as path resolution needs), never following a symlink.
const STEP: OFlags = OFlags::PATH
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Whether `openat2` with the stage's resolve flags works here. Probed
/// once; ENOSYS (missing) and EPERM (refused by a seccomp policy, as older
/// container runtimes answer unknown calls) select the walk.
pub(super) fn have_openat2(dir: BorrowedFd<'_>) -> bool {
    static HAVE: OnceLock<bool> = OnceLock::new();
    *HAVE.get_or_init(|| {
        let probe = rustix::fs::openat2(dir, ".", STEP, Mode::empty(), BENEATH);
        !matches!(probe, Err(Errno::NOSYS | Errno::PERM))
    })
}

/// Opens `path` below `dir` with `flags` (and `mode` for a new file),
/// following no symlink and never leaving `dir`.
pub(super) fn open_beneath(
    dir: impl AsFd,
    path: &str,
    flags: OFlags,
    mode: Mode,
) -> Result<OwnedFd> {
    let dir = dir.as_fd();
    if have_openat2(dir) {
        rustix::fs::openat2(dir, path, flags, mode, BENEATH)
    } else {
        walk(dir, path, flags, mode)
    }
}

/// The fallback: one component at a time, each directory opened without
/// following and checked on its descriptor, the last one opened with
/// `O_NOFOLLOW` added to `flags`.
pub(super) fn walk(dir: BorrowedFd<'_>, path: &str, flags: OFlags, mode: Mode) -> Result<OwnedFd> {
    if path.starts_with('/') {
        return Err(Errno::XDEV);
    }
    let mut names = path.split('/').filter(|n| !n.is_empty() && *n != ".");
    let Some(mut name) = names.next() else {
        // "" or ".": the directory itself, opened afresh as openat2 would.
        return rustix::fs::openat(dir, ".", flags | OFlags::NOFOLLOW, mode);
    };
    let mut held: Option<OwnedFd> = None;
    for next in names {
        let cur = held.as_ref().map_or(dir, |fd| fd.as_fd());
        held = Some(step(cur, name)?);
        name = next;
    }
    if name == ".." {
        return Err(Errno::XDEV);
    }
    let cur = held.as_ref().map_or(dir, |fd| fd.as_fd());
    rustix::fs::openat(cur, name, flags | OFlags::NOFOLLOW, mode)
}

/// Opens the directory `name` in `cur` for the next step: `..` is refused
/// outright, a symlink is not followed (ENOTDIR or ELOOP), and what was
/// opened must be a directory on its own descriptor.
fn step(cur: BorrowedFd<'_>, name: &str) -> Result<OwnedFd> {
    if name == ".." {
        return Err(Errno::XDEV);
    }
    let fd = rustix::fs::openat(cur, name, STEP, Mode::empty())?;
    let st = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return Err(Errno::NOTDIR);
    }
    Ok(fd)
}

/// A system call this kernel (or emulator) lacks, named with the Linux
/// release that brought it; other errors are described as they are.
pub(super) fn describe(call: &str, e: Errno) -> String {
    let since = match call {
        "renameat2" => "3.15",
        "getrandom" => "3.17",
        _ => "",
    };
    if e == Errno::NOSYS && !since.is_empty() {
        format!("{call} is not implemented here ({e}): scgen stage needs Linux {since} or newer for it (qemu-user and seccomp policies can also lack it)")
    } else {
        format!("{call}: {e}")
    }
}

/// The walk alone, on this kernel: each test fails on a walk that lets
/// `openat` resolve more than one name, follows a symlink between steps,
/// opens a component before knowing it is a directory, or honours `..`.
#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::path::Path;

    const NEW: OFlags = OFlags::WRONLY
        .union(OFlags::CREATE)
        .union(OFlags::EXCL)
        .union(OFlags::CLOEXEC);

    fn dir(p: &Path) -> OwnedFd {
        rustix::fs::open(p, OFlags::DIRECTORY | OFlags::RDONLY, Mode::empty()).unwrap()
    }

    #[test]
    fn planted_links_dotdot_and_absolute_paths_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let (root, host) = (t.path().join("root"), t.path().join("host"));
        std::fs::create_dir_all(root.join("a/d")).unwrap();
        std::fs::create_dir(&host).unwrap();
        symlink(&host, root.join("a/l")).unwrap();
        symlink("../../host", root.join("a/rel")).unwrap();
        let fd = dir(&root);
        for p in [
            "a/l/f",
            "a/rel/f",
            "a/l",
            "../host/f",
            "a/../../host/f",
            "/tmp/f",
        ] {
            let got = walk(fd.as_fd(), p, NEW, Mode::from_raw_mode(0o644));
            assert!(
                matches!(
                    got,
                    Err(Errno::LOOP | Errno::NOTDIR | Errno::XDEV | Errno::EXIST)
                ),
                "{p}: {got:?}"
            );
        }
        assert_eq!(
            std::fs::read_dir(&host).unwrap().count(),
            0,
            "wrote outside"
        );
        walk(fd.as_fd(), "a/./d//f", NEW, Mode::from_raw_mode(0o644)).unwrap();
        assert!(root.join("a/d/f").is_file());
    }

    /// A component swapped, while the walk runs, for a symlink out of the
    /// root or for a FIFO (which an `O_RDONLY` open would block on): no
    /// file is ever created outside, no open hangs, and both outcomes are
    /// seen, so the race was really run.
    #[test]
    fn components_swapped_during_the_walk_never_lead_out_or_block() {
        let t = tempfile::tempdir().unwrap();
        let (root, host) = (t.path().join("root"), t.path().join("host"));
        std::fs::create_dir_all(root.join("a/d")).unwrap();
        std::fs::create_dir(&host).unwrap();
        symlink(&host, root.join("a/l")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("a/p"),
            FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        std::fs::write(root.join("a/d/e"), "e").unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let swapper = {
            let (a, stop) = (dir(&root.join("a")), stop.clone());
            std::thread::spawn(move || {
                use rustix::fs::RenameFlags;
                let mut i = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let other = if i.is_multiple_of(2) { "l" } else { "p" };
                    let x = rustix::fs::renameat_with(&a, "d", &a, other, RenameFlags::EXCHANGE);
                    x.unwrap();
                    i += 1;
                }
            })
        };
        let fd = dir(&root);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (mut made, mut refused) = (0, 0);
            let start = std::time::Instant::now();
            while (made < 50 || refused < 50) && start.elapsed().as_secs() < 20 {
                let name = format!("a/d/f{}", made + refused);
                for (path, flags) in [(name.as_str(), NEW), ("a/d/e", OFlags::RDONLY)] {
                    match walk(fd.as_fd(), path, flags, Mode::from_raw_mode(0o644)) {
                        Ok(_) => made += 1,
                        Err(Errno::LOOP | Errno::NOTDIR) => refused += 1,
                        Err(e) => panic!("{path}: {e}"),
                    }
                }
            }
            tx.send((made, refused)).unwrap();
        });
        let (made, refused) = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the walk blocked (or panicked)");
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        swapper.join().unwrap();
        assert_eq!(
            std::fs::read_dir(&host).unwrap().count(),
            0,
            "wrote outside"
        );
        assert!(
            made >= 50 && refused >= 50,
            "made {made}, refused {refused}"
        );
    }
}
