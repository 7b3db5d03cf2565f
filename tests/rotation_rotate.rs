//! `hostseal rotate` against the real sops: a new data key and fresh ciphertext for every
//! value, recipients and leaf rule from the rules (the file's own, with a warning, when no
//! rule matches), and sops opens every result.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::repo::{text, AdminAndHosts};
use std::path::Path;

type Env = AdminAndHosts;

fn env() -> Env {
    AdminAndHosts::new(&["secrets"])
}

impl Env {
    /// One rule for `secrets/` with these recipients and `extra` rule lines.
    fn rules(&self, recipients: &[&str], extra: &str) {
        self.write_rules(&format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    age: '{}'\n{extra}",
            recipients.join(",")
        ));
    }
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
