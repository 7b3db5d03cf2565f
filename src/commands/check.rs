//! `hostseal check`: the commit-time guard. Prints one line per problem on stderr
//! (`hostseal: <file>: <what>`), then each distinct hint once; exit 1 on any problem, never
//! prompts. With `--encrypt`, names each file it sealed and staged.

use crate::cli::CheckArgs;
use crate::error::Error;
use crate::guard::run::{check, Options};
use crate::keys::identity::{discover, WorkstationEnv};
use std::io::Write;

/// Runs `hostseal check`. Every failure of `check` is exit 1 (docs/cli.md#exit-codes).
pub fn run(args: &CheckArgs) -> Result<u8, Error> {
    run_inner(args).map_err(|mut e| {
        e.kind = crate::error::Kind::Failure;
        e
    })
}

fn run_inner(args: &CheckArgs) -> Result<u8, Error> {
    let ids = discover(&[], &WorkstationEnv::from_process())?;
    let opts = Options {
        staged: args.staged,
        encrypt: args.encrypt,
        no_validate: args.no_validate,
        config: super::io::config_path(&args.rules),
    };
    let report = check(&args.paths, &opts, &ids)?;
    let mut err = std::io::stderr().lock();
    for path in &report.sealed {
        let _ = writeln!(err, "hostseal: {path}: sealed and staged");
    }
    for p in &report.problems {
        let _ = writeln!(err, "hostseal: {p}");
    }
    let mut hints: Vec<&str> = Vec::new();
    for h in report.problems.iter().filter_map(|p| p.hint) {
        if !hints.contains(&h) {
            hints.push(h);
        }
    }
    for h in hints {
        let _ = writeln!(err, "hint: {h}");
    }
    Ok(u8::from(!report.problems.is_empty()))
}
