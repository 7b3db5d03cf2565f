//! `hostseal install` and `hostseal status`: their arguments, the call into
//! [`crate::install::activate`], and the printing (progress and warnings on stderr, the status
//! on stdout).

use crate::error::Error;
use crate::install::activate::{self, CheckMode, Request};
use crate::install::log::Log;
use crate::install::status;
use std::path::PathBuf;

/// `hostseal install` arguments (docs/cli.md).
#[derive(clap::Args, Debug)]
pub struct InstallArgs {
    /// Validate only (needs no root): `manifest` checks the structure; `sopsfile` is the
    /// host-side check: it also parses each sealed file (each `key` must exist) and resolves
    /// each owner and group by name, so a misspelled owner fails here. The Nix build runs it
    /// with --ignore-passwd (its sandbox has no users; the module checks names at evaluation).
    #[arg(long, value_name = "MODE", value_enum, default_value = "off")]
    pub check_mode: CheckMode,
    /// With `--check-mode manifest`, also resolve owners and groups (`sopsfile` always does).
    #[arg(long)]
    pub resolve_owners: bool,
    /// Ignore owners/groups by name: root:root except explicit numbers (with
    /// `--check-mode sopsfile`: do not resolve names).
    #[arg(long)]
    pub ignore_passwd: bool,
    /// Show what would change; write nothing but the dry-activation lists.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not mount a RAM filesystem (tests, containers).
    #[arg(long)]
    pub no_mount: bool,
    /// With --no-mount: allow a mount point on a disk filesystem.
    #[arg(long, requires = "no_mount")]
    pub allow_disk: bool,
    /// The manifest JSON.
    pub manifest: PathBuf,
}

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

/// `hostseal status` arguments.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Print the status file as JSON.
    #[arg(long)]
    pub json: bool,
    /// The status file (default `/run/secrets.d/status.json`; a manifest with another
    /// `secretsMountPoint` or `statusFile` writes it there). Readable without root.
    pub status_file: Option<PathBuf>,
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
