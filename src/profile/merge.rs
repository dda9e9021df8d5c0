//! How layers combine, as systemd drop-ins and mkosi do it: a later layer
//! wins for a single value, tables merge key by key, and a list *adds* to
//! what the layers below it hold, so a profile that adds one bind cannot
//! drop the inherited ones by accident. An entry with an identity (a
//! mount's `target`, an id map's `u 0`, a device's `c 1:3`, a mount-auto
//! token's family) replaces the inherited entry it shares it with, in
//! place. `key = []` empties a list on purpose, and a file's
//! `replace = ["key", ...]` drops what its bases set there, which is the
//! old "arrays are replaced whole" reachable on purpose.
//!
//! Every merged value remembers the layer and the path in that layer it
//! came from ([`Origins`]), so a diagnostic or `profile show --origin`
//! points at the line that set it, even when merging moved it
//! (`mounts[2]` of the result may be `mounts[0]` of the file).

use std::collections::BTreeMap;

/// How a list's entries are told apart across layers.
#[derive(Debug, Clone, Copy)]
pub(super) enum Identity {
    /// A table's string field (`mounts`: its `target`).
    Field(&'static str),
    /// The text before the first `:` (`proc:ro` is a `proc`).
    Family,
    /// The first N whitespace-separated words (`u 0 100000 65536` is `u 0`).
    Words(usize),
    /// The whole string.
    Whole,
}

/// Every list a profile has, with how its entries are identified. A list
/// not named here would be replaced whole; tests/tidy.rs keeps this list
/// the schema's arrays.
pub(super) const LISTS: &[(&str, Identity)] = &[
    ("mounts", Identity::Field("target")),
    ("container.mount-auto", Identity::Family),
    ("container.idmap", Identity::Words(2)),
    ("security.cap-keep", Identity::Whole),
    ("security.cap-drop", Identity::Whole),
    ("security.devices", Identity::Words(2)),
    // One bound per device (`MAJOR:MINOR`).
    ("security.io-max", Identity::Words(1)),
    ("busybox.applets", Identity::Whole),
];

/// Where a merged value came from: the layer's index and the value's path
/// in that layer's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct From {
    pub layer: usize,
    pub path: String,
}

/// Merged path (`mounts[2].source`) -> where it was set.
pub(super) type Origins = BTreeMap<String, From>;

fn identity_of(path: &str) -> Option<Identity> {
    LISTS.iter().find(|(p, _)| *p == path).map(|(_, i)| *i)
}

fn id(identity: Identity, value: &toml::Value) -> Option<String> {
    match (identity, value) {
        (Identity::Field(f), toml::Value::Table(t)) => {
            let v = t.get(f)?.as_str()?;
            // `usr`, `usr/` and `/usr` are one target to a reader.
            Some(v.trim_matches('/').to_string())
        }
        (Identity::Family, toml::Value::String(s)) => {
            Some(s.split(':').next().unwrap_or(s).trim().to_string())
        }
        (Identity::Words(n), toml::Value::String(s)) => {
            Some(s.split_whitespace().take(n).collect::<Vec<_>>().join(" "))
        }
        (Identity::Whole, toml::Value::String(s)) => Some(s.trim().to_string()),
        _ => None,
    }
}

fn join(prefix: &str, key: &str) -> String {
    match prefix {
        "" => key.to_string(),
        p => format!("{p}.{key}"),
    }
}

/// Drops the origins at `path` and below it.
fn forget(origins: &mut Origins, path: &str) {
    // The keys that start with `path` are next to each other in the map:
    // a range, not a scan of every key (a list of n items forgot n times).
    let doomed: Vec<String> = origins
        .range::<str, _>((std::ops::Bound::Included(path), std::ops::Bound::Unbounded))
        .map(|(k, _)| k)
        .take_while(|k| k.starts_with(path))
        .filter(|k| {
            let rest = &k[path.len()..];
            rest.is_empty() || rest.starts_with('.') || rest.starts_with('[')
        })
        .cloned()
        .collect();
    for k in doomed {
        origins.remove(&k);
    }
}

/// Records `value` (and everything in it) at merged path `at`, set at
/// `path` of layer `layer`.
fn record(origins: &mut Origins, at: &str, path: &str, value: &toml::Value, layer: usize) {
    origins.insert(
        at.to_string(),
        From {
            layer,
            path: path.to_string(),
        },
    );
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                record(origins, &join(at, k), &join(path, k), v, layer);
            }
        }
        toml::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                record(
                    origins,
                    &format!("{at}[{i}]"),
                    &format!("{path}[{i}]"),
                    v,
                    layer,
                );
            }
        }
        _ => {}
    }
}

/// Removes the value at dotted `path` (tables only) from `table`.
fn remove(table: &mut toml::Table, path: &str) {
    match path.split_once('.') {
        None => {
            table.remove(path);
        }
        Some((head, rest)) => {
            if let Some(toml::Value::Table(t)) = table.get_mut(head) {
                remove(t, rest);
            }
        }
    }
}

/// Merges layer number `layer` (its table, and the lists its file
/// `replace`s) into `into`.
pub(super) fn layer(
    into: &mut toml::Table,
    from: &toml::Table,
    replace: &[String],
    layer: usize,
    origins: &mut Origins,
) {
    for path in replace {
        remove(into, path);
        forget(origins, path);
    }
    merge(into, from, "", replace, layer, origins);
}

fn merge(
    into: &mut toml::Table,
    from: &toml::Table,
    prefix: &str,
    replace: &[String],
    layer: usize,
    origins: &mut Origins,
) {
    for (key, value) in from {
        let path = join(prefix, key);
        let appends = identity_of(&path).filter(|_| !replace.contains(&path));
        match (into.get_mut(key), value, appends) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b), _) => {
                origins.insert(
                    path.clone(),
                    From {
                        layer,
                        path: path.clone(),
                    },
                );
                merge(a, b, &path, replace, layer, origins);
            }
            (Some(toml::Value::Array(a)), toml::Value::Array(b), Some(identity))
                if !b.is_empty() =>
            {
                let inherited = a.len();
                for (j, item) in b.iter().enumerate() {
                    let same = id(identity, item).and_then(|k| {
                        a[..inherited]
                            .iter()
                            .position(|x| id(identity, x).as_ref() == Some(&k))
                    });
                    let m = match same {
                        Some(m) => {
                            a[m] = item.clone();
                            m
                        }
                        None => {
                            a.push(item.clone());
                            a.len() - 1
                        }
                    };
                    let at = format!("{path}[{m}]");
                    forget(origins, &at);
                    record(origins, &at, &format!("{path}[{j}]"), item, layer);
                }
                origins.insert(
                    path.clone(),
                    From {
                        layer,
                        path: path.clone(),
                    },
                );
            }
            (_, value, _) => {
                forget(origins, &path);
                record(origins, &path, &path, value, layer);
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(layers: &[(&str, &[&str])]) -> (toml::Table, Origins) {
        let mut out = toml::Table::new();
        let mut origins = Origins::new();
        for (i, (text, replace)) in layers.iter().enumerate() {
            let t: toml::Table = text.parse().unwrap();
            let r: Vec<String> = replace.iter().map(|s| s.to_string()).collect();
            layer(&mut out, &t, &r, i, &mut origins);
        }
        (out, origins)
    }

    const BASE: &str = "[[mounts]]\nsource = \"/usr\"\ntarget = \"usr\"\n[[mounts]]\nsource = \"/lib\"\ntarget = \"lib\"\n[container]\nmount-auto = [\"proc\", \"sys\"]\n";

    fn targets(t: &toml::Table) -> Vec<&str> {
        t["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["source"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn lists_append_and_entries_merge_by_identity() {
        let child = "[[mounts]]\nsource = \"/srv\"\ntarget = \"srv\"\n[[mounts]]\nsource = \"/opt/lib\"\ntarget = \"/lib/\"\n[container]\nmount-auto = [\"proc:ro\", \"cgroup:mixed\"]\n";
        let (t, o) = merged(&[(BASE, &[]), (child, &[])]);
        assert_eq!(targets(&t), ["/usr", "/opt/lib", "/srv"]);
        assert_eq!(
            t["container"]["mount-auto"].as_array().unwrap(),
            &["proc:ro", "sys", "cgroup:mixed"].map(toml::Value::from)
        );
        // mounts[1] of the result is the child's mounts[1]; mounts[2] its [0].
        assert_eq!(
            o["mounts[1].source"],
            From {
                layer: 1,
                path: "mounts[1].source".into()
            }
        );
        assert_eq!(
            o["mounts[2].target"],
            From {
                layer: 1,
                path: "mounts[0].target".into()
            }
        );
        assert_eq!(o["mounts[0].source"].layer, 0);
        assert_eq!(o["container.mount-auto[1]"].layer, 0);
    }

    #[test]
    fn empty_list_and_replace_drop_inherited_entries_on_purpose() {
        let (t, _) = merged(&[(BASE, &[]), ("mounts = []\n", &[])]);
        assert!(t["mounts"].as_array().unwrap().is_empty());
        let child = "[[mounts]]\nsource = \"/srv\"\ntarget = \"srv\"\n";
        let (t, o) = merged(&[(BASE, &[]), (child, &["mounts"])]);
        assert_eq!(targets(&t), ["/srv"]);
        assert!(!o.contains_key("mounts[1].source"));
        // `replace` without a value of its own: the key is unset again.
        let (t, _) = merged(&[(BASE, &[]), ("", &["container.mount-auto"])]);
        assert!(t["container"].get("mount-auto").is_none());
    }

    #[test]
    fn duplicates_within_one_layer_are_kept_for_the_checks_to_judge() {
        let twice = "[[mounts]]\nsource = \"/a\"\ntarget = \"x\"\n[[mounts]]\nsource = \"/b\"\ntarget = \"x\"\n";
        let (t, _) = merged(&[(BASE, &[]), (twice, &[])]);
        assert_eq!(targets(&t), ["/usr", "/lib", "/a", "/b"]);
    }
}
