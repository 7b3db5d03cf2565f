//! Command-line arguments of `install` and `status`, and their entry points. (Skeleton.)

use crate::error::Error;
use std::path::PathBuf;

/// `hostseal install` arguments (SPEC §1).
#[derive(clap::Args, Debug)]
pub struct InstallArgs {
    /// Validate only: `manifest` (structure) or `sopsfile` (also parse each sealed file).
    #[arg(long, value_name = "MODE", default_value = "off")]
    pub check_mode: String,
    /// In check modes, also resolve owners and groups.
    #[arg(long)]
    pub resolve_owners: bool,
    /// Ignore owners/groups by name: root:root except explicit numbers.
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

/// Runs `install`; returns the exit code (0, or 7 when some secrets failed).
pub fn run_install(_args: &InstallArgs) -> Result<u8, Error> {
    Err(Error::failure("install: not implemented yet"))
}

/// `hostseal status` arguments.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Print the status file as JSON.
    #[arg(long)]
    pub json: bool,
    /// The status file (default `/run/secrets.d/status.json`).
    pub status_file: Option<PathBuf>,
}

/// Runs `status`; returns the exit code.
pub fn run_status(_args: &StatusArgs) -> Result<u8, Error> {
    Err(Error::failure("status: not implemented yet"))
}
