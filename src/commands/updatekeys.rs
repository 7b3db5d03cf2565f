//! `hostseal updatekeys`: bring every file's key groups in line with its rule (SPEC §1).
//!
//! Plan from metadata alone (`+`/`-` per recipient, names from the rules' anchors), ask unless
//! `-y`, then open every planned file before writing any: only additions keep the data key,
//! any removal rotates it. The helpers here are shared with `rotate`.

use super::io::write_stdout;
use crate::cli::UpdatekeysArgs;
use crate::error::Error;
use crate::rotation::job::{self, Action, ExecError, Loaded, Planned};
use crate::rotation::plan::{diff, Names, Target};
use crate::rotation::sealed::FileKind;
use crate::rotation::walk::{self, Skipped};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

/// Runs `hostseal updatekeys`.
pub fn run(args: &UpdatekeysArgs) -> Result<u8, Error> {
    let walk = walk::collect(&args.paths)?;
    let config = super::encrypt::config_path(args.config.as_deref());
    let loaded = job::load(walk, config.as_deref());
    // Temporary files of an interrupted run are removed by the next one (SPEC §1).
    crate::rotation::apply::remove_stale_temps(loaded.files.iter().map(|f| f.path.as_path()));
    let mut errors = loaded.errors;
    let mut skipped = loaded.skipped;
    let mut planned = Vec::new();
    let mut unchanged = 0usize;
    for f in loaded.files {
        match plan_one(f, args.include_age) {
            Ok(Step::Plan(p)) => planned.push(*p),
            Ok(Step::Same) => unchanged = unchanged.saturating_add(1),
            Ok(Step::Skip(s)) => skipped.push(s),
            Err(e) => errors.push(e),
        }
    }
    show_skipped(&skipped, args.verbose);
    note_age_skipped(&skipped, "use --include-age");
    if !errors.is_empty() {
        return Err(fail_listed(&errors, "nothing written"));
    }
    if planned.is_empty() {
        write_stdout(
            format!("nothing to do: {unchanged} file(s) already match their rules\n").as_bytes(),
        )?;
        return Ok(0);
    }
    write_stdout(render_plan(&planned).as_bytes())?;
    confirm(args.yes, &format!("Update {} file(s)?", planned.len()))?;
    let ids = super::io::identities(&args.identities, args.identity_only)?;
    finish(&planned, &ids, args.skip_unopenable, "updated")
}

/// What to do with one loaded file.
pub(crate) enum Step {
    /// Rewrite it.
    Plan(Box<Planned>),
    /// It already matches.
    Same,
    /// Leave it out (listed with `-v`).
    Skip(Skipped),
}

fn plan_one(f: Loaded, include_age: bool) -> Result<Step, Error> {
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

pub(crate) fn skip(path: PathBuf, reason: &str) -> Step {
    Step::Skip(Skipped {
        path,
        reason: reason.to_string(),
    })
}

/// "No creation rule matches" for a file, naming the rules file consulted (exit 6).
pub(crate) fn no_rule(f: &Loaded) -> Error {
    let consulted = match &f.rules {
        Some(r) => format!("no creation rule in {} matches it", r.path.display()),
        None => "no .sops.yaml found from its directory upward".to_string(),
    };
    Error::config(consulted).with_hint("add a creation rule for this path, or pass --config")
}

/// A rules-file error, named by the rules file.
pub(crate) fn in_rules(e: Error, f: &Loaded) -> Error {
    match &f.rules {
        Some(r) => e.with_file(r.path.display().to_string()),
        None => e,
    }
}

/// Lists skipped paths on stderr with `-v`.
pub(crate) fn show_skipped(skipped: &[Skipped], verbose: bool) {
    if !verbose {
        return;
    }
    let mut err = std::io::stderr().lock();
    for s in skipped {
        let _ = writeln!(err, "skipped: {} ({})", s.path.display(), s.reason);
    }
}

/// A one-line note when whole-file age files were left out (they are easy to forget).
pub(crate) fn note_age_skipped(skipped: &[Skipped], what_to_do: &str) {
    let n = skipped
        .iter()
        .filter(|s| s.reason.starts_with("whole-file age"))
        .count();
    if n > 0 {
        let _ = writeln!(
            std::io::stderr().lock(),
            "note: {n} whole-file age file(s) left out ({what_to_do})"
        );
    }
}

/// Prints every error (as `main` prints one) and returns the summary error: highest code.
pub(crate) fn fail_listed(errors: &[Error], what: &str) -> Error {
    print_errors(errors);
    let n = errors.len();
    job::summary(errors, &format!("{n} problem(s); {what}"))
}

fn print_errors(errors: &[Error]) {
    let mut err = std::io::stderr().lock();
    for e in errors {
        let _ = writeln!(err, "hostseal: {e}");
        if let Some(h) = &e.hint {
            let _ = writeln!(err, "hint: {h}");
        }
    }
}

/// The plan as shown: each file, what happens to its data key, and its `+`/`-` lines.
pub(crate) fn render_plan(planned: &[Planned]) -> String {
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

/// Asks on the terminal unless `yes`; without a terminal and without `-y`, refuses (exit 1).
pub(crate) fn confirm(yes: bool, question: &str) -> Result<(), Error> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() || !std::io::stderr().is_terminal() {
        return Err(
            Error::failure("not a terminal: cannot ask; nothing written")
                .with_hint("pass -y to go ahead without asking"),
        );
    }
    {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{question} [y/N] ");
        let _ = err.flush();
    }
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::io("<stdin>", &e))?;
    match answer.trim() {
        "y" | "Y" | "yes" | "YES" | "Yes" => Ok(()),
        _ => Err(Error::failure("not confirmed; nothing written")),
    }
}

/// Opens, rewrites and writes the planned files; reports what happened.
pub(crate) fn finish(
    planned: &[Planned],
    ids: &crate::keys::identity::IdentitySet,
    skip_unopenable: bool,
    verb: &str,
) -> Result<u8, Error> {
    let progress = Progress::new(planned.len());
    let result = job::execute(planned, ids, skip_unopenable, &|i, n| progress.show(i, n));
    progress.clear();
    match result {
        Err(ExecError::Unopenable(errors)) => Err(fail_listed(
            &errors,
            "these files cannot be opened: nothing written",
        )
        .with_hint("pass --identity with a key they are sealed to, or --skip-unopenable")),
        Err(ExecError::NothingWritten(e)) => Err(e),
        Err(ExecError::Rename(e)) => Err(e.with_hint("run the command again to finish")),
        Ok(outcome) => {
            if !outcome.unopened.is_empty() {
                print_errors(&outcome.unopened);
                let mut err = std::io::stderr().lock();
                let _ = writeln!(
                    err,
                    "hostseal: skipped {} file(s) no identity opens",
                    outcome.unopened.len()
                );
            }
            write_stdout(format!("{verb} {} file(s)\n", outcome.written.len()).as_bytes())?;
            Ok(0)
        }
    }
}

/// A one-line counter on stderr while files are opened, shown only on a terminal and only for
/// runs over many files (quiet otherwise).
struct Progress {
    on: bool,
}

/// From how many files on a progress line is worth showing.
const PROGRESS_FROM: usize = 20;

impl Progress {
    fn new(total: usize) -> Self {
        Progress {
            on: total >= PROGRESS_FROM && std::io::stderr().is_terminal(),
        }
    }

    fn show(&self, done: usize, total: usize) {
        if self.on {
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\rhostseal: re-keying {}/{total}",
                done.saturating_add(1)
            );
            let _ = err.flush();
        }
    }

    fn clear(&self) {
        if self.on {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        }
    }
}
