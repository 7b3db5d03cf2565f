//! `hostseal audit`: per sealed file, its recipients (names where known), the rule that
//! matched and whether they agree; `--recipient R` lists the files R can open, and with
//! `--require` fails (exit 1) unless R can open every file (the NixOS module's host check).

use super::io::write_stdout;
use super::rotation_ui::fail_listed;
use crate::cli::AuditArgs;
use crate::error::Error;
use crate::rotation::audit::{
    can_open_age, can_open_sops, known_recipients, render_json, render_text, report_age,
    report_sops, Openable, Report, Who,
};
use crate::rotation::job::{self, Loaded};
use crate::rotation::plan::Names;
use rayon::prelude::*;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

/// Runs `hostseal audit`.
pub fn run(args: &AuditArgs) -> Result<u8, Error> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let walk = crate::rotation::walk::collect(&paths)?;
    let config = super::encrypt::config_path(args.config.as_deref());
    let loaded = job::load(walk, config.as_deref());
    let result = match &args.recipient {
        Some(r) => by_recipient(args, &Who::parse(r)?, &loaded.files),
        None => all_reports(args.json, &loaded.files),
    };
    if !loaded.errors.is_empty() {
        let e = fail_listed(&loaded.errors, "some files could not be audited");
        return Err(if args.require {
            Error::failure(e.message)
        } else {
            e
        });
    }
    result
}

/// The recipient names of each rules file, worked out once per rules file rather than once
/// per sealed file (keyed by the shared rules file's address; 0 for no rules file).
fn names_by_rules(files: &[Loaded]) -> HashMap<usize, Names> {
    let mut out = HashMap::new();
    for f in files {
        out.entry(rules_key(f))
            .or_insert_with(|| Names::from_rules(f.rules.as_deref()));
    }
    out
}

fn rules_key(f: &Loaded) -> usize {
    f.rules
        .as_ref()
        .map_or(0, |r| std::sync::Arc::as_ptr(r) as usize)
}

fn report(f: &Loaded, names: &HashMap<usize, Names>) -> Report {
    let shown = f.path.display().to_string();
    let rules = f.rules.as_deref();
    let rule = rules.and_then(|r| r.rule_for(&f.path));
    let fallback;
    let names = match names.get(&rules_key(f)) {
        Some(n) => n,
        None => {
            fallback = Names::from_rules(rules);
            &fallback
        }
    };
    match &f.class.metadata {
        Some(md) => report_sops(shown, f.class.kind, md, rule, names),
        None => report_age(shown, &f.bytes, rule, names, &known_recipients(rule, rules)),
    }
}

fn all_reports(json: bool, files: &[Loaded]) -> Result<u8, Error> {
    // Reports are worked out on every core and kept in walk order.
    let names = names_by_rules(files);
    let reports: Vec<Report> = files.par_iter().map(|f| report(f, &names)).collect();
    let out = if json {
        let v: Vec<serde_json::Value> = reports.iter().map(render_json).collect();
        json_text(&serde_json::Value::Array(v))
    } else {
        reports.iter().map(render_text).collect::<String>()
    };
    write_stdout(out.as_bytes())?;
    Ok(0)
}

fn json_text(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}

fn openable(f: &Loaded, who: &Who) -> Openable {
    match &f.class.metadata {
        Some(md) => can_open_sops(md, who),
        None => can_open_age(&f.bytes, who),
    }
}

fn by_recipient(args: &AuditArgs, who: &Who, files: &[Loaded]) -> Result<u8, Error> {
    let results: Vec<(&Loaded, Openable)> =
        files.par_iter().map(|f| (f, openable(f, who))).collect();
    let out = if args.json {
        let v: Vec<serde_json::Value> = results
            .iter()
            .map(|(f, o)| serde_json::json!({"file": f.path.display().to_string(), "can_open": o.word()}))
            .collect();
        json_text(&serde_json::Value::Array(v))
    } else {
        results
            .iter()
            .filter(|(_, o)| *o == Openable::Yes)
            .map(|(f, _)| format!("{}\n", f.path.display()))
            .collect()
    };
    write_stdout(out.as_bytes())?;
    if !args.require {
        return Ok(0);
    }
    let failing: Vec<(&Loaded, Openable)> = results
        .into_iter()
        .filter(|(_, o)| match o {
            Openable::Yes => false,
            Openable::Unverifiable => !args.allow_unverifiable,
            Openable::No => true,
        })
        .collect();
    if failing.is_empty() {
        return Ok(0);
    }
    let mut err = std::io::stderr().lock();
    for (f, o) in &failing {
        let why = match o {
            Openable::Unverifiable => {
                "whole-file age: its recipients cannot be read (pass --allow-unverifiable)"
            }
            _ => "the recipient cannot open it",
        };
        let _ = writeln!(err, "hostseal: {}: {why}", f.path.display());
    }
    Err(Error::failure(format!(
        "the recipient cannot open {} of {} file(s)",
        failing.len(),
        files.len()
    ))
    .with_hint("add it to the files' rule and run `hostseal updatekeys`"))
}
