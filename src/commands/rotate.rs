//! `hostseal rotate`. (Skeleton.)

use crate::cli::RotateArgs;
use crate::error::Error;

/// Runs `hostseal rotate`.
pub fn run(_args: &RotateArgs) -> Result<u8, Error> {
    Err(Error::failure("rotate: not implemented yet"))
}
