//! The terminal side shared by `updatekeys`, `rotate` and `audit`: listing skipped files and
//! errors on stderr, asking for confirmation, and running the rewrite with a progress line.
//! (The planning itself is in [`crate::rotation::steps`].)

use super::io::write_stdout;
use crate::error::Error;
use crate::rotation::job::{self, ExecError, Planned};
use crate::rotation::walk::Skipped;
use std::io::{BufRead, IsTerminal, Write};

/// Lists skipped paths on stderr with `-v`.
pub fn show_skipped(skipped: &[Skipped], verbose: bool) {
    if !verbose {
        return;
    }
    let mut err = std::io::stderr().lock();
    for s in skipped {
        let _ = writeln!(err, "skipped: {} ({})", s.path.display(), s.reason);
    }
}

/// A one-line note when whole-file age files were left out (they are easy to forget).
pub fn note_age_skipped(skipped: &[Skipped], what_to_do: &str) {
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
pub fn fail_listed(errors: &[Error], what: &str) -> Error {
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

/// Asks on the terminal unless `yes`; without a terminal and without `-y`, refuses (exit 1).
pub fn confirm(yes: bool, question: &str) -> Result<(), Error> {
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
pub fn finish(
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
