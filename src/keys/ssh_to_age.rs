//! ssh-to-age: ed25519 ssh keys as X25519 age keys, byte-identical to Mic92's `ssh-to-age`.
//!
//! sops-nix users seal files to the `age1…` derived from a host's ssh ed25519 key, and the
//! host opens them with the derived secret. The public side maps the Edwards point to its
//! Montgomery form; the secret side is the first 32 bytes of SHA-512(seed), left unclamped
//! (X25519 clamps on use). Both are bech32 (not bech32m) with the age prefixes. The derived
//! secret lives only in memory, in zeroizing buffers.

use crate::error::Error;
use bech32::{Bech32, Hrp};
use curve25519_dalek::edwards::CompressedEdwardsY;
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

/// Human-readable prefix of age X25519 recipients.
const RECIPIENT_HRP: &str = "age";
/// Human-readable prefix of age X25519 identities (written upper-case).
const IDENTITY_HRP: &str = "age-secret-key-";

/// Bech32-encodes `data` under `hrp` (lower case), mapping errors to a failure.
fn bech32_lower(hrp: &str, data: &[u8]) -> Result<String, Error> {
    let hrp = Hrp::parse(hrp).map_err(|_| Error::failure("internal: bad bech32 prefix"))?;
    bech32::encode::<Bech32>(hrp, data).map_err(|_| Error::failure("bech32 encoding failed"))
}

/// The `age1…` recipient of a 32-byte ed25519 public key (Edwards → Montgomery).
pub fn recipient_from_ed25519_bytes(public: &[u8; 32]) -> Result<String, Error> {
    let point = CompressedEdwardsY(*public)
        .decompress()
        .ok_or_else(|| Error::malformed("the ssh-ed25519 public key is not a valid curve point"))?;
    let montgomery = point.to_montgomery().to_bytes();
    bech32_lower(RECIPIENT_HRP, &montgomery)
}

/// The `age1…` recipient of an `ssh-ed25519 AAAA… [comment]` public key line.
pub fn recipient_from_ssh_public(line: &str) -> Result<String, Error> {
    let key = ssh_key::PublicKey::from_openssh(line.trim())
        .map_err(|_| Error::malformed("not a valid OpenSSH public key"))?;
    let ed = key.key_data().ed25519().ok_or_else(|| {
        Error::failure(format!(
            "only ssh-ed25519 keys have an age1… form (this is {})",
            key.algorithm().as_str()
        ))
    })?;
    recipient_from_ed25519_bytes(&ed.0)
}

/// The `AGE-SECRET-KEY-1…` identity derived from a 32-byte ed25519 seed.
pub fn identity_from_ed25519_seed(seed: &[u8; 32]) -> Result<Zeroizing<String>, Error> {
    let digest = Zeroizing::new(Sha512::digest(seed));
    let scalar = digest
        .get(..32)
        .ok_or_else(|| Error::failure("internal: short digest"))?;
    let lower = Zeroizing::new(bech32_lower(IDENTITY_HRP, scalar)?);
    Ok(Zeroizing::new(lower.to_uppercase()))
}

/// The `AGE-SECRET-KEY-1…` identity derived from an unencrypted OpenSSH ed25519 private key
/// (the bytes of the key file). Passphrase-protected keys and other key types are errors.
pub fn identity_from_ssh_private(bytes: &[u8]) -> Result<Zeroizing<String>, Error> {
    let key = ssh_key::PrivateKey::from_openssh(bytes)
        .map_err(|_| Error::malformed("not a valid OpenSSH private key"))?;
    if key.is_encrypted() {
        return Err(passphrase_error());
    }
    let pair = key.key_data().ed25519().ok_or_else(|| {
        Error::failure(format!(
            "only ssh-ed25519 keys have an age form (this is {})",
            key.algorithm().as_str()
        ))
    })?;
    let seed = Zeroizing::new(pair.private.to_bytes());
    identity_from_ed25519_seed(&seed)
}

/// The error for a passphrase-protected ssh key: we never prompt.
pub(crate) fn passphrase_error() -> Error {
    Error::failure("passphrase-protected ssh keys are not supported (hostseal never prompts)")
        .with_hint("use an unencrypted key, or an age identity made with `hostseal keygen`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bech32::primitives::decode::CheckedHrpstring;
    use bech32::Bech32m;

    /// age's own test key pair (age crate, `ssh/identity.rs` tests): public half only.
    const ALICE_PUB: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN alice@rust";

    #[test]
    fn derived_recipient_uses_bech32_not_bech32m() {
        let r = recipient_from_ssh_public(ALICE_PUB).unwrap();
        assert!(r.starts_with("age1"));
        assert!(CheckedHrpstring::new::<Bech32>(&r).is_ok());
        assert!(CheckedHrpstring::new::<Bech32m>(&r).is_err());
        // And age itself accepts it.
        assert!(r.parse::<age::x25519::Recipient>().is_ok());
    }

    #[test]
    fn derived_identity_is_upper_case_bech32_and_parses() {
        let id = identity_from_ed25519_seed(&[3u8; 32]).unwrap();
        assert!(id.starts_with("AGE-SECRET-KEY-1"));
        assert_eq!(id.to_uppercase(), id.as_str());
        let lower = id.to_lowercase();
        assert!(CheckedHrpstring::new::<Bech32>(&lower).is_ok());
        assert!(CheckedHrpstring::new::<Bech32m>(&lower).is_err());
        assert!(id.parse::<age::x25519::Identity>().is_ok());
    }

    #[test]
    fn derived_pair_matches() {
        // For a seed, the derived identity's public key equals the derived recipient of
        // the ed25519 public key of that seed.
        let seed = [9u8; 32];
        // Ed25519 public key of the seed (RFC 8032): clamped SHA-512(seed)[..32] · B.
        let h = Sha512::digest(seed);
        let mut a = [0u8; 32];
        a.copy_from_slice(&h[..32]);
        let public = curve25519_dalek::EdwardsPoint::mul_base_clamped(a)
            .compress()
            .to_bytes();
        let recipient = recipient_from_ed25519_bytes(&public).unwrap();
        let id: age::x25519::Identity = identity_from_ed25519_seed(&seed).unwrap().parse().unwrap();
        assert_eq!(id.to_public().to_string(), recipient);
    }

    #[test]
    fn rejects_other_key_types_and_garbage() {
        let rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDE7nIXTGNuaRBN9toI/wNALuQec8mvlt0iJ7o3OaD2UvoKHJ7S8rmIn4FiQDUed/Vac3OhUibei1k+TBmm16u2Rj3klgWZOIDgi8d4vXKI5N3YBhxr3jsQ+kz1c+iZ4z/tTtz306+4K46XViVMWwyyg9j82Jn41mOAy9vdeDIfQ5fLeaGqn5KwlT61GNkZ+ozWK/ZNlQIlNCcoXxhJULIs9XrtczWyVBAea1nlDo0WHODePxoJjmsNHrpQXn5mf9O83xs10qfTUjnRUt48jRmedFy4tcra3QGmSTQ3KZne+wXXSb0cIpXLGvZjQSPHgG1hc4r3uBpiSzvesGLv79XL alice@rust";
        let err = recipient_from_ssh_public(rsa).unwrap_err();
        assert!(err.message.contains("ssh-rsa"), "{}", err.message);
        assert!(recipient_from_ssh_public("ssh-ed25519 !!!").is_err());
        assert!(identity_from_ssh_private(b"not a key").is_err());
    }
}
