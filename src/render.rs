//! Rendering: a checked [`Profile`] becomes the text artifacts through
//! minijinja templates (`softwarecontainer.conf`, the lxc-create drop-in).
//!
//! Templates are compiled in from `templates/`; an integrator's directory
//! (`--templates DIR`) replaces them by file name. Undefined variables are
//! errors (strict mode), so a template typo fails the build instead of
//! writing an empty value into an LXC config.

use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::contract::ARTIFACTS_DIR;
use crate::diag::{Diagnostic, Source};
use crate::error::{Error, Result};
use crate::lxc::{self, Keys};
use crate::profile::{Container, Mount, Network, Profile, Security};
use crate::values::AbsPath;

/// Built-in templates, by the name an override must use.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        CONF_TEMPLATE,
        include_str!("../templates/softwarecontainer.conf.j2"),
    ),
    (
        DROPIN_TEMPLATE,
        include_str!("../templates/lxc-softwarecontainer.j2"),
    ),
    (
        SECCOMP_TEMPLATE,
        include_str!("../templates/seccomp.policy.j2"),
    ),
];
pub const CONF_TEMPLATE: &str = "softwarecontainer.conf.j2";
pub const DROPIN_TEMPLATE: &str = "lxc-softwarecontainer.j2";
pub const SECCOMP_TEMPLATE: &str = "seccomp.policy.j2";

/// Everything a template sees. This struct is the documented contract for
/// integrator templates (docs/internals.md, "Template variables").
#[derive(Debug, Serialize)]
pub struct Context<'a> {
    /// Profile name (file stem).
    pub profile: &'a str,
    /// `lxc3` or `lxc2`.
    pub dialect: &'static str,
    /// Config key names in the profile's dialect, by role.
    pub keys: &'static Keys,
    /// Normalised install prefix.
    pub prefix: &'a AbsPath,
    pub container: &'a Container,
    /// Static mounts in order, the lib64 and prefix binds included.
    pub mounts: &'a [Mount],
    /// Present only with the network gateway on.
    pub network: Option<&'a Network>,
    /// Capabilities, seccomp, devices, no_new_privs, limits.
    pub security: &'a Security,
    /// Absolute path of the installed scgen binary.
    pub scgen_bin: String,
    /// Absolute path of the installed artifact directory.
    pub artifacts_dir: String,
}

impl<'a> Context<'a> {
    pub fn new(p: &'a Profile) -> Self {
        Context {
            profile: &p.name,
            dialect: p.dialect.as_str(),
            keys: p.dialect.keys(),
            prefix: &p.prefix,
            container: &p.container,
            mounts: &p.mounts,
            network: p.network.as_ref(),
            security: &p.security,
            scgen_bin: format!("{}/scgen", p.bindir),
            artifacts_dir: format!("{}/{ARTIFACTS_DIR}", p.datadir),
        }
    }
}

/// The rendered text artifacts of one profile.
pub struct Rendered {
    pub conf: String,
    pub dropin: String,
    pub seccomp: String,
    /// Template files read from an override directory, for depfiles.
    pub inputs: Vec<PathBuf>,
}

/// Renders both templates for `profile`, with `overrides` replacing
/// built-in templates that have the same file name.
pub fn render(profile: &Profile, overrides: Option<&Path>) -> Result<Rendered> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("the default delimiters are valid"),
    );
    env.add_filter("fstab", |s: String| lxc::fstab_escape(&s));
    env.add_filter("sh_quote", |s: String| crate::lxc::sh_quote(&s));
    // The directory itself too: adding an override there changes its mtime,
    // which a depfile then turns into a regeneration.
    let mut inputs: Vec<PathBuf> = overrides.map(Path::to_path_buf).into_iter().collect();
    // Each template's text and how messages name it, for error snippets.
    let mut sources: Vec<Source> = Vec::new();
    for (name, builtin) in TEMPLATES {
        let shown = match overrides.map(|d| d.join(name)).filter(|p| p.exists()) {
            Some(path) => path.display().to_string(),
            None => format!("templates/{name} (built in)"),
        };
        let text = match overrides.map(|d| d.join(name)).filter(|p| p.exists()) {
            Some(path) => {
                let text = crate::files::read_input(&path, 16 << 20).map_err(|e| {
                    Error::config(
                        Diagnostic::new(format!("cannot read template {}: {e}", path.display()))
                            .help("a template override is a UTF-8 text file"),
                    )
                })?;
                inputs.push(path);
                text
            }
            None => builtin.to_string(),
        };
        sources.push(Source {
            name: shown,
            dir: None,
            text: text.clone(),
        });
        env.add_template_owned(name.to_string(), text)
            .map_err(|e| template_error(e, &sources))?;
    }
    let ctx = Context::new(profile);
    let render = |name: &str| -> Result<String> {
        let text = env
            .get_template(name)
            .and_then(|t| t.render(minijinja::value::Serde(&ctx)))
            .map_err(|e| template_error(e, &sources))?;
        Ok(text)
    };
    let conf = render(CONF_TEMPLATE)?;
    check_conf(&conf)?;
    Ok(Rendered {
        conf,
        dropin: render(DROPIN_TEMPLATE)?,
        seccomp: render(SECCOMP_TEMPLATE)?,
        inputs,
    })
}

/// A template error as a diagnostic: the expression at fault (an
/// undefined variable by name), the template's path, line and a caret.
fn template_error(e: minijinja::Error, sources: &[Source]) -> Error {
    use minijinja::ErrorKind;
    let index = e
        .name()
        .and_then(|n| TEMPLATES.iter().position(|(name, _)| *name == n));
    let source = index.and_then(|i| sources.get(i));
    let quoted = source
        .zip(e.range())
        .and_then(|(s, r)| s.text.get(r))
        .map(|q| crate::values::short(q.trim()));
    let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
    let (message, help) = match (e.kind(), &quoted) {
        (ErrorKind::UndefinedError, Some(q)) => (
            format!("template: `{q}` is undefined"),
            "a template sees the variables docs/internals.md \"Template variables\" lists: profile, dialect, keys, prefix, container, mounts, network, security, scgen_bin, artifacts_dir".to_string(),
        ),
        (ErrorKind::SyntaxError, _) => (
            format!("template syntax error{detail}"),
            "check the `{{ }}` and `{% %}` pairs (minijinja, Jinja2 syntax)".to_string(),
        ),
        (kind, _) => (
            format!("template error: {kind}{detail}"),
            "check the template against docs/internals.md \"Template variables\"".to_string(),
        ),
    };
    let d = Diagnostic::new(message).help(help);
    let d = match source {
        Some(s) => {
            // Without a range, point at the line minijinja names.
            let span = e.range().or_else(|| {
                let line = e.line()?;
                let start: usize = s
                    .text
                    .split_inclusive('\n')
                    .take(line - 1)
                    .map(str::len)
                    .sum();
                let len = s.text[start..].find('\n').unwrap_or(s.text.len() - start);
                Some(start..start + len)
            });
            d.at(s, span)
        }
        None => d,
    };
    Error::config(d)
}

/// A last guard for integrator templates: every line of the config must be
/// blank, a whole-line comment, or `lxc.key = value`.
fn check_conf(conf: &str) -> Result<()> {
    let mount_entry = format!("{} =", crate::lxc::Dialect::Lxc3.keys().mount_entry);
    for (i, line) in conf.lines().enumerate() {
        let t = line.trim_start();
        if let Some(value) = t.strip_prefix(&mount_entry) {
            let value = value.trim();
            if value.len() > lxc::MOUNT_ENTRY_MAX {
                return Err(Error::config(
                    Diagnostic::new(format!(
                        "rendered softwarecontainer.conf line {} is an lxc.mount.entry of {} bytes; liblxc reads {} and would cut it",
                        i + 1,
                        value.len(),
                        lxc::MOUNT_ENTRY_MAX
                    ))
                    .help("use shorter paths in the profile's `mounts`"),
                ));
            }
        }
        let ok = t.is_empty()
            || t.starts_with('#')
            || t.split_once('=').is_some_and(|(k, _)| {
                let k = k.trim();
                k.starts_with("lxc.") && !k.contains(char::is_whitespace)
            });
        if !ok || line.contains('\r') {
            return Err(Error::config(
                Diagnostic::new(format!(
                    "rendered softwarecontainer.conf line {} is not an LXC config line: {line:?}",
                    i + 1
                ))
                .help("check the template; LXC silently ignores such lines"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_guard_rejects_stray_lines() {
        assert!(check_conf("# c\nlxc.a = b\n\n").is_ok());
        assert!(check_conf("lxc.a = b\nrm -rf /\n").is_err());
        assert!(check_conf("lxc.a b = c\n").is_err());
    }
}
