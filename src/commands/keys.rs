//! `hostseal keygen` and `hostseal pubkey`. (Skeleton.)

use crate::cli::{KeygenArgs, PubkeyArgs};
use crate::error::Error;

/// Runs `hostseal keygen`.
pub fn keygen(_args: &KeygenArgs) -> Result<u8, Error> {
    Err(Error::failure("not implemented yet"))
}

/// Runs `hostseal pubkey`.
pub fn pubkey(_args: &PubkeyArgs) -> Result<u8, Error> {
    Err(Error::failure("not implemented yet"))
}
