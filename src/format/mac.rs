//! The sops MAC (docs/format.md#mac): SHA-512 over the canonical plaintext bytes of every non-null,
//! non-comment leaf in document order (only encrypted ones with `mac_only_encrypted`, which
//! first feeds SHA-256("sops")), rendered as 128 upper-case hex digits, stored encrypted with the
//! `lastmodified` string as AAD.

use sha2::{Digest, Sha256, Sha512};

/// An incremental MAC computation.
pub struct MacHasher {
    hash: Sha512,
    mac_only_encrypted: bool,
}

impl MacHasher {
    /// Starts a MAC; `mac_only_encrypted` as in the file's metadata.
    pub fn new(mac_only_encrypted: bool) -> Self {
        let mut hash = Sha512::new();
        if mac_only_encrypted {
            hash.update(Sha256::digest(b"sops"));
        }
        MacHasher {
            hash,
            mac_only_encrypted,
        }
    }

    /// Feeds one leaf's canonical plaintext; `encrypted` says whether the leaf is encrypted.
    pub fn leaf(&mut self, bytes: &[u8], encrypted: bool) {
        if encrypted || !self.mac_only_encrypted {
            self.hash.update(bytes);
        }
    }

    /// The MAC string: upper-case hex of the digest.
    pub fn finish(self) -> String {
        hex::encode_upper(self.hash.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_mac_is_sha512_of_nothing() {
        assert!(MacHasher::new(false)
            .finish()
            .starts_with("CF83E1357EEFB8BD"));
    }

    #[test]
    fn mac_only_encrypted_skips_clear_leaves() {
        let mut a = MacHasher::new(true);
        a.leaf(b"secret", true);
        a.leaf(b"clear", false);
        let mut b = MacHasher::new(true);
        b.leaf(b"secret", true);
        assert_eq!(a.finish(), b.finish());
        let mut c = MacHasher::new(false);
        c.leaf(b"secret", true);
        c.leaf(b"clear", false);
        let mut d = MacHasher::new(false);
        d.leaf(b"secret", true);
        assert_ne!(c.finish(), d.finish());
    }
}
