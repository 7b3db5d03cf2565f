//! `hostseal check`. (Skeleton.)

use crate::cli::CheckArgs;
use crate::error::Error;

/// Runs `hostseal check`.
pub fn run(_args: &CheckArgs) -> Result<u8, Error> {
    Err(Error::failure("check: not implemented yet"))
}
