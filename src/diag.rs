//! Diagnostics as values: what went wrong, where (a file and a byte span in
//! it), and how to fix it. A [`Diagnostic`] is built where the problem is
//! found and rendered once, at the edge (`cli::main`), in the shape cargo
//! prints for a bad Cargo.toml: `path:line:col`, a caret under the
//! offending text, and a `= help:` line.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

/// A text scgen read, kept whole so an error can quote it.
#[derive(Debug, Clone)]
pub struct Source {
    /// How the file is named in messages: the path as the user gave it.
    pub name: String,
    /// Directory that relative paths inside the file resolve against, if the
    /// text came from a file (the embedded default has none).
    pub dir: Option<PathBuf>,
    pub text: String,
}

/// One error, not yet rendered.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub message: String,
    /// The input at fault and, when known, the byte span in it.
    pub origin: Option<(Source, Option<Range<usize>>)>,
    /// Text shown below the message (a diff), before the hint.
    pub body: Option<String>,
    pub help: Option<String>,
    /// Further errors of the same run, shown after this one in order.
    pub more: Vec<Diagnostic>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            origin: None,
            body: None,
            help: None,
            more: Vec::new(),
        }
    }

    /// Several errors as one, in the order given (the first must exist).
    pub fn all(mut list: Vec<Diagnostic>) -> Self {
        let mut first = list.remove(0);
        first.more.extend(list);
        first
    }

    /// Points at `span` of `source` (or at the file alone, without a span).
    pub fn at(mut self, source: &Source, span: Option<Range<usize>>) -> Self {
        self.origin = Some((source.clone(), span));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn help_opt(mut self, help: Option<impl Into<String>>) -> Self {
        self.help = help.map(Into::into);
        self
    }

    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut group = Group::with_title(Level::ERROR.primary_title(&self.message));
        let mut named = None;
        if let Some((src, span)) = &self.origin {
            match span {
                Some(span) => {
                    group = group.element(
                        Snippet::source(&src.text)
                            .path(&src.name)
                            .fold(true)
                            .annotation(AnnotationKind::Primary.span(clamp(&src.text, span))),
                    )
                }
                // No position to point at: still say which file it is.
                None => named = Some(&src.name),
            }
        }
        if let Some(body) = &self.body {
            group = group.element(Level::NOTE.no_name().message(body.trim_end()));
        }
        if let Some(help) = &self.help {
            group = group.element(Level::HELP.message(help));
        }
        write!(f, "{}", Renderer::plain().render(&[group]))?;
        if let Some(name) = named {
            write!(f, "\n  --> {name}")?;
        }
        for d in &self.more {
            write!(f, "\n\n{d}")?;
        }
        if !self.more.is_empty() {
            let n = self.more.len() + 1;
            write!(f, "\n\nerror: {n} problems; nothing was written")?;
        }
        Ok(())
    }
}

/// Keeps a span inside the text and on char boundaries, and at least one
/// character wide so the caret is visible (an error "at end of file").
fn clamp(text: &str, span: &Range<usize>) -> Range<usize> {
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    if end == start && start > 0 && end == text.len() {
        start -= text[..start].chars().next_back().map_or(0, char::len_utf8);
    }
    start..end
}

/// The closest candidate to `word`, if one is close enough to be a typo
/// and closer than every other: a tie (`lxc4` is as near `lxc3` as `lxc2`)
/// suggests nothing rather than an arbitrary pick.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(f64, &'a str)> = None;
    let mut tied = false;
    for c in candidates {
        let score = strsim::jaro_winkler(word, c);
        if score <= 0.8 {
            continue;
        }
        match best {
            Some((b, _)) if score < b => {}
            Some((b, _)) if score == b => tied = true,
            _ => {
                best = Some((score, c));
                tied = false;
            }
        }
    }
    best.filter(|_| !tied).map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_names_file_line_and_column() {
        let src = Source {
            name: "p.toml".into(),
            dir: None,
            text: "a = 1\nprefx = 2\n".into(),
        };
        let out = Diagnostic::new("unknown key `prefx`")
            .at(&src, Some(6..11))
            .help("did you mean `prefix`?")
            .to_string();
        assert!(out.contains("p.toml:2:1"), "{out}");
        assert!(out.contains("^^^^^"), "{out}");
        assert!(out.contains("help: did you mean `prefix`?"), "{out}");
    }

    #[test]
    fn without_a_span_the_file_is_still_named() {
        let src = Source {
            name: "p.toml".into(),
            dir: None,
            text: String::new(),
        };
        let out = Diagnostic::new("bad").at(&src, None).to_string();
        assert!(out.starts_with("error: bad"), "{out}");
        assert!(out.ends_with("--> p.toml"), "{out}");
    }

    #[test]
    fn near_miss_and_far_miss() {
        assert_eq!(did_you_mean("prefx", ["prefix", "dialect"]), Some("prefix"));
        assert_eq!(did_you_mean("zzz", ["prefix", "dialect"]), None);
        assert_eq!(did_you_mean("lxc4", ["lxc3", "lxc2"]), None);
        assert_eq!(did_you_mean("lxc", ["lxc3", "lxc2x"]), Some("lxc3"));
    }
}
