//! `hostseal updatekeys`. (Skeleton.)

use crate::cli::UpdatekeysArgs;
use crate::error::Error;

/// Runs `hostseal updatekeys`.
pub fn run(_args: &UpdatekeysArgs) -> Result<u8, Error> {
    Err(Error::failure("updatekeys: not implemented yet"))
}
