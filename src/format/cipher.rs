//! Per-value AES-256-GCM as sops does it (docs/format.md#values): a 32-byte random IV (so GHASH derives the
//! initial counter), the key path plus `:` as additional authenticated data, and the tag stored
//! apart from the ciphertext.

use super::value::{EncValue, ValueType};
use crate::secret::DataKey;
use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce, Tag};
use zeroize::Zeroizing;

/// AES-256-GCM with sops's 32-byte nonce.
type SopsGcm = AesGcm<Aes256, U32>;

/// Length of the IVs sops writes.
pub const IV_LEN: usize = 32;

/// The value did not authenticate: wrong key, altered ciphertext, IV or tag, or moved to
/// another key path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("value does not authenticate (altered, or moved to another key)")]
pub struct AuthError;

/// A fresh random IV.
pub fn random_iv() -> [u8; IV_LEN] {
    use rand::RngCore;
    let mut iv = [0u8; IV_LEN];
    rand::rngs::OsRng.fill_bytes(&mut iv);
    iv
}

/// Encrypts `plaintext` (non-empty) under `key` with `iv` and `aad`.
pub fn encrypt(
    key: &DataKey,
    plaintext: &[u8],
    aad: &[u8],
    value_type: ValueType,
    iv: [u8; IV_LEN],
) -> EncValue {
    let cipher = SopsGcm::new(key.expose().into());
    let mut buf = plaintext.to_vec();
    // Encryption of an in-memory buffer below the GCM length limit cannot fail.
    let tag = cipher
        .encrypt_in_place_detached(Nonce::<U32>::from_slice(&iv), aad, &mut buf)
        .unwrap_or_default();
    EncValue {
        data: buf,
        iv: iv.to_vec(),
        tag: tag.into(),
        value_type,
    }
}

/// Decrypts and authenticates one value. sops writes 32-byte IVs and reads any length; we read
/// 32-byte and standard 12-byte IVs (what other tools write) and reject the rest.
pub fn decrypt(
    key: &DataKey,
    value: &EncValue,
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AuthError> {
    decrypt_buffer(key, value.data.clone(), &value.iv, &value.tag, aad)
}

/// [`decrypt`] that takes the value and decrypts its ciphertext where it lies (no copy of a
/// large value).
pub fn decrypt_owned(
    key: &DataKey,
    value: EncValue,
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AuthError> {
    decrypt_buffer(key, value.data, &value.iv, &value.tag, aad)
}

fn decrypt_buffer(
    key: &DataKey,
    ciphertext: Vec<u8>,
    iv: &[u8],
    tag: &[u8; 16],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AuthError> {
    let mut buf = Zeroizing::new(ciphertext);
    let tag = Tag::from_slice(tag);
    let ok = match iv.len() {
        IV_LEN => SopsGcm::new(key.expose().into()).decrypt_in_place_detached(
            Nonce::<U32>::from_slice(iv),
            aad,
            &mut buf,
            tag,
        ),
        12 => aes_gcm::Aes256Gcm::new(key.expose().into()).decrypt_in_place_detached(
            aes_gcm::Nonce::from_slice(iv),
            aad,
            &mut buf,
            tag,
        ),
        _ => return Err(AuthError),
    };
    ok.map_err(|_| AuthError)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kat_key() -> DataKey {
        DataKey::from_bytes(&(0u8..32).collect::<Vec<_>>()).unwrap()
    }

    /// A known answer (key bytes 0..31, IV bytes 0x20..0x3f), which the real sops decrypts.
    #[test]
    fn known_answer() {
        let iv: [u8; 32] = core::array::from_fn(|i| 0x20 + i as u8);
        let v = encrypt(&kat_key(), b"hello", b"app:greeting:", ValueType::Str, iv);
        assert_eq!(
            v.render(),
            "ENC[AES256_GCM,data:f6SdJOI=,iv:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=,tag:T24uEWU6ZsEJ+sgqfIL1yA==,type:str]"
        );
        let back = decrypt(&kat_key(), &v, b"app:greeting:").unwrap();
        assert_eq!(&back[..], b"hello");
    }

    #[test]
    fn wrong_path_or_key_fails() {
        let v = encrypt(&kat_key(), b"x", b"a:", ValueType::Str, random_iv());
        assert_eq!(decrypt(&kat_key(), &v, b"b:"), Err(AuthError));
        assert_eq!(decrypt(&DataKey::generate(), &v, b"a:"), Err(AuthError));
        let mut odd = v.clone();
        odd.iv.truncate(16);
        assert_eq!(decrypt(&kat_key(), &odd, b"a:"), Err(AuthError));
    }
}
