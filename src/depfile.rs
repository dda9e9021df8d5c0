//! Make/Ninja depfiles: one rule saying that every artifact of a run
//! depends on every input it read (profiles, links file, templates), so a
//! build system reruns `scgen gen` exactly when one of them changes.

use std::path::{Path, PathBuf};

/// One Make rule: every target depends on every input. Spaces, `#` and
/// `$` are escaped as Make and Ninja read them.
pub fn rule(targets: impl Iterator<Item = PathBuf>, inputs: &[PathBuf]) -> String {
    let targets: Vec<String> = targets.map(|t| escape(&t)).collect();
    let deps: Vec<String> = inputs.iter().map(|p| escape(p)).collect();
    format!("{}: {}\n", targets.join(" "), deps.join(" "))
}

fn escape(p: &Path) -> String {
    let mut s = String::new();
    for c in p.to_string_lossy().chars() {
        match c {
            ' ' | '#' | '\\' => {
                s.push('\\');
                s.push(c);
            }
            '$' => s.push_str("$$"),
            c => s.push(c),
        }
    }
    s
}
