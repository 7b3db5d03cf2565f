//! `hostseal audit`. (Skeleton.)

use crate::cli::AuditArgs;
use crate::error::Error;

/// Runs `hostseal audit`.
pub fn run(_args: &AuditArgs) -> Result<u8, Error> {
    Err(Error::failure("audit: not implemented yet"))
}
