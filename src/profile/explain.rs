//! toml and serde errors reworded for someone editing a profile: no Rust
//! type names, the key or value at fault named, and a hint to fix it; and
//! all of them found in one pass over a file ([`strict`]); and where a
//! key's value stands in a text ([`span_of`]).

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::raw::RawProfile;
use crate::diag::{self, Diagnostic, Source};

/// The most errors reported of one file: past that, the file is likely
/// not a profile at all.
const MAX_ERRORS: usize = 32;

/// One refused entry: its offset, the diagnostic, and whether it is TOML
/// syntax (after which nothing more of the file can be read).
pub(super) type Refused = (usize, Diagnostic, bool);

/// Parses `source` strictly as a profile. Each entry the schema refuses
/// (an unknown key, a value of the wrong type, a table missing a key) is
/// reported and blanked out, keeping every offset, and the rest parsed
/// again, so a file with three mistakes reports three. Returns the text
/// with the refused entries blanked.
pub(super) fn strict(source: &Source) -> (String, Vec<Refused>) {
    let mut text = source.text.clone();
    let mut found: Vec<Refused> = Vec::new();
    let mut blanked: Vec<usize> = Vec::new();
    for _ in 0..MAX_ERRORS {
        let Err(e) = toml::from_str::<RawProfile>(&text) else {
            break;
        };
        let quoted = e.span().and_then(|s| source.text.get(s));
        let (message, hint) = explain(e.message().trim(), quoted);
        let at = e.span().map_or(0, |s| s.start);
        let doc = DeTable::parse(&text);
        let syntax = doc.is_err();
        let entry = e
            .span()
            .zip(doc.ok())
            .and_then(|(span, d)| find(d.get_ref(), &span, &text));
        // A table missing a key that was blanked for another error is
        // that error's echo, not a mistake of its own.
        let echo = e.message().starts_with("missing field")
            && entry
                .as_ref()
                .is_some_and(|r| blanked.iter().any(|b| r.contains(b)));
        if !echo {
            found.push((
                at,
                Diagnostic::new(message).at(source, e.span()).help_opt(hint),
                syntax,
            ));
        }
        match entry {
            Some(r) if !syntax => {
                blanked.push(r.start);
                blank(&mut text, r);
            }
            _ => break,
        }
    }
    (text, found)
}

/// Replaces `r` of `text` with spaces, keeping line breaks (and so every
/// line and column after it).
fn blank(text: &mut String, r: Range<usize>) {
    let mut bytes = std::mem::take(text).into_bytes();
    for b in &mut bytes[r] {
        if *b != b'\n' {
            *b = b' ';
        }
    }
    *text = String::from_utf8(bytes).expect("ASCII spaces over whole characters");
}

/// The entry of `t` holding offset `at.start`: `key = value`, or a whole
/// `[table]` or `[[table]]` section when the error is on its header.
fn find(t: &DeTable, at: &Range<usize>, text: &str) -> Option<Range<usize>> {
    let is_header = |v: &toml::Spanned<DeValue>| {
        matches!(v.get_ref(), DeValue::Table(_))
            && text.get(v.span()).is_some_and(|h| h.starts_with('['))
    };
    let holds = |r: &Range<usize>| r.start <= at.start && at.start < r.end.max(r.start + 1);
    for (k, v) in t.iter() {
        let sections: Vec<&toml::Spanned<DeValue>> = match v.get_ref() {
            DeValue::Table(_) if is_header(v) => vec![v],
            DeValue::Array(items) if !items.is_empty() && items.iter().all(is_header) => {
                items.iter().collect()
            }
            _ => {
                let whole = k.span().start..extent(v);
                if holds(&whole) {
                    return Some(whole);
                }
                continue;
            }
        };
        for s in sections {
            let DeValue::Table(inner) = s.get_ref() else {
                continue;
            };
            if holds(&s.span()) {
                return Some(s.span().start..extent(s));
            }
            if let Some(r) = find(inner, at, text) {
                return Some(r);
            }
        }
    }
    None
}

/// Where a value ends, its contents included (a header table's span is
/// only its header).
fn extent(v: &toml::Spanned<DeValue>) -> usize {
    let mut end = v.span().end;
    match v.get_ref() {
        DeValue::Table(t) => {
            for (k, x) in t.iter() {
                end = end.max(k.span().end).max(extent(x));
            }
        }
        DeValue::Array(items) => {
            for x in items {
                end = end.max(extent(x));
            }
        }
        _ => {}
    }
    end
}

/// Rewords a toml/serde error for someone editing a profile (no Rust type
/// names) and adds a hint. `quoted` is the source text under the error span.
fn explain(message: &str, quoted: Option<&str>) -> (String, Option<String>) {
    let unknown = message
        .strip_prefix("unknown field `")
        .map(|rest| ("key", rest))
        .or_else(|| {
            message
                .strip_prefix("unknown variant `")
                .map(|rest| ("value", rest))
        });
    if let Some((what, rest)) = unknown {
        let (word, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let list = candidates
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let hint = match diag::did_you_mean(word, candidates.iter().copied()) {
            Some(best) => Some(format!("did you mean `{best}`?")),
            None if !candidates.is_empty() => Some(format!("use one of: {list}")),
            None => None,
        };
        return (format!("unknown {what} `{word}`"), hint);
    }
    // serde names the Rust type it wanted; say what to write instead.
    const EXPECTED: &[(&str, &str, &str)] = &[
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
            "write a number without quotes, e.g. `1`",
        ),
        (
            "expected a boolean",
            "expected `true` or `false`",
            "write `true` or `false` without quotes",
        ),
        (
            "expected a string",
            "expected a string",
            "put the value in double quotes",
        ),
        (
            "expected a sequence",
            "expected an array",
            "write an array, e.g. `[\"a\", \"b\"]`",
        ),
    ];
    if message.starts_with("invalid type") || message.starts_with("invalid value") {
        if message.starts_with("invalid type: map") && message.ends_with("expected a sequence") {
            if let Some(header) = quoted.filter(|q| q.starts_with('[')) {
                let name = header.trim_matches(|c| c == '[' || c == ']');
                return (
                    format!("`{name}` is a list of tables, written here as one table"),
                    Some(format!(
                        "write each entry under its own `[[{name}]]` header (two brackets)"
                    )),
                );
            }
        }
        if let Some((serde, plain, hint)) = EXPECTED.iter().find(|e| message.ends_with(e.0)) {
            let message = format!("{}{plain}", &message[..message.len() - serde.len()]);
            return (message, Some((*hint).into()));
        }
        if let Some(at) = message.find("expected struct ") {
            return (
                format!("{}expected a table", &message[..at]),
                Some("write it as a `[table]` header followed by `key = value` lines".into()),
            );
        }
        return (message.into(), None);
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return (
            format!("missing key {rest}"),
            Some(format!("add {rest} to this table")),
        );
    }
    if message == "duplicate key" {
        let message = match quoted {
            Some(key) => format!("duplicate key `{}`", key.trim()),
            None => message.into(),
        };
        return (
            message,
            Some("a key may appear once per table; delete one of them".into()),
        );
    }
    // Anything else is TOML syntax.
    (
        format!("invalid TOML: {message}"),
        Some(
            "profiles are TOML (https://toml.io): check quotes, brackets and `key = value`".into(),
        ),
    )
}

/// Byte span of the value at `key` (`a.b`, `a[2].b`) in a TOML text.
pub(super) fn span_of(text: &str, key: &str) -> Option<Range<usize>> {
    let doc = DeTable::parse(text).ok()?;
    let mut table = doc.get_ref();
    let mut segments = key.split('.').peekable();
    while let Some(seg) = segments.next() {
        let (name, index) = match seg.split_once('[') {
            Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (seg, None),
        };
        let (_, value) = table.iter().find(|(k, _)| k.get_ref().as_ref() == name)?;
        let mut value = value;
        if let Some(i) = index {
            match value.get_ref() {
                DeValue::Array(items) => value = items.get(i)?,
                _ => return Some(value.span()),
            }
        }
        if segments.peek().is_none() {
            return Some(value.span());
        }
        match value.get_ref() {
            DeValue::Table(t) => table = t,
            _ => return Some(value.span()),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> Vec<(usize, String)> {
        let source = Source {
            name: "p.toml".into(),
            dir: None,
            text: text.into(),
        };
        strict(&source)
            .1
            .into_iter()
            .map(|(at, d, _)| (at, d.message))
            .collect()
    }

    #[test]
    fn every_refused_entry_is_reported_past_a_bad_section_header() {
        let text =
            "[mounts]\nsource = \"/a\"\ntarget = \"a\"\n[network]\nbridg = 1\ngateway = \"yes\"\n";
        let found = refused(text);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].1.contains("list of tables"), "{found:?}");
        assert_eq!(&text[found[1].0..found[1].0 + 5], "bridg");
        assert!(found[2].1.contains("`true` or `false`"), "{found:?}");
    }

    #[test]
    fn a_missing_key_left_by_blanking_a_bad_one_is_not_reported() {
        let text = "[[mounts]]\nsource = 3\ntarget = \"b\"\n[[mounts]]\nsource = \"/a\"\n";
        let found = refused(text);
        let messages: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("expected a string"), "{messages:?}");
        assert_eq!(messages[1], "missing key `target`");
    }

    #[test]
    fn syntax_ends_the_file_and_a_clean_file_has_nothing() {
        assert_eq!(refused("[install\nprefix = 1\n").len(), 1);
        assert!(refused("[install]\nprefix = \"/opt\"\n").is_empty());
    }

    #[test]
    fn span_of_finds_nested_and_indexed_keys() {
        let text =
            "[install]\nprefix = \"/x\"\n[[mounts]]\nsource = \"a\"\n[[mounts]]\nsource = \"b\"\n";
        assert_eq!(&text[span_of(text, "install.prefix").unwrap()], "\"/x\"");
        assert_eq!(&text[span_of(text, "mounts[1].source").unwrap()], "\"b\"");
        assert_eq!(span_of(text, "network.bridge"), None);
    }
}
