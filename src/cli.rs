//! The command line: argument definitions (also the source of completions
//! and the man page), the dispatch of each subcommand to the library, the
//! reports printed on stdout, and the one place errors are rendered.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::artifacts::Outcome;
use crate::error::{Error, Result};

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
    /// Render profiles into softwarecontainer.conf, rootfs.tar.gz, rootfs.mtree,
    /// stage.toml, the lxc-create drop-in and SHA256SUMS.
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
        after_help = "Examples:\n  scgen skeletons list --lxcpath /var/lib/lxc      # exit 65 if one fails its check\n  scgen skeletons --store /var/lib/softwarecontainer/skeletons prune --lxcpath /var/lib/lxc"
    )]
    Skeletons(SkeletonsArgs),
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
    /// Print the man page (roff).
    #[command(after_help = "Example:\n  scgen man > /usr/local/share/man/man1/scgen.1")]
    Man,
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
    /// The skeleton store (the profile's `container.skeleton-store`).
    #[arg(long, value_name = "DIR", default_value = crate::profile::DEFAULT_SKELETON_STORE)]
    pub store: PathBuf,
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
    let cli = Cli::parse();
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
        Command::Skeletons(args) => skeletons(args),
        Command::Schema => print(&crate::profile::schema()),
        Command::Init => print(&crate::profile::init()),
        Command::Profile {
            action: ProfileAction::Show(args),
        } => profile_show(args),
        Command::Completions { shell } => print(&completions(shell)),
        Command::Man => print(&man()),
    }
}

pub fn completions(shell: clap_complete::Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(
        shell,
        &mut <Cli as clap::CommandFactory>::command(),
        "scgen",
        &mut out,
    );
    String::from_utf8(out).expect("completions are UTF-8")
}

pub fn man() -> String {
    let mut out = Vec::new();
    clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
        .render(&mut out)
        .expect("rendering into memory");
    String::from_utf8(out).expect("roff is UTF-8")
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
    if let Some(note) = &r.note {
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

fn skeletons(args: SkeletonsArgs) -> Result<()> {
    use crate::stage::skeletons::{self, Outcome, State};
    let wait = lock_wait()?.unwrap_or(crate::stage::LOCK_WAIT);
    let (report, pruning) = match &args.action {
        SkeletonsAction::List { lxcpath } => (skeletons::list(&args.store, lxcpath, wait)?, false),
        SkeletonsAction::Prune { lxcpath } => (skeletons::prune(&args.store, lxcpath, wait)?, true),
    };
    let doubt = report.doubts.first().cloned();
    let mut text = String::new();
    for (item, outcome) in &report.items {
        let state = match &item.state {
            State::Ok => "ok".to_string(),
            State::Bad(why) => format!("FAILS CHECK: {why}"),
            State::Temp { live: true } => "filling".to_string(),
            State::Temp { live: false } => "left by a killed fill".to_string(),
            State::Foreign => "not a skeleton of scgen's; left alone".to_string(),
        };
        let users: Vec<String> = item.users.iter().map(|u| u.display().to_string()).collect();
        let users = match (users.is_empty(), &doubt, &item.state) {
            (false, _, _) => format!("used by {}", users.join(" ")),
            (true, Some(d), State::Ok | State::Bad(_)) => format!("use unknown: {d}"),
            (true, _, _) => "unused".to_string(),
        };
        let verb = match (pruning, outcome) {
            (false, _) => String::new(),
            (true, Outcome::Removed) => "removed ".into(),
            (true, Outcome::Kept) => "kept ".into(),
            (true, Outcome::Failed(why)) => format!("FAILED TO REMOVE ({why}) "),
        };
        text.push_str(&format!("{verb}{} {state}; {users}\n", item.name));
    }
    print(&text)?;
    for d in &report.doubts {
        warn(&format!("scgen skeletons: {d}"));
    }
    let failed: Vec<&str> = report
        .items
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
        .map(|(i, _)| i.name.as_str())
        .collect();
    if !failed.is_empty() {
        return Err(Error::io(
            &args.store,
            std::io::Error::other(format!(
                "could not remove {}; the rest was pruned",
                failed.join(", ")
            )),
        ));
    }
    if let Some(bad) = report
        .items
        .iter()
        .find(|(i, _)| matches!(i.state, State::Bad(_)))
    {
        if !pruning {
            return Err(Error::data(format!(
                "skeleton {} in {} fails its check",
                bad.0.name,
                args.store.display()
            )));
        }
    }
    match (pruning, doubt) {
        (true, Some(d)) => Err(Error::data(format!(
            "prune kept every skeleton: {d}"
        ))
        .with_help("fix or remove that container, or leave its lxcpath out if it holds no overlay containers")),
        _ => Ok(()),
    }
}

fn profile_show(args: ShowArgs) -> Result<()> {
    use crate::profile::Origin;
    let origin = args.profile.map_or(Origin::Embedded, Origin::File);
    let p = crate::profile::load(&origin, &args.set)?;
    let json = |v: serde_json::Value| serde_json::to_string_pretty(&v).expect("JSON") + "\n";
    print(&match (args.format, args.origin) {
        (Format::Text, o) => p.show(o),
        (Format::Json, false) => json(serde_json::json!(p.merged())),
        (Format::Json, true) => json(serde_json::json!(p.settings())),
    })
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
