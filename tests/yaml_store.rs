//! The yaml store against the real sops (go-yaml v3.0.4 inside):
//! 1. `emit(parse(X))` equals what `sops decrypt` prints for a file `sops encrypt` made of X;
//! 2. `emit(parse(S))` equals S, byte for byte, for every sealed file S sops writes;
//! 3. inputs sops refuses are refused here too.
//!
//! Fixtures: `tests/fixtures/yaml/*.yaml` (plaintext only; keys are made per run).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::path::{Path, PathBuf};

use common::{age_keygen, fixture, run_ok, sops};
use hostseal::format::yaml;

fn fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture("yaml"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "fixtures missing");
    files
}

/// A temp dir with an age identity and a `.sops.yaml` for it (YAML indent `indent`).
struct Sandbox {
    dir: tempfile::TempDir,
    key: PathBuf,
}

impl Sandbox {
    fn new(indent: usize) -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let (key, recipient) = age_keygen(dir.path(), "k");
        let config = format!(
            "stores:\n  yaml:\n    indent: {indent}\ncreation_rules:\n  - age: {recipient}\n"
        );
        std::fs::write(dir.path().join(".sops.yaml"), config).unwrap();
        Sandbox { dir, key }
    }

    /// Two key groups (Shamir 2 of 2) and `encrypted_regex`, so the sealed layout has
    /// `key_groups` metadata and clear values and comments.
    fn key_groups() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let (k1, r1) = age_keygen(dir.path(), "k1");
        let (k2, r2) = age_keygen(dir.path(), "k2");
        let both = [std::fs::read(k1).unwrap(), std::fs::read(k2).unwrap()].concat();
        let key = dir.path().join("both.key");
        std::fs::write(&key, both).unwrap();
        let config = format!(
            "creation_rules:\n  - shamir_threshold: 2\n    encrypted_regex: '^(nested|items|a)$'\n    key_groups:\n      - age: [{r1}]\n      - age: [{r2}]\n"
        );
        std::fs::write(dir.path().join(".sops.yaml"), config).unwrap();
        Sandbox { dir, key }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `sops encrypt` then `sops decrypt` of `plain`; returns (sealed, decrypted).
    fn seal_and_open(&self, plain: &Path) -> (Vec<u8>, Vec<u8>) {
        let input = self.path().join("in.yaml");
        std::fs::copy(plain, &input).unwrap();
        let sealed = run_ok(sops(self.path()).arg("encrypt").arg("in.yaml"));
        let sealed_path = self.path().join("sealed.yaml");
        std::fs::write(&sealed_path, &sealed).unwrap();
        let opened = run_ok(
            sops(self.path())
                .env("SOPS_AGE_KEY_FILE", &self.key)
                .arg("decrypt")
                // sops fails its own MAC when clear values re-read as other types
                // (`encrypted_regex` leaves `1e6` clear and then prints `1e+06`): not our subject.
                .arg("--ignore-mac")
                .arg("sealed.yaml"),
        );
        (sealed, opened)
    }

    /// Whether `sops encrypt` accepts `text`.
    fn sops_accepts(&self, text: &str) -> bool {
        std::fs::write(self.path().join("bad.yaml"), text).unwrap();
        sops(self.path())
            .arg("encrypt")
            .arg("bad.yaml")
            .output()
            .unwrap()
            .status
            .success()
    }
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn reemit(input: &[u8], indent: usize, what: &str) -> Vec<u8> {
    let tree = yaml::parse(input).unwrap_or_else(|e| panic!("{what}: parse failed: {e}"));
    yaml::emit(&tree, indent).unwrap_or_else(|e| panic!("{what}: emit failed: {e}"))
}

fn check_fixtures(indent: usize) {
    check_fixtures_in(&Sandbox::new(indent), indent);
}

fn check_fixtures_in(sandbox: &Sandbox, indent: usize) {
    let mut failures = Vec::new();
    for file in fixtures() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let (sealed, opened) = sandbox.seal_and_open(&file);
        let plain = std::fs::read(&file).unwrap();
        let ours = reemit(&plain, indent, &name);
        if ours != opened {
            failures.push(format!(
                "{name} (indent {indent}): emit(parse(plain)) differs from sops decrypt\n--- sops\n{}--- ours\n{}",
                show(&opened),
                show(&ours)
            ));
        }
        let ours_sealed = reemit(&sealed, indent, &name);
        if ours_sealed != sealed {
            failures.push(format!(
                "{name} (indent {indent}): emit(parse(sealed)) differs from the sealed file\n--- sops\n{}--- ours\n{}",
                show(&sealed),
                show(&ours_sealed)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fixtures_match_sops_output_indent_4() {
    check_fixtures(4);
}

#[test]
fn fixtures_match_sops_output_indent_2() {
    check_fixtures(2);
}

#[test]
fn fixtures_match_sops_output_with_key_groups_and_regex() {
    check_fixtures_in(&Sandbox::key_groups(), 4);
}

/// Whatever sops refuses to encrypt, we refuse to parse (and the other way round for
/// ordinary files).
#[test]
fn refusals_agree_with_sops() {
    let sandbox = Sandbox::new(4);
    let refused = [
        ("empty", ""),
        ("comment only", "# nothing\n"),
        ("top-level sequence", "- a\n- b\n"),
        ("top-level scalar", "just text\n"),
        ("int key", "1: a\n"),
        ("bool key", "true: a\n"),
        ("duplicate key", "a: 1\na: 2\n"),
        ("uint64 value", "big: 18446744073709551615\n"),
        ("bad indentation", "a:\n  b: 1\n c: 2\n"),
        ("unclosed quote", "a: \"x\n"),
        ("unknown alias", "a: *nope\n"),
        ("null key", "~: a\n"),
        ("timestamp key", "2024-01-01: a\n"),
        ("float key", "1.5: a\n"),
        ("sequence key", "[a]: 1\n"),
        ("tab indentation", "a:\n\tb: 1\n"),
        ("reserved indicator", "a: @x\n"),
        ("nested value on key line", "a: b: c\n"),
        ("bad !!int", "a: !!int x\n"),
    ];
    for (what, text) in refused {
        assert!(!sandbox.sops_accepts(text), "sops accepted {what}");
        assert!(yaml::parse(text.as_bytes()).is_err(), "we accepted {what}");
    }
    let accepted = [
        ("quoted int key", "\"1\": a\n"),
        ("int64 max", "big: 9223372036854775807\n"),
        ("beyond uint64 is a float", "big: 18446744073709551616\n"),
        ("flow mapping document", "{a: 1}\n"),
        ("yes key", "yes: 1\n"),
    ];
    for (what, text) in accepted {
        assert!(sandbox.sops_accepts(text), "sops refused {what}");
        assert!(yaml::parse(text.as_bytes()).is_ok(), "we refused {what}");
    }
}

/// sops-nix's sealed test file (written by an older sops, with pgp/kms metadata) re-emits
/// byte for byte.
#[test]
fn peer_sealed_file_round_trips() {
    let sealed = std::fs::read(common::peer("sops-nix/secrets.yaml")).unwrap();
    let tree = yaml::parse(&sealed).unwrap();
    assert!(tree.docs[0].get("sops").is_some());
    assert_eq!(show(&yaml::emit(&tree, 4).unwrap()), show(&sealed));
}
