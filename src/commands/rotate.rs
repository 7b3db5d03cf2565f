//! `hostseal rotate`: a new data key for every file, every value re-encrypted with fresh IVs,
//! recipients (and leaf rule) from the rules — the file's own recipients, with a warning, when
//! no rule matches. Whole-file age files are left out (see `updatekeys --include-age`).

use super::io::write_stdout;
use super::updatekeys::{
    confirm, fail_listed, finish, in_rules, note_age_skipped, render_plan, skip, Step,
};
use crate::cli::RotateArgs;
use crate::error::Error;
use crate::rotation::job::{self, Action, Loaded, Planned};
use crate::rotation::plan::{diff, Names, Target};
use std::io::Write;

/// Runs `hostseal rotate`.
pub fn run(args: &RotateArgs) -> Result<u8, Error> {
    let walk = crate::rotation::walk::collect(&args.paths)?;
    let config = super::encrypt::config_path(args.config.as_deref());
    let loaded = job::load(walk, config.as_deref());
    // Temporary files of an interrupted run are removed by the next one (SPEC §1).
    crate::rotation::apply::remove_stale_temps(loaded.files.iter().map(|f| f.path.as_path()));
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
