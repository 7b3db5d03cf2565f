//! The new bytes of one file, given identities that open it.
//!
//! * [`rewrap`]: only recipients added — the data key is kept and wrapped to the new groups;
//!   values, `lastmodified` and the MAC stay exactly as they were (as `sops updatekeys` does).
//! * [`reencrypt`]: a new data key, every value re-encrypted with fresh IVs, a new
//!   `lastmodified` and MAC (removals, and `rotate`).
//! * [`age_file`]: a whole-file age file decrypted and encrypted again to new recipients.

use super::plan::Target;
use crate::age_file as agef;
use crate::error::Error;
use crate::format::metadata::{EmptyList, LeafRule};
use crate::format::{EmitOptions, Format};
use crate::keys::identity::IdentitySet;
use crate::secret::DataKey;
use crate::sops::{self, keygroups};

/// The leaf rule and `mac_only_encrypted` to write (`rotate` applies the rule's); `None`
/// keeps the file's.
pub type LeafChoice = Option<(LeafRule, bool)>;

/// Keeps the data key and wraps it to `target`. The file is opened first (data key and MAC
/// verified), so a file we cannot open is never rewritten.
pub fn rewrap(
    bytes: &[u8],
    format: Format,
    target: &Target,
    ids: &IdentitySet,
    emit: &EmitOptions,
) -> Result<Vec<u8>, Error> {
    // Parsed once: opened (data key and MAC verified), then written back with new groups.
    let (mut sealed, md) = sops::split_metadata(format.parse_sealed(bytes)?)?;
    let opened = sops::open_split(&sealed, md, ids)?;
    let (groups, threshold) = keygroups::wrap(opened.data_key(), &target.groups, target.threshold)?;
    let mut md = opened.metadata.clone();
    drop(opened);
    md.groups = groups;
    md.shamir_threshold = threshold;
    let node = md.to_node(empty_list(format));
    for doc in &mut sealed.docs {
        doc.push("sops", node.duplicate());
    }
    Ok(format.emit_sealed(&sealed, emit)?)
}

/// Draws a new data key, wraps it to `target` and re-encrypts every value (fresh IVs).
pub fn reencrypt(
    bytes: &[u8],
    format: Format,
    target: &Target,
    leaf: LeafChoice,
    ids: &IdentitySet,
    emit: &EmitOptions,
) -> Result<Vec<u8>, Error> {
    let opened = sops::open(bytes, format, ids)?;
    let key = DataKey::generate();
    let (groups, threshold) = keygroups::wrap(&key, &target.groups, target.threshold)?;
    let mut md = opened.metadata.clone();
    md.groups = groups;
    md.shamir_threshold = threshold;
    if let Some((rule, mac_only)) = leaf {
        md.leaf_rule = if format == Format::Binary {
            LeafRule::None
        } else {
            rule
        };
        md.mac_only_encrypted = mac_only;
    }
    sops::seal_with(&opened.tree, format, &key, &mut md, None, emit)
}

/// Decrypts a whole-file age file and encrypts it to every recipient of `target`, keeping
/// the armor of the input.
pub fn age_file(
    bytes: &[u8],
    armored: bool,
    target: &Target,
    ids: &IdentitySet,
) -> Result<Vec<u8>, Error> {
    let plain = agef::decrypt(bytes, ids)?;
    agef::encrypt(plain.expose(), &target.flattened(), armored)
}

/// How empty lists of other key types are written: `[]` in YAML, `null` elsewhere (as Go).
fn empty_list(format: Format) -> EmptyList {
    if format == Format::Yaml {
        EmptyList::Empty
    } else {
        EmptyList::Null
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::metadata::Metadata;
    use crate::keys::recipient::Recipient;
    use crate::sops::SealParams;

    fn id() -> (IdentitySet, Recipient) {
        let (secret, public) = crate::keys::generate();
        let ids = IdentitySet::parse_text(&secret, "test").unwrap();
        (ids, Recipient::parse(&public).unwrap())
    }

    fn sealed_json(to: &[Recipient]) -> Vec<u8> {
        let tree = Format::Json
            .parse_plain(br#"{"a": "secret", "n": 1.5, "b_unencrypted": "clear"}"#)
            .unwrap();
        let params = SealParams {
            groups: vec![to.to_vec()],
            threshold: None,
            leaf_rule: LeafRule::default(),
            mac_only_encrypted: false,
        };
        sops::seal(&tree, Format::Json, &params, &EmitOptions::default()).unwrap()
    }

    fn metadata(bytes: &[u8]) -> (crate::format::tree::Tree, Metadata) {
        sops::split_metadata(Format::Json.parse_sealed(bytes).unwrap()).unwrap()
    }

    #[test]
    fn rewrap_keeps_values_mac_and_time_and_opens_for_the_new_recipient() {
        let (ids_a, a) = id();
        let (ids_b, b) = id();
        let old = sealed_json(std::slice::from_ref(&a));
        let target = Target {
            groups: vec![vec![a, b]],
            threshold: None,
        };
        let new = rewrap(&old, Format::Json, &target, &ids_a, &EmitOptions::default()).unwrap();
        let (t_old, md_old) = metadata(&old);
        let (t_new, md_new) = metadata(&new);
        assert_eq!(t_old, t_new);
        assert_eq!(md_old.mac, md_new.mac);
        assert_eq!(md_old.lastmodified, md_new.lastmodified);
        assert_eq!(md_new.groups[0].age.len(), 2);
        let o1 = sops::open(&new, Format::Json, &ids_b).unwrap();
        let o0 = sops::open(&old, Format::Json, &ids_a).unwrap();
        assert!(o1.data_key().same_as(o0.data_key()));
    }

    #[test]
    fn reencrypt_draws_a_new_key_and_drops_the_removed_recipient() {
        let (ids_a, a) = id();
        let (ids_b, b) = id();
        let old = sealed_json(&[a.clone(), b]);
        let target = Target {
            groups: vec![vec![a]],
            threshold: None,
        };
        let new = reencrypt(
            &old,
            Format::Json,
            &target,
            None,
            &ids_a,
            &EmitOptions::default(),
        )
        .unwrap();
        let o_new = sops::open(&new, Format::Json, &ids_a).unwrap();
        let o_old = sops::open(&old, Format::Json, &ids_a).unwrap();
        assert!(!o_new.data_key().same_as(o_old.data_key()));
        assert_eq!(o_new.tree, o_old.tree);
        assert_eq!(
            sops::open(&new, Format::Json, &ids_b)
                .err()
                .map(|e| e.exit_code()),
            Some(3)
        );
        let (t_old, _) = metadata(&old);
        let (t_new, _) = metadata(&new);
        assert_ne!(t_old, t_new, "every value re-encrypted");
    }

    #[test]
    fn unopenable_file_is_not_rewritten() {
        let (_, a) = id();
        let (ids_b, b) = id();
        let old = sealed_json(std::slice::from_ref(&a));
        let target = Target {
            groups: vec![vec![a, b]],
            threshold: None,
        };
        let e = rewrap(&old, Format::Json, &target, &ids_b, &EmitOptions::default()).unwrap_err();
        assert_eq!(e.exit_code(), 3);
    }

    #[test]
    fn age_file_rekeyed_keeps_armor() {
        let (ids_a, a) = id();
        let (ids_b, b) = id();
        let old = agef::encrypt(b"payload", std::slice::from_ref(&a), true).unwrap();
        let target = Target {
            groups: vec![vec![b]],
            threshold: None,
        };
        let new = age_file(&old, true, &target, &ids_a).unwrap();
        assert!(crate::keys::armor::is_armored(&new));
        assert_eq!(agef::decrypt(&new, &ids_b).unwrap().expose(), b"payload");
        assert!(agef::decrypt(&new, &ids_a).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]
        /// Random flat documents in every tree store: after a re-wrap and after a
        /// re-encryption, the file opens for the new recipient to the same plaintext.
        #[test]
        fn rekeyed_files_open_to_the_same_plaintext(
            entries in proptest::collection::btree_map("[a-z]{1,8}", "[ -~]{0,24}", 1..6),
            store in proptest::sample::select(vec![Format::Json, Format::Yaml, Format::Dotenv]),
        ) {
            let (ids_a, a) = id();
            let (ids_b, b) = id();
            let mut doc = crate::format::tree::Map::default();
            for (k, v) in &entries {
                doc.push(k.clone(), crate::format::tree::Node::str(v.clone()));
            }
            let tree = crate::format::tree::Tree { docs: vec![doc] };
            let params = SealParams {
                groups: vec![vec![a.clone()]],
                threshold: None,
                leaf_rule: LeafRule::default(),
                mac_only_encrypted: false,
            };
            let emit = EmitOptions::default();
            let old = sops::seal(&tree, store, &params, &emit).unwrap();
            let target = Target { groups: vec![vec![a, b]], threshold: None };
            let wrapped = rewrap(&old, store, &target, &ids_a, &emit).unwrap();
            let fresh = reencrypt(&old, store, &target, None, &ids_a, &emit).unwrap();
            for bytes in [&wrapped, &fresh] {
                let opened = sops::open(bytes, store, &ids_b).unwrap();
                proptest::prop_assert_eq!(&opened.tree, &tree);
            }
        }
    }
}
