//! Diagnostics for bad input: `path:line:col`, a caret under the offending
//! text, and a hint, in the shape cargo prints for a bad Cargo.toml.
//!
//! Every input error in scgen (profile, `--set`, busybox.links, template)
//! goes through [`render`], so they all read the same way.

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

/// Renders one error. `span` is a byte range into `src.text`; without a
/// source or span only the message (and hint) is printed, still naming the
/// origin.
pub fn render(
    src: &Source,
    span: Option<Range<usize>>,
    message: &str,
    hint: Option<&str>,
) -> String {
    let span = span.map(|s| clamp(&src.text, s));
    let mut group = Group::with_title(Level::ERROR.primary_title(message));
    if let Some(span) = span.clone() {
        group = group.element(
            Snippet::source(&src.text)
                .path(&src.name)
                .fold(true)
                .annotation(AnnotationKind::Primary.span(span)),
        );
    }
    if let Some(hint) = hint {
        group = group.element(Level::HELP.message(hint));
    }
    let out = Renderer::plain().render(&[group]).to_string();
    if span.is_none() {
        // No position to point at: still say which file it is.
        return format!("{out}\n  --> {}", src.name);
    }
    out
}

/// Keeps a span inside the text and on char boundaries, and at least one
/// character wide so the caret is visible (an error "at end of file").
fn clamp(text: &str, span: Range<usize>) -> Range<usize> {
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
        let out = render(
            &src,
            Some(6..11),
            "unknown key `prefx`",
            Some("did you mean `prefix`?"),
        );
        assert!(out.contains("p.toml:2:1"), "{out}");
        assert!(out.contains("^^^^^"), "{out}");
        assert!(out.contains("help: did you mean `prefix`?"), "{out}");
    }

    #[test]
    fn near_miss_and_far_miss() {
        assert_eq!(did_you_mean("prefx", ["prefix", "dialect"]), Some("prefix"));
        assert_eq!(did_you_mean("zzz", ["prefix", "dialect"]), None);
        assert_eq!(did_you_mean("lxc4", ["lxc3", "lxc2"]), None);
        assert_eq!(did_you_mean("lxc", ["lxc3", "lxc2x"]), Some("lxc3"));
    }
}
