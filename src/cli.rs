//! The command line: argument definitions (also the source of completions
//! and the man page), the dispatch of each subcommand to the library, the
//! reports printed on stdout, and the one place errors are rendered.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::artifacts::Outcome;
use crate::error::{Error, Result};

pub mod man;
mod profile;
mod skeletons;
mod target;

pub use target::{MountWritesArgs, SubidsArgs, VerifyArgs};

#[derive(Debug, Parser)]
#[command(
    name = "scgen",
    version,
    about = "Generate SoftwareContainer's LXC config and rootfs at build time"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render profiles into the artifacts (`command()` lists them from the
    /// contract).
    #[command(
        after_help = "Examples:\n  scgen gen                                   # built-in default -> generated/default/\n  scgen gen --profile profiles/network.toml --out build/sc\n  scgen gen --check --profile profiles/*.toml  # exit 1 if generated/ is stale\n  scgen gen --quiet --profile my.toml --out build/sc  # in a CMake or Ninja rule"
    )]
    Gen(GenArgs),
    /// Make one container from installed artifacts: unpack the rootfs, write
    /// machine-id and resolv.conf, link busybox applets, and append the
    /// host-dependent lines to the container's LXC config. Also lxc-create's
    /// template: it takes `--path=P --name=N --rootfs=R` in any order.
    #[command(
        after_help = "Examples:\n  scgen stage --artifacts /usr/local/share/softwarecontainer/scgen --path /var/lib/lxc/SC-1\n  lxc-create -n SC-1 -t /usr/local/share/softwarecontainer/lxc-templates/lxc-softwarecontainer \\\n      -f /usr/local/etc/softwarecontainer/softwarecontainer.conf"
    )]
    Stage(StageArgs),
    /// List, check or prune the shared skeletons of overlay containers
    /// (profile `container.rootfs = "overlay"`).
    #[command(
        after_help = "Examples:\n  scgen skeletons list --lxcpath /var/lib/lxc      # exit 65 if one fails its check\n  scgen skeletons list --format json --store /var/lib/softwarecontainer/skeletons\n  scgen skeletons prune --dry-run --lxcpath /var/lib/lxc   # what prune would remove"
    )]
    Skeletons(SkeletonsArgs),
    /// Give root the subordinate ids an id-mapped container needs: add
    /// `root:START:COUNT` to /etc/subuid and /etc/subgid for each range of
    /// the artifacts' `container.idmap` that root lacks (LXC maps through
    /// newuidmap/newgidmap where they are installed, and they insist).
    #[command(
        after_help = "Examples:\n  scgen subids --artifacts /usr/local/share/softwarecontainer/scgen\n  scgen subids --artifacts out --root \"$D\"      # an image's root, at build time\n  scgen subids --artifacts out --check        # exit 67 if root lacks them"
    )]
    Subids(SubidsArgs),
    /// LXC's pre-mount hook for `security.disk-max`, named in the container
    /// config by `scgen stage`: mounts a tmpfs of --size bytes on DIR in the
    /// container's mount namespace, with the overlay's upper dir in it, so
    /// that what the container writes stays within the bound. Refuses to
    /// run as anything but a pre-mount hook.
    #[command(
        after_help = "Example (a container config line; LXC appends NAME lxc pre-mount):\n  lxc.hook.pre-mount = /usr/bin/scgen mount-writes --size 104857600 /var/lib/lxc/SC-1/writes"
    )]
    MountWrites(MountWritesArgs),
    /// Check a container's tree, or a skeleton, against the artifacts'
    /// rootfs.mtree: what is missing, extra or changed (type, mode, owner,
    /// link target, size, sha256 digest). Exit 3 if anything differs.
    #[command(
        after_help = "Examples:\n  scgen verify --artifacts /usr/local/share/softwarecontainer/scgen /var/lib/lxc/SC-1\n  scgen verify --artifacts DIR --format json /var/lib/softwarecontainer/skeletons/<name>"
    )]
    Verify(VerifyArgs),
    /// Inspect a profile as a build would use it.
    #[command(
        after_help = "Examples:\n  scgen profile show --profile profiles/yocto.toml --origin\n  scgen profile show --profile my.toml --set network.gateway=true --format json"
    )]
    Profile {
        #[command(subcommand)]
        action: ProfileAction,
    },
    /// Print a complete, commented profile to start from: every key with
    /// its note and the built-in default's value.
    #[command(
        after_help = "Example:\n  scgen init > profiles/mine.toml   # then delete what you keep as it is"
    )]
    Init,
    /// Print the JSON Schema of a profile (for editor completion of TOML).
    #[command(
        after_help = "Example:\n  scgen schema > profile.schema.json   # then point taplo/Even Better TOML at it"
    )]
    Schema,
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  scgen completions bash > /etc/bash_completion.d/scgen")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): scgen(1), a subcommand's, or scgen-profile(5).
    #[command(
        after_help = "Examples:\n  scgen man > /usr/local/share/man/man1/scgen.1\n  scgen man scgen-profile > /usr/local/share/man/man5/scgen-profile.5\n  for p in $(scgen man --list); do scgen man \"$p\" > \"$p\"; done"
    )]
    Man {
        /// The page, by name (`scgen-gen`) or file name (`scgen-gen.1`) [default: scgen].
        #[arg(value_name = "PAGE")]
        page: Option<String>,
        /// Print the file name of every page, one a line, instead.
        #[arg(long, conflicts_with = "page")]
        list: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProfileAction {
    /// Print the merged profile (the built-in default, the `extends`
    /// chain, the file and each `--set`, merged) as TOML that loads back
    /// to the same profile, or as JSON. Only keys some layer sets are
    /// shown; the rest take their computed defaults.
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The profile [default: the built-in default].
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Override a profile value, as `gen --set` (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Say where each value was set: `file:line`, the `--set`, or
    /// `built-in profiles/default.toml:line`.
    #[arg(long)]
    pub origin: bool,
    /// TOML, or JSON: the merged table; with `--origin`, a list of
    /// `{key, value, origin: {layer, file, line}}`.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct StageArgs {
    /// Directory of the installed artifacts (holding SHA256SUMS).
    #[arg(long, value_name = "DIR")]
    pub artifacts: PathBuf,
    /// Container directory: its `config` is written (lxc-create's --path).
    // OsString, not PathBuf: clap refuses an empty PathBuf as a usage error,
    // and an empty target must be refused as unsafe (77) by the stage.
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub path: std::ffi::OsString,
    /// Root filesystem to fill [default: <path>/rootfs].
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub rootfs: Option<std::ffi::OsString>,
    /// Container name, as lxc-create passes it; only reported.
    #[arg(long, short = 'n', value_name = "NAME")]
    pub name: Option<String>,
    /// Host directory to bind on /gateways [default: $GATEWAY_DIR, then the profile's].
    #[arg(long, value_name = "DIR")]
    pub gateway_dir: Option<PathBuf>,
    /// busybox binary to bind into the container [default: found on PATH].
    #[arg(long, value_name = "FILE")]
    pub busybox: Option<PathBuf>,
    /// init.lxc binary to bind into the container [default: found on PATH].
    #[arg(long, value_name = "FILE")]
    pub init_lxc: Option<PathBuf>,
    /// iptables binary to bind (network gateway on) [default: found on PATH].
    #[arg(long, value_name = "FILE")]
    pub iptables: Option<PathBuf>,
    /// resolv.conf to copy into the container [default: /etc/resolv.conf].
    #[arg(long, value_name = "FILE")]
    pub resolv_conf: Option<PathBuf>,
    /// With lxc.idmap, lxc-create passes the namespace uid of its caller: the
    /// container config is given to it (the rootfs stays the container root's).
    #[arg(long, value_name = "UID")]
    pub mapped_uid: Option<u32>,
    /// The namespace gid of lxc-create's caller, for the container config.
    #[arg(long, value_name = "GID")]
    pub mapped_gid: Option<u32>,
}

#[derive(Debug, clap::Args)]
pub struct SkeletonsArgs {
    /// The skeleton store (the profile's `container.skeleton-store`); it
    /// must exist. Before or after the subcommand.
    #[arg(long, value_name = "DIR", global = true, default_value = crate::profile::DEFAULT_SKELETON_STORE)]
    pub store: PathBuf,
    /// How to report: one line per entry, or a JSON object
    /// (`{"store", "skeletons": [{"name", "state", "reason", "users", "action"}], "doubts"}`).
    #[arg(long, value_enum, global = true, default_value_t = Format::Text)]
    pub format: Format,
    #[command(subcommand)]
    pub action: SkeletonsAction,
}

#[derive(Debug, Subcommand)]
pub enum SkeletonsAction {
    /// One line per skeleton: name, `ok` or why it fails its check
    /// (stamp, owner, tree digest), and the containers using it. Exit 65
    /// if any fails its check.
    List {
        /// An LXC lxcpath whose containers' configs to read (repeatable).
        #[arg(long, value_name = "DIR")]
        lxcpath: Vec<PathBuf>,
    },
    /// Remove every skeleton no container under the lxcpaths uses, and the
    /// temp dirs of killed fills. A skeleton in use is never removed.
    Prune {
        /// Every lxcpath whose containers may use the store (repeatable).
        #[arg(long, value_name = "DIR", required = true)]
        lxcpath: Vec<PathBuf>,
        /// Remove nothing; report what would be removed (`would remove`).
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// Profiles to generate: `--profile a.toml b.toml` (a shell glob) or
    /// repeated. Without it: the built-in default.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub profile: Vec<PathBuf>,
    /// Directory for the artifacts [default: generated/<profile name>].
    /// Only with a single profile.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write nothing; list what is stale, with a diff and the one command
    /// that regenerates it, and exit 1. Silent when nothing is stale.
    #[arg(long)]
    pub check: bool,
    /// Print no report, only errors (for build systems).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Override a profile value, e.g. `--set network.gateway=true` (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Directory whose templates replace the built-in ones of the same name.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Also write a Make/Ninja depfile listing every input of the artifacts.
    #[arg(long, value_name = "FILE")]
    pub depfile: Option<PathBuf>,
    /// How to report what was generated.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Parses `std::env::args`, runs, prints any error, returns the exit code.
pub fn main() -> ExitCode {
    use clap::FromArgMatches as _;
    let cli = Cli::from_arg_matches(&command().get_matches()).unwrap_or_else(|e| e.exit());
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            warn(e.diagnostic().to_string().trim_end());
            ExitCode::from(e.exit_code())
        }
    }
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Gen(args) => gen(args),
        Command::Stage(args) => stage(args),
        Command::Skeletons(args) => skeletons::run(args),
        Command::Subids(args) => target::subids(args),
        Command::Verify(args) => target::verify(args),
        Command::MountWrites(args) => target::mount_writes(args),
        Command::Schema => print(&crate::profile::schema()),
        Command::Init => print(&crate::profile::init()),
        Command::Profile {
            action: ProfileAction::Show(args),
        } => profile::show(args),
        Command::Completions { shell } => print(&completions(shell)),
        Command::Man { page, list } => match (page, list) {
            (_, true) => print(
                &man::pages()
                    .into_iter()
                    .map(|(name, _)| name + "\n")
                    .collect::<String>(),
            ),
            (None, false) => print(&man()),
            (Some(p), false) => match man::page(&p) {
                Some(text) => print(&text),
                None => Err(Error::usage(format!(
                    "no man page {p:?}; `scgen man --list` names them"
                ))),
            },
        },
    }
}

/// The command line as parsed, completed and documented: the derive's,
/// with `gen`'s list of artifacts taken from the contract, so `--help`
/// and the man pages name every one `gen` writes.
pub fn command() -> clap::Command {
    let artifacts = crate::contract::ALL.join(", ");
    // mut_subcommands, not mut_subcommand: that one moves `gen` last.
    <Cli as clap::CommandFactory>::command().mut_subcommands(|c| match c.get_name() {
        "gen" => c.about(format!("Render profiles into the artifacts: {artifacts}")),
        _ => c,
    })
}

pub fn completions(shell: clap_complete::Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command(), "scgen", &mut out);
    String::from_utf8(out).expect("completions are UTF-8")
}

/// scgen(1).
pub fn man() -> String {
    man::page("scgen").expect("scgen(1) exists")
}

/// Writes a report on stdout. A reader that went away (EPIPE, as `| head`
/// does) is not an error: the work is done either way.
fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io("<stdout>", e)),
        _ => Ok(()),
    }
}

/// One line on stderr. Never panics (as `eprintln!` does on EPIPE, which
/// with `panic = "abort"` killed the process): a closed stderr loses the
/// line, never the exit code.
fn warn(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `SCGEN_LOCK_WAIT`: seconds to wait for a lock before giving up.
fn lock_wait() -> Result<Option<std::time::Duration>> {
    let Some(v) = std::env::var_os("SCGEN_LOCK_WAIT") else {
        return Ok(None);
    };
    v.to_str()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(|s| Some(std::time::Duration::from_secs(s)))
        .ok_or_else(|| Error::usage(format!("SCGEN_LOCK_WAIT={v:?} is not a number of seconds")))
}

fn stage(args: StageArgs) -> Result<()> {
    let opts = crate::stage::Options {
        artifacts: args.artifacts,
        path: args.path.into(),
        rootfs: args.rootfs.map(PathBuf::from),
        gateway_dir: args.gateway_dir,
        gateway_dir_env: std::env::var_os("GATEWAY_DIR").map(PathBuf::from),
        busybox: args.busybox,
        init_lxc: args.init_lxc,
        iptables: args.iptables,
        resolv_conf: args.resolv_conf,
        mapped_uid: args.mapped_uid,
        mapped_gid: args.mapped_gid,
        lock_wait: lock_wait()?,
    };
    let r = crate::stage::stage(&opts)?;
    for note in &r.notes {
        warn(&format!("scgen stage: {note}"));
    }
    print(&format!(
        "staged {}{}: {} entries created, {} kept, config {}\n",
        args.name.map(|n| format!("{n} in ")).unwrap_or_default(),
        r.rootfs.display(),
        r.created,
        r.kept,
        if r.config_written {
            "written"
        } else {
            "unchanged"
        }
    ))
}

fn gen(args: GenArgs) -> Result<()> {
    let opts = crate::gen::Options {
        profiles: args.profile,
        out: args.out,
        check: args.check,
        sets: args.set,
        templates: args.templates,
        depfile: args.depfile,
        source_date_epoch: std::env::var_os("SOURCE_DATE_EPOCH"),
    };
    let run = crate::gen::run(&opts)?;
    if !args.quiet {
        report(&run.outcomes, opts.check, args.format)?;
    }
    match run.stale {
        None => Ok(()),
        Some(d) => Err(Error::Stale(Box::new(d))),
    }
}

fn report(outcomes: &[Outcome], check: bool, format: Format) -> Result<()> {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(outcomes).expect("outcomes serialise") + "\n",
        // `--check` lists only what is stale: a clean check says nothing.
        Format::Text => outcomes
            .iter()
            .filter(|o| !check || o.changed)
            .map(|o| {
                let verb = match (check, o.changed) {
                    (false, true) => "wrote",
                    (false, false) => "unchanged",
                    (true, _) => "stale",
                };
                format!("{verb:>9} {}\n", o.path.display())
            })
            .collect(),
    };
    print(&text)
}
