//! `check --staged` against disguised secrets, in a real git repository with files sealed by
//! the real sops: credentials with lower-case keys, a BOM, nested or as YAML; tunnel tokens in
//! base64url or folded over lines; age keys lower-cased or split; `ENCRYPTED PRIVATE KEY` and
//! `PGP PRIVATE KEY BLOCK`; secret-shaped values left in clear inside a sealed file. Each was
//! missed before; each is now exit 1 with a message naming the file, the kind and the line,
//! never the secret. Public keys and `ENC[…]` values are not flagged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::{age_keygen, hostseal, run_ok, sops};
use std::path::PathBuf;
use std::process::{Command, Output};

const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

struct Repo {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    key: PathBuf,
    recipient: String,
}

impl Repo {
    fn new() -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(root.join("secrets")).unwrap();
        let (key, recipient) = age_keygen(tmp.path(), "admin");
        let r = Repo {
            _tmp: tmp,
            root,
            key,
            recipient,
        };
        r.git(&["init", "-q", "-b", "main"]);
        r.write(
            ".sops.yaml",
            &format!(
                "creation_rules:\n  - path_regex: ^secrets/\n    age: {}\n    unencrypted_suffix: _unencrypted\n",
                r.recipient
            ),
        );
        r
    }
    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.root.join(rel), text).unwrap();
    }
    fn git(&self, args: &[&str]) -> Output {
        let out = Command::new("git")
            .current_dir(&self.root)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &self.root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}");
        out
    }
    /// Stages `files` and runs `check --staged`: (exit code, stderr).
    fn check(&self, files: &[&str]) -> (Option<i32>, String) {
        let mut args = vec!["add", "--"];
        args.extend_from_slice(files);
        self.git(&args);
        let out = hostseal(&self.root)
            .env("SOPS_AGE_KEY_FILE", &self.key)
            .args(["check", "--staged"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
    /// A real age secret key (the admin's), as text.
    fn age_key(&self) -> String {
        std::fs::read_to_string(&self.key)
            .unwrap()
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .unwrap()
            .to_string()
    }
}

fn assert_flags(err: &str, file: &str, what: &str, line: usize) {
    let want = format!("{file}: holds {what} (line {line}) outside a sealed file");
    assert!(err.contains(&want), "missing {want:?} in:\n{err}");
}

#[test]
fn disguised_credentials_are_caught() {
    let r = Repo::new();
    let what = "cloudflared tunnel credentials (TunnelSecret)";
    r.write(
        "lower.json",
        &format!(r#"{{"accounttag":"a","tunnelsecret":"{SECRET}","tunnelid":"c"}}"#),
    );
    r.write(
        "bom.json",
        &format!("\u{feff}{{\"TunnelSecret\":\"{SECRET}\"}}"),
    );
    r.write(
        "nested.json",
        &format!(r#"{{"tunnels":[{{"creds":{{"TUNNELSECRET":"{SECRET}"}}}}]}}"#),
    );
    r.write(
        "creds.yaml",
        &format!("# tunnel\nAccountTag: a\nTunnelSecret: {SECRET}\n"),
    );
    r.write(
        "folded.yaml",
        &format!("x:\n  TunnelSecret:\n    {SECRET}\n"),
    );
    let (code, err) = r.check(&[
        "lower.json",
        "bom.json",
        "nested.json",
        "creds.yaml",
        "folded.yaml",
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert_flags(&err, "lower.json", what, 1);
    assert_flags(&err, "bom.json", what, 1);
    assert_flags(&err, "nested.json", what, 1);
    assert_flags(&err, "creds.yaml", what, 3);
    assert_flags(&err, "folded.yaml", what, 2);
    assert!(!err.contains(SECRET), "{err}");
}

#[test]
fn disguised_tunnel_tokens_are_caught() {
    let r = Repo::new();
    let json = r#"{"a":"0123456789abcdef?>","t":"6ff42ae2-765d-4adf-8112-31c55c1551ef","s":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8~"}"#;
    let url = URL_SAFE_NO_PAD.encode(json);
    assert!(url.contains(['-', '_']));
    let std = STANDARD.encode(json);
    let folded: Vec<String> = std
        .as_bytes()
        .chunks(40)
        .map(|c| format!("  {}\n", String::from_utf8_lossy(c)))
        .collect();
    r.write("url.env", &format!("PORT=1\nTUNNEL_TOKEN={url}\n"));
    r.write("folded.yaml", &format!("token: >-\n{}", folded.concat()));
    let (code, err) = r.check(&["url.env", "folded.yaml"]);
    assert_eq!(code, Some(1), "{err}");
    assert_flags(&err, "url.env", "a tunnel token", 2);
    assert_flags(&err, "folded.yaml", "a tunnel token", 2);
    assert!(!err.contains(&url[..20]), "{err}");
}

#[test]
fn disguised_age_keys_are_caught() {
    let r = Repo::new();
    let key = r.age_key();
    let (a, b) = key.split_at(30);
    r.write("lower.txt", &format!("k = {}\n", key.to_lowercase()));
    r.write("split.yaml", &format!("notes:\n  - |\n    {a}\n    {b}\n"));
    let (code, err) = r.check(&["lower.txt", "split.yaml"]);
    assert_eq!(code, Some(1), "{err}");
    assert_flags(&err, "lower.txt", "an age secret key", 1);
    assert_flags(&err, "split.yaml", "an age secret key", 3);
    assert!(!err.to_lowercase().contains(&key[20..].to_lowercase()));
}

#[test]
fn encrypted_pkcs8_and_pgp_private_key_blocks_are_caught() {
    let r = Repo::new();
    r.write(
        "key.pem",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    r.write(
        "key.asc",
        "\n-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQVYBGZ0\n-----END PGP PRIVATE KEY BLOCK-----\n",
    );
    let (code, err) = r.check(&["key.pem", "key.asc"]);
    assert_eq!(code, Some(1), "{err}");
    assert_flags(&err, "key.pem", "an encrypted PEM private key", 1);
    assert_flags(&err, "key.asc", "a PGP private key block", 2);
}

/// A real sops file sealed under a rule with `unencrypted_suffix`: a secret left in a clear
/// value is flagged; the same file with harmless clear values (public keys) passes.
#[test]
fn secret_shapes_in_clear_inside_a_sealed_file_are_caught() {
    let r = Repo::new();
    let key = r.age_key();
    let (_, host_recipient) = age_keygen(&r.root, "host");
    std::fs::remove_file(r.root.join("host.key")).unwrap();
    let seal = |rel: &str, text: &str| {
        r.write(rel, text);
        run_ok(sops(&r.root).args(["encrypt", "-i", rel]));
    };
    seal(
        "secrets/leaky.yaml",
        &format!("password: hunter2\nnote_unencrypted: {key}\n"),
    );
    seal(
        "secrets/clean.yaml",
        &format!(
            "password: hunter2\nrecipient_unencrypted: {host_recipient}\nssh_unencrypted: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl host\n"
        ),
    );
    let text = std::fs::read_to_string(r.root.join("secrets/leaky.yaml")).unwrap();
    assert!(text.contains("ENC[AES256_GCM") && text.contains(&key));
    let (code, err) = r.check(&["secrets/leaky.yaml", "secrets/clean.yaml"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(
            "secrets/leaky.yaml: holds an age secret key (line 2) in clear inside a sealed file"
        ),
        "{err}"
    );
    assert!(!err.contains("clean.yaml"), "{err}");
    assert!(!err.contains(&key), "{err}");
}

/// Public keys, sealed credentials and documentation placeholders are not secrets.
#[test]
fn public_keys_and_sealed_values_are_not_flagged() {
    let r = Repo::new();
    r.write(
        "keys.txt",
        &format!(
            "{}\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl h\nAGE-SECRET-KEY-1... goes in keys.txt\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n",
            r.recipient
        ),
    );
    r.write(
        "secrets/tunnel.json",
        &format!(r#"{{"AccountTag":"a","TunnelSecret":"{SECRET}","TunnelID":"c"}}"#),
    );
    run_ok(sops(&r.root).args(["encrypt", "-i", "secrets/tunnel.json"]));
    let (code, err) = r.check(&["keys.txt", "secrets/tunnel.json", ".sops.yaml"]);
    assert_eq!(code, Some(0), "{err}");
}
