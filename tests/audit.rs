//! `hostseal audit`: recipients named from the rules' anchors, agreement with the rule,
//! `--recipient` (native ssh keys match their derived age key and their stanza tag), and
//! `--require` for the NixOS module's host check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::repo::{text, Repo};
use common::{age_keygen, hostseal, run_ok};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository with an admin and a host key, and rules naming both for `secrets/`.
struct Env {
    repo: Repo,
    admin: String,
    host: String,
}

impl std::ops::Deref for Env {
    type Target = Repo;
    fn deref(&self) -> &Repo {
        &self.repo
    }
}

fn env() -> Env {
    let repo = Repo::new(&["secrets", "other"]);
    let admin = repo.key("admin").1;
    let host = repo.key("host").1;
    repo.write_rules(&format!(
        "keys:\n  - &admin {admin}\n  - &host {host}\ncreation_rules:\n  - path_regex: ^secrets/\n    age: [*admin, *host]\n"
    ));
    Env { repo, admin, host }
}

impl Env {
    fn seal(&self, name: &str, recipients: &[&str]) -> PathBuf {
        self.sops_seal(name, b"{\"a\": \"b\"}\n", recipients)
    }
    fn hs(&self, args: &[&str]) -> Output {
        self.hs_no_key(args)
    }
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
