//! `scgen skeletons list|prune`: the reports, in text or JSON, and the
//! exit code each report ends in. The work is `stage::skeletons`'.

use std::path::Path;

use super::{lock_wait, print, warn, Format, SkeletonsAction, SkeletonsArgs};
use crate::error::{Error, Result};
use crate::stage::skeletons::{self, Outcome, Report, State};

pub(super) fn run(args: SkeletonsArgs) -> Result<()> {
    let wait = lock_wait()?.unwrap_or(crate::stage::LOCK_WAIT);
    let (report, pruning) = match &args.action {
        SkeletonsAction::List { lxcpath } => (skeletons::list(&args.store, lxcpath, wait)?, false),
        SkeletonsAction::Prune { lxcpath, dry_run } => (
            skeletons::prune(&args.store, lxcpath, wait, *dry_run)?,
            true,
        ),
    };
    let doubt = report.doubts.first().cloned();
    match args.format {
        Format::Text => print(&skeletons_text(&report, pruning))?,
        Format::Json => print(&skeletons_json(&args.store, &report, pruning))?,
    }
    for d in &report.doubts {
        warn(&format!("scgen skeletons: {d}"));
    }
    skeletons_verdict(&args.store, &report, pruning, doubt)
}

/// `skeletons --format json`: the report as one object.
fn skeletons_json(store: &Path, report: &Report, pruning: bool) -> String {
    let items: Vec<serde_json::Value> = report
        .items
        .iter()
        .map(|(item, outcome)| {
            let (state, reason) = match &item.state {
                State::Ok => ("ok", None),
                State::Bad(why) => ("fails-check", Some(why.clone())),
                State::Temp { live: true } => ("filling", None),
                State::Temp { live: false } => ("killed-fill", None),
                State::Foreign => ("foreign", None),
            };
            let action = match (pruning, outcome) {
                (false, _) => None,
                (true, Outcome::Removed) => Some("removed".to_string()),
                (true, Outcome::Kept) => Some("kept".to_string()),
                (true, Outcome::WouldRemove) => Some("would-remove".to_string()),
                (true, Outcome::Failed(why)) => Some(format!("failed: {why}")),
            };
            serde_json::json!({
                "name": item.name,
                "state": state,
                "reason": reason,
                "users": item.users,
                "action": action,
            })
        })
        .collect();
    let value = serde_json::json!({
        "store": store,
        "skeletons": items,
        "doubts": report.doubts,
    });
    serde_json::to_string_pretty(&value).expect("JSON values serialise") + "\n"
}

/// `skeletons`' text report: one line per entry of the store.
fn skeletons_text(report: &Report, pruning: bool) -> String {
    let doubt = report.doubts.first();
    let mut text = String::new();
    for (item, outcome) in &report.items {
        let state = match &item.state {
            State::Ok => "ok".to_string(),
            State::Bad(why) => format!("FAILS CHECK: {why}"),
            State::Temp { live: true } => "filling".to_string(),
            State::Temp { live: false } => "left by a killed fill".to_string(),
            State::Foreign => "not a skeleton of scgen's; left alone".to_string(),
        };
        let users: Vec<String> = item.users.iter().map(|u| u.display().to_string()).collect();
        let users = match (users.is_empty(), &doubt, &item.state) {
            (false, _, _) => format!("used by {}", users.join(" ")),
            (true, Some(d), State::Ok | State::Bad(_)) => format!("use unknown: {d}"),
            (true, _, _) => "unused".to_string(),
        };
        let verb = match (pruning, outcome) {
            (false, _) => String::new(),
            (true, Outcome::Removed) => "removed ".into(),
            (true, Outcome::Kept) => "kept ".into(),
            (true, Outcome::WouldRemove) => "would remove ".into(),
            (true, Outcome::Failed(why)) => format!("FAILED TO REMOVE ({why}) "),
        };
        text.push_str(&format!("{verb}{} {state}; {users}\n", item.name));
    }
    text
}

/// The exit code of a `skeletons` run, from its report.
fn skeletons_verdict(
    store: &Path,
    report: &Report,
    pruning: bool,
    doubt: Option<String>,
) -> Result<()> {
    let failed: Vec<&str> = report
        .items
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
        .map(|(i, _)| i.name.as_str())
        .collect();
    if !failed.is_empty() {
        return Err(Error::io(
            store,
            std::io::Error::other(format!(
                "could not remove {}; the rest was pruned",
                failed.join(", ")
            )),
        ));
    }
    if let Some(bad) = report
        .items
        .iter()
        .find(|(i, _)| matches!(i.state, State::Bad(_)))
    {
        if !pruning {
            return Err(Error::data(format!(
                "skeleton {} in {} fails its check",
                bad.0.name,
                store.display()
            )));
        }
    }
    match (pruning, doubt) {
        (true, Some(d)) => Err(Error::data(format!(
            "prune kept every skeleton: {d}"
        ))
        .with_help("fix or remove that container, or leave its lxcpath out if it holds no overlay containers")),
        _ => Ok(()),
    }
}
