//! The man pages, whole: `scgen(1)` with EXIT STATUS, ENVIRONMENT and
//! FILES; a page for every subcommand it names (`scgen-gen(1)`,
//! `scgen-skeletons-list(1)`, ...), each from the same clap definition as
//! `--help`; and `scgen-profile(5)`, every key of a profile, from the JSON
//! Schema the profile parser derives. `scgen man --list` names them all,
//! so packagers and the golden test install and check the same set.

use clap::Command;
use serde_json::Value;

use crate::error::exit;

/// The environment variables scgen or its drop-in reads, and why.
const ENVIRONMENT: &[(&str, &str)] = &[
    ("SOURCE_DATE_EPOCH", "gen: the mtime of every entry of the rootfs tarball and manifest (default 1483228800, 2017-01-01)."),
    ("GATEWAY_DIR", "stage: the host directory bound on /gateways when --gateway-dir is not given (SoftwareContainer's agent sets it)."),
    ("SCGEN_LOCK_WAIT", "stage and skeletons: seconds to wait for a lock (the skeleton store's, the shared bin's, the container's) before exit 75; default 60."),
    ("SCGEN, SCGEN_ARTIFACTS", "the generated lxc-create drop-in: the scgen binary and the artifact directory it passes to scgen stage, instead of the installed ones."),
    ("PATH", "stage: where busybox, init.lxc and iptables are found (absolute entries only), then the sbin directories."),
];

/// The files scgen reads and writes.
const FILES: &[(&str, &str)] = &[
    ("generated/<profile>/", "gen's default output directory: softwarecontainer.conf, rootfs.tar.gz, rootfs.mtree, stage.toml, lxc-softwarecontainer, seccomp.policy, SHA256SUMS."),
    ("<datadir>/softwarecontainer/scgen/", "the installed artifacts that stage and verify read (--artifacts), checked against SHA256SUMS."),
    ("<datadir>/softwarecontainer/lxc-templates/lxc-softwarecontainer", "the drop-in template lxc-create -t runs; it execs scgen stage."),
    ("<lxcpath>/<container>/config", "the container's LXC config; stage appends its host-dependent lines between markers."),
    ("<lxcpath>/<container>/rootfs/", "the container's root filesystem, filled by stage, checked by verify."),
    ("<lxcpath>/<container>/scgen-skeleton", "overlay containers: names the skeleton the container uses, for skeletons prune."),
    ("/var/lib/softwarecontainer/skeletons/", "the default skeleton store of overlay containers (container.skeleton-store)."),
];

/// Every page, as (file name, roff), the main page first.
pub fn pages() -> Vec<(String, String)> {
    let mut cmd = for_pages(super::command());
    // Built once from the top, so global options (`skeletons --store`)
    // are on each subcommand's page too.
    cmd.build();
    let mut out = vec![("scgen.1".to_string(), main_page(&cmd))];
    subcommand_pages(&cmd, "scgen", &mut out);
    out.push(("scgen-profile.5".to_string(), profile_page()));
    out
}

/// One page by name (`scgen`, `scgen-gen`, `scgen-profile`, with or
/// without its section suffix).
pub fn page(name: &str) -> Option<String> {
    pages()
        .into_iter()
        .find(|(file, _)| file == name || file.rsplit_once('.').map(|(n, _)| n) == Some(name))
        .map(|(_, text)| text)
}

/// No `help` subcommand in the pages: `--help` is on every page.
fn for_pages(cmd: Command) -> Command {
    cmd.disable_help_subcommand(true).mut_subcommands(for_pages)
}

fn render(man: clap_mangen::Man, extra: &str) -> String {
    let mut out = Vec::new();
    man.render(&mut out).expect("rendering into memory");
    let mut text = String::from_utf8(out).expect("roff is UTF-8");
    // Our sections go before VERSION, the last one clap writes.
    let at = text.find(".SH VERSION").unwrap_or(text.len());
    text.insert_str(at, extra);
    text
}

fn main_page(cmd: &Command) -> String {
    let mut extra = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in exit::TABLE {
        extra.push_str(&format!(".TP\n\\fB{code}\\fR\n{}\n", esc(meaning)));
    }
    extra.push_str(".SH ENVIRONMENT\n");
    for (name, what) in ENVIRONMENT {
        extra.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", esc(name), esc(what)));
    }
    extra.push_str(".SH FILES\n");
    for (path, what) in FILES {
        extra.push_str(&format!(".TP\n\\fI{}\\fR\n{}\n", esc(path), esc(what)));
    }
    extra.push_str(&see_also(cmd, "scgen"));
    render(clap_mangen::Man::new(cmd.clone()), &extra)
}

/// SEE ALSO: the pages of `cmd`'s subcommands and the profile's.
fn see_also(cmd: &Command, prefix: &str) -> String {
    let mut names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| format!("\\fB{}\\-{}\\fR(1)", esc(prefix), s.get_name()))
        .collect();
    if prefix != "scgen" {
        names.insert(0, "\\fBscgen\\fR(1)".into());
    }
    names.push("\\fBscgen\\-profile\\fR(5)".into());
    names.push("\\fBlxc.container.conf\\fR(5)".into());
    format!(".SH \"SEE ALSO\"\n{}\n", names.join(", "))
}

fn subcommand_pages(cmd: &Command, prefix: &str, out: &mut Vec<(String, String)>) {
    for sub in cmd.get_subcommands() {
        let name = format!("{prefix}-{}", sub.get_name());
        let bin = format!("{} {}", prefix.replace('-', " "), sub.get_name());
        let page = sub
            .clone()
            .name(name.clone())
            .display_name(name.clone())
            .bin_name(bin)
            .version(cmd.get_version().unwrap_or_default().to_string());
        let extra = format!(
            ".SH \"EXIT STATUS\"\nAs in \\fBscgen\\fR(1): 0 on success; the codes of \\fBscgen\\fR(1) EXIT STATUS otherwise.\n{}",
            see_also(sub, &name)
        );
        out.push((
            format!("{name}.1"),
            render(clap_mangen::Man::new(page), &extra),
        ));
        subcommand_pages(sub, &name, out);
    }
}

/// scgen-profile(5): every table and key of the schema, with its type and
/// its documentation (which states the default).
fn profile_page() -> String {
    let schema: Value =
        serde_json::from_str(&crate::profile::schema()).expect("the schema is JSON");
    let defs = &schema["$defs"];
    let mut t = String::from(".TH scgen-profile 5 \"\" \"scgen\"\n.SH NAME\nscgen\\-profile \\- the TOML profile scgen gen reads\n.SH SYNOPSIS\n\\fBscgen gen \\-\\-profile\\fR \\fIFILE.toml\\fR\n.SH DESCRIPTION\n");
    t.push_str(&para(schema["description"].as_str().unwrap_or_default()));
    t.push_str("Unknown keys are errors. The JSON Schema of this page is printed by \\fBscgen schema\\fR, for editors.\n");
    let empty = serde_json::Map::new();
    let props = schema["properties"].as_object().unwrap_or(&empty);
    t.push_str(".SH \"TOP-LEVEL KEYS\"\n");
    for (key, v) in props.iter().filter(|(_, v)| table(v, defs).is_none()) {
        t.push_str(&key_entry(key, v, defs));
    }
    for (key, v) in props {
        let Some(def) = table(v, defs) else { continue };
        let header = match v["type"].as_str() {
            Some("array") => format!("[[{key}]]"),
            _ => format!("[{key}]"),
        };
        t.push_str(&format!(".SH \"{}\"\n", esc(&header)));
        t.push_str(&para(v["description"].as_str().unwrap_or_default()));
        for (k, kv) in def["properties"].as_object().unwrap_or(&empty) {
            t.push_str(&key_entry(k, kv, defs));
        }
    }
    t.push_str(".SH \"SEE ALSO\"\n\\fBscgen\\fR(1), \\fBscgen\\-gen\\fR(1), \\fBlxc.container.conf\\fR(5)\n");
    t
}

/// The object definition a property refers to, if it is a table (or an
/// array of tables).
fn table<'a>(v: &'a Value, defs: &'a Value) -> Option<&'a Value> {
    let r = v["$ref"].as_str().or_else(|| v["items"]["$ref"].as_str())?;
    let def = &defs[r.rsplit('/').next()?];
    (def["type"] == "object").then_some(def)
}

fn key_entry(key: &str, v: &Value, defs: &Value) -> String {
    format!(
        ".TP\n\\fB{}\\fR (\\fI{}\\fR)\n{}",
        esc(key),
        esc(&type_of(v, defs)),
        para(v["description"].as_str().unwrap_or_default())
    )
}

/// A readable type: `string`, `array of string`, `one of: dir, overlay`.
fn type_of(v: &Value, defs: &Value) -> String {
    if let Some(r) = v["$ref"].as_str() {
        return type_of(&defs[r.rsplit('/').next().unwrap_or_default()], defs);
    }
    if let Some(alts) = v["oneOf"].as_array().or_else(|| v["anyOf"].as_array()) {
        let consts: Vec<String> = alts
            .iter()
            .map(|a| match &a["const"] {
                Value::String(s) => s.clone(),
                Value::Null => type_of(a, defs),
                c => c.to_string(),
            })
            .collect();
        return format!("one of: {}", consts.join(", "));
    }
    if let Some(e) = v["enum"].as_array() {
        let names: Vec<String> = e
            .iter()
            .map(|c| c.as_str().unwrap_or("?").to_string())
            .collect();
        return format!("one of: {}", names.join(", "));
    }
    match &v["type"] {
        Value::String(s) if s == "array" => format!("array of {}", type_of(&v["items"], defs)),
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str())
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "value".into(),
    }
}

/// Text as roff lines: escaped, blank lines kept as paragraph breaks.
fn para(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        match line.trim() {
            "" => out.push_str(".sp\n"),
            l => {
                out.push_str(&esc(l));
                out.push('\n');
            }
        }
    }
    out
}

/// Escapes text for roff: backslashes, hyphens as minus, and a leading
/// `.` or `'` that would start a request.
fn esc(s: &str) -> String {
    let t = s.replace('\\', "\\e").replace('-', "\\-");
    match t.starts_with(['.', '\'']) {
        true => format!("\\&{t}"),
        false => t,
    }
}
