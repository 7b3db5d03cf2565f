//! Shamir secret sharing over GF(2^8) as sops does it (FORMAT §6). (Skeleton.)

use crate::error::Error;
use zeroize::Zeroizing;

/// Splits `secret` into `parts` shares, any `threshold` of which recover it. (Stub.)
pub fn split(_secret: &[u8], _parts: u8, _threshold: u8) -> Result<Vec<Zeroizing<Vec<u8>>>, Error> {
    Err(Error::failure("not implemented"))
}

/// Recovers a secret from shares. (Stub.)
pub fn combine(_shares: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>, Error> {
    Err(Error::failure("not implemented"))
}
