//! The inputs of one profile as layers: the profile file, the profiles it
//! `extends` (base first), and each `--set` on top.
//!
//! Each layer is parsed strictly on its own into [`RawProfile`], so an
//! unknown key or a wrong type is reported with that layer's line and
//! column. The layers then merge as [`super::merge`] describes (later
//! layers win, tables merge key by key, lists append). A later check that
//! fails names a key path, and [`Layers::locate`] finds the layer that set
//! it, so the caret points there.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::explain::span_of;
use super::merge::{self, Origins, LISTS};
use crate::diag::{self, Diagnostic, Source};
use crate::error::{Error, Result};
use crate::values::Invalid;

/// How many profiles an `extends` chain may hold: a bound on the
/// recursion, far above any real use.
const MAX_EXTENDS: usize = 32;
/// The largest profile read (a bound on what a planted file can cost).
const MAX_PROFILE: u64 = 64 << 20;

/// One parsed input: its text (for snippets) and its table (for merging).
#[derive(Debug, Clone)]
pub(super) struct Layer {
    pub(super) source: Source,
    table: toml::Table,
    /// The lists whose inherited entries this file drops (`replace`).
    replace: Vec<String>,
}

/// The inputs of one profile, base first, `--set` values last.
#[derive(Debug, Clone, Default)]
pub(super) struct Layers {
    pub(super) layers: Vec<Layer>,
    /// Every profile file read, for depfiles.
    pub(super) inputs: Vec<PathBuf>,
    /// Where each merged value was set; filled by [`Layers::merged`].
    pub(super) origins: Origins,
    /// The merged table, as [`Layers::merged`] last made it.
    pub(super) table: toml::Table,
    /// What the strict parse of each layer refused, by (layer, offset):
    /// kept so one run reports them with the checks' problems.
    errors: Vec<((usize, usize), Diagnostic)>,
}

/// A failed check: which key, what is wrong, how to fix it.
#[derive(Debug)]
pub(super) struct Problem {
    key: String,
    invalid: Invalid,
    /// Set when the problem lies in another file (a busybox.links line).
    at: Option<Box<(Source, Range<usize>)>>,
}

impl Problem {
    pub(super) fn new(key: &str, message: impl Into<String>, hint: Option<&str>) -> Self {
        Problem {
            key: key.to_string(),
            invalid: Invalid {
                message: message.into(),
                hint: hint.map(str::to_string),
            },
            at: None,
        }
    }

    /// The same problem with another hint (the type's own hint is for
    /// another key).
    pub(super) fn hint(mut self, hint: &str) -> Self {
        self.invalid.hint = Some(hint.to_string());
        self
    }

    /// A value refused by its type's parser, at `key`.
    pub(super) fn at_key(key: &str, invalid: Invalid) -> Self {
        Problem {
            key: key.to_string(),
            invalid,
            at: None,
        }
    }

    /// A problem in another input file (`busybox.links`), at `span` of it.
    pub(super) fn in_file(
        key: &str,
        invalid: Invalid,
        source: &Source,
        span: Range<usize>,
    ) -> Self {
        Problem {
            key: key.to_string(),
            invalid,
            at: Some(Box::new((source.clone(), span))),
        }
    }
}

impl Layers {
    /// Reads the profile at `path` and everything it extends. `seen` is the
    /// chain of profiles being loaded (canonical path, path as shown);
    /// `from` is the `extends` value that named `path`, where an error about
    /// `path` points.
    pub(super) fn push_file(
        &mut self,
        path: &Path,
        seen: &mut Vec<(PathBuf, String)>,
        from: Option<(&Source, Range<usize>)>,
    ) -> Result<()> {
        let fail = |message: String, hint: &str| match &from {
            Some((source, span)) => Error::config(
                Diagnostic::new(format!("`extends`: {message}"))
                    .at(source, Some(span.clone()))
                    .help(hint),
            ),
            None => Error::config(Diagnostic::new(message).help(hint)),
        };
        if seen.len() >= MAX_EXTENDS {
            return Err(fail(
                format!("profiles extend each other more than {MAX_EXTENDS} deep"),
                "flatten the chain: a profile rarely needs more than a base or two",
            ));
        }
        let text = crate::files::read_input(path, MAX_PROFILE).map_err(|e| {
            fail(
                format!("cannot read profile {}: {e}", path.display()),
                match from {
                    Some(_) => "`extends` is relative to the directory of the profile that sets it; `extends = \"default\"` names the built-in default",
                    None => "check the path given to --profile",
                },
            )
        })?;
        let canonical = path.canonicalize().map_err(|e| Error::io(path, e))?;
        if seen.iter().any(|(c, _)| *c == canonical) {
            let mut chain: Vec<&str> = seen.iter().map(|(_, shown)| shown.as_str()).collect();
            let shown = path.display().to_string();
            chain.push(&shown);
            return Err(fail(
                format!(
                    "profiles extend each other in a cycle: {}",
                    chain.join(" -> ")
                ),
                "remove one `extends` from the cycle",
            ));
        }
        seen.push((canonical, path.display().to_string()));
        self.inputs.push(path.to_path_buf());
        let source = Source {
            name: path.display().to_string(),
            dir: Some(path.parent().unwrap_or(Path::new(".")).to_path_buf()),
            text,
        };
        self.push_chain(source, Some(seen))
    }

    /// Parses one profile text strictly, then its base (if any), then keeps
    /// the text itself as a layer above the base.
    pub(super) fn push_chain(
        &mut self,
        source: Source,
        seen: Option<&mut Vec<(PathBuf, String)>>,
    ) -> Result<()> {
        let (table, extends, replace, errors) = parse_layer(&source)?;
        if let Some(extends) = extends {
            let span = span_of(&source.text, "extends");
            let refuse = |message: &str, hint: &str| {
                Error::config(
                    Diagnostic::new(format!("`extends`: {message}"))
                        .at(&source, span.clone())
                        .help(hint),
                )
            };
            if extends.trim().is_empty() {
                return Err(refuse(
                    "is empty",
                    "name the base profile, e.g. `extends = \"default\"` (the built-in default), or remove the key",
                ));
            }
            if extends.chars().any(crate::values::breaks_line) {
                return Err(refuse(
                    "names a file with a control character or line break",
                    "rename the base profile; such names break depfiles and logs",
                ));
            }
            if extends == super::BUILTIN_NAME {
                // The built-in default, by name: no file to find.
                self.push_builtin()?;
                self.push_layer(source, table, replace, errors);
                return Ok(());
            }
            let Some(dir) = &source.dir else {
                return Err(Error::config(
                    Diagnostic::new("the built-in profile cannot extend another").at(&source, span),
                ));
            };
            let mut fresh = Vec::new();
            let seen = seen.unwrap_or(&mut fresh);
            let from = span.map(|span| (&source, span));
            self.push_file(&dir.join(extends), seen, from)?;
        }
        self.push_layer(source, table, replace, errors);
        Ok(())
    }

    fn push_layer(
        &mut self,
        source: Source,
        table: toml::Table,
        replace: Vec<String>,
        errors: Vec<(usize, Diagnostic)>,
    ) {
        let i = self.layers.len();
        self.errors
            .extend(errors.into_iter().map(|(at, d)| ((i, at), d)));
        self.layers.push(Layer {
            source,
            table,
            replace,
        });
    }

    /// The built-in default (`profiles/default.toml` as compiled in): the
    /// base every profile starts from.
    pub(super) fn push_builtin(&mut self) -> Result<()> {
        self.push_chain(
            Source {
                name: super::BUILTIN_SOURCE.into(),
                dir: None,
                text: super::DEFAULT_PROFILE.into(),
            },
            None,
        )
    }

    pub(super) fn push_set(&mut self, set: &str) -> Result<()> {
        let Some((key, value)) = set.split_once('=') else {
            return Err(Error::usage(format!(
                "--set {set}: expected KEY=VALUE, for example --set network.gateway=true"
            )));
        };
        let key = key.trim();
        let value = value.trim();
        // A bare word that is not TOML (`/opt`, `eth1`) is taken as a string.
        let mut text = format!("{key} = {value}\n");
        if text.parse::<toml::Table>().is_err() {
            text = format!("{key} = {}\n", toml::Value::String(value.to_string()));
        }
        let source = Source {
            name: "--set".into(),
            dir: std::env::current_dir().ok(),
            text,
        };
        let (table, extends, replace, errors) = parse_layer(&source)?;
        if extends.is_some() {
            return Err(Error::usage("--set cannot change `extends`"));
        }
        self.push_layer(source, table, replace, errors);
        Ok(())
    }

    /// The layers merged, base first; records where each value came from.
    pub(super) fn merged(&mut self) -> toml::Table {
        let mut out = toml::Table::new();
        let mut origins = Origins::new();
        for (i, layer) in self.layers.iter().enumerate() {
            merge::layer(&mut out, &layer.table, &layer.replace, i, &mut origins);
        }
        self.origins = origins;
        self.table = out.clone();
        out
    }

    /// The layer that set `key` of the merged profile (a path like
    /// `mounts[1].source`, or the nearest enclosing one it has), the span
    /// of the value there, and `key` as that layer spells it (merging may
    /// have moved a list entry: `mounts[2]` may be the file's `mounts[0]`).
    pub(super) fn locate(&self, key: &str) -> Option<(&Layer, Range<usize>, String)> {
        let mut k = key;
        loop {
            if let Some(from) = self.origins.get(k) {
                let layer = &self.layers[from.layer];
                if let Some(span) = span_of(&layer.source.text, &from.path) {
                    return Some((layer, span, format!("{}{}", from.path, &key[k.len()..])));
                }
            }
            match k.rfind(['.', '[']) {
                Some(i) => k = &k[..i],
                None => break,
            }
        }
        self.layers
            .iter()
            .rev()
            .find_map(|l| span_of(&l.source.text, key).map(|s| (l, s, key.to_string())))
    }

    /// The diagnostic for a failed check, pointing at the layer that set
    /// the key (or at the other file the problem lies in).
    pub(super) fn diagnose(&self, p: Problem) -> Diagnostic {
        self.diagnose_at(p).1
    }

    /// The diagnostic, and where it stands in reading order: (layer,
    /// offset). One [`Layers::locate`] (a parse of the layer's text).
    fn diagnose_at(&self, p: Problem) -> ((usize, usize), Diagnostic) {
        let Problem { key, invalid, at } = p;
        let found = self.locate(&key);
        let order = found
            .as_ref()
            .and_then(|(l, span, _)| {
                let i = self.layers.iter().position(|x| std::ptr::eq(x, *l))?;
                Some((i, span.start))
            })
            .unwrap_or((usize::MAX, 0));
        if let Some(at) = at {
            let (source, span) = *at;
            let d = Diagnostic::new(invalid.message)
                .at(&source, Some(span))
                .help_opt(invalid.hint);
            return (order, d);
        }
        let d = match found {
            Some((layer, span, shown)) => {
                Diagnostic::new(format!("`{shown}`: {}", invalid.message))
                    .help_opt(invalid.hint)
                    .at(&layer.source, Some(span))
            }
            None => Diagnostic::new(format!("`{key}`: {}", invalid.message))
                .help_opt(invalid.hint)
                .at(
                    &self.layers.last().expect("at least one layer").source,
                    None,
                ),
        };
        (order, d)
    }

    /// One diagnostic for several failed checks, ordered as the layers
    /// (base first) and, in each, as the file: the order of reading.
    /// `None` when there is nothing to report.
    pub(super) fn diagnose_all(&self, problems: Vec<Problem>) -> Option<Diagnostic> {
        let mut all: Vec<((usize, usize), Diagnostic)> = self.errors.clone();
        all.extend(problems.into_iter().map(|p| self.diagnose_at(p)));
        all.sort_by_key(|(at, _)| *at);
        (!all.is_empty()).then(|| Diagnostic::all(all.into_iter().map(|(_, d)| d).collect()))
    }

    /// The directory a relative path set at `key` resolves against.
    pub(super) fn dir_of(&self, key: &str) -> PathBuf {
        self.locate(key)
            .and_then(|(l, _, _)| l.source.dir.clone())
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

/// What [`parse_layer`] gives: the table without `extends` and `replace`,
/// those two, and what the strict parse refused (by offset), left out of
/// the table.
type Parsed = (
    toml::Table,
    Option<String>,
    Vec<String>,
    Vec<(usize, Diagnostic)>,
);

/// Strictly parses one layer. Each entry the schema refuses is reported
/// and blanked out, and the rest parsed again, so one run reports them all.
fn parse_layer(source: &Source) -> Result<Parsed> {
    let (text, refused) = super::explain::strict(source);
    if refused.iter().any(|(_, _, syntax)| *syntax) {
        let errors = refused.into_iter().map(|(at, d, _)| (at, d)).collect();
        return Ok((toml::Table::new(), None, Vec::new(), errors));
    }
    let errors: Vec<(usize, Diagnostic)> = refused.into_iter().map(|(at, d, _)| (at, d)).collect();
    let mut table: toml::Table = text.parse().expect("parsed once already");
    let extends = match table.remove("extends") {
        Some(toml::Value::String(s)) => Some(s),
        _ => None,
    };
    let mut replace = Vec::new();
    if let Some(toml::Value::Array(items)) = table.remove("replace") {
        let lists = || LISTS.iter().map(|(k, _)| *k);
        for (i, item) in items.iter().enumerate() {
            let key = item.as_str().unwrap_or_default();
            if !lists().any(|k| k == key) {
                let hint = match diag::did_you_mean(key, lists()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!(
                        "`replace` names lists: {}",
                        lists()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                return Err(Error::config(
                    Diagnostic::new(format!("`replace`: `{key}` is not a list of a profile"))
                        .at(source, span_of(&source.text, &format!("replace[{i}]")))
                        .help(hint),
                ));
            }
            replace.push(key.to_string());
        }
    }
    Ok((table, extends, replace, errors))
}
