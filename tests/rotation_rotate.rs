//! `hostseal rotate` against the real sops: a new data key and fresh ciphertext for every
//! value, recipients and leaf rule from the rules (the file's own, with a warning, when no
//! rule matches), and sops opens every result.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{age_keygen, hostseal, run_ok, sops};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use tempfile::TempDir;

struct Env {
    dir: TempDir,
    admin: (PathBuf, String),
    host1: (PathBuf, String),
    host2: (PathBuf, String),
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let admin = age_keygen(dir.path(), "admin");
    let host1 = age_keygen(dir.path(), "host1");
    let host2 = age_keygen(dir.path(), "host2");
    std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
    Env {
        dir,
        admin,
        host1,
        host2,
    }
}

impl Env {
    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn rules(&self, recipients: &[&str], extra: &str) {
        let text = format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    age: '{}'\n{extra}",
            recipients.join(",")
        );
        std::fs::write(self.p(".sops.yaml"), text).unwrap();
    }
    fn sops_seal(&self, name: &str, plain: &[u8], recipients: &[&str]) -> PathBuf {
        let path = self.p(name);
        let bytes = sops_seal_outside(plain, &path, recipients);
        std::fs::write(&path, bytes).unwrap();
        path
    }
    fn sops_decrypt(&self, file: &Path, key: &Path) -> Output {
        sops(self.dir.path())
            .env("SOPS_AGE_KEY_FILE", key)
            .arg("decrypt")
            .arg(file)
            .output()
            .unwrap()
    }
    fn hs(&self, key: &Path, args: &[&str]) -> Output {
        hostseal(self.dir.path())
            .env("SOPS_AGE_KEY_FILE", key)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

/// Seals `plain` with the real sops in a directory of its own (no `.sops.yaml` in reach: sops
/// refuses `--age` when a rules file has no rule for the path), named like `like`.
fn sops_seal_outside(plain: &[u8], like: &Path, recipients: &[&str]) -> Vec<u8> {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join(like.file_name().unwrap());
    std::fs::write(&f, plain).unwrap();
    run_ok(
        sops(d.path())
            .args(["encrypt", "--age", &recipients.join(",")])
            .arg(&f),
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

const PLAIN: &[u8] = b"{\n\t\"token\": \"s3cret\",\n\t\"port\": 8443\n}\n";

#[test]
fn rotate_re_encrypts_every_value_under_a_new_key() {
    let e = env();
    let a = e.sops_seal("secrets/a.json", PLAIN, &[&e.admin.1, &e.host1.1]);
    let b = e.sops_seal("secrets/b.env", b"A=1\nB=two\n", &[&e.admin.1, &e.host1.1]);
    let c = e.sops_seal("secrets/c.bin", b"\x01\x02raw", &[&e.admin.1, &e.host1.1]);
    e.rules(&[&e.admin.1, &e.host1.1], "");
    let before = json(&a);
    let b_before = std::fs::read(&b).unwrap();
    let out = e.hs(&e.admin.0, &["rotate", "-y", "secrets"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("rotated 3 file(s)"));
    let after = json(&a);
    assert_ne!(after["token"], before["token"]);
    assert_ne!(after["port"], before["port"]);
    assert_ne!(after["sops"]["mac"], before["sops"]["mac"]);
    assert_ne!(std::fs::read(&b).unwrap(), b_before);
    for key in [&e.admin.0, &e.host1.0] {
        assert_eq!(text(&e.sops_decrypt(&a, key).stdout), text(PLAIN));
        assert_eq!(e.sops_decrypt(&b, key).stdout, b"A=1\nB=two\n");
        assert_eq!(e.sops_decrypt(&c, key).stdout, b"\x01\x02raw");
    }
}

#[test]
fn rotate_takes_recipients_and_leaf_rule_from_the_rule() {
    let e = env();
    let a = e.sops_seal("secrets/a.json", PLAIN, &[&e.admin.1, &e.host1.1]);
    e.rules(&[&e.admin.1, &e.host2.1], "    encrypted_regex: ^token$\n");
    let out = e.hs(&e.admin.0, &["rotate", "-y", "secrets/a.json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = json(&a);
    assert_eq!(v["port"], 8443, "left clear by the rule's encrypted_regex");
    assert!(v["token"].as_str().unwrap().starts_with("ENC["));
    assert_eq!(v["sops"]["encrypted_regex"], "^token$");
    assert_eq!(text(&e.sops_decrypt(&a, &e.host2.0).stdout), text(PLAIN));
    assert!(!e.sops_decrypt(&a, &e.host1.0).status.success());
    let out = e.hs(&e.host1.0, &["decrypt", "secrets/a.json"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn rotate_without_a_rule_keeps_the_file_recipients_and_warns() {
    let e = env();
    std::fs::create_dir_all(e.p("elsewhere")).unwrap();
    let o = e.sops_seal("elsewhere/o.json", PLAIN, &[&e.admin.1, &e.host1.1]);
    e.rules(&[&e.admin.1], "");
    let before = json(&o);
    let out = e.hs(&e.admin.0, &["rotate", "-y", "elsewhere"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("warning: elsewhere/o.json: no creation rule matches"));
    assert_ne!(json(&o)["token"], before["token"]);
    assert!(e.sops_decrypt(&o, &e.host1.0).status.success());
    assert!(e.sops_decrypt(&o, &e.admin.0).status.success());
}

#[test]
fn rotate_refuses_to_ask_without_a_terminal() {
    let e = env();
    let a = e.sops_seal("secrets/a.json", PLAIN, &[&e.admin.1]);
    e.rules(&[&e.admin.1], "");
    let old = std::fs::read(&a).unwrap();
    let out = e.hs(&e.admin.0, &["rotate", "secrets"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(&a).unwrap(), old);
}
