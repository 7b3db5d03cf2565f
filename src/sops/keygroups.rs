//! The data key across key groups (docs/format.md#key-groups-and-shamir): wrapped whole to every recipient of a single
//! group, or split with Shamir's scheme, one share per group, when there are several.

use crate::error::Error;
use crate::format::metadata::{AgeStanza, KeyGroup, Metadata};
use crate::keys::identity::IdentitySet;
use crate::keys::recipient::Recipient;
use crate::keys::shamir;
use crate::secret::DataKey;
use zeroize::Zeroizing;

/// Wraps `key` for `groups`; returns the metadata groups and the threshold to write.
/// `threshold` is the rule's (or the file's); unset means all groups are needed.
pub fn wrap(
    key: &DataKey,
    groups: &[Vec<Recipient>],
    threshold: Option<usize>,
) -> Result<(Vec<KeyGroup>, Option<usize>), Error> {
    if groups.is_empty() || groups.iter().any(Vec::is_empty) {
        return Err(Error::config("a key group has no recipients"));
    }
    if groups.len() == 1 {
        let age = wrap_group(key.expose(), &groups[0])?;
        return Ok((vec![KeyGroup { age, other: vec![] }], None));
    }
    let n = groups.len();
    let t = threshold.filter(|t| *t > 0).unwrap_or(n).min(n);
    if t < 2 {
        return Err(Error::config(
            "shamir_threshold must be at least 2 with several key groups",
        ));
    }
    let parts = u8::try_from(n).map_err(|_| Error::config("more than 255 key groups"))?;
    let shares = shamir::split(key.expose(), parts, t as u8)?;
    let out = groups
        .iter()
        .zip(shares.iter())
        .map(|(g, share)| {
            Ok(KeyGroup {
                age: wrap_group(share, g)?,
                other: vec![],
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok((out, Some(t)))
}

fn wrap_group(payload: &[u8], recipients: &[Recipient]) -> Result<Vec<AgeStanza>, Error> {
    recipients
        .iter()
        .map(|r| {
            Ok(AgeStanza {
                recipient: r.as_str().to_string(),
                enc: r.wrap(payload)?,
            })
        })
        .collect()
}

/// Recovers the data key with `ids`. Exit 3 when no identity opens enough groups; a damaged
/// stanza is reported only when nothing else opened.
pub fn recover(md: &Metadata, ids: &IdentitySet) -> Result<DataKey, Error> {
    let mut first_error = None;
    let mut shares: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    for group in &md.groups {
        for stanza in &group.age {
            match ids.unwrap(&stanza.enc) {
                Ok(Some(payload)) => {
                    shares.push(payload);
                    break;
                }
                Ok(None) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if md.groups.len() == 1 && !shares.is_empty() {
            break;
        }
    }
    if md.groups.len() == 1 {
        if let Some(payload) = shares.first() {
            return DataKey::from_bytes(payload)
                .ok_or_else(|| Error::malformed("a wrapped data key does not have 32 bytes"));
        }
    } else {
        let needed = md.shamir_threshold.unwrap_or(md.groups.len()).max(1);
        if shares.len() >= needed {
            let refs: Vec<&[u8]> = shares.iter().map(|s| s.as_slice()).collect();
            let key = shamir::combine(&refs)?;
            return DataKey::from_bytes(&key)
                .ok_or_else(|| Error::malformed("the combined data key does not have 32 bytes"));
        }
        if !shares.is_empty() && first_error.is_none() {
            return Err(no_key(md, ids).with_hint(format!(
                "the file needs keys from {needed} of its {} key groups; {} opened",
                md.groups.len(),
                shares.len()
            )));
        }
    }
    Err(first_error.unwrap_or_else(|| no_key(md, ids)))
}

fn no_key(md: &Metadata, ids: &IdentitySet) -> Error {
    let recipients: Vec<&str> = md
        .groups
        .iter()
        .flat_map(|g| g.age.iter().map(|s| s.recipient.as_str()))
        .collect();
    let tried = if ids.is_empty() {
        "none found".to_string()
    } else {
        ids.sources().join(", ")
    };
    let listed = if recipients.is_empty() {
        "no age recipients (only other key types)".to_string()
    } else {
        recipients.join(", ")
    };
    Error::no_key(format!(
        "no identity can open the data key; the file's recipients: {listed}; identities tried: {tried}"
    ))
    .with_hint("pass --identity, or set SOPS_AGE_KEY_FILE, to a key the file is sealed to")
}
