//! Property tests: random trees, for every store, survive seal → open unchanged (after the
//! store's own normalisation: a tree is first emitted and re-parsed as plaintext, then sealed
//! with a real age recipient and opened with its identity).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use hostseal::format::metadata::LeafRule;
use hostseal::format::tree::{Map, MapItem, Node, Scalar, Tree};
use hostseal::format::{EmitOptions, Format};
use hostseal::keys::identity::IdentitySet;
use hostseal::keys::recipient::Recipient;
use hostseal::sops::{self, SealParams};
use proptest::prelude::*;

fn key_name() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_]{0,8}"
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,20}",
        "[a-z]{1,10}",
        "\\PC{0,12}",
        Just("yes".to_string()),
        Just("123".to_string()),
        Just("line1\nline2\n".to_string()),
    ]
}

fn scalar() -> impl Strategy<Value = Scalar> {
    prop_oneof![
        text().prop_map(Scalar::Str),
        any::<i32>().prop_map(|i| Scalar::Int(i64::from(i))),
        (-1.0e6f64..1.0e6).prop_map(Scalar::Float),
        any::<bool>().prop_map(Scalar::Bool),
        Just(()).prop_map(|()| Scalar::Null),
    ]
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = scalar().prop_map(Node::Scalar);
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Node::Seq),
            prop::collection::vec((key_name(), inner), 0..4).prop_map(|kv| Node::Map(map(kv))),
        ]
    })
}

fn map(kv: Vec<(String, Node)>) -> Map {
    let mut m = Map::default();
    for (k, v) in kv {
        if m.get(&k).is_none() {
            m.push(k, v);
        }
    }
    m
}

fn tree(values: impl Strategy<Value = Node>) -> impl Strategy<Value = Tree> {
    prop::collection::vec((key_name(), values), 1..6).prop_map(|kv| Tree {
        docs: vec![map(kv)],
    })
}

fn flat_strings() -> impl Strategy<Value = Tree> {
    tree(text().prop_map(Node::str))
}

fn ini_tree() -> impl Strategy<Value = Tree> {
    prop::collection::vec(
        (
            key_name(),
            prop::collection::vec((key_name(), "[a-z0-9 ]{0,10}".prop_map(Node::str)), 1..4),
        ),
        1..4,
    )
    .prop_map(|sections| Tree {
        docs: vec![map(sections
            .into_iter()
            .map(|(s, kv)| (s, Node::Map(map(kv))))
            .collect())],
    })
}

struct Keys {
    ids: IdentitySet,
    recipient: String,
}

fn keys() -> Keys {
    let (secret, recipient) = hostseal::keys::generate();
    let mut ids = IdentitySet::new();
    ids.add_bytes(secret.as_bytes(), "test").unwrap();
    Keys { ids, recipient }
}

fn round_trip(format: Format, t: &Tree, k: &Keys) -> Result<(), TestCaseError> {
    let opts = EmitOptions::default();
    let Ok(bytes) = format.emit_plain(t, &opts) else {
        return Ok(()); // outside the store's value domain
    };
    let plain = format.parse_plain(&bytes).unwrap();
    let params = SealParams {
        groups: vec![vec![Recipient::parse(&k.recipient).unwrap()]],
        threshold: None,
        leaf_rule: LeafRule::default(),
        mac_only_encrypted: false,
    };
    let sealed = sops::seal(&plain, format, &params, &opts).unwrap();
    let opened = sops::open(&sealed, format, &k.ids).unwrap();
    prop_assert_eq!(&opened.tree, &plain);
    prop_assert_eq!(opened.emit(format, &opts).unwrap(), bytes);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn yaml_round_trips(t in tree(node()), extra in prop::collection::vec(" [a-z ]{0,12}", 0..3)) {
        let mut t = t;
        for c in extra {
            t.docs[0].0.insert(0, MapItem::Comment(c));
        }
        round_trip(Format::Yaml, &t, &keys())?;
    }

    #[test]
    fn json_round_trips(t in tree(node())) {
        round_trip(Format::Json, &t, &keys())?;
    }

    #[test]
    fn dotenv_round_trips(t in flat_strings()) {
        round_trip(Format::Dotenv, &t, &keys())?;
    }

    #[test]
    fn ini_round_trips(t in ini_tree()) {
        round_trip(Format::Ini, &t, &keys())?;
    }

    #[test]
    fn binary_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let k = keys();
        let t = Format::Binary.parse_plain(&bytes).unwrap();
        round_trip(Format::Binary, &t, &k)?;
    }
}

/// The properties above skip trees a store cannot hold; this makes sure none of them is
/// vacuous: a simple tree emits in every store.
#[test]
fn every_store_holds_a_simple_tree() {
    let mut section = Map::default();
    section.push("key", Node::str("value"));
    let mut doc = Map::default();
    doc.push("section", Node::Map(section));
    let nested = Tree { docs: vec![doc] };
    let mut flat_doc = Map::default();
    flat_doc.push("KEY", Node::str("value"));
    let flat = Tree {
        docs: vec![flat_doc],
    };
    let k = keys();
    for (format, t) in [
        (Format::Yaml, &nested),
        (Format::Json, &nested),
        (Format::Ini, &nested),
        (Format::Dotenv, &flat),
    ] {
        assert!(
            format.emit_plain(t, &EmitOptions::default()).is_ok(),
            "{format:?}"
        );
        round_trip(format, t, &k).unwrap();
    }
}
