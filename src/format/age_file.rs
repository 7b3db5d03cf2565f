//! Whole-file age (agenix style): the file is one age ciphertext, binary or ASCII-armored.
//! (Skeleton: being written.)

use crate::error::Error;
use crate::keys::identity::IdentitySet;
use crate::keys::recipient::Recipient;
use crate::secret::SecretBytes;

/// Encrypts a whole file. (Stub.)
pub fn encrypt(
    _plaintext: &[u8],
    _recipients: &[Recipient],
    _armor: bool,
) -> Result<Vec<u8>, Error> {
    Err(Error::failure("not implemented"))
}

/// Decrypts a whole file. (Stub.)
pub fn decrypt(_input: &[u8], _ids: &IdentitySet) -> Result<SecretBytes, Error> {
    Err(Error::failure("not implemented"))
}
