//! toml and serde errors reworded for someone editing a profile: no Rust
//! type names, the key or value at fault named, and a hint to fix it.

use crate::diag;

/// Rewords a toml/serde error for someone editing a profile (no Rust type
/// names) and adds a hint. `quoted` is the source text under the error span.
pub(super) fn explain(message: &str, quoted: Option<&str>) -> (String, Option<String>) {
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
