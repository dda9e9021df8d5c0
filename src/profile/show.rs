//! `scgen profile show`: the merged profile a build uses, as TOML or JSON,
//! and with `--origin` the layer that set each value (`file:line`, a
//! `--set`, or the built-in default), so a reviewer can tell which of the
//! CMake mapping, the bbclass, `SCGEN_EXTRA_ARGS` and a profile set
//! `network.gateway`.

use serde::Serialize;

use super::Profile;

/// Where a value was set.
#[derive(Debug, Clone, Serialize)]
pub struct Origin {
    /// `built-in`, `profile` or `set`.
    pub layer: &'static str,
    /// The file (`profiles/default.toml` for the built-in), or the `--set`
    /// as given.
    pub file: String,
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.layer {
            "set" => write!(f, "{}", self.file),
            "built-in" => write!(f, "built-in {}:{}", self.file, self.line),
            _ => write!(f, "{}:{}", self.file, self.line),
        }
    }
}

/// One value of the merged profile and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    /// Its path, as a diagnostic names it: `mounts[2].source`.
    pub key: String,
    pub value: toml::Value,
    pub origin: Option<Origin>,
}

impl Profile {
    /// The merged profile as its layers gave it (before defaults apply).
    pub fn merged(&self) -> &toml::Table {
        &self.layers.table
    }

    /// Where the value at `key` of the merged profile was set.
    pub fn origin(&self, key: &str) -> Option<Origin> {
        let (layer, span, _) = self.layers.locate(key)?;
        let src = &layer.source;
        let line = src.text[..span.start.min(src.text.len())]
            .matches('\n')
            .count()
            + 1;
        Some(if src.name == super::BUILTIN_SOURCE {
            Origin {
                layer: "built-in",
                file: "profiles/default.toml".into(),
                line,
            }
        } else if src.dir.is_some() && src.name != "--set" {
            Origin {
                layer: "profile",
                file: src.name.clone(),
                line,
            }
        } else {
            Origin {
                layer: "set",
                file: format!("--set {}", src.text.trim().replacen(" = ", "=", 1)),
                line,
            }
        })
    }

    /// Every scalar of the merged profile (array items one by one), in
    /// the order `show` prints them.
    pub fn settings(&self) -> Vec<Setting> {
        let mut out = Vec::new();
        leaves(self, self.merged(), "", &mut out);
        out
    }

    /// The merged profile as TOML that loads back to the same profile;
    /// with `origins`, each value's layer in a comment beside it.
    pub fn show(&self, origins: bool) -> String {
        // The lists shown are whole: loaded back, they must not add to the
        // built-in default's again.
        let lists: Vec<String> = super::merge::LISTS
            .iter()
            .map(|(k, _)| toml::Value::from(*k).to_string())
            .collect();
        let mut out = format!(
            "# The merged profile: its lists are whole, not added to a base.\nreplace = [{}]\n",
            lists.join(", ")
        );
        write_table(self, &mut out, self.merged(), "", origins);
        out
    }
}

fn join(prefix: &str, key: &str) -> String {
    match prefix {
        "" => key.to_string(),
        p => format!("{p}.{key}"),
    }
}

fn is_tables(v: &toml::Value) -> bool {
    v.as_array()
        .is_some_and(|a| !a.is_empty() && a.iter().all(toml::Value::is_table))
}

fn leaves(p: &Profile, t: &toml::Table, prefix: &str, out: &mut Vec<Setting>) {
    let (plain, nested): (Vec<_>, Vec<_>) =
        t.iter().partition(|(_, v)| !v.is_table() && !is_tables(v));
    for (k, v) in plain.into_iter().chain(nested) {
        let key = join(prefix, k);
        match v {
            toml::Value::Table(t) => leaves(p, t, &key, out),
            toml::Value::Array(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    let at = format!("{key}[{i}]");
                    match item {
                        toml::Value::Table(t) => leaves(p, t, &at, out),
                        _ => out.push(setting(p, at, item)),
                    }
                }
            }
            _ => out.push(setting(p, key, v)),
        }
    }
}

fn setting(p: &Profile, key: String, value: &toml::Value) -> Setting {
    Setting {
        origin: p.origin(&key),
        key,
        value: value.clone(),
    }
}

fn comment(p: &Profile, key: &str, origins: bool) -> String {
    match (origins, p.origin(key)) {
        (true, Some(o)) => format!("  # {o}"),
        _ => String::new(),
    }
}

fn write_table(p: &Profile, out: &mut String, t: &toml::Table, prefix: &str, origins: bool) {
    for (k, v) in t.iter().filter(|(_, v)| !v.is_table() && !is_tables(v)) {
        let key = join(prefix, k);
        match v.as_array() {
            Some(items) if origins && !items.is_empty() => {
                out.push_str(&format!("{k} = [\n"));
                for (i, item) in items.iter().enumerate() {
                    let c = comment(p, &format!("{key}[{i}]"), true);
                    out.push_str(&format!("    {item},{c}\n"));
                }
                out.push_str("]\n");
            }
            _ => out.push_str(&format!("{k} = {v}{}\n", comment(p, &key, origins))),
        }
    }
    for (k, v) in t {
        let key = join(prefix, k);
        if let toml::Value::Table(inner) = v {
            out.push_str(&format!("\n[{key}]\n"));
            write_table(p, out, inner, &key, origins);
        } else if is_tables(v) {
            for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                let at = format!("{key}[{i}]");
                out.push_str(&format!("\n[[{key}]]{}\n", comment(p, &at, origins)));
                if let toml::Value::Table(inner) = item {
                    write_table(p, out, inner, &at, origins);
                }
            }
        }
    }
}
