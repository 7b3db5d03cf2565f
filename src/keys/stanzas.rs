//! A read-only look at an age header's recipient stanzas, for messages and `audit`.
//!
//! When no identity opens a file, the user wants to know who it was sealed to. X25519 stanzas
//! are anonymous; ssh stanzas carry a 4-byte tag of the recipient's key, which can be matched
//! against known keys (see [`crate::keys::recipient::Recipient::ssh_tag`]).
//!
//! The stanzas are read with `age-core`'s own stanza parser (the one the `age` crate reads
//! headers with), so what is listed here is exactly what `age` would see.

use age_core::format::read::age_stanza;
use base64::prelude::{Engine, BASE64_STANDARD_NO_PAD};

/// One recipient stanza of an age header, as far as it can be described without a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StanzaInfo {
    /// The stanza type: `X25519`, `ssh-ed25519`, `ssh-rsa`, `scrypt`, a plugin's name, ….
    pub kind: String,
    /// For `ssh-ed25519`/`ssh-rsa`: the 4-byte key tag.
    pub ssh_tag: Option<[u8; 4]>,
}

impl StanzaInfo {
    /// A short description: `X25519` or `ssh-ed25519 (tag 1a2b3c4d)`.
    pub fn describe(&self) -> String {
        match self.ssh_tag {
            Some(tag) => format!("{} (tag {})", self.kind, hex::encode(tag)),
            None => self.kind.clone(),
        }
    }
}

/// Most stanzas we list; a header with more is described as "and more".
const MAX_LISTED: usize = 64;

/// The recipient stanzas of a binary age file (best effort: stops at the first stanza that
/// does not parse; returns nothing for input that is not an age v1 file).
pub fn list(binary: &[u8]) -> Vec<StanzaInfo> {
    let mut out = Vec::new();
    let Some(mut rest) = binary.strip_prefix(b"age-encryption.org/v1\n") else {
        return out;
    };
    while out.len() < MAX_LISTED {
        let Ok((after, stanza)) = age_stanza(rest) else {
            break;
        };
        out.push(describe_stanza(stanza.tag, stanza.args.first().copied()));
        rest = after;
    }
    out
}

/// The recipient stanzas of an armored age file (a sops `enc` value); empty when the armor
/// does not decode.
pub fn list_armored(armored: &str) -> Vec<StanzaInfo> {
    crate::keys::armor::decode(armored.as_bytes())
        .map(|binary| list(&binary))
        .unwrap_or_default()
}

/// A stanza's type and, for ssh stanzas, the key tag in its first argument.
fn describe_stanza(kind: &str, first_arg: Option<&str>) -> StanzaInfo {
    let ssh_tag = if kind == "ssh-ed25519" || kind == "ssh-rsa" {
        first_arg.and_then(decode_tag)
    } else {
        None
    };
    // Stanza types are 1*VCHAR; a long one is cut for display.
    let kind = kind.chars().take(64).collect();
    StanzaInfo { kind, ssh_tag }
}

/// The 4-byte tag argument (base64 without padding).
fn decode_tag(arg: &str) -> Option<[u8; 4]> {
    let bytes = BASE64_STANDARD_NO_PAD.decode(arg).ok()?;
    bytes.try_into().ok()
}

/// A one-line summary: `X25519 ×2, ssh-ed25519 (tag 1a2b3c4d)`.
pub fn summary(stanzas: &[StanzaInfo]) -> String {
    let mut parts: Vec<(String, usize)> = Vec::new();
    for s in stanzas {
        let d = s.describe();
        match parts.iter_mut().find(|(k, _)| *k == d) {
            Some((_, n)) => *n = n.saturating_add(1),
            None => parts.push((d, 1)),
        }
    }
    if parts.is_empty() {
        return "none readable".into();
    }
    parts
        .into_iter()
        .map(|(d, n)| if n > 1 { format!("{d} x{n}") } else { d })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_kinds_and_ssh_tags() {
        let header = b"age-encryption.org/v1\n-> X25519 abc\nYm9keQ\n-> ssh-ed25519 AQIDBA def\nYm9keQ\n--- mac\n\x00\x01";
        let got = list(header);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].kind, "X25519");
        assert_eq!(got[1].ssh_tag, Some([1, 2, 3, 4]));
        assert_eq!(summary(&got), "X25519, ssh-ed25519 (tag 01020304)");
        assert!(list(b"not age").is_empty());
        let armored = crate::keys::armor::encode(header);
        assert_eq!(list_armored(&armored), got);
        assert!(list_armored("nope").is_empty());
    }
}
