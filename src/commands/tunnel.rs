//! `hostseal tunnel token|credentials`. (Skeleton.)

use crate::cli::TunnelCommand;
use crate::error::Error;

/// Runs `hostseal tunnel …`.
pub fn run(_cmd: &TunnelCommand) -> Result<u8, Error> {
    Err(Error::failure("tunnel: not implemented yet"))
}
