//! `hostseal edit`. (Skeleton.)

use crate::cli::EditArgs;
use crate::error::Error;

/// Runs `hostseal edit`.
pub fn run(_args: &EditArgs) -> Result<u8, Error> {
    Err(Error::failure("edit: not implemented yet"))
}
