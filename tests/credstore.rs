//! `install` with systemd credentials as the target, for real: secrets sealed by the real sops,
//! `credstore = "plain"` and `"encrypted"` through Debian's `/usr/bin/systemd-creds` (host key
//! in a directory the test controls, via `SYSTEMD_CREDENTIAL_SECRET`; the TPM2 keys against a
//! software TPM, `swtpm`, via `SYSTEMD_TPM2_DEVICE=swtpm:…`), decrypted again by
//! `systemd-creds decrypt` to the original bytes. The manifest's `systemdCreds` is a small
//! wrapper that sets those two variables and runs the real tool. Needs root (chown, /run-like
//! links); skips with a message otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod common;

use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use common::creds::ready;

use common::install_host::KeyedHost as Host;

impl Host {
    /// A `systemd-creds` wrapper: our host key, and the given TPM2 device if any.
    fn creds_wrapper(&self, tpm: Option<&str>) -> PathBuf {
        common::creds::creds_wrapper(self.t.path(), tpm)
    }
    /// `systemd-creds decrypt --name=NAME FILE -` with our keys.
    fn decrypt(&self, name: &str, file: &Path, tpm: Option<&str>) -> Output {
        Command::new(self.creds_wrapper(tpm))
            .args(["decrypt", &format!("--name={name}")])
            .arg(file)
            .arg("-")
            .output()
            .unwrap()
    }
    fn seal_json(&self, name: &str, plain: &Value) -> PathBuf {
        common::sops_seal_json(&self.p(&format!("{name}.json")), &self.recipient, plain)
    }
    fn install(&self, extra: Value) -> Output {
        let mut m = json!({
            "secretsMountPoint": self.p("m"), "symlinkPath": self.p("secrets"),
            "lockPath": self.p("lock/lock"), "restartListsDir": self.p("nixos"),
            "ageKeyFile": self.key,
            "credstoreDir": self.p("run/credstore"),
            "credstoreEncryptedDir": self.p("run/credstore.encrypted"),
        });
        if let (Some(m), Value::Object(e)) = (m.as_object_mut(), extra) {
            m.extend(e);
        }
        let path = self.p("manifest.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
        common::hostseal(self.t.path())
            .args(["install", "--no-mount", "--allow-disk"])
            .arg(&path)
            .output()
            .unwrap()
    }
    fn status_item(&self, name: &str) -> Value {
        let st: Value =
            serde_json::from_slice(&std::fs::read(self.p("m/status.json")).unwrap()).unwrap();
        st["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tunnel_creds(secret: &str) -> Value {
    json!({
        "AccountTag": "0123456789abcdef0123456789abcdef",
        "TunnelSecret": secret,
        "TunnelID": "6ff42ae2-765d-4adf-8112-31c55c1551ef",
    })
}

/// Every regular file under `dir` (not following symlinks) whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            out.extend(files_containing(&p, needle));
        } else if ft.is_file() {
            let bytes = std::fs::read(&p).unwrap_or_default();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                out.push(p);
            }
        }
    }
    out
}

/// `plain` and `encrypted` (host key) credentials: links, owners and modes, the round trip
/// through `systemd-creds decrypt`, the name bound into the ciphertext, no plaintext of the
/// encrypted one on disk, and no change (same ciphertext) when the plaintext did not change.
#[test]
fn plain_and_host_key_encrypted_credentials() {
    if !ready("plain_and_host_key_encrypted_credentials") {
        return;
    }
    let h = Host::new();
    let secret = "RU5DT05MWS1zZWNyZXQtb2YtdGhlLXR1bm5lbC0zMmI=";
    let sealed = h.seal_json("tunnel", &tunnel_creds(secret));
    let creds = h.creds_wrapper(None);
    let secrets = json!([
        {"name": "tunnel", "sopsFile": sealed, "format": "json", "key": "",
         "credstore": "encrypted", "credstoreKey": "host",
         "validate": "cloudflared-credentials", "restartUnits": ["cloudflared.service"]},
        {"name": "account", "sopsFile": sealed, "format": "json", "key": "AccountTag",
         "credstore": "plain", "owner": "nobody", "mode": "0444"},
        {"name": "id", "sopsFile": sealed, "format": "json", "key": "TunnelID"},
    ]);
    let o = h.install(json!({"secrets": secrets, "systemdCreds": creds}));
    assert!(o.status.success(), "{}", stderr(&o));

    // The directories systemd searches are symlinks into the current generation.
    let enc_root = h.p("run/credstore.encrypted");
    let plain_root = h.p("run/credstore");
    assert_eq!(
        std::fs::read_link(&enc_root).unwrap(),
        h.p("secrets/credstore.encrypted")
    );
    assert_eq!(
        std::fs::read_link(&plain_root).unwrap(),
        h.p("secrets/credstore")
    );
    let gen_dir = std::fs::metadata(h.p("secrets/credstore.encrypted")).unwrap();
    assert_eq!(gen_dir.mode() & 0o7777, 0o700);
    for f in [enc_root.join("tunnel"), plain_root.join("account")] {
        let m = std::fs::metadata(&f).unwrap();
        assert_eq!(
            (m.uid(), m.gid(), m.mode() & 0o7777),
            (0, 0, 0o400),
            "{f:?}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(plain_root.join("account")).unwrap(),
        "0123456789abcdef0123456789abcdef"
    );
    assert_eq!(
        std::fs::read_to_string(h.p("secrets/id")).unwrap(),
        "6ff42ae2-765d-4adf-8112-31c55c1551ef"
    );

    // Only ciphertext on disk; systemd-creds gives back the original JSON.
    let ciphertext = std::fs::read(enc_root.join("tunnel")).unwrap();
    assert!(files_containing(h.t.path(), secret.as_bytes()).is_empty());
    let back = h.decrypt("tunnel", &enc_root.join("tunnel"), None);
    assert!(back.status.success(), "{}", stderr(&back));
    let got: Value = serde_json::from_slice(&back.stdout).unwrap();
    assert_eq!(got, tunnel_creds(secret));
    // The credential name is bound into the ciphertext.
    assert!(!h
        .decrypt("other", &enc_root.join("tunnel"), None)
        .status
        .success());
    assert_eq!(h.status_item("credstore.encrypted/tunnel")["state"], "ok");

    // Same plaintext: same ciphertext kept, nothing reported changed.
    let o = h.install(json!({"secrets": secrets, "systemdCreds": creds}));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(enc_root.join("tunnel")).unwrap(), ciphertext);
    assert!(!stderr(&o).contains("changed"), "{}", stderr(&o));

    // New plaintext: new ciphertext, reported changed, decrypts to the new bytes.
    let secret2 = "bmV3LXNlY3JldC1vZi10aGUtdHVubmVsLXR3by0zMmI=";
    h.seal_json("tunnel", &tunnel_creds(secret2));
    let o = h.install(json!({"secrets": secrets, "systemdCreds": creds}));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("changed \"credstore.encrypted/tunnel\""),
        "{}",
        stderr(&o)
    );
    let back = h.decrypt("tunnel", &enc_root.join("tunnel"), None);
    let got: Value = serde_json::from_slice(&back.stdout).unwrap();
    assert_eq!(got, tunnel_creds(secret2));
    assert!(files_containing(h.t.path(), secret2.as_bytes()).is_empty());

    // No credential of a kind left: its link goes; the other stays.
    let only_plain = json!([secrets[1].clone()]);
    let o = h.install(json!({"secrets": only_plain}));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(&enc_root).is_err());
    assert!(plain_root.join("account").exists());
}

/// A failing `systemd-creds` fails that credential only (a clear reason, exit 7); the others
/// are installed.
#[test]
fn encryption_failure_is_isolated() {
    if !ready("encryption_failure_is_isolated") {
        return;
    }
    let h = Host::new();
    let sealed = h.seal_json("tunnel", &tunnel_creds("c2VjcmV0"));
    // A TPM2 device that does not exist: tpm2 sealing fails for real.
    let creds = h.creds_wrapper(Some("swtpm:host=127.0.0.1,port=1"));
    let o = h.install(json!({"systemdCreds": creds, "secrets": [
        {"name": "tunnel", "sopsFile": sealed, "format": "json", "key": "",
         "credstore": "encrypted", "credstoreKey": "tpm2"},
        {"name": "id", "sopsFile": sealed, "format": "json", "key": "TunnelID"},
    ]}));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(7), "{err}");
    assert!(
        err.contains("failed \"credstore.encrypted/tunnel\""),
        "{err}"
    );
    assert!(err.contains("systemd-creds encrypt failed"), "{err}");
    assert_eq!(
        h.status_item("credstore.encrypted/tunnel")["reason"]["code"],
        "credential-encrypt-failed"
    );
    assert!(h.p("secrets/id").exists());
    assert!(!err.contains("c2VjcmV0"));
}

/// A software TPM2 (swtpm) on a local port, killed on drop. Its state (seeds) lives in `state`,
/// so a restarted instance opens what an earlier one sealed.
///
/// swtpm has no resource manager (the kernel's `/dev/tpmrm0` flushes each client's sessions;
/// a bare swtpm keeps them until TPM2_Startup), so the test restarts it between phases.
struct Swtpm {
    child: Child,
    device: String,
}

impl Swtpm {
    fn start(state: &Path) -> Option<Swtpm> {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
            l.local_addr().ok()?.port()
        };
        let child = Command::new("swtpm")
            .args(["socket", "--tpm2", "--tpmstate"])
            .arg(format!("dir={}", state.display()))
            .args(["--server", &format!("type=tcp,port={port}")])
            .args(["--ctrl", &format!("type=tcp,port={}", port.checked_add(1)?)])
            .args(["--flags", "not-need-init,startup-clear"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut tpm = Swtpm {
            child,
            device: format!("swtpm:host=127.0.0.1,port={port}"),
        };
        // Wait (bounded number of tries) until it accepts connections.
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(tpm);
            }
            if tpm.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        None
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tpm2` and `host+tpm2` against swtpm: sealed at install, opened by `systemd-creds decrypt`
/// with the same TPM, not without it.
#[test]
fn tpm2_keys_with_a_software_tpm() {
    if !ready("tpm2_keys_with_a_software_tpm") {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let Some(tpm) = Swtpm::start(state.path()) else {
        // CI installs swtpm (scripts/test.sh): there, a TPM2 that does not start is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "swtpm did not start; the tpm2 keys were not exercised"
        );
        eprintln!(
            "SKIPPED tpm2_keys_with_a_software_tpm: swtpm (Debian package swtpm) did not start"
        );
        return;
    };
    let h = Host::new();
    let sealed = h.seal_json("tunnel", &tunnel_creds("dHBtLWJvdW5kLXNlY3JldA=="));
    let creds = h.creds_wrapper(Some(&tpm.device));
    let o = h.install(json!({"systemdCreds": creds, "secrets": [
        {"name": "t-tpm2", "sopsFile": sealed, "format": "json", "key": "TunnelSecret",
         "credstore": "encrypted", "credstoreKey": "tpm2"},
        {"name": "t-both", "sopsFile": sealed, "format": "json", "key": "TunnelSecret",
         "credstore": "encrypted", "credstoreKey": "host+tpm2"},
    ]}));
    assert!(o.status.success(), "{}", stderr(&o));
    for name in ["t-tpm2", "t-both"] {
        let file = h.p("run/credstore.encrypted").join(name);
        let back = h.decrypt(name, &file, Some(&tpm.device));
        assert!(back.status.success(), "{name}: {}", stderr(&back));
        assert_eq!(back.stdout, b"dHBtLWJvdW5kLXNlY3JldA==");
        // Without the TPM the credential does not open.
        let none = h.decrypt(name, &file, Some("swtpm:host=127.0.0.1,port=1"));
        assert!(!none.status.success(), "{name} opened without its TPM");
    }
    assert!(files_containing(h.t.path(), b"dHBtLWJvdW5kLXNlY3JldA==").is_empty());

    // Same plaintext, another key: re-sealed (and reported changed), not the old ciphertext.
    drop(tpm);
    let tpm = Swtpm::start(state.path()).expect("swtpm restarts");
    let creds = h.creds_wrapper(Some(&tpm.device));
    let secrets = |key: &str| {
        json!([{"name": "k", "sopsFile": sealed, "format": "json", "key": "TunnelSecret",
                "credstore": "encrypted", "credstoreKey": key}])
    };
    let file = h.p("run/credstore.encrypted/k");
    let o = h.install(json!({"systemdCreds": creds, "secrets": secrets("host")}));
    assert!(o.status.success(), "{}", stderr(&o));
    let host_only = std::fs::read(&file).unwrap();
    assert!(h
        .decrypt("k", &file, Some("swtpm:host=127.0.0.1,port=1"))
        .status
        .success());
    let o = h.install(json!({"systemdCreds": creds, "secrets": secrets("host+tpm2")}));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("changed \"credstore.encrypted/k\""),
        "{}",
        stderr(&o)
    );
    assert_ne!(std::fs::read(&file).unwrap(), host_only);
    assert!(!h
        .decrypt("k", &file, Some("swtpm:host=127.0.0.1,port=1"))
        .status
        .success());
    assert!(h.decrypt("k", &file, Some(&tpm.device)).status.success());
}
