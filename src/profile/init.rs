//! `scgen init`: a complete, commented profile to start from, made from
//! the schema (every key and its doc comment) and the built-in default
//! (every value it sets). A key the default leaves unset, because its
//! default is computed or absent, is written commented out. Generated, so
//! it cannot miss a key the loader knows.

use serde_json::Value as Json;

/// Top-level keys in the order a reader meets them (that of
/// `profiles/default.toml`); any other key of the schema follows.
const ORDER: &[&str] = &[
    "extends",
    "replace",
    "lxc",
    "install",
    "container",
    "mounts",
    "network",
    "gateways",
    "busybox",
    "security",
];

/// What a commented-out key is shown with (else a value of its type).
const EXAMPLES: &[(&str, &str)] = &[
    ("extends", "\"default\""),
    ("replace", "[\"mounts\"]"),
    ("container.idmap", "[\"u 0 100000 65536\", \"g 0 100000 65536\"]"),
    ("gateways.dir", "\"/run/softwarecontainer/gateways\""),
    ("busybox.applets", "[\"sh\", \"ls\", \"cat\"]"),
    ("busybox.links-file", "\"busybox.links\""),
    ("busybox.shared-bin", "\"/var/lib/softwarecontainer/bin\""),
    ("security.cap-keep", "[\"chown\", \"dac_override\", \"fowner\", \"fsetid\", \"kill\", \"setgid\", \"setuid\", \"sys_admin\"]"),
    ("security.devices", "[\"c 1:3 rwm\", \"c 1:5 rwm\"]"),
    ("security.memory-max", "\"512M\""),
    ("security.pids-max", "1024"),
    ("security.seccomp", "\"builtin\""),
];

const HEAD: &str = "\
# A SoftwareContainer profile for scgen, from `scgen init`: every key with
# its note, set to the built-in default's value. A commented-out key has no
# fixed default (it is computed, or unset); its note says what applies.
# Every profile starts from the built-in default, so delete what you keep
# as it is: a profile then says only what differs. Lists add to the
# inherited ones (docs/guide.md, \"Layers and lists\").
";

/// The text `scgen init` prints.
pub fn init() -> String {
    let schema: Json = serde_json::from_str(&super::schema()).expect("the schema is JSON");
    let defaults: toml::Table = super::DEFAULT_PROFILE
        .parse()
        .expect("the built-in default is TOML");
    let props = schema["properties"].as_object().expect("schema properties");
    let mut keys: Vec<&String> = props.keys().collect();
    keys.sort_by_key(|k| ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()));
    let mut out = String::from(HEAD);
    // Plain keys first: TOML puts them before the first table header.
    for key in &keys {
        let spec = &props[key.as_str()];
        if !is_table(&schema, spec) && !is_array_of_tables(&schema, spec) {
            out.push('\n');
            entry(
                &mut out,
                &schema,
                key,
                key,
                spec,
                defaults.get(key.as_str()),
            );
        }
    }
    for key in &keys {
        let spec = &props[key.as_str()];
        if is_array_of_tables(&schema, spec) {
            let item = resolve(&schema, &spec["items"]);
            out.push('\n');
            note(&mut out, spec);
            let items = defaults.get(key.as_str()).and_then(|v| v.as_array());
            for (i, t) in items.into_iter().flatten().enumerate() {
                out.push_str(&format!("[[{key}]]\n"));
                table_body(&mut out, &schema, key, item, t.as_table(), i == 0);
            }
        } else if is_table(&schema, spec) {
            out.push('\n');
            note(&mut out, spec);
            out.push_str(&format!("[{key}]\n"));
            let t = defaults.get(key.as_str()).and_then(|v| v.as_table());
            table_body(&mut out, &schema, key, resolve(&schema, spec), t, true);
        }
    }
    out
}

fn resolve<'a>(schema: &'a Json, spec: &'a Json) -> &'a Json {
    match spec["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        Some(name) => &schema["$defs"][name],
        None => spec,
    }
}

fn is_table(schema: &Json, spec: &Json) -> bool {
    resolve(schema, spec)["type"] == "object"
}

fn is_array_of_tables(schema: &Json, spec: &Json) -> bool {
    spec["type"] == "array" && is_table(schema, &spec["items"])
}

/// The key's doc comment as `# ` lines.
fn note(out: &mut String, spec: &Json) {
    if let Some(d) = spec["description"].as_str() {
        for line in d.lines() {
            out.push_str(format!("# {line}").trim_end());
            out.push('\n');
        }
    }
}

fn table_body(
    out: &mut String,
    schema: &Json,
    table: &str,
    spec: &Json,
    values: Option<&toml::Table>,
    notes: bool,
) {
    let props = spec["properties"].as_object().expect("table properties");
    for (k, p) in props {
        let value = values.and_then(|t| t.get(k));
        if notes {
            entry(out, schema, &format!("{table}.{k}"), k, p, value);
        } else if let Some(v) = value {
            out.push_str(&format!("{k} = {v}\n"));
        }
    }
}

fn entry(
    out: &mut String,
    schema: &Json,
    path: &str,
    key: &str,
    spec: &Json,
    value: Option<&toml::Value>,
) {
    note(out, spec);
    match value {
        Some(v) => out.push_str(&format!("{key} = {v}\n")),
        None => {
            let shown = match EXAMPLES.iter().find(|(p, _)| *p == path) {
                Some((_, e)) => e.to_string(),
                None => example(schema, spec),
            };
            out.push_str(&format!("# {key} = {shown}\n"));
        }
    }
}

/// A value of the key's type, for a commented-out line.
fn example(schema: &Json, spec: &Json) -> String {
    let spec = resolve(schema, spec);
    if let Some(first) = spec["enum"].as_array().and_then(|e| e.first()) {
        return first.to_string();
    }
    for any in ["oneOf", "anyOf"] {
        if let Some(first) = spec[any].as_array().and_then(|e| e.first()) {
            return example(schema, first);
        }
    }
    match spec["type"].as_str() {
        Some("boolean") => "true".into(),
        Some("integer") => "0".into(),
        Some("array") => "[]".into(),
        _ if spec["const"].is_string() => spec["const"].to_string(),
        _ => "\"\"".into(),
    }
}
