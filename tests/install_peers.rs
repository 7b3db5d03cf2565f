//! The sops-nix and agenix peer scenarios, installed by the binary from the peers' own sealed
//! files and keys (vendored with their licences under `tests/fixtures/peers/`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod common;

use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Output;

use common::install_host::Host;

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "{:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn sops_nix_secret(h: &Host, path: &Path) -> Value {
    json!({
        "name": "test", "key": "test_key", "owner": "nobody", "group": "nogroup", "mode": "0400",
        "sopsFile": common::trusted_peer(h.t.path(), "sops-nix/secrets.yaml"), "format": "yaml",
        "path": path, "restartUnits": ["foo.service"], "reloadUnits": ["bar.service"],
        "uid": 0, "gid": 0, "sopsFileHash": "ignored", "neededForUsers": false,
    })
}

fn nobody_ids() -> (u32, u32) {
    let u = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let g = nix::unistd::Group::from_name("nogroup").unwrap().unwrap();
    (u.uid.as_raw(), g.gid.as_raw())
}

/// Scenarios 1 and 3: age key file, custom path over an existing regular file, nobody:nogroup
/// 0400, content `test_value`; a second install points at generation 2.
#[test]
fn sops_nix_age_key_file_custom_path_and_second_generation() {
    let h = Host::new();
    let custom = h.p("etc/test-target");
    std::fs::create_dir_all(custom.parent().unwrap()).unwrap();
    std::fs::write(&custom, b"existing regular file").unwrap();
    let m = h.manifest(json!({
        "secrets": [sops_nix_secret(&h, &custom)],
        "ageKeyFile": common::private_copy(&common::peer("sops-nix/age-keys.txt"), h.t.path()),
        "sshKeyPaths": [], "gnupgHome": null, "ageSshKeyPaths": [], "useTmpfs": false,
        "userMode": false, "keepGenerations": 1, "templates": {}, "placeholderBySecretName": {},
        "logging": {"keyImport": true, "secretChanges": true},
    }));
    let o = h.install(&m, &[]);
    // The regular file at `path` is replaced, logged and recorded (not a failure).
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("replaced a regular file"));
    let st: Value = serde_json::from_slice(&std::fs::read(h.p("m/status.json")).unwrap()).unwrap();
    assert_eq!(st["items"][0]["state"], "replaced-file");
    assert!(std::fs::symlink_metadata(&custom)
        .unwrap()
        .file_type()
        .is_symlink());
    let meta = std::fs::metadata(&custom).unwrap();
    assert!(meta.is_file());
    assert_eq!(meta.mode() & 0o7777, 0o400);
    assert_eq!((meta.uid(), meta.gid()), nobody_ids());
    assert_eq!(std::fs::read(&custom).unwrap(), b"test_value");
    ok(&h.install(&m, &[]));
    assert_eq!(std::fs::read_link(h.p("secrets")).unwrap(), h.p("m/2"));
}

/// Scenario 2: identities only from `ageSshKeyPaths` (the derived age key).
#[test]
fn sops_nix_ssh_key_only() {
    let h = Host::new();
    let mut s = sops_nix_secret(&h, &h.p("secrets/test"));
    s["path"] = json!(h.p("secrets/test"));
    let m = h.manifest(json!({
        "secrets": [s], "ageSshKeyPaths": [common::private_copy(&common::peer("sops-nix/ssh-ed25519-key"), h.t.path())],
    }));
    ok(&h.install(&m, &[]));
    assert_eq!(std::fs::read(h.p("secrets/test")).unwrap(), b"test_value");
}

/// Scenario 4: check modes succeed although `sshKeyPaths` names a missing key file.
#[test]
fn sops_nix_check_modes_load_no_keys() {
    let h = Host::new();
    let m = h.manifest(json!({
        "secrets": [sops_nix_secret(&h, &h.p("secrets/test"))],
        "sshKeyPaths": ["/nonexistent/ssh_host_rsa_key"],
    }));
    ok(&h.install(&m, &["--check-mode", "manifest"]));
    ok(&h.install(&m, &["--check-mode", "sopsfile"]));
    assert!(!h.p("m").exists());
}

/// Scenario 5: generations 2…99 and a non-numeric directory, link at 99, keepGenerations 10.
#[test]
fn sops_nix_pruning() {
    let h = Host::new();
    for n in 2..=99 {
        std::fs::create_dir_all(h.p(&format!("m/{n}"))).unwrap();
    }
    std::fs::create_dir_all(h.p("m/non-numeric")).unwrap();
    std::os::unix::fs::symlink(h.p("m/99"), h.p("secrets")).unwrap();
    let m = h.manifest(json!({
        "secrets": [{"name": "test", "key": "test_key", "sopsFile": common::trusted_peer(h.t.path(), "sops-nix/secrets.yaml")}],
        "ageKeyFile": common::private_copy(&common::peer("sops-nix/age-keys.txt"), h.t.path()), "keepGenerations": 10,
    }));
    ok(&h.install(&m, &[]));
    assert_eq!(std::fs::read_link(h.p("secrets")).unwrap(), h.p("m/100"));
    for n in 2..=90 {
        assert!(!h.p(&format!("m/{n}")).exists(), "{n} kept");
    }
    for n in 91..=100 {
        assert!(h.p(&format!("m/{n}")).is_dir(), "{n} removed");
    }
    assert!(h.p("m/non-numeric").is_dir());
}

/// Scenario 6: numeric uid/gid 1001 with no such user.
#[test]
fn sops_nix_numeric_owner() {
    let h = Host::new();
    let m = h.manifest(json!({
        "secrets": [{"name": "test", "key": "test_key", "owner": null, "uid": 1001,
                     "group": null, "gid": 1001, "sopsFile": common::trusted_peer(h.t.path(), "sops-nix/secrets.yaml")}],
        "ageKeyFile": common::private_copy(&common::peer("sops-nix/age-keys.txt"), h.t.path()),
    }));
    ok(&h.install(&m, &[]));
    let meta = std::fs::metadata(h.p("m/1/test")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (1001, 1001));
}

/// agenix scenario 3: `format: "age"` files on a host whose only key is `system1`: the three it
/// can open are installed with their owner/group/mode, the two it cannot are reported (exit 7)
/// without stopping the others.
#[test]
fn agenix_whole_file_age_with_ssh_host_key() {
    let h = Host::new();
    let files = [
        ("secret1", "secret1.age", Some(&b"hello"[..])),
        ("secret2", "secret2.age", None),
        ("armored", "armored-secret.age", None),
        (
            "hyphen",
            "-leading-hyphen-filename.age",
            Some(&b"filename started with hyphen"[..]),
        ),
        ("passwordfile", "passwordfile-user1.age", Some(&b"$"[..])),
    ];
    let secrets: Vec<Value> = files
        .iter()
        .map(|(n, f, _)| {
            json!({"name": n, "sopsFile": common::trusted_peer(h.t.path(), &format!("agenix/{f}")), "format": "age",
                   "owner": null, "uid": 1234, "group": null, "gid": 4321, "mode": "0440"})
        })
        .collect();
    let m = h.manifest(json!({
        "secrets": secrets, "ageSshKeyPaths": [common::private_copy(&common::peer("agenix/system1"), h.t.path())],
    }));
    let o = h.install(&m, &[]);
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let log = String::from_utf8_lossy(&o.stderr);
    for (name, _, want) in files {
        let p = h.p(&format!("secrets/{name}"));
        match want {
            Some(prefix) => {
                let got = std::fs::read(&p).unwrap();
                assert!(got.starts_with(prefix), "{name}");
                let meta = std::fs::metadata(&p).unwrap();
                assert_eq!(
                    (meta.uid(), meta.gid(), meta.mode() & 0o777),
                    (1234, 4321, 0o440)
                );
            }
            None => {
                assert!(!p.exists(), "{name}");
                assert!(log.contains(&format!("failed \"{name}\"")), "{log}");
            }
        }
    }
    let st: Value = serde_json::from_slice(&std::fs::read(h.p("m/status.json")).unwrap()).unwrap();
    let failed: Vec<&str> = st["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["state"] == "failed")
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["secret2", "armored"]);
}
