//! `hostseal decrypt`. (Skeleton.)

use crate::cli::DecryptArgs;
use crate::error::Error;

/// Runs `hostseal decrypt`.
pub fn run(_args: &DecryptArgs) -> Result<u8, Error> {
    Err(Error::failure("not implemented yet"))
}
