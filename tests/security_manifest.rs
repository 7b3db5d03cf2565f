//! Bad manifests (hand-written ones on hosts without NixOS are the usual source): a missing
//! `secrets` list, ids that `chown` reads as "unchanged", template units without an instance,
//! unknown fields, deep nesting in ignored fields, and `"group": null` (what the Nix module
//! writes) with a real user made for the test. Each asserts the exit code and the message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod common;

use common::host::{root_or_skip, stderr, Host, TempUser};
use serde_json::json;
use std::os::unix::fs::MetadataExt;

/// M: a manifest without `secrets` (a typo) installed an empty generation, removed every secret
/// and exited 0. Now it is exit 6 with a warning naming the typo, and nothing changes.
#[test]
fn manifest_without_secrets_changes_nothing() {
    if !root_or_skip("manifest_without_secrets_changes_nothing") {
        return;
    }
    let h = Host::new();
    let s = h.seal_json("s.json", &json!({"v": "tunnel"}));
    let list = json!([{"name": "s", "sopsFile": s, "format": "json", "key": "v"}]);
    let m = h.manifest(json!({"secrets": list}));
    assert!(h.install(&m).status.success());
    let link_before = std::fs::read_link(h.p("secrets")).unwrap();
    let m = h.manifest(json!({"secret": list}));
    let o = h.install(&m);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(6), "{err}");
    assert!(
        err.contains(&format!(
            "hostseal: warning: {}: unknown field \"secret\" (did you mean \"secrets\"?)",
            m.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("secrets: missing (write \"secrets\": [] to install no secrets)"),
        "{err}"
    );
    assert_eq!(std::fs::read_link(h.p("secrets")).unwrap(), link_before);
    assert_eq!(std::fs::read(h.p("secrets/s")).unwrap(), b"tunnel");
    // Spelled out, an empty list is allowed.
    let m = h.manifest(json!({"secrets": []}));
    let o = h.install(&m);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!h.p("secrets/s").exists());
}

/// L: uid/gid 4294967295 (`(uid_t)-1`, "leave unchanged" to `fchown`) left the file root's.
#[test]
fn id_4294967295_is_refused() {
    if !root_or_skip("id_4294967295_is_refused") {
        return;
    }
    let h = Host::new();
    let s = h.seal_json("s.json", &json!({"v": "x"}));
    for (field, extra) in [
        ("uid", json!({"owner": null, "uid": 4294967295u64})),
        ("gid", json!({"group": null, "gid": 4294967295u64})),
    ] {
        let mut secret = json!({"name": "s", "sopsFile": s, "format": "json", "key": "v"});
        secret
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let m = h.manifest(json!({"secrets": [secret]}));
        let o = h.install(&m);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(6), "{err}");
        assert!(
            err.contains(&format!(
                "secret \"s\": {field}: 4294967295 is not a valid id (chown reads it as \"unchanged\")"
            )),
            "{err}"
        );
        assert!(!h.p("secrets").exists());
    }
}

/// L: a template unit without an instance (`a@.service`) was accepted.
#[test]
fn template_unit_without_instance_is_refused() {
    if !root_or_skip("template_unit_without_instance_is_refused") {
        return;
    }
    let h = Host::new();
    let m = h.manifest(json!({"secrets": [{"name": "s", "sopsFile": "/nonexistent",
        "restartUnits": ["a@.service"]}]}));
    let o = h.install(&m);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(6), "{err}");
    assert!(
        err.contains(
            "secret \"s\": restartUnits: \"a@.service\" is a template unit without an instance"
        ),
        "{err}"
    );
}

/// The depth limit covers fields hostseal ignores, and unknown fields are warnings with the
/// closest known name while every sops-nix field stays silent.
#[test]
fn deep_ignored_fields_fail_and_unknown_fields_warn() {
    if !root_or_skip("deep_ignored_fields_fail_and_unknown_fields_warn") {
        return;
    }
    let h = Host::new();
    let deep: serde_json::Value =
        serde_json::from_str(&format!("{}1{}", "[".repeat(120), "]".repeat(120))).unwrap();
    let m = h.manifest(
        json!({"secrets": [], "x": {"y": {"z": {"w": {"v": {"u": {"t": {"s": {"r": deep}}}}}}}}}),
    );
    let o = h.install(&m);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(6), "{err}");
    assert!(err.contains("nested deeper than 128 levels"), "{err}");
    let s = h.seal_json("s.json", &json!({"v": "x"}));
    let m = h.manifest(json!({
        "secrets": [{"name": "s", "sopsFile": s, "format": "json", "key": "v",
                     "restartUnit": ["a.service"], "sopsFileHash": "h", "neededForUsers": false,
                     "owner": "root", "uid": 0, "group": "root", "gid": 0, "mode": "0400",
                     "path": h.p("secrets/s"), "reloadUnits": [], "restartUnits": []}],
        "templates": [], "placeholderBySecretName": {}, "keepGenerations": 1,
        "sshKeyPaths": [], "gnupgHome": "", "ageSshKeyPaths": [], "useTmpfs": false,
        "userMode": false, "logging": {"keyImport": true, "secretChanges": true},
    }));
    let o = h.install(&m);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(
        warnings,
        [format!(
            "hostseal: warning: {}: unknown field \"restartUnit\" (did you mean \"restartUnits\"?) in secret \"s\"",
            m.display()
        )],
        "{err}"
    );
}

/// Issue of the Nix module: `"group": null` (written when only `owner` is set) meant gid 0;
/// it is the owner's primary group, as an absent group is. Installed for real.
#[test]
fn group_null_is_the_owners_primary_group() {
    if !root_or_skip("group_null_is_the_owners_primary_group") {
        return;
    }
    let h = Host::new();
    let u = TempUser::new();
    let s = h.seal_json("s.json", &json!({"v": "x"}));
    let m = h.manifest(json!({"secrets": [
        {"name": "null", "sopsFile": s, "format": "json", "key": "v", "owner": u.name,
         "group": null, "mode": "0440"},
        {"name": "absent", "sopsFile": s, "format": "json", "key": "v", "owner": u.name,
         "mode": "0440"},
    ]}));
    let o = h.install(&m);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_ne!(u.gid, 0);
    for n in ["null", "absent"] {
        let meta = std::fs::metadata(h.p(&format!("secrets/{n}"))).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (u.uid, u.gid), "{n}");
    }
}
