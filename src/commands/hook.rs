//! `hostseal hook install`. (Skeleton.)

use crate::cli::HookCommand;
use crate::error::Error;

/// Runs `hostseal hook …`.
pub fn run(_cmd: &HookCommand) -> Result<u8, Error> {
    Err(Error::failure("hook: not implemented yet"))
}
