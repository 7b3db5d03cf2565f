//! Secrets hygiene: a known secret value goes through every command — successes and each kind of
//! failure — and must never appear in stderr, in a status file, or on stdout of any command
//! whose job is not to print plaintext.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{age_keygen, hostseal};
use std::path::Path;
use std::process::Output;

const CANARY: &str = "CANARY-9f1c2e7a-hostseal-secret";

struct Run {
    dir: tempfile::TempDir,
    seen: Vec<(String, Output)>,
}

impl Run {
    fn hs(&mut self, label: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = hostseal(self.dir.path());
        c.args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        self.seen.push((label.to_string(), out.clone()));
        out
    }
    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
    /// stderr of every command, and stdout of those not meant to print plaintext.
    fn assert_clean(&self, plaintext_allowed: &[&str]) {
        for (label, out) in &self.seen {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!err.contains(CANARY), "{label}: secret on stderr: {err}");
            if !plaintext_allowed.contains(&label.as_str()) {
                let o = String::from_utf8_lossy(&out.stdout);
                assert!(!o.contains(CANARY), "{label}: secret on stdout");
            }
        }
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn a_known_secret_never_leaks_into_messages_or_status() {
    let dir = common::trusted_tempdir();
    let (key, admin) = age_keygen(dir.path(), "admin");
    let (_, other) = age_keygen(dir.path(), "other");
    let key = key.to_str().unwrap().to_string();
    let mut r = Run {
        dir,
        seen: Vec::new(),
    };
    let d = r.dir.path().to_path_buf();
    r.write(
        ".sops.yaml",
        &format!("creation_rules:\n  - path_regex: ^secrets/\n    age: {admin}\n"),
    );
    std::fs::create_dir(d.join("secrets")).unwrap();
    let plain = [
        (
            "s.yaml",
            format!("password: {CANARY}\n# note {CANARY}\nlist:\n    - {CANARY}\nport: 4242\n"),
        ),
        ("s.json", format!("{{\"token\": \"{CANARY}\", \"n\": 1}}\n")),
        ("s.env", format!("TOKEN={CANARY}\n")),
        ("s.ini", format!("[db]\npassword = {CANARY}\n")),
    ];
    for (name, text) in &plain {
        r.write(name, text);
        let out = r.hs(
            &format!("encrypt {name}"),
            &["encrypt", "--age", &admin, name],
            &[],
        );
        assert_eq!(code(&out), 0);
        std::fs::write(d.join("secrets").join(name), &out.stdout).unwrap();
        std::fs::write(d.join(format!("sealed-{name}")), &out.stdout).unwrap();
    }
    // Successful decrypts print the secret (that is their job), and nothing on stderr.
    for (name, _) in &plain {
        let sealed = format!("sealed-{name}");
        let label = format!("decrypt {name}");
        let out = r.hs(&label, &["decrypt", "--identity", &key, &sealed], &[]);
        assert_eq!(code(&out), 0);
        assert!(String::from_utf8_lossy(&out.stdout).contains(CANARY));
        // The wrong key: exit 3.
        let out = r.hs(
            &format!("wrong key {name}"),
            &["decrypt", "--identity", "other.key", &sealed],
            &[],
        );
        assert_eq!(code(&out), 3);
        // A value moved to another key, and a clear value altered: exit 4.
        let text = r.read(&sealed);
        let moved = text
            .replacen("token", "tokem", 1)
            .replacen("password", "passwore", 1)
            .replacen("TOKEN", "TOKEM", 1);
        r.write(&format!("moved-{name}"), &moved);
        let out = r.hs(
            &format!("moved {name}"),
            &["decrypt", "--identity", &key, &format!("moved-{name}")],
            &[],
        );
        assert_eq!(code(&out), 4, "{name}");
    }
    // Plaintext that does not parse: exit 5, position only.
    r.write("bad.json", &format!("{{\"token\": \"{CANARY}\",\n"));
    r.write("bad.yaml", &format!("a: [\"{CANARY}\"\nb: :\n"));
    r.write("bad.env", &format!("{CANARY}\n"));
    for bad in ["bad.json", "bad.yaml", "bad.env"] {
        let out = r.hs(bad, &["encrypt", "--age", &admin, bad], &[]);
        assert_eq!(
            code(&out),
            5,
            "{bad}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = r.hs(
        "extract missing",
        &[
            "decrypt",
            "--identity",
            &key,
            "--extract",
            "[\"nope\"]",
            "sealed-s.json",
        ],
        &[],
    );
    assert_ne!(code(&out), 0);
    // Commit-time guard on plaintext under a rule, and the edit of a file whose editor fails.
    std::fs::write(
        d.join("secrets/plain.json"),
        format!("{{\"k\": \"{CANARY}\"}}"),
    )
    .unwrap();
    let out = r.hs(
        "check",
        &["check", "secrets"],
        &[("SOPS_AGE_KEY_FILE", &key)],
    );
    assert_eq!(code(&out), 1);
    std::fs::remove_file(d.join("secrets/plain.json")).unwrap();
    let out = r.hs(
        "edit",
        &["edit", "--identity", &key, "secrets/s.yaml"],
        &[("EDITOR", "false"), ("XDG_RUNTIME_DIR", "/dev/shm")],
    );
    assert_ne!(code(&out), 0);
    // Rotation and audit print plans and recipients, never values.
    r.write(
        ".sops.yaml",
        &format!("creation_rules:\n  - path_regex: ^secrets/\n    age: {admin},{other}\n"),
    );
    let out = r.hs(
        "updatekeys",
        &["updatekeys", "-y", "--identity", &key, "secrets"],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let out = r.hs(
        "rotate",
        &["rotate", "-y", "--identity", &key, "secrets"],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    r.hs("audit", &["audit", "secrets"], &[]);
    r.hs("audit json", &["audit", "--json", "secrets"], &[]);
    // Install: one good secret, one missing key, one unknown owner; then the status command.
    let sealed = d.join("sealed-s.yaml");
    let manifest = serde_json::json!({
        "secretsMountPoint": d.join("m"),
        "symlinkPath": d.join("run-secrets"),
        "lockPath": d.join("lock/lock"),
        "statusFile": d.join("status.json"),
        "ageKeyFile": key,
        "secrets": [
            {"name": "good", "key": "password", "sopsFile": sealed, "format": "yaml"},
            {"name": "missing", "key": "nope", "sopsFile": sealed, "format": "yaml"},
            {"name": "owner", "key": "port", "sopsFile": sealed, "format": "yaml",
             "owner": "no-such-user-hygiene"},
        ],
    });
    r.write("manifest.json", &manifest.to_string());
    let out = r.hs(
        "install",
        &["install", "--no-mount", "--allow-disk", "manifest.json"],
        &[],
    );
    assert_eq!(code(&out), 7, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(d.join("run-secrets/good")).unwrap(),
        CANARY
    );
    let status = r.read("status.json");
    assert!(
        status.contains("missing") && !status.contains(CANARY),
        "status: {status}"
    );
    r.hs(
        "status",
        &["status", d.join("status.json").to_str().unwrap()],
        &[],
    );
    r.hs(
        "status json",
        &["status", "--json", d.join("status.json").to_str().unwrap()],
        &[],
    );
    let labels: Vec<String> = plain.iter().map(|(n, _)| format!("decrypt {n}")).collect();
    let allowed: Vec<&str> = labels.iter().map(String::as_str).collect();
    r.assert_clean(&allowed);
    assert!(r.seen.len() > 25);
    assert!(!Path::new(&d.join("m")).join(".staging").exists());
}
