//! `hostseal audit`: recipients named from the rules' anchors, agreement with the rule,
//! `--recipient` (native ssh keys match their derived age key and their stanza tag), and
//! `--require` for the NixOS module's host check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{age_keygen, hostseal, run_ok, sops};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

struct Env {
    dir: TempDir,
    admin: String,
    host: String,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let admin = age_keygen(dir.path(), "admin").1;
    let host = age_keygen(dir.path(), "host").1;
    std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
    std::fs::create_dir_all(dir.path().join("other")).unwrap();
    let rules = format!(
        "keys:\n  - &admin {admin}\n  - &host {host}\ncreation_rules:\n  - path_regex: ^secrets/\n    age: [*admin, *host]\n"
    );
    std::fs::write(dir.path().join(".sops.yaml"), rules).unwrap();
    Env { dir, admin, host }
}

impl Env {
    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn seal(&self, name: &str, recipients: &[&str]) -> PathBuf {
        let path = self.p(name);
        let bytes = sops_seal_outside(b"{\"a\": \"b\"}\n", &path, recipients);
        std::fs::write(&path, bytes).unwrap();
        path
    }
    fn hs(&self, args: &[&str]) -> Output {
        hostseal(self.dir.path()).args(args).output().unwrap()
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

/// An ssh ed25519 key pair made with ssh-keygen: (private key path, public key line).
fn ssh_key(dir: &Path) -> (PathBuf, String) {
    let key = dir.join("id_ed25519");
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "host@test", "-f"])
            .arg(&key),
    );
    let public = std::fs::read_to_string(dir.join("id_ed25519.pub")).unwrap();
    (key, public.trim().to_string())
}

#[test]
fn names_rules_and_agreement() {
    let e = env();
    e.seal("secrets/ok.json", &[&e.host, &e.admin]);
    e.seal("secrets/stale.json", &[&e.admin]);
    e.seal("other/free.json", &[&e.admin]);
    std::fs::write(e.p("secrets/plain.txt"), "not sealed").unwrap();
    let out = e.hs(&["audit"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(
        t.contains("other/free.json (json): no rule matches\n    admin\n"),
        "{t}"
    );
    assert!(
        t.contains("secrets/ok.json (json): agrees with path_regex ^secrets/\n    host, admin\n"),
        "{t}"
    );
    assert!(
        t.contains(
            "secrets/stale.json (json): differs from path_regex ^secrets/\n    admin\n    + host\n"
        ),
        "{t}"
    );
    assert!(!t.contains("plain.txt"), "{t}");

    let out = e.hs(&["audit", "--json", "secrets"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = v.as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["file"], "secrets/ok.json");
    assert_eq!(files[0]["status"], "agrees");
    assert_eq!(files[0]["recipients"][0][0]["name"], "host");
    assert_eq!(files[0]["recipients"][0][0]["recipient"], e.host.as_str());
    assert_eq!(files[1]["status"], "differs");
    assert_eq!(files[1]["changes"][0], "+ host");
}

#[test]
fn recipient_lists_and_require() {
    let e = env();
    e.seal("secrets/ok.json", &[&e.host, &e.admin]);
    e.seal("secrets/stale.json", &[&e.admin]);
    let out = e.hs(&["audit", "--recipient", &e.host]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "secrets/ok.json\n");
    let out = e.hs(&[
        "audit",
        "--recipient",
        &e.host,
        "--require",
        "secrets/ok.json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = e.hs(&["audit", "--recipient", &e.host, "--require", "secrets"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("secrets/stale.json: the recipient cannot open it"));
    let out = e.hs(&["audit", "--recipient", "age1nope", "secrets"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn ssh_host_key_matches_its_derived_age_key_and_age_file_tags() {
    let e = env();
    let (_, ssh_pub) = ssh_key(e.dir.path());
    let derived = text(&run_ok(
        hostseal(e.dir.path())
            .args(["pubkey"])
            .arg(e.p("id_ed25519.pub")),
    ))
    .trim()
    .to_string();
    assert!(derived.starts_with("age1"));
    e.seal("secrets/derived.json", &[&derived]);
    let out = e.hs(&[
        "audit",
        "--recipient",
        &ssh_pub,
        "--require",
        "secrets/derived.json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Whole-file age: an ssh stanza is matched by its tag; an X25519 one cannot be verified.
    let by_ssh = e.p("secrets/by-ssh.age");
    run_ok(
        Command::new("age")
            .args(["-R"])
            .arg(e.p("id_ed25519.pub"))
            .arg("-o")
            .arg(&by_ssh)
            .arg(e.p(".sops.yaml")),
    );
    let by_x = e.p("secrets/by-x25519.age");
    run_ok(
        Command::new("age")
            .args(["-r", &derived, "-o"])
            .arg(&by_x)
            .arg(e.p(".sops.yaml")),
    );
    let out = e.hs(&[
        "audit",
        "--recipient",
        &ssh_pub,
        "--require",
        "secrets/by-ssh.age",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = e.hs(&[
        "audit",
        "--recipient",
        &ssh_pub,
        "--require",
        "secrets/by-x25519.age",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--allow-unverifiable"));
    let out = e.hs(&[
        "audit",
        "--recipient",
        &ssh_pub,
        "--require",
        "--allow-unverifiable",
        "secrets/by-x25519.age",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The text audit shows the X25519 stanza as unknown.
    let out = e.hs(&["audit", "secrets/by-x25519.age"]);
    let t = text(&out.stdout);
    assert!(
        t.contains("(age): whole-file age, cannot be checked"),
        "{t}"
    );
    assert!(t.contains("    unknown\n"), "{t}");
}

#[test]
fn sops_nix_peer_file_opens_for_its_ssh_host_key() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("secrets.yaml");
    std::fs::copy(common::peer("sops-nix/secrets.yaml"), &f).unwrap();
    let ssh_pub = std::fs::read_to_string(common::peer("sops-nix/ssh-ed25519-key.pub")).unwrap();
    let hs = |args: &[&str]| hostseal(d.path()).args(args).output().unwrap();
    let out = hs(&[
        "audit",
        "--recipient",
        ssh_pub.trim(),
        "--require",
        "secrets.yaml",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let other = age_keygen(d.path(), "other").1;
    let out = hs(&["audit", "--recipient", &other, "--require", "secrets.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let out = hs(&["audit", "secrets.yaml"]);
    let t = text(&out.stdout);
    assert!(
        t.starts_with("secrets.yaml (yaml): no rule matches\n"),
        "{t}"
    );
    assert!(
        t.contains("age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs"),
        "{t}"
    );
}
