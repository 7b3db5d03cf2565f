//! `hostseal rotate`: a new data key for every file, every value re-encrypted with fresh IVs,
//! recipients (and leaf rule) from the rules — the file's own recipients, with a warning, when
//! no rule matches. Whole-file age files are left out (see `updatekeys --include-age`).

use super::io::write_stdout;
use super::rotation_ui::{confirm, fail_listed, finish, note_age_skipped};
use crate::cli::RotateArgs;
use crate::error::Error;
use crate::rotation::job::{Action, Loaded, Planned};
use crate::rotation::plan::{diff, Names, Target};
use crate::rotation::steps::{in_rules, load_for_rewrite, render_plan, skip, Step};
use std::io::Write;

/// Runs `hostseal rotate`.
pub fn run(args: &RotateArgs) -> Result<u8, Error> {
    let config = super::encrypt::config_path(args.config.as_deref());
    let loaded = load_for_rewrite(&args.paths, config.as_deref())?;
    let mut errors = loaded.errors;
    let mut skipped = loaded.skipped;
    let mut planned = Vec::new();
    for f in loaded.files {
        match plan_one(f) {
            Ok(Step::Plan(p)) => planned.push(*p),
            Ok(Step::Skip(s)) => skipped.push(s),
            Ok(Step::Same) => {}
            Err(e) => errors.push(e),
        }
    }
    note_age_skipped(&skipped, "rekey them with `updatekeys --include-age`");
    if !errors.is_empty() {
        return Err(fail_listed(&errors, "nothing written"));
    }
    if planned.is_empty() {
        write_stdout(b"nothing to rotate: no sealed files found\n")?;
        return Ok(0);
    }
    write_stdout(render_plan(&planned).as_bytes())?;
    confirm(
        args.yes,
        &format!("Rotate the data keys of {} file(s)?", planned.len()),
    )?;
    let ids = super::io::identities(&args.identities, args.identity_only)?;
    finish(&planned, &ids, false, "rotated")
}

fn plan_one(f: Loaded) -> Result<Step, Error> {
    let shown = f.path.display().to_string();
    let Some(md) = f.class.metadata.as_ref() else {
        return Ok(skip(f.path, "whole-file age (not rotated)"));
    };
    let rules = f.rules.clone();
    let names = Names::from_rules(rules.as_deref());
    let (target, leaf) = match rules.as_ref().and_then(|r| r.rule_for(&f.path)) {
        Some(rule) => (
            Target::from_rule(rule, md.shamir_threshold).map_err(|e| in_rules(e, &f))?,
            Some((
                rule.leaf_rule.clone().unwrap_or_default(),
                rule.mac_only_encrypted,
            )),
        ),
        None => {
            let _ = writeln!(
                std::io::stderr().lock(),
                "warning: {shown}: no creation rule matches; keeping its own recipients"
            );
            let t = Target::from_metadata(md).map_err(|e| e.with_file(shown.clone()))?;
            (t, None)
        }
    };
    let lines = diff(md, &target).lines(&names);
    Ok(Step::Plan(Box::new(Planned {
        file: f,
        target,
        action: Action::Reencrypt(leaf),
        lines,
    })))
}
