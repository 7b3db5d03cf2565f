//! Pins every user-facing error message of the workstation commands: one line
//! `hostseal: <file>: <what>`, an optional `hint:` line, the exit code (docs/cli.md#exit-codes), nothing on
//! stdout, and never a secret byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use assert_cmd::Command;
use common::age_keygen;
use predicates::prelude::*;
use std::path::Path;

const SECRET: &str = "secret-value-xyz";

struct Case {
    dir: tempfile::TempDir,
    key: std::path::PathBuf,
    recipient: String,
}

fn case() -> Case {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_keygen(dir.path(), "k");
    std::fs::write(
        dir.path().join("p.json"),
        format!("{{\"a\": \"{SECRET}\"}}\n"),
    )
    .unwrap();
    Case {
        dir,
        key,
        recipient,
    }
}

fn hs(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("hostseal").unwrap();
    c.current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir);
    c
}

impl Case {
    fn sealed(&self) -> std::path::PathBuf {
        let out = hs(self.dir.path())
            .args(["encrypt", "--age", &self.recipient, "p.json"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let p = self.dir.path().join("s.json");
        std::fs::write(&p, out.stdout).unwrap();
        p
    }
    fn expect(&self, args: &[&str], code: i32, stderr: &str) {
        hs(self.dir.path())
            .args(args)
            .assert()
            .code(code)
            .stdout("")
            .stderr(stderr.to_string())
            .stderr(predicate::str::contains(SECRET).not());
    }
}

#[test]
fn missing_file() {
    case().expect(
        &["decrypt", "nope.json"],
        1,
        "hostseal: nope.json: no such file or directory\n",
    );
}

#[test]
fn not_a_sops_file() {
    case().expect(
        &["decrypt", "p.json"],
        5,
        "hostseal: p.json: not a sops file: no sops metadata\nhint: to seal a plaintext file use `hostseal encrypt`\n",
    );
}

#[test]
fn wrong_key_lists_recipients_and_identities() {
    let c = case();
    c.sealed();
    let (_, _) = age_keygen(c.dir.path(), "other");
    c.expect(
        &["decrypt", "--identity", "other.key", "s.json"],
        3,
        &format!(
            "hostseal: s.json: no identity can open the data key; the file's recipients: {}; identities tried: other.key\nhint: pass --identity, or set SOPS_AGE_KEY_FILE, to a key the file is sealed to\n",
            c.recipient
        ),
    );
}

#[test]
fn moved_value_is_an_integrity_error() {
    let c = case();
    let s = c.sealed();
    let text = std::fs::read_to_string(&s)
        .unwrap()
        .replace("\"a\": \"ENC", "\"b\": \"ENC");
    std::fs::write(c.dir.path().join("moved.json"), text).unwrap();
    let key = c.key.to_str().unwrap().to_string();
    c.expect(
        &["decrypt", "--identity", &key, "moved.json"],
        4,
        "hostseal: moved.json: value at [\"b\"]: value does not authenticate (altered, or moved to another key)\n",
    );
}

#[test]
fn mac_mismatch_is_an_integrity_error() {
    let c = case();
    std::fs::write(
        c.dir.path().join("p.json"),
        "{\"a\": \"x\", \"b_unencrypted\": \"clear\"}",
    )
    .unwrap();
    let s = c.sealed();
    let text = std::fs::read_to_string(&s)
        .unwrap()
        .replace("\"clear\"", "\"CLEAR\"");
    std::fs::write(c.dir.path().join("t.json"), text).unwrap();
    let key = c.key.to_str().unwrap().to_string();
    c.expect(
        &["decrypt", "--identity", &key, "t.json"],
        4,
        "hostseal: t.json: MAC mismatch: the file's values, their order or its clear-text values were altered\n",
    );
}

#[test]
fn plaintext_syntax_errors_give_position_only() {
    let c = case();
    std::fs::write(
        c.dir.path().join("bad.json"),
        format!("{{\"a\": \"{SECRET}\",\n"),
    )
    .unwrap();
    c.expect(
        &["encrypt", "--age", &c.recipient.clone(), "bad.json"],
        5,
        "hostseal: bad.json: JSON syntax error at 2:1: unexpected end of JSON input\n",
    );
}

#[test]
fn no_recipients_names_what_was_consulted() {
    case().expect(
        &["encrypt", "p.json"],
        6,
        "hostseal: p.json: no recipients: no .sops.yaml found from its directory upward\nhint: add a creation rule for this path, or pass --age\n",
    );
}

#[test]
fn bad_rules_file_is_a_configuration_error() {
    let c = case();
    std::fs::write(
        c.dir.path().join(".sops.yaml"),
        "creation_rules:\n  - path_regex: \"(\"\n",
    )
    .unwrap();
    let rules = c.dir.path().join(".sops.yaml");
    c.expect(
        &["encrypt", "p.json"],
        6,
        &format!(
            "hostseal: {}: creation rule 1: path_regex does not compile\n",
            rules.display()
        ),
    );
}

#[test]
fn bad_recipient_is_a_configuration_error() {
    case().expect(
        &["encrypt", "--age", "notakey", "p.json"],
        6,
        "hostseal: p.json: unknown recipient type (expected age1…, ssh-ed25519 … or ssh-rsa …)\n",
    );
}

#[test]
fn stdin_needs_a_filename() {
    let c = case();
    let r = c.recipient.clone();
    c.expect(
        &["encrypt", "--age", &r, "-"],
        1,
        "hostseal: -: reading from stdin needs --filename-override to choose the type and rule\n",
    );
}

#[test]
fn keygen_never_overwrites() {
    let c = case();
    c.expect(
        &["keygen", "-o", "k.key"],
        1,
        "hostseal: k.key: already exists\n",
    );
}

#[test]
fn malformed_tunnel_credentials_are_refused() {
    let c = case();
    std::fs::write(
        c.dir.path().join("tunnel.json"),
        r#"{"AccountTag":"0123456789abcdef0123456789abcdef","TunnelSecret":"AAAA","TunnelID":"c0ffee00-1234-4abc-8def-0123456789ab"}"#,
    )
    .unwrap();
    let r = c.recipient.clone();
    c.expect(
        &["encrypt", "--age", &r, "tunnel.json"],
        5,
        "hostseal: tunnel.json: tunnel credentials: TunnelSecret is shorter than 32 bytes\nhint: use the file `cloudflared tunnel create` wrote, or pass --no-validate\n",
    );
    hs(c.dir.path())
        .args(["encrypt", "--age", &r, "--no-validate", "tunnel.json"])
        .assert()
        .success();
}

#[test]
fn decrypt_in_place_refuses_tracked_files() {
    let c = case();
    c.sealed();
    let git = |args: &[&str]| {
        assert!(std::process::Command::new("git")
            .args(args)
            .current_dir(c.dir.path())
            .env("HOME", c.dir.path())
            .output()
            .unwrap()
            .status
            .success());
    };
    git(&["init", "-q"]);
    git(&["add", "s.json"]);
    let key = c.key.to_str().unwrap().to_string();
    c.expect(
        &["decrypt", "-i", "--identity", &key, "s.json"],
        1,
        "hostseal: s.json: refusing to write plaintext over a git-tracked file (it would land in the work tree)\nhint: use --output or stdout, or pass --force if you really mean it\n",
    );
}

#[test]
fn pubkey_of_garbage_names_the_file() {
    let c = case();
    std::fs::write(c.dir.path().join("g"), "garbage\n").unwrap();
    c.expect(
        &["pubkey", "g"],
        1,
        "hostseal: g: line 1: not an age identity (expected AGE-SECRET-KEY-1…)\n",
    );
}

#[test]
fn usage_errors_exit_2() {
    hs(Path::new("/"))
        .args(["decrypt"])
        .assert()
        .code(2)
        .stdout("");
    hs(Path::new("/"))
        .args([
            "encrypt",
            "--encrypted-regex",
            "a",
            "--unencrypted-suffix",
            "b",
            "x",
        ])
        .assert()
        .code(2);
}
