//! Tidy checks (rust-analyzer's `tidy.rs`): facts about the source tree
//! that no compiler checks. Each one names the rule it keeps.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use scgen::contract::ALL;

/// The artifact list lives in the library (`contract::ALL`), the CMake
/// module and the bbclass. They must agree, and CMake's OUTPUT order must
/// be the depfile's target order, or Ninja reruns scgen forever.
#[test]
fn every_list_of_artifacts_agrees_with_the_contract() {
    let cmake = fs::read_to_string(root().join("cmake/SCGenConfig.cmake")).unwrap();
    let block = cmake
        .split_once("set(_names")
        .and_then(|(_, rest)| rest.split_once(')'))
        .expect("cmake/SCGenConfig.cmake has a `set(_names ...)` list")
        .0;
    let names: Vec<&str> = block.split_whitespace().collect();
    assert_eq!(
        names, ALL,
        "cmake/SCGenConfig.cmake `_names` is not contract::ALL in order"
    );

    let class = fs::read_to_string(root().join("meta-scgen/classes-recipe/scgen.bbclass")).unwrap();
    let line = class
        .lines()
        .find_map(|l| l.strip_prefix("SCGEN_ARTIFACTS = \""))
        .expect("the bbclass sets SCGEN_ARTIFACTS");
    let mut listed: Vec<&str> = line.trim_end_matches('"').split_whitespace().collect();
    let mut want = ALL.to_vec();
    listed.sort_unstable();
    want.sort_unstable();
    assert_eq!(
        listed, want,
        "meta-scgen/classes-recipe/scgen.bbclass SCGEN_ARTIFACTS"
    );
}

/// Which modules each part of the pipeline may use: data flows one way,
/// and the stage knows the artifact contract, never the profile.
#[test]
fn modules_depend_one_way() {
    let rules: &[(&str, &[&str])] = &[
        (
            "values",
            &[
                "profile",
                "render",
                "skeleton",
                "artifacts",
                "gen",
                "stage",
                "contract",
            ],
        ),
        (
            "lxc.rs",
            &[
                "profile",
                "render",
                "skeleton",
                "artifacts",
                "gen",
                "stage",
                "contract",
            ],
        ),
        (
            "diag.rs",
            &[
                "profile",
                "render",
                "skeleton",
                "artifacts",
                "gen",
                "stage",
                "contract",
            ],
        ),
        (
            "contract.rs",
            &["profile", "render", "skeleton", "artifacts", "gen", "stage"],
        ),
        (
            "profile",
            &[
                "render",
                "skeleton",
                "artifacts",
                "gen",
                "stage",
                "contract",
            ],
        ),
        ("render.rs", &["skeleton", "artifacts", "gen", "stage"]),
        ("skeleton.rs", &["render", "artifacts", "gen", "stage"]),
        (
            "pack.rs",
            &["profile", "render", "skeleton", "artifacts", "gen", "stage"],
        ),
        (
            "manifest.rs",
            &["profile", "render", "skeleton", "artifacts", "gen", "stage"],
        ),
        ("artifacts.rs", &["gen", "stage"]),
        (
            "stage",
            &[
                "profile",
                "render",
                "skeleton",
                "artifacts",
                "gen",
                "manifest",
                "pack",
            ],
        ),
        (
            "verify.rs",
            &[
                "profile",
                "render",
                "skeleton",
                "artifacts",
                "gen",
                "stage",
                "manifest",
                "pack",
            ],
        ),
        (
            "verify",
            &[
                "profile",
                "render",
                "skeleton",
                "artifacts",
                "gen",
                "stage",
                "manifest",
                "pack",
            ],
        ),
    ];
    for (part, banned) in rules {
        for file in rust_files(&root().join("src").join(part)) {
            let text = fs::read_to_string(&file).unwrap();
            for m in *banned {
                assert!(
                    !text.contains(&format!("crate::{m}")),
                    "{} uses crate::{m}, against the one-way module graph",
                    file.display()
                );
            }
        }
    }
}

/// No warehouse files: a source file over about 450 lines wants splitting.
#[test]
fn no_source_file_is_a_warehouse() {
    for file in rust_files(&root().join("src")) {
        let lines = fs::read_to_string(&file).unwrap().lines().count();
        assert!(
            lines <= 450,
            "{} has {lines} lines; split it",
            file.display()
        );
    }
}

/// Every source file opens with a module doc saying what it is for.
#[test]
fn every_module_has_a_doc() {
    for file in rust_files(&root().join("src")) {
        let text = fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("//!"),
            "{} has no module doc",
            file.display()
        );
    }
}

fn rust_files(path: &Path) -> Vec<std::path::PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    walkdir::WalkDir::new(path)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect()
}

/// The scgen recipe builds from the checkout's files listed one by one, and
/// cargo reads every target the manifest names before it builds anything:
/// a target in a directory the recipe leaves out fails a cold BitBake build
/// (a warm one restores scgen-native from sstate and hides it). Every
/// top-level file or directory the manifest's targets live in is listed.
#[test]
fn the_recipe_ships_every_directory_the_manifest_names() {
    let manifest: toml::Table = fs::read_to_string(root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let mut tops = vec!["src".to_string()];
    for (kind, dir) in [
        ("bench", "benches"),
        ("test", "tests"),
        ("example", "examples"),
    ] {
        for target in manifest
            .get(kind)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            let path = target.get("path").and_then(|p| p.as_str());
            let top = match path {
                Some(p) => p.split('/').next().unwrap().to_string(),
                None => dir.to_string(),
            };
            tops.push(top);
        }
    }
    let recipe =
        fs::read_to_string(root().join("meta-scgen/recipes-devtools/scgen-git/scgen_git.bb"))
            .unwrap();
    for top in tops {
        assert!(
            recipe.contains(&format!("file://{top};subdir=${{BP}}")),
            "Cargo.toml names a target in {top}/, which the scgen recipe's SCGEN_CHECKOUT_URI does not list"
        );
    }
}

/// Every key of the schema, as `table.key` (`key` at the top, `mounts.key`
/// for the items of `[[mounts]]`).
fn schema_keys() -> Vec<String> {
    let text = fs::read_to_string(root().join("generated/profile.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let resolve = |v: &serde_json::Value| -> serde_json::Value {
        match v["$ref"].as_str().and_then(|r| r.strip_prefix("#/$defs/")) {
            Some(name) => schema["$defs"][name].clone(),
            None => v.clone(),
        }
    };
    let mut keys = Vec::new();
    for (k, v) in schema["properties"].as_object().unwrap() {
        let table = match (resolve(v), v["type"].as_str()) {
            (t, _) if t["type"] == "object" => t,
            (_, Some("array")) if resolve(&v["items"])["type"] == "object" => resolve(&v["items"]),
            _ => {
                keys.push(k.clone());
                continue;
            }
        };
        for inner in table["properties"].as_object().unwrap().keys() {
            keys.push(format!("{k}.{inner}"));
        }
    }
    assert!(keys.len() > 30, "the schema lost its keys: {keys:?}");
    keys
}

/// The `table.key` paths a profile text lists, set or commented out
/// (`# key = ...`), by the `[table]` or `[[table]]` they stand under.
fn listed_keys(text: &str) -> Vec<String> {
    let mut table = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix('[') {
            table = h.trim_matches(|c| c == '[' || c == ']').to_string();
            continue;
        }
        let bare = line.trim_start_matches('#').trim_start();
        if let Some((k, _)) = bare.split_once(" = ") {
            if !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                out.push(match table.as_str() {
                    "" => k.to_string(),
                    t => format!("{t}.{k}"),
                });
            }
        }
    }
    out
}

/// `profiles/default.toml` says "every key is listed": the schema is the
/// list of keys, and `scgen init` prints every one of them too.
#[test]
fn the_default_profile_and_init_list_every_key_of_the_schema() {
    let default = fs::read_to_string(root().join("profiles/default.toml")).unwrap();
    let init = String::from_utf8(run(scgen().arg("init")).stdout).unwrap();
    for (name, text) in [("profiles/default.toml", &default), ("scgen init", &init)] {
        let listed = listed_keys(text);
        let missing: Vec<String> = schema_keys()
            .into_iter()
            .filter(|k| !listed.contains(k))
            .collect();
        assert!(
            missing.is_empty(),
            "{name} does not list {missing:?} (set, or `# key = ...` where the default is computed)"
        );
        let unknown: Vec<&String> = listed
            .iter()
            .filter(|k| !schema_keys().contains(k))
            .collect();
        assert!(
            unknown.is_empty(),
            "{name} lists keys the schema lacks: {unknown:?}"
        );
    }
}

/// Every array of the schema merges as a list (appends, by identity);
/// one missing from the merge's table would silently be replaced whole.
#[test]
fn every_list_of_the_schema_appends_when_merged() {
    let text = fs::read_to_string(root().join("generated/profile.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut arrays = Vec::new();
    for (k, v) in schema["properties"].as_object().unwrap() {
        if v["type"] == "array" && k != "replace" {
            arrays.push(k.clone());
        }
        let def = v["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/$defs/"))
            .map(|d| &schema["$defs"][d]);
        for (inner, spec) in def
            .and_then(|d| d["properties"].as_object())
            .into_iter()
            .flatten()
        {
            if spec["type"] == "array" {
                arrays.push(format!("{k}.{inner}"));
            }
        }
    }
    let mut lists: Vec<String> = scgen::profile::list_keys().map(String::from).collect();
    arrays.sort();
    lists.sort();
    assert_eq!(
        arrays, lists,
        "src/profile/merge.rs LISTS against the schema's arrays"
    );
}

/// The keys docs/profile.md's reference table names, as `table.key`: a
/// row's first cell is backticked keys (`` `install.bindir`, `install.datadir` ``),
/// or `` `[[mounts]]` `` followed by that table's keys.
fn documented_keys(text: &str) -> Vec<String> {
    let section = text
        .split_once("## Profile reference")
        .and_then(|(_, rest)| rest.split("\n#").next())
        .expect("docs/profile.md has a Profile reference section");
    let mut keys = Vec::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cell = row[1..].split(" | ").next().unwrap();
        let mut table = None;
        for word in cell.split('`').skip(1).step_by(2) {
            match word.strip_prefix("[[").and_then(|w| w.strip_suffix("]]")) {
                Some(t) => table = Some(t),
                None => keys.push(match table {
                    Some(t) => format!("{t}.{word}"),
                    None => word.to_string(),
                }),
            }
        }
    }
    keys
}

/// The profile reference is the schema's keys, each with a row: a key
/// added to the profile and not documented fails here, and so does a row
/// for a key the schema no longer has.
#[test]
fn the_profile_reference_documents_every_key_of_the_schema() {
    let doc = fs::read_to_string(root().join("docs/profile.md")).unwrap();
    let documented = documented_keys(&doc);
    let schema = schema_keys();
    let missing: Vec<&String> = schema.iter().filter(|k| !documented.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "docs/profile.md's reference table lacks {missing:?} (add a row: key, type, default, notes)"
    );
    let unknown: Vec<&String> = documented.iter().filter(|k| !schema.contains(k)).collect();
    assert!(
        unknown.is_empty(),
        "docs/profile.md documents keys the schema lacks: {unknown:?}"
    );
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, each
/// space a hyphen.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// A Markdown text without its fenced code blocks (a `#` there is a shell
/// comment, a `](` is code).
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|l| {
            if l.starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced && !l.starts_with("    ")
        })
        .collect()
}

/// The anchors of a Markdown file's headings; a repeated heading gets
/// `-1`, `-2`, ... as on GitHub.
fn anchors(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in prose(text) {
        let Some(h) = line.strip_prefix('#') else {
            continue;
        };
        let base = slug(h.trim_start_matches('#'));
        let n = out
            .iter()
            .filter(|a| {
                **a == base
                    || a.strip_prefix(&format!("{base}-"))
                        .is_some_and(|s| s.parse::<u32>().is_ok())
            })
            .count();
        out.push(if n == 0 { base } else { format!("{base}-{n}") });
    }
    out
}

/// Every relative link of README.md and docs/*.md reaches a file, and
/// every `#anchor` a heading of its target: moving a section must not
/// leave a link behind.
#[test]
fn every_link_of_the_docs_resolves() {
    let mut pages = vec![root().join("README.md")];
    for e in fs::read_dir(root().join("docs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            pages.push(p);
        }
    }
    assert!(pages.len() > 5, "docs/ lost its pages: {pages:?}");
    let mut broken = Vec::new();
    let mut count = 0;
    for page in &pages {
        let text = fs::read_to_string(page).unwrap();
        let name = page.strip_prefix(root()).unwrap().display().to_string();
        for line in prose(&text) {
            let mut rest = line;
            while let Some((_, after)) = rest.split_once("](") {
                let Some((target, tail)) = after.split_once(')') else {
                    break;
                };
                rest = tail;
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                count += 1;
                let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
                let path = match file {
                    "" => page.clone(),
                    f => page.parent().unwrap().join(f),
                };
                if !path.exists() {
                    broken.push(format!("{name}: {target}: no file {}", path.display()));
                } else if !anchor.is_empty()
                    && !anchors(&fs::read_to_string(&path).unwrap())
                        .iter()
                        .any(|a| a == anchor)
                {
                    broken.push(format!(
                        "{name}: {target}: no heading with anchor #{anchor}"
                    ));
                }
            }
        }
    }
    assert!(
        count > 30,
        "found only {count} links; is the parser still right?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}
