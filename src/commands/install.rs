//! `hostseal install` and `hostseal status`: the call into
//! [`crate::install::activate`], and the printing (progress and warnings on stderr, the status
//! on stdout).

use crate::cli::{InstallArgs, StatusArgs};
use crate::error::Error;
use crate::install::activate::{self, Request};
use crate::install::log::Log;
use crate::install::status;

/// Runs `install`, its progress lines and warnings on stderr as they happen; returns the exit
/// code (0, or 7 when some secrets failed).
pub fn run_install(args: InstallArgs) -> Result<u8, Error> {
    let req = Request {
        check_mode: args.check_mode,
        resolve_owners: args.resolve_owners,
        ignore_passwd: args.ignore_passwd,
        dry_run: args.dry_run,
        no_mount: args.no_mount,
        allow_disk: args.allow_disk,
        manifest: args.manifest,
    };
    let stderr = |line: &str| eprintln!("{line}");
    activate::run_install(&req, Log::new(&stderr))
}

/// Prints the status file; returns the exit code (0, or 7 when the last install was degraded
/// or is still in progress).
pub fn run_status(args: &StatusArgs) -> Result<u8, Error> {
    let st = activate::read_status(args.status_file.as_deref())?;
    if args.json {
        let text = serde_json::to_string_pretty(&st).map_err(|_| Error::failure("cannot print"))?;
        println!("{text}");
    } else {
        print!("{}", status::render(&st));
    }
    Ok(if st.degraded() || st.in_progress {
        7
    } else {
        0
    })
}
