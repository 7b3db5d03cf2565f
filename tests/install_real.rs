//! `hostseal install` with files sealed by the real sops, real users and groups (made with
//! `useradd`/`groupadd` under unique names and removed afterwards), real chown/chmod, and a
//! recording `systemctl` named by the manifest's `systemctl` field.
//! Needs root (users, chown); each test is skipped with a message otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod common;

use serde_json::{json, Value};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::users::SystemUser;

/// A host root (see `common::install_host`) with an age key of its own.
struct Host {
    root: common::install_host::Host,
    key: PathBuf,
    recipient: String,
}

impl std::ops::Deref for Host {
    type Target = common::install_host::Host;
    fn deref(&self) -> &common::install_host::Host {
        &self.root
    }
}

impl Host {
    fn new() -> Host {
        let root = common::install_host::Host::new();
        let (key, recipient) = common::age_keygen(root.t.path(), "host");
        Host {
            root,
            key,
            recipient,
        }
    }
    /// Seals JSON with the real sops to the host's recipient; the file is root-owned 0444.
    fn seal_json(&self, name: &str, plain: &Value) -> PathBuf {
        common::sops_seal_json(&self.p(&format!("{name}.json")), &self.recipient, plain)
    }
    /// The manifest with the host's key file.
    fn manifest(&self, extra: Value) -> PathBuf {
        let mut m = json!({ "ageKeyFile": self.key });
        if let (Some(m), Value::Object(e)) = (m.as_object_mut(), extra) {
            m.extend(e);
        }
        self.root.manifest(m)
    }
    fn install(&self, manifest: &Path) -> Output {
        self.root.install(manifest, &[])
    }
    /// A `systemctl` that records its arguments and environment; every unit is active.
    fn recording_systemctl(&self) -> PathBuf {
        let bin = self.p("systemctl");
        let log = self.p("systemctl.log");
        let script = format!(
            "#!/bin/sh\necho \"$* env=$(env | grep -v '^PWD=\\|^SHLVL=\\|^_=' | tr '\\n' ' ')\" >> {}\n[ \"$1\" = is-active ] && echo active\nexit 0\n",
            log.display()
        );
        std::fs::write(&bin, script).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        bin
    }
    fn systemctl_log(&self) -> String {
        std::fs::read_to_string(self.p("systemctl.log")).unwrap_or_default()
    }
}

use common::install_host::stderr;

fn tunnel_creds(secret_byte: u8) -> Value {
    use base64::Engine;
    json!({
        "AccountTag": "0123456789abcdef0123456789abcdef",
        "TunnelSecret": base64::engine::general_purpose::STANDARD.encode([secret_byte; 32]),
        "TunnelID": "6ff42ae2-765d-4adf-8112-31c55c1551ef",
    })
}

/// The tunnel credentials in both layouts: `root:root 0400` (LoadCredential) and the service
/// user's `0600` (legacyUser), owners by name; whole-file JSON (`key: ""`).
#[test]
fn tunnel_credentials_in_both_layouts_owner_by_name() {
    if !common::root_or_skip("tunnel_credentials_in_both_layouts_owner_by_name") {
        return;
    }
    let h = Host::new();
    let cf = SystemUser::new("hscf");
    let sealed = h.seal_json("tunnel", &tunnel_creds(7));
    let unit = "cloudflared-tunnel-6ff42ae2-765d-4adf-8112-31c55c1551ef.service";
    let m = h.manifest(json!({"secrets": [
        {"name": "cloudflared/lc.json", "sopsFile": sealed, "format": "json", "key": "",
         "mode": "0400", "owner": "root", "group": "root", "restartUnits": [unit]},
        {"name": "cloudflared/legacy.json", "sopsFile": sealed, "format": "json", "key": "",
         "mode": "0600", "owner": cf.name, "group": cf.name, "restartUnits": [unit]},
        {"name": "tunnel-secret", "sopsFile": sealed, "format": "json", "key": "TunnelSecret",
         "owner": cf.name},
    ]}));
    let o = h.install(&m);
    assert!(o.status.success(), "{}", stderr(&o));
    let lc = std::fs::metadata(h.p("secrets/cloudflared/lc.json")).unwrap();
    assert_eq!((lc.uid(), lc.gid(), lc.mode() & 0o7777), (0, 0, 0o400));
    let (uid, gid) = cf.ids();
    let legacy = std::fs::metadata(h.p("secrets/cloudflared/legacy.json")).unwrap();
    assert_eq!(
        (legacy.uid(), legacy.gid(), legacy.mode() & 0o7777),
        (uid, gid, 0o600)
    );
    let got: Value =
        serde_json::from_slice(&std::fs::read(h.p("secrets/cloudflared/lc.json")).unwrap())
            .unwrap();
    assert_eq!(got, tunnel_creds(7));
    // key → a string's bytes, no trailing newline; group defaults to the owner's primary group.
    let ts = std::fs::read_to_string(h.p("secrets/tunnel-secret")).unwrap();
    assert_eq!(ts, tunnel_creds(7)["TunnelSecret"].as_str().unwrap());
    let meta = std::fs::metadata(h.p("secrets/tunnel-secret")).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o777),
        (uid, gid, 0o400)
    );
    // Nothing in the status file or the log is secret.
    let text = std::fs::read_to_string(h.p("m/status.json")).unwrap() + &stderr(&o);
    assert!(!text.contains(ts.as_str()));
}

/// One undecryptable secret, one unknown owner, one missing key: the others are installed,
/// exit 7, the status file names each, previous copies are carried over (stale).
#[test]
fn failures_are_isolated_and_previous_copies_carried() {
    if !common::root_or_skip("failures_are_isolated_and_previous_copies_carried") {
        return;
    }
    let h = Host::new();
    let good = h.seal_json("good", &json!({"a": "A1", "b": "B1", "c": "C1", "d": "D1"}));
    let secrets = |file: &Path, other: &Path, owner: &str| {
        json!([
            {"name": "a", "sopsFile": file, "format": "json", "key": "a"},
            {"name": "b", "sopsFile": other, "format": "json", "key": "b"},
            {"name": "c", "sopsFile": file, "format": "json", "key": "c", "owner": owner},
            {"name": "d", "sopsFile": file, "format": "json", "key": "d"},
        ])
    };
    let m = h.manifest(json!({"secrets": secrets(&good, &good, "root")}));
    assert!(h.install(&m).status.success());
    // Second run: b's file sealed to someone else, c's owner unknown, d's key gone.
    let (_, stranger) = common::age_keygen(h.t.path(), "stranger");
    let plain = h.p("other.plain.json");
    std::fs::write(&plain, br#"{"b":"B2"}"#).unwrap();
    let out = common::run_ok(
        common::sops(h.t.path())
            .args([
                "encrypt",
                "--age",
                &stranger,
                "--input-type",
                "json",
                "--output-type",
                "json",
            ])
            .arg(&plain),
    );
    let other = h.p("other.json");
    std::fs::write(&other, out).unwrap();
    let good2 = h.seal_json("good", &json!({"a": "A2", "b": "B1", "c": "C2"}));
    let m = h.manifest(json!({"secrets": secrets(&good2, &other, "hostseal-no-such-owner")}));
    let o = h.install(&m);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let read = |n: &str| std::fs::read_to_string(h.p(&format!("secrets/{n}"))).ok();
    assert_eq!(read("a").as_deref(), Some("A2"));
    assert_eq!(
        read("b").as_deref(),
        Some("B1"),
        "previous copy carried over"
    );
    assert_eq!(
        read("d").as_deref(),
        Some("D1"),
        "previous copy carried over"
    );
    assert_eq!(
        read("c"),
        None,
        "unknown owner: the old copy cannot get the new owner"
    );
    let st = h.status();
    let item = |n: &str| {
        st["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(item("a")["state"], "ok");
    assert_eq!(item("b")["state"], "stale");
    assert_eq!(item("b")["reason"]["code"], "no-key");
    assert_eq!(item("c")["state"], "failed");
    assert_eq!(item("c")["reason"]["code"], "unknown-owner");
    assert_eq!(item("d")["state"], "stale");
    assert_eq!(item("d")["reason"]["code"], "key-absent");
    let log = stderr(&o);
    for n in ["b", "c", "d"] {
        assert!(log.contains(&format!("failed \"{n}\"")), "{log}");
    }
    assert!(log.contains("will be absent after a reboot"), "{log}");
}

/// A MAC failure (sealed file altered without the data key) fails only that secret.
#[test]
fn tampered_file_fails_with_integrity() {
    if !common::root_or_skip("tampered_file_fails_with_integrity") {
        return;
    }
    let h = Host::new();
    let f = h.seal_json("t", &json!({"a": "x"}));
    let text = std::fs::read_to_string(&f).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let mac = v["sops"]["mac"].as_str().unwrap().to_string();
    let bad_mac = mac.replacen("data:", "data:AAAA", 1);
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&f, text.replace(&mac, &bad_mac)).unwrap();
    let m = h
        .manifest(json!({"secrets": [{"name": "a", "sopsFile": f, "format": "json", "key": "a"}]}));
    let o = h.install(&m);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(!h.p("secrets/a").exists());
}

/// A sealed file writable by group/other or not owned by root fails that secret.
#[test]
fn untrusted_sealed_file_refused() {
    if !common::root_or_skip("untrusted_sealed_file_refused") {
        return;
    }
    let h = Host::new();
    let f = h.seal_json("t", &json!({"a": "x"}));
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o666)).unwrap();
    let m = h
        .manifest(json!({"secrets": [{"name": "a", "sopsFile": f, "format": "json", "key": "a"}]}));
    let o = h.install(&m);
    assert_eq!(o.status.code(), Some(7));
    assert_eq!(h.status()["items"][0]["reason"]["code"], "untrusted-file");
}

/// `strict`: one failure aborts the run with no switch.
#[test]
fn strict_aborts_without_switch() {
    if !common::root_or_skip("strict_aborts_without_switch") {
        return;
    }
    let h = Host::new();
    let f = h.seal_json("s", &json!({"a": "1", "b": "2"}));
    let secrets = json!([
        {"name": "a", "sopsFile": f, "format": "json", "key": "a"},
        {"name": "b", "sopsFile": f, "format": "json", "key": "b"},
    ]);
    let m = h.manifest(json!({"secrets": secrets, "strict": true}));
    assert!(h.install(&m).status.success());
    let f = h.seal_json("s", &json!({"a": "NEW"}));
    let _ = f;
    let o = h.install(&m);
    assert_eq!(o.status.code(), Some(7));
    assert_eq!(std::fs::read_link(h.p("secrets")).unwrap(), h.p("m/1"));
    assert_eq!(std::fs::read_to_string(h.p("secrets/a")).unwrap(), "1");
}

/// Restarts through the manifest's `systemctl` (cleared environment, `--` before units), only
/// for changed secrets, never on the first install.
#[test]
fn systemctl_restarts_only_changed_secrets() {
    if !common::root_or_skip("systemctl_restarts_only_changed_secrets") {
        return;
    }
    let h = Host::new();
    let bin = h.recording_systemctl();
    let secrets = |f: &Path| {
        json!([
            {"name": "a", "sopsFile": f, "format": "json", "key": "a", "restartUnits": ["a.service"]},
            {"name": "b", "sopsFile": f, "format": "json", "key": "b", "reloadUnits": ["b.service"]},
            {"name": "c", "sopsFile": f, "format": "json", "key": "c", "restartUnits": ["c.service"]},
        ])
    };
    let f = h.seal_json("s", &json!({"a": "1", "b": "2", "c": "3"}));
    let m =
        h.manifest(json!({"secrets": secrets(&f), "restartVia": "systemctl", "systemctl": bin}));
    assert!(h.install(&m).status.success());
    assert_eq!(h.systemctl_log(), "", "first install restarts nothing");
    let f = h.seal_json("s", &json!({"a": "1", "b": "22", "c": "33"}));
    let m =
        h.manifest(json!({"secrets": secrets(&f), "restartVia": "systemctl", "systemctl": bin}));
    let o = h.install(&m);
    assert!(o.status.success(), "{}", stderr(&o));
    let log = h.systemctl_log();
    assert!(
        log.contains("try-restart -- c.service env= \n")
            || log.contains("try-restart -- c.service env=\n"),
        "{log}"
    );
    assert!(log.contains("try-reload-or-restart -- b.service"), "{log}");
    assert!(!log.contains("a.service"), "{log}");
    // A mode change alone restarts too.
    let m2 = h.manifest(json!({"secrets": [
        {"name": "a", "sopsFile": f, "format": "json", "key": "a", "mode": "0440", "restartUnits": ["a.service"]},
        {"name": "b", "sopsFile": f, "format": "json", "key": "b", "reloadUnits": ["b.service"]},
        {"name": "c", "sopsFile": f, "format": "json", "key": "c", "restartUnits": ["c.service"]},
    ], "restartVia": "systemctl", "systemctl": bin}));
    std::fs::write(h.p("systemctl.log"), b"").unwrap();
    assert!(h.install(&m2).status.success());
    let log = h.systemctl_log();
    assert!(log.contains("try-restart -- a.service"), "{log}");
    assert!(!log.contains("c.service"), "{log}");
}

/// Owners by number, and `--ignore-passwd` (names become root, numbers stay).
#[test]
fn numeric_owners_and_ignore_passwd() {
    if !common::root_or_skip("numeric_owners_and_ignore_passwd") {
        return;
    }
    let h = Host::new();
    let u = SystemUser::new("hsnum");
    let (uid, gid) = u.ids();
    let f = h.seal_json("s", &json!({"a": "1"}));
    let m = h.manifest(json!({"secrets": [
        {"name": "byname", "sopsFile": f, "format": "json", "key": "a", "owner": u.name, "group": u.name},
        {"name": "bynum", "sopsFile": f, "format": "json", "key": "a", "owner": null, "uid": uid,
         "group": null, "gid": gid},
    ]}));
    assert!(h.install(&m).status.success());
    for n in ["byname", "bynum"] {
        let meta = std::fs::metadata(h.p(&format!("secrets/{n}"))).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (uid, gid), "{n}");
    }
    let o = common::hostseal(h.t.path())
        .args(["install", "--no-mount", "--allow-disk", "--ignore-passwd"])
        .arg(&m)
        .output()
        .unwrap();
    assert!(o.status.success());
    let meta = std::fs::metadata(h.p("secrets/byname")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 0));
    let meta = std::fs::metadata(h.p("secrets/bynum")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));
}

/// dotenv/binary whole files, and the derived key from an ssh host key (native + derived).
#[test]
fn ssh_host_key_identity_and_binary() {
    if !common::root_or_skip("ssh_host_key_identity_and_binary") {
        return;
    }
    let h = Host::new();
    let key = h.p("ssh_host_ed25519_key");
    common::run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key),
    );
    let pubkey = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let pubkey = pubkey
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let plain = h.p("blob.bin");
    std::fs::write(&plain, b"\x00\x01binary\n").unwrap();
    // sops cannot seal to ssh-ed25519 recipients directly in every version; use age's ssh support.
    let sealed = h.p("blob.age");
    common::run_ok(
        Command::new("age")
            .args(["-r", &pubkey, "-o"])
            .arg(&sealed)
            .arg(&plain),
    );
    let m = h.manifest(json!({
        "ageKeyFile": null, "ageSshKeyPaths": [key],
        "secrets": [{"name": "blob", "sopsFile": sealed, "format": "age"}],
    }));
    let o = h.install(&m);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(h.p("secrets/blob")).unwrap(),
        b"\x00\x01binary\n"
    );
}

/// A manifest exactly as sops-nix's `manifest-for.nix` writes it (secrets as a list, templates
/// as an attrset with `content` and `file`, `placeholderBySecretName`, null key file/gnupg
/// fields, `logging`, extra per-secret fields) installs unchanged; templates render into the
/// new generation's `rendered/`.
#[test]
fn sops_nix_generated_manifest_with_templates() {
    if !common::root_or_skip("sops_nix_generated_manifest_with_templates") {
        return;
    }
    let h = Host::new();
    let f = h.seal_json("app", &json!({"db": {"password": "pw1"}, "token": "t1"}));
    let ph = |n: &str| {
        use sha2::Digest;
        format!(
            "<SOPS:{}:PLACEHOLDER>",
            hex::encode(sha2::Sha256::digest(n.as_bytes()))
        )
    };
    let tfile = h.p("template-file");
    std::fs::write(&tfile, format!("token={}\n", ph("token"))).unwrap();
    let secret = |name: &str, key: &str| {
        json!({"name": name, "key": key, "path": h.p(&format!("secrets/{name}")), "owner": "root",
               "uid": 0, "group": "root", "gid": 0, "sopsFile": f, "format": "json", "mode": "0400",
               "restartUnits": [], "reloadUnits": [], "neededForUsers": false, "sopsFileHash": ""})
    };
    let m = json!({
        "secrets": [secret("db_password", "db/password"), secret("token", "token")],
        "templates": {
            "app.conf": {"name": "app.conf", "content": format!("pw={}\n", ph("db_password")),
                         "path": h.p("secrets/rendered/app.conf"), "mode": "0440", "owner": null,
                         "uid": 0, "group": null, "gid": 0, "file": h.p("unused-store-path"),
                         "restartUnits": [], "reloadUnits": []},
            "tok.env": {"name": "tok.env", "content": "", "path": h.p("etc/tok.env"), "mode": "0400",
                        "owner": null, "uid": 0, "group": null, "gid": 0, "file": tfile,
                        "restartUnits": [], "reloadUnits": []},
        },
        "placeholderBySecretName": {"db_password": ph("db_password"), "token": ph("token")},
        "secretsMountPoint": h.p("m"), "symlinkPath": h.p("secrets"), "keepGenerations": 1,
        "gnupgHome": null, "sshKeyPaths": [], "ageKeyFile": h.key, "ageSshKeyPaths": [],
        "useTmpfs": false, "userMode": false,
        "logging": {"keyImport": true, "secretChanges": true},
        "lockPath": h.p("lock/lock"),
    });
    // sops-nix's template `file` wins over `content`: make app.conf's store file real.
    std::fs::write(
        h.p("unused-store-path"),
        format!("pw={}\n", ph("db_password")),
    )
    .unwrap();
    let path = h.p("sops-nix-manifest.json");
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    let o = h.install(&path);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(h.p("secrets/db_password")).unwrap(),
        "pw1"
    );
    assert_eq!(
        std::fs::read_to_string(h.p("m/1/rendered/app.conf")).unwrap(),
        "pw=pw1\n"
    );
    assert_eq!(
        std::fs::read_to_string(h.p("etc/tok.env")).unwrap(),
        "token=t1\n"
    );
    let meta = std::fs::metadata(h.p("secrets/rendered/app.conf")).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o440);
}

/// dotenv: the whole decrypted file, or one `entry`; `key` is ignored for dotenv.
#[test]
fn dotenv_whole_file_and_entry() {
    if !common::root_or_skip("dotenv_whole_file_and_entry") {
        return;
    }
    let h = Host::new();
    let plain = h.p("app.env");
    std::fs::write(&plain, "USER=app\nPASSWORD=s3cret\n").unwrap();
    let out = common::run_ok(
        common::sops(h.t.path())
            .args([
                "encrypt",
                "--age",
                &h.recipient,
                "--input-type",
                "dotenv",
                "--output-type",
                "dotenv",
            ])
            .arg(&plain),
    );
    let sealed = h.p("app.sealed.env");
    std::fs::write(&sealed, out).unwrap();
    let m = h.manifest(json!({"secrets": [
        {"name": "env", "sopsFile": sealed, "format": "dotenv", "key": "ignored"},
        {"name": "pw", "sopsFile": sealed, "format": "dotenv", "entry": "PASSWORD"},
    ]}));
    let o = h.install(&m);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(h.p("secrets/env")).unwrap(),
        "USER=app\nPASSWORD=s3cret\n"
    );
    assert_eq!(
        std::fs::read_to_string(h.p("secrets/pw")).unwrap(),
        "s3cret"
    );
}
