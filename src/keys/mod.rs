//! Keys: age recipients and identities, ssh host keys (native and through ssh-to-age), the
//! wrapping of the data key per recipient, Shamir sharing across key groups, and identity
//! discovery on the workstation (SPEC §1 "Identities on the workstation").

pub mod datakey;
pub mod identity;
pub mod recipient;
pub mod shamir;
pub mod ssh_to_age;

use crate::error::Error;
use zeroize::Zeroizing;

/// A new X25519 identity: (secret line, recipient). (Stub.)
pub fn generate() -> (Zeroizing<String>, String) {
    (Zeroizing::new(String::new()), String::new())
}

/// Public forms of a key file. (Stub.)
pub struct PublicKeys {
    /// The `age1…` recipient.
    pub age: String,
    /// The native `ssh-ed25519 …` form, for ssh keys.
    pub ssh: Option<String>,
}

/// Public keys of an identity file or ssh key. (Stub.)
pub fn public_of(_bytes: &[u8]) -> Result<PublicKeys, Error> {
    Err(Error::failure("not implemented"))
}
