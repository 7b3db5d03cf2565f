//! `hostseal encrypt`. (Skeleton.)

use crate::cli::EncryptArgs;
use crate::error::Error;

/// Runs `hostseal encrypt`.
pub fn run(_args: &EncryptArgs) -> Result<u8, Error> {
    Err(Error::failure("not implemented yet"))
}
