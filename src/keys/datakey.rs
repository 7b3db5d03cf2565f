//! Wrapping of the data key (or a Shamir share) for every recipient of a key group.
//!
//! Thin on purpose: the core decides groups and shares; this turns one payload and a list of
//! recipients into the `{recipient, enc}` pairs sops stores.

use crate::error::Error;
use crate::keys::recipient::Recipient;

/// Wraps `payload` separately for each recipient: `(recipient as stored, armored age file)`,
/// in the order given.
pub fn wrap_for_all(
    payload: &[u8],
    recipients: &[Recipient],
) -> Result<Vec<(String, String)>, Error> {
    recipients
        .iter()
        .map(|r| Ok((r.as_str().to_string(), r.wrap(payload)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::identity::IdentitySet;
    use age::secrecy::ExposeSecret;

    #[test]
    fn every_recipient_gets_its_own_file() {
        let a = age::x25519::Identity::generate();
        let b = age::x25519::Identity::generate();
        let rs = [
            Recipient::parse(&a.to_public().to_string()).unwrap(),
            Recipient::parse(&b.to_public().to_string()).unwrap(),
        ];
        let wrapped = wrap_for_all(&[1u8; 32], &rs).unwrap();
        assert_eq!(wrapped.len(), 2);
        assert_eq!(wrapped[0].0, rs[0].as_str());
        let ids = IdentitySet::parse_text(b.to_string().expose_secret(), "b").unwrap();
        assert!(ids.unwrap(&wrapped[0].1).unwrap().is_none());
        assert_eq!(&ids.unwrap(&wrapped[1].1).unwrap().unwrap()[..], &[1u8; 32]);
    }
}
