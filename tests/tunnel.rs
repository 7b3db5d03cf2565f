//! `hostseal tunnel token|credentials` and the credentials validation of `encrypt`, through the
//! built binary: round trips, the exit code 5 and the field named for each malformed field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{age_keygen, hostseal};
use std::path::Path;

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const ID: &str = "c0ffee00-1234-4abc-8def-0123456789ab";

fn creds(account: &str, secret: &str, id: &str) -> String {
    format!(r#"{{"AccountTag":"{account}","TunnelSecret":"{secret}","TunnelID":"{id}"}}"#)
}

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    hostseal(dir).args(args).output().unwrap()
}

#[test]
fn token_and_credentials_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tunnel.json");
    std::fs::write(&file, creds(ACCOUNT, SECRET, ID)).unwrap();
    let out = run(dir.path(), &["tunnel", "token", "tunnel.json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    let out = run(dir.path(), &["tunnel", "credentials", token.trim()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let orig: serde_json::Value = serde_json::from_str(&creds(ACCOUNT, SECRET, ID)).unwrap();
    assert_eq!(back, orig);
    // And from stdin.
    let mut child = hostseal(dir.path())
        .args(["tunnel", "credentials", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        orig
    );
}

#[test]
fn bad_token_is_exit_5_and_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["tunnel", "credentials", "not-a-token!!"]);
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not standard base64"), "{err}");
    assert!(!err.contains("not-a-token"), "{err}");
}

#[test]
fn malformed_credentials_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let (_key, recipient) = age_keygen(dir.path(), "admin");
    let cases = [
        (creds("xyz", SECRET, ID), "AccountTag"),
        (
            creds(ACCOUNT, "%%%not base64%%%", ID),
            "TunnelSecret is not standard base64",
        ),
        (
            creds(ACCOUNT, "AAECAw==", ID),
            "TunnelSecret is shorter than 32 bytes",
        ),
        (
            creds(ACCOUNT, SECRET, "not-a-uuid"),
            "TunnelID is not a UUID",
        ),
    ];
    for (text, field) in cases {
        std::fs::write(dir.path().join("tunnel.json"), &text).unwrap();
        let out = run(dir.path(), &["encrypt", "--age", &recipient, "tunnel.json"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{field}: {err}");
        assert!(err.contains(field), "expected {field} in {err}");
        let token = run(dir.path(), &["tunnel", "token", "tunnel.json"]);
        assert_eq!(token.status.code(), Some(5), "{field}");
        // --no-validate seals it anyway.
        let out = run(
            dir.path(),
            &[
                "encrypt",
                "--no-validate",
                "--age",
                &recipient,
                "tunnel.json",
            ],
        );
        assert!(
            out.status.success(),
            "{field}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
