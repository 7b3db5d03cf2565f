//! Parity of the JSON, dotenv and INI stores with the real sops (no hostseal crypto involved):
//! sops encrypts and decrypts each plaintext fixture; our `emit(parse(…))` must give sops's
//! decrypted bytes, and must reproduce the sealed files sops wrote (INI: up to the order of the
//! `[sops]` section, which sops writes in random order).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::path::Path;

use hostseal::format::tree::{Node, Tree};
use hostseal::format::{dotenv, flatten, ini, json};

/// A temp dir with a fresh age identity; returns (dir, recipient).
fn setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let (_key, recipient) = common::age_keygen(dir.path(), "alice");
    (dir, recipient)
}

/// `sops encrypt` of a fixture with the given store type; returns the sealed bytes.
fn sops_encrypt(dir: &Path, recipient: &str, fixture: &str, kind: &str) -> Vec<u8> {
    let src = common::fixture(&format!("stores/{fixture}"));
    let plain = dir.join(fixture);
    std::fs::copy(src, &plain).unwrap();
    common::run_ok(
        common::sops(dir)
            .args(["encrypt", "--age", recipient])
            .args(["--input-type", kind, "--output-type", kind])
            .arg(&plain),
    )
}

/// `sops decrypt` of sealed bytes, read as `kind`, written as `out_kind`.
fn sops_decrypt(dir: &Path, sealed: &[u8], kind: &str, out_kind: &str) -> Vec<u8> {
    let path = dir.join(format!("sealed.{kind}"));
    std::fs::write(&path, sealed).unwrap();
    common::run_ok(
        common::sops(dir)
            .env("SOPS_AGE_KEY_FILE", dir.join("alice.key"))
            .args(["decrypt", "--input-type", kind, "--output-type", out_kind])
            .arg(&path),
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(common::fixture(&format!("stores/{name}"))).unwrap()
}

fn sops_entry(tree: &Tree) -> &Node {
    tree.docs[0].get("sops").expect("sealed file has metadata")
}

#[test]
fn json_plaintext_matches_sops_decrypt() {
    let (dir, r) = setup();
    let sealed = sops_encrypt(dir.path(), &r, "mixed.json", "json");
    let expected = sops_decrypt(dir.path(), &sealed, "json", "json");
    let ours = json::emit(&json::parse(&fixture_bytes("mixed.json")).unwrap(), None).unwrap();
    assert_eq!(text(&ours), text(&expected));
}

#[test]
fn json_sealed_file_round_trips_byte_for_byte() {
    let (dir, r) = setup();
    let sealed = sops_encrypt(dir.path(), &r, "mixed.json", "json");
    let tree = json::parse(&sealed).unwrap();
    assert!(sops_entry(&tree).as_map().is_some());
    assert_eq!(text(&json::emit(&tree, None).unwrap()), text(&sealed));
}

#[test]
fn json_indent_settings_match_sops() {
    let (dir, r) = setup();
    let sealed = sops_encrypt(dir.path(), &r, "mixed.json", "json");
    let tree = json::parse(&fixture_bytes("mixed.json")).unwrap();
    for indent in [0usize, 2] {
        std::fs::write(
            dir.path().join(".sops.yaml"),
            format!("stores:\n  json:\n    indent: {indent}\n"),
        )
        .unwrap();
        let expected = sops_decrypt(dir.path(), &sealed, "json", "json");
        let ours = json::emit(&tree, Some(indent)).unwrap();
        assert_eq!(text(&ours), text(&expected), "indent {indent}");
    }
}

#[test]
fn json_numbers_and_bools_as_dotenv_and_ini_match_sops() {
    // sops turns JSON floats into dotenv/INI strings with Go's %G rules (`1.0`, `1E+21`)
    let (dir, r) = setup();
    let sealed = sops_encrypt(dir.path(), &r, "scalars.json", "json");
    let tree = json::parse(&fixture_bytes("scalars.json")).unwrap();
    let expected_ini = sops_decrypt(dir.path(), &sealed, "json", "ini");
    assert_eq!(text(&ini::emit(&tree).unwrap()), text(&expected_ini));
    let flat = json::parse(&fixture_bytes("flat.json")).unwrap();
    let sealed = sops_encrypt(dir.path(), &r, "flat.json", "json");
    let expected_env = sops_decrypt(dir.path(), &sealed, "json", "dotenv");
    assert_eq!(text(&dotenv::emit(&flat).unwrap()), text(&expected_env));
}

#[test]
fn dotenv_plaintext_matches_sops_decrypt() {
    let (dir, r) = setup();
    for fixture in ["app.env", "crlf.env", "quirks.env"] {
        let sealed = sops_encrypt(dir.path(), &r, fixture, "dotenv");
        let expected = sops_decrypt(dir.path(), &sealed, "dotenv", "dotenv");
        let ours = dotenv::emit(&dotenv::parse(&fixture_bytes(fixture)).unwrap()).unwrap();
        assert_eq!(text(&ours), text(&expected), "{fixture}");
    }
}

#[test]
fn dotenv_sealed_file_round_trips_and_metadata_flattens_back() {
    let (dir, r) = setup();
    let sealed = sops_encrypt(dir.path(), &r, "app.env", "dotenv");
    let tree = dotenv::parse(&sealed).unwrap();
    assert_eq!(text(&dotenv::emit(&tree).unwrap()), text(&sealed));

    let meta = sops_entry(&tree);
    let recipient = meta.as_map().unwrap().get("age").unwrap();
    let Node::Seq(age) = recipient else {
        panic!("age is a list")
    };
    assert_eq!(
        age[0].as_map().unwrap().get("recipient"),
        Some(&Node::str(r.clone()))
    );
    let flat = flatten::flatten(meta).unwrap();
    let lines: Vec<(String, String)> = text(&sealed)
        .lines()
        .filter_map(|l| l.strip_prefix("sops_"))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_string(), v.replace("\\n", "\n"))
        })
        .collect();
    assert_eq!(flat, lines);
    assert_eq!(&flatten::unflatten(flat).unwrap(), meta);
}

#[test]
fn ini_plaintext_matches_sops_decrypt() {
    let (dir, r) = setup();
    for fixture in ["app.ini", "crlf.ini", "quirks.ini"] {
        let sealed = sops_encrypt(dir.path(), &r, fixture, "ini");
        let expected = sops_decrypt(dir.path(), &sealed, "ini", "ini");
        let ours = ini::emit(&ini::parse(&fixture_bytes(fixture)).unwrap()).unwrap();
        assert_eq!(text(&ours), text(&expected), "{fixture}");
    }
}

/// The text before `[sops]` and the sorted lines after it.
fn split_sops_section(s: &str) -> (String, Vec<String>) {
    let (head, tail) = s.split_once("[sops]\n").expect("has a [sops] section");
    let mut lines: Vec<String> = tail.lines().map(str::to_string).collect();
    lines.sort();
    (head.to_string(), lines)
}

#[test]
fn ini_sealed_file_round_trips_up_to_metadata_order() {
    let (dir, r) = setup();
    let sealed = sops_encrypt(dir.path(), &r, "app.ini", "ini");
    let tree = ini::parse(&sealed).unwrap();
    let ours = text(&ini::emit(&tree).unwrap());
    assert_eq!(
        split_sops_section(&ours),
        split_sops_section(&text(&sealed))
    );

    let meta = sops_entry(&tree);
    let flat = flatten::flatten(meta).unwrap();
    assert!(flat.iter().any(|(k, _)| k == "age__list_0__map_enc"));
    assert!(flat.iter().any(|(k, v)| k == "version" && v == "3.11.0"));
    assert_eq!(&flatten::unflatten(flat).unwrap(), meta);
    // and sops decrypts the file we wrote back, metadata in our (sorted) order
    let expected = sops_decrypt(dir.path(), &sealed, "ini", "ini");
    assert_eq!(
        text(&sops_decrypt(dir.path(), ours.as_bytes(), "ini", "ini")),
        text(&expected)
    );
}

/// The tree the YAML store gives for `typed.yaml` (YAML-only leaf types: int, time).
fn typed_tree() -> (Tree, Tree) {
    use hostseal::format::tree::{Map, MapItem, Scalar};
    let s = |v: Scalar| Node::Scalar(v);
    let mut flat = Map::default();
    flat.push("a", s(Scalar::Int(1)));
    flat.push("b", s(Scalar::Int(-42)));
    flat.push("c", s(Scalar::Time("2024-01-02T03:04:05.5Z".into())));
    flat.push("d", s(Scalar::Time("2024-01-02T00:00:00Z".into())));
    flat.push("e", s(Scalar::Bool(true)));
    flat.push("f", s(Scalar::Float(1000.0)));
    flat.push("g", s(Scalar::Float(0.5)));
    flat.push("h", s(Scalar::Null));
    flat.push("i", Node::str("str"));
    flat.0.push(MapItem::Comment(" a comment".into()));
    flat.push("j", Node::str("x"));
    let mut sec = Map::default();
    sec.push("n", s(Scalar::Int(7)));
    sec.push("t", s(Scalar::Time("2001-12-14T21:59:43.1-05:00".into())));
    sec.0.push(MapItem::Comment(" note".into()));
    sec.push("ok", s(Scalar::Bool(false)));
    let mut full = flat.duplicate();
    full.push("sec", Node::Map(sec.duplicate()));
    let mut sections = Map::default();
    sections.push("sec", Node::Map(sec));
    (
        Tree { docs: vec![full] },
        Tree {
            docs: vec![flat, sections],
        },
    )
}

#[test]
fn yaml_typed_leaves_are_written_like_sops() {
    let (dir, r) = setup();
    let sealed = sops_encrypt(dir.path(), &r, "typed.yaml", "yaml");
    let (full, parts) = typed_tree();
    let expected = sops_decrypt(dir.path(), &sealed, "yaml", "json");
    assert_eq!(text(&json::emit(&full, None).unwrap()), text(&expected));
    // dotenv cannot hold the nested `sec`: sops and we both refuse
    assert!(dotenv::emit(&full).is_err());
    let flat = Tree {
        docs: vec![parts.docs[0].duplicate()],
    };
    let sections = Tree {
        docs: vec![parts.docs[1].duplicate()],
    };
    let flat_sealed = sops_encrypt(dir.path(), &r, "typed_flat.yaml", "yaml");
    let expected = sops_decrypt(dir.path(), &flat_sealed, "yaml", "dotenv");
    assert_eq!(text(&dotenv::emit(&flat).unwrap()), text(&expected));
    let sec_sealed = sops_encrypt(dir.path(), &r, "typed_sec.yaml", "yaml");
    let expected = sops_decrypt(dir.path(), &sec_sealed, "yaml", "ini");
    assert_eq!(text(&ini::emit(&sections).unwrap()), text(&expected));
}

#[test]
fn shamir_metadata_flattens_like_sops() {
    // two key groups: `shamir_threshold`, `key_groups__list_N__map_age…`, null `hc_vault` left out
    let (dir, r) = setup();
    let (_bob, r2) = common::age_keygen(dir.path(), "bob");
    std::fs::write(
        dir.path().join(".sops.yaml"),
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{r}]\n      - age: [{r2}]\n"
        ),
    )
    .unwrap();
    let plain = dir.path().join("app.env");
    std::fs::copy(common::fixture("stores/app.env"), &plain).unwrap();
    let sealed = common::run_ok(common::sops(dir.path()).arg("encrypt").arg(&plain));
    let sealed_text = text(&sealed);
    assert!(sealed_text.contains("\nsops_shamir_threshold=2\n"));
    assert!(!sealed_text.contains("hc_vault"));
    let tree = dotenv::parse(&sealed).unwrap();
    assert_eq!(text(&dotenv::emit(&tree).unwrap()), sealed_text);

    let meta = sops_entry(&tree).as_map().unwrap();
    assert_eq!(
        meta.get("shamir_threshold"),
        Some(&Node::Scalar(hostseal::format::tree::Scalar::Int(2)))
    );
    let Some(Node::Seq(groups)) = meta.get("key_groups") else {
        panic!("key_groups is a list")
    };
    assert_eq!(groups.len(), 2);

    let plain_ini = dir.path().join("app.ini");
    std::fs::copy(common::fixture("stores/app.ini"), &plain_ini).unwrap();
    let sealed = common::run_ok(common::sops(dir.path()).arg("encrypt").arg(&plain_ini));
    let tree = ini::parse(&sealed).unwrap();
    let ours = text(&ini::emit(&tree).unwrap());
    assert_eq!(
        split_sops_section(&ours),
        split_sops_section(&text(&sealed))
    );
}

#[test]
fn quirky_sealed_files_round_trip() {
    let (dir, r) = setup();
    let sealed = sops_encrypt(dir.path(), &r, "quirks.ini", "ini");
    let ours = text(&ini::emit(&ini::parse(&sealed).unwrap()).unwrap());
    assert_eq!(
        split_sops_section(&ours),
        split_sops_section(&text(&sealed))
    );
    let sealed = sops_encrypt(dir.path(), &r, "quirks.env", "dotenv");
    let ours = dotenv::emit(&dotenv::parse(&sealed).unwrap()).unwrap();
    assert_eq!(text(&ours), text(&sealed));
}

#[test]
fn invalid_utf8_bytes_are_written_as_go_does() {
    // the binary store's raw bytes, decrypted to JSON: each invalid byte becomes `\ufffd`
    use hostseal::format::tree::{Map, Scalar};
    let (dir, r) = setup();
    let data = b"a\xffb\xe2\x82c<\n".to_vec();
    std::fs::write(dir.path().join("blob.dat"), &data).unwrap();
    let sealed = common::run_ok(
        common::sops(dir.path())
            .args(["encrypt", "--age", &r, "--input-type", "binary"])
            .args(["--output-type", "binary", "blob.dat"]),
    );
    let expected = sops_decrypt(dir.path(), &sealed, "binary", "json");
    let mut doc = Map::default();
    doc.push("data", Node::Scalar(Scalar::Bytes(data)));
    let ours = json::emit(&Tree { docs: vec![doc] }, None).unwrap();
    assert_eq!(text(&ours), text(&expected));
    // and the sealed envelope itself is plain JSON we reproduce byte for byte
    assert_eq!(
        text(&json::emit(&json::parse(&sealed).unwrap(), None).unwrap()),
        text(&sealed)
    );
}
