//! Running the binary on hostile input without letting it hang the suite
//! or eat the machine: a deadline and an address-space limit per run, and
//! the identity of a directory entry to prove it was left alone.

use std::fs;
use std::io::Read as _;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long one run of the binary may take before it counts as hung (a
/// FIFO opened for reading or writing blocks for ever). A hang is for
/// ever, so the deadline is generous: 20 s was passed by honest work (a
/// prune of a 20000-deep tree, a Destroy) on 2 cores at load 12 and more,
/// and only a failing run waits it out.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The address-space limit for a run that might read `/dev/zero` to the
/// end: it fails the test instead of exhausting the machine's memory.
pub const MEMORY_LIMIT: u64 = 2 << 30;

/// `cmd` re-run through `wrapper` (a program and its leading arguments):
/// same program, arguments, environment changes and working directory.
pub fn wrapped(cmd: &Command, wrapper: &[&str]) -> Command {
    let mut w = Command::new(wrapper[0]);
    w.args(&wrapper[1..])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => w.env(k, v),
            None => w.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        w.current_dir(d);
    }
    w
}

/// Runs `cmd` under [`MEMORY_LIMIT`] and fails the test if it has not
/// exited after [`DEADLINE`] (it is killed first), so a stage that blocks
/// on a FIFO or reads `/dev/zero` fails instead of hanging the suite.
#[track_caller]
pub fn run_within(cmd: &Command, what: &str) -> Output {
    use std::io::Seek as _;
    let limit = format!("--as={MEMORY_LIMIT}");
    let mut cmd = wrapped(cmd, &["prlimit", &limit, "--"]);
    let mut out = tempfile::tempfile().unwrap();
    let mut err = tempfile::tempfile().unwrap();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {DEADLINE:?}: hung (killed)");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    out.rewind().unwrap();
    out.read_to_end(&mut stdout).unwrap();
    err.rewind().unwrap();
    err.read_to_end(&mut stderr).unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Identity of a directory entry, never followed: device, inode, link
/// count, mode (type bits included), owner, bytes of a regular file. Equal
/// before and after: neither written through, nor chmodded, nor chowned,
/// nor replaced.
pub type Ident = (u64, u64, u64, u32, u32, u32, Vec<u8>);

pub fn ident(p: &Path) -> Ident {
    let m = fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let bytes = if m.is_file() {
        fs::read(p).unwrap()
    } else {
        Vec::new()
    };
    (
        m.dev(),
        m.ino(),
        m.nlink(),
        m.mode(),
        m.uid(),
        m.gid(),
        bytes,
    )
}
