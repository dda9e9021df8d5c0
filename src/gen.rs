//! `scgen gen`: run the build-time pipeline for each profile, then write
//! the artifacts (or, with `--check`, compare them), and the depfile.
//!
//! This is the orchestration the command line calls; it takes plain
//! options, so tests and other front ends drive it the same way.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use crate::artifacts::{self, Outcome};
use crate::diag::Diagnostic;
use crate::error::{Error, Result};
use crate::files::write_atomic;
use crate::profile::Origin;

/// mtime of every tarball entry when `SOURCE_DATE_EPOCH` is unset:
/// 2017-01-01T00:00:00Z, the year of the seed template.
pub const DEFAULT_EPOCH: u64 = 1_483_228_800;

/// One profile's generated output, before it is written anywhere.
pub struct Generated {
    pub profile: crate::profile::Profile,
    pub artifacts: Vec<artifacts::Artifact>,
    /// Every file the output depends on (profiles, links file, templates).
    pub inputs: Vec<PathBuf>,
}

/// Runs the build-time pipeline for one profile, in memory.
pub fn generate(
    origin: &Origin,
    sets: &[String],
    templates: Option<&Path>,
    mtime: u64,
) -> Result<Generated> {
    let profile = crate::profile::load(origin, sets)?;
    let rendered = crate::render::render(&profile, templates)?;
    let entries = crate::skeleton::skeleton(&profile)?;
    let artifacts = artifacts::build(&profile, &rendered, &entries, mtime);
    let mut inputs = profile.inputs.clone();
    inputs.extend(rendered.inputs.iter().cloned());
    Ok(Generated {
        profile,
        artifacts,
        inputs,
    })
}

/// The latest mtime the archives hold: the 11 octal digits of a ustar
/// header (2242-03-16). GNU tar calls larger values out of range, and
/// bsdtar crashes on some.
pub const MAX_EPOCH: u64 = 0o777_7777_7777;

/// The mtime to pack with: `SOURCE_DATE_EPOCH` if set (and not empty),
/// else [`DEFAULT_EPOCH`]. Every other value is an error, a non-UTF-8 one
/// too: a build that sets it wants it used.
pub fn source_date_epoch(value: Option<&OsStr>) -> Result<u64> {
    let bad = |why: &str| {
        Error::config(
            Diagnostic::new(format!(
                "SOURCE_DATE_EPOCH={:?} {why}",
                crate::values::short(&value.unwrap_or_default().to_string_lossy())
            ))
            .help(format!(
                "set it to whole seconds from 0 to {MAX_EPOCH}, e.g. `git log -1 --format=%ct`, or unset it"
            )),
        )
    };
    let Some(value) = value else {
        return Ok(DEFAULT_EPOCH);
    };
    let text = value.to_str().ok_or_else(|| bad("is not UTF-8"))?.trim();
    if text.is_empty() {
        return Ok(DEFAULT_EPOCH);
    }
    match text.parse::<u64>() {
        Ok(n) if n <= MAX_EPOCH => Ok(n),
        Ok(_) => Err(bad("is past what tar headers hold")),
        Err(_) => Err(bad("is not a whole number of seconds")),
    }
}

/// What `scgen gen` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Profiles to generate; empty: the built-in default.
    pub profiles: Vec<PathBuf>,
    /// Output directory [default: `generated/<profile name>`]; only with
    /// one profile.
    pub out: Option<PathBuf>,
    /// Compare instead of writing.
    pub check: bool,
    /// `--set KEY=VALUE` layers, in order.
    pub sets: Vec<String>,
    /// Integrator templates replacing built-in ones by name.
    pub templates: Option<PathBuf>,
    pub depfile: Option<PathBuf>,
    /// `SOURCE_DATE_EPOCH` as the environment had it.
    pub source_date_epoch: Option<OsString>,
}

/// What a run did. `stale` is set when `--check` found differences; the
/// outcomes are reported either way.
#[derive(Debug)]
pub struct Run {
    pub outcomes: Vec<Outcome>,
    pub stale: Option<Diagnostic>,
}

pub fn run(opts: &Options) -> Result<Run> {
    if opts.out.is_some() && opts.profiles.len() > 1 {
        return Err(Error::usage(
            "--out takes one --profile; run once per profile",
        ));
    }
    let mtime = source_date_epoch(opts.source_date_epoch.as_deref())?;
    let origins: Vec<Origin> = if opts.profiles.is_empty() {
        vec![Origin::Embedded]
    } else {
        opts.profiles.iter().cloned().map(Origin::File).collect()
    };
    if opts.out.is_none() {
        one_profile_per_name(&opts.profiles)?;
    }
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut report = String::new();
    let mut stale_origins: Vec<&Origin> = Vec::new();
    let mut depfile = Vec::new();
    for origin in &origins {
        let g = generate(origin, &opts.sets, opts.templates.as_deref(), mtime)?;
        let dir = opts
            .out
            .clone()
            .unwrap_or_else(|| Path::new("generated").join(&g.profile.name));
        if opts.check {
            let (o, stale) = artifacts::check(&dir, &g.artifacts)?;
            outcomes.extend(o);
            if !stale.is_empty() {
                report.push_str(&stale);
                stale_origins.push(origin);
            }
        } else {
            outcomes.extend(artifacts::write(&dir, &g.artifacts)?);
        }
        if opts.depfile.is_some() {
            depfile.extend(crate::depfile::rule(
                g.artifacts.iter().map(|a| dir.join(a.name)),
                &g.inputs,
            )?);
        }
    }
    if let (Some(path), false) = (&opts.depfile, opts.check) {
        let unchanged = matches!(
            crate::files::read_existing(path, 64 << 20)?,
            crate::files::Found::File { bytes, .. } if bytes == depfile
        );
        if !unchanged {
            write_atomic(path, &depfile, 0o644)?;
        }
    }
    let stale = (!stale_origins.is_empty()).then(|| {
        Diagnostic::new("generated files differ from what their profiles give")
            .body(report)
            .help(format!(
                "regenerate with `{}`",
                regen_command(&stale_origins, opts)
            ))
    });
    Ok(Run { outcomes, stale })
}

/// Refuses two profiles of one file name in a run: both would be written
/// to `generated/<name>/`, the second over the first.
fn one_profile_per_name(profiles: &[PathBuf]) -> Result<()> {
    let mut seen: std::collections::BTreeMap<&OsStr, &Path> = Default::default();
    for p in profiles {
        let Some(stem) = p.file_stem() else { continue };
        if let Some(first) = seen.insert(stem, p) {
            return Err(Error::usage(format!(
                "{} and {} would both be written to generated/{}/",
                first.display(),
                p.display(),
                stem.to_string_lossy()
            ))
            .with_help("run them separately, each with its own --out"));
        }
    }
    Ok(())
}

/// The one `scgen gen` command that rewrites all `--check` found stale:
/// the stale profiles, with the same output, `--set`s and templates,
/// quoted for the shell.
fn regen_command(origins: &[&Origin], opts: &Options) -> String {
    let q = |p: &Path| shell_word(&p.to_string_lossy());
    let mut s = String::from("scgen gen");
    for origin in origins {
        if let Origin::File(p) = origin {
            s.push_str(&format!(" --profile {}", q(p)));
        }
    }
    if let Some(out) = &opts.out {
        s.push_str(&format!(" --out {}", q(out)));
    }
    for set in &opts.sets {
        s.push_str(&format!(" --set {}", shell_word(set)));
    }
    if let Some(t) = &opts.templates {
        s.push_str(&format!(" --templates {}", q(t)));
    }
    s
}

/// `s` as one shell word: as it is when it holds nothing the shell would
/// read specially, else in single quotes.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./=:,+-@%".contains(&b));
    match plain {
        true => s.to_string(),
        false => crate::lxc::sh_quote(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regen_command_repeats_sets_and_templates_quoted() {
        let opts = Options {
            out: Some("out dir".into()),
            sets: vec![
                "network.gateway=true".into(),
                "install.prefix=/opt/a b".into(),
            ],
            templates: Some("tpl".into()),
            ..Default::default()
        };
        let cmd = regen_command(&[&Origin::File("profiles/x.toml".into())], &opts);
        assert_eq!(
            cmd,
            "scgen gen --profile profiles/x.toml --out 'out dir' --set network.gateway=true \
             --set 'install.prefix=/opt/a b' --templates tpl"
        );
        let two = [
            &Origin::File("a.toml".into()),
            &Origin::File("b c.toml".into()),
        ];
        let cmd = regen_command(&two, &Options::default());
        assert_eq!(cmd, "scgen gen --profile a.toml --profile 'b c.toml'");
    }
}
