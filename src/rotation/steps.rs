//! The planning steps `updatekeys` and `rotate` share: what to do with each loaded file, the
//! errors that name the rules file, and the plan as text for the terminal.

use super::job::{self, Action, LoadResult, Loaded, Planned};
use super::plan::{diff, Names, Target};
use super::sealed::FileKind;
use super::walk::Skipped;
use crate::error::Error;
use std::path::{Path, PathBuf};

/// The sealed files under `paths` with their rules, for a run that rewrites them
/// (`updatekeys`, `rotate`). Temporary files an interrupted run left beside them are removed
/// first (docs/key-rotation.md).
pub fn load_for_rewrite(paths: &[PathBuf], config: Option<&Path>) -> Result<LoadResult, Error> {
    let loaded = job::load(super::walk::collect(paths)?, config);
    super::apply::remove_stale_temps(loaded.files.iter().map(|f| f.path.as_path()));
    Ok(loaded)
}

/// What to do with one loaded file.
pub enum Step {
    /// Rewrite it.
    Plan(Box<Planned>),
    /// It already matches.
    Same,
    /// Leave it out (listed with `-v`).
    Skip(Skipped),
}

/// What `updatekeys` does with one loaded file: nothing when its key groups already match its
/// rule, a re-wrap when recipients are only added, a new data key when any is removed.
pub fn plan_update(f: Loaded, include_age: bool) -> Result<Step, Error> {
    let shown = f.path.display().to_string();
    if matches!(f.class.kind, FileKind::Age { .. }) && !include_age {
        return Ok(skip(
            f.path,
            "whole-file age (rewritten only with --include-age)",
        ));
    }
    let rules = f.rules.clone();
    let rule = rules.as_ref().and_then(|r| r.rule_for(&f.path));
    let Some(rule) = rule else {
        // Below a directory, files no rule covers are left out; but with no rules file at
        // all there is nothing to update to: a configuration error.
        if !f.explicit && f.rules.is_some() {
            return Ok(skip(f.path, "no creation rule matches"));
        }
        return Err(no_rule(&f).with_file(shown));
    };
    let names = Names::from_rules(rules.as_deref());
    let md_threshold = f.class.metadata.as_ref().and_then(|m| m.shamir_threshold);
    let target = Target::from_rule(rule, md_threshold).map_err(|e| in_rules(e, &f))?;
    let Some(md) = f.class.metadata.as_ref() else {
        let who: Vec<String> = target
            .flattened()
            .iter()
            .map(|r| names.label(r.as_str()))
            .collect();
        let lines = vec![format!("= {}", who.join(", "))];
        return Ok(Step::Plan(Box::new(Planned {
            file: f,
            target,
            action: Action::Age,
            lines,
        })));
    };
    let d = diff(md, &target);
    if d.is_empty() {
        return Ok(Step::Same);
    }
    let action = if d.removes_access() {
        Action::Reencrypt(None)
    } else {
        Action::Rewrap
    };
    let lines = d.lines(&names);
    Ok(Step::Plan(Box::new(Planned {
        file: f,
        target,
        action,
        lines,
    })))
}

/// A file left out, and why.
pub fn skip(path: PathBuf, reason: &str) -> Step {
    Step::Skip(Skipped {
        path,
        reason: reason.to_string(),
    })
}

/// "No creation rule matches" for a file, naming the rules file consulted (exit 6).
pub fn no_rule(f: &Loaded) -> Error {
    let consulted = match &f.rules {
        Some(r) => format!("no creation rule in {} matches it", r.path.display()),
        None => "no .sops.yaml found from its directory upward".to_string(),
    };
    Error::config(consulted).with_hint("add a creation rule for this path, or pass --config")
}

/// A rules-file error, named by the rules file.
pub fn in_rules(e: Error, f: &Loaded) -> Error {
    match &f.rules {
        Some(r) => e.with_file(r.path.display().to_string()),
        None => e,
    }
}

/// The plan as shown: each file, what happens to its data key, and its `+`/`-` lines.
pub fn render_plan(planned: &[Planned]) -> String {
    let mut out = String::new();
    for p in planned {
        let how = match &p.action {
            Action::Rewrap => "recipients added, data key kept",
            Action::Reencrypt(_) => "new data key, every value re-encrypted",
            Action::Age => "whole-file age, re-encrypted to",
        };
        out.push_str(&format!("{}: {how}\n", p.file.path.display()));
        for l in &p.lines {
            out.push_str(&format!("    {l}\n"));
        }
    }
    out
}
