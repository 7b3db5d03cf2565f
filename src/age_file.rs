//! Whole-file age (agenix style): the file is one age ciphertext, binary or ASCII-armored.
//!
//! Used for `--input-type age` and for agenix secrets at install. The input is bounded by
//! [`MAX_INPUT`]; when no identity opens the file, the error lists what the header says about
//! its recipients (stanza types and ssh key tags) and which identity sources were tried.

use crate::error::Error;
use crate::keys::identity::IdentitySet;
use crate::keys::recipient::{encrypt_binary, Recipient};
use crate::keys::{armor, stanzas};
use crate::limits::MAX_INPUT;
use crate::secret::SecretBytes;

/// Encrypts `plaintext` to all `recipients` as one age file, ASCII-armored if `armor`.
pub fn encrypt(plaintext: &[u8], recipients: &[Recipient], armor: bool) -> Result<Vec<u8>, Error> {
    if recipients.is_empty() {
        return Err(Error::failure("no recipients to encrypt to"));
    }
    if plaintext.len() > MAX_INPUT {
        return Err(Error::malformed("input larger than 16 MiB"));
    }
    let binary = encrypt_binary(plaintext, recipients.iter())?;
    Ok(if armor {
        armor::encode(&binary).into_bytes()
    } else {
        binary
    })
}

/// Decrypts a whole-file age file (armor detected automatically).
///
/// Errors: not an age file or a bad header → Malformed; no identity fits → NoKey (naming the
/// stanzas and the identity sources); header MAC or payload authentication → Integrity.
pub fn decrypt(input: &[u8], ids: &IdentitySet) -> Result<SecretBytes, Error> {
    if input.len() > MAX_INPUT {
        return Err(Error::malformed("input larger than 16 MiB"));
    }
    let decoded;
    let binary: &[u8] = if armor::is_armored(input) {
        decoded = armor::decode(input)?;
        &decoded
    } else {
        input
    };
    if !binary.starts_with(b"age-encryption.org/") {
        return Err(Error::malformed("not an age file"));
    }
    match ids.open_binary(binary)? {
        Some(plain) => Ok(SecretBytes::new(take_vec(plain))),
        None => Err(no_key_error(binary, ids)),
    }
}

/// Moves the bytes out of a zeroizing buffer without copying them.
fn take_vec(mut plain: zeroize::Zeroizing<Vec<u8>>) -> Vec<u8> {
    std::mem::take(&mut *plain)
}

/// The NoKey error: the file's recipient stanzas and the identity sources tried.
fn no_key_error(binary: &[u8], ids: &IdentitySet) -> Error {
    let listed = stanzas::summary(&stanzas::list(binary));
    let tried = if ids.sources().is_empty() {
        "none found".to_string()
    } else {
        ids.sources().join(", ")
    };
    Error::no_key(format!(
        "no identity opens this age file (its recipients: {listed}; identities tried: {tried})"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::keys::generate;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn hostile_input_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
            let (ids, _) = pair();
            let mut input = b"age-encryption.org/v1\n-> X25519 ".to_vec();
            input.extend_from_slice(&tail);
            let _ = decrypt(&input, &ids);
            let _ = decrypt(&tail, &ids);
            let _ = IdentitySet::new().add_bytes(&tail, "fuzz");
            let _ = Recipient::parse(&String::from_utf8_lossy(&tail));
            let _ = crate::keys::public_of(&tail);
        }
    }

    fn pair() -> (IdentitySet, Recipient) {
        let (secret, public) = generate();
        (
            IdentitySet::parse_text(&secret, "test key").unwrap(),
            Recipient::parse(&public).unwrap(),
        )
    }

    #[test]
    fn round_trip_binary_and_armored() {
        let (ids, r) = pair();
        for armored in [false, true] {
            let sealed = encrypt(b"hello", std::slice::from_ref(&r), armored).unwrap();
            assert_eq!(armor::is_armored(&sealed), armored);
            assert_eq!(decrypt(&sealed, &ids).unwrap().expose(), b"hello");
        }
    }

    #[test]
    fn error_kinds() {
        let (ids, r) = pair();
        let (other, _) = pair();
        let sealed = encrypt(b"hello", &[r], false).unwrap();
        let err = decrypt(&sealed, &other).unwrap_err();
        assert_eq!(err.kind, Kind::NoKey);
        assert!(err.message.contains("X25519"), "{}", err.message);
        assert!(err.message.contains("test key"), "{}", err.message);
        assert_eq!(
            decrypt(b"plain text", &ids).unwrap_err().kind,
            Kind::Malformed
        );
        let mut bad = sealed.clone();
        let n = bad.len() - 3;
        bad[n] ^= 0x40;
        assert_eq!(decrypt(&bad, &ids).unwrap_err().kind, Kind::Integrity);
        let truncated = &sealed[..sealed.len() - 5];
        assert_eq!(decrypt(truncated, &ids).unwrap_err().kind, Kind::Integrity);
        assert!(encrypt(b"x", &[], true).is_err());
    }
}
