//! The trust rule for files root reads at activation (`src/install/trust.rs`), attacked by a
//! local unprivileged user made for each test: template files, sealed files and their
//! directories, identity files, the `systemctl` binary. Each attack is the one that worked
//! before the rule; each test asserts the refusal, the exit code and the message. Run as root
//! (skipped with a message otherwise).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod common;

use common::host::{chmod, chown, root_or_skip, stderr, Host, TempUser};
use serde_json::json;
use std::os::unix::fs::symlink;

/// H: a template file the user can write. Before: the user put the placeholder of another
/// secret in it and received that secret's plaintext in the rendered file it owns. Now the
/// template is refused (`untrusted-file`, exit 7) and nothing is rendered.
#[test]
fn template_file_writable_by_a_user_is_refused() {
    if !root_or_skip("template_file_writable_by_a_user_is_refused") {
        return;
    }
    let h = Host::new();
    let u = TempUser::new();
    let db = h.seal_json("db.json", &json!({"password": "DB-PASSWORD-VALUE"}));
    // The user's own template file, in a root-owned directory, and one in the user's directory.
    let owned = h.p("tpl.conf");
    std::fs::write(&owned, "").unwrap();
    chown(&owned, u.uid, u.gid);
    let udir = u.dir(&h.p("home"));
    let placeholder = hostseal::install::validate::placeholder_for("db");
    u.sh(&format!(
        "echo 'stolen={placeholder}' > {}",
        owned.display()
    ));
    u.sh(&format!(
        "echo 'stolen={placeholder}' > {}/tpl.conf",
        udir.display()
    ));
    let m = h.manifest(json!({
        "secrets": [{"name": "db", "sopsFile": db, "format": "json", "key": "password"}],
        "templates": {
            "mine": {"file": owned, "owner": u.name, "mode": "0400"},
            "home": {"file": udir.join("tpl.conf"), "owner": u.name, "mode": "0400"},
        },
    }));
    let o = h.install(&m);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(7), "{err}");
    assert!(
        err.contains(&format!(
            "failed \"rendered/mine\": template file {}: is not owned by root [untrusted-file]",
            owned.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "template file {}/tpl.conf: directory {} is not owned by root or is writable by group/other [untrusted-file]",
            udir.display(),
            udir.display()
        )),
        "{err}"
    );
    assert!(!h.p("secrets/rendered/mine").exists());
    assert!(!h.p("secrets/rendered/home").exists());
    assert_eq!(
        std::fs::read(h.p("secrets/db")).unwrap(),
        b"DB-PASSWORD-VALUE"
    );
    let st = h.status();
    assert_eq!(st["items"][1]["reason"]["code"], "untrusted-file");
    assert!(!err.contains("DB-PASSWORD-VALUE"));
}

/// M: sealed files were opened following symlinks with only the final inode checked. A user
/// who controls the directory holding "their" root-owned sealed file swaps it for a symlink
/// to another root-owned sealed file (or to /etc/shadow). Now the directory is refused.
#[test]
fn sealed_file_swapped_for_a_symlink_in_a_user_directory_is_refused() {
    if !root_or_skip("sealed_file_swapped_for_a_symlink_in_a_user_directory_is_refused") {
        return;
    }
    let h = Host::new();
    let u = TempUser::new();
    let other = h.seal_json("other.json", &json!({"v": "OTHER-SECRET"}));
    let udir = u.dir(&h.p("project"));
    let mine = h.seal_json("project/mine.json", &json!({"v": "mine"}));
    let shadow = udir.join("shadow.json");
    u.sh(&format!(
        "rm -f {m} && ln -s {o} {m} && ln -s /etc/shadow {s}",
        m = mine.display(),
        o = other.display(),
        s = shadow.display()
    ));
    let m = h.manifest(json!({"secrets": [
        {"name": "mine", "sopsFile": mine, "format": "json", "key": "v", "owner": u.name},
        {"name": "shadow", "sopsFile": shadow, "format": "json", "key": "v", "owner": u.name},
    ]}));
    let o = h.install(&m);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(7), "{err}");
    let refused = format!(
        "directory {} is not owned by root or is writable by group/other [untrusted-file]",
        udir.display()
    );
    assert_eq!(err.matches(&refused).count(), 2, "{err}");
    assert!(!h.p("secrets/mine").exists());
    assert!(!h.p("secrets/shadow").exists());
    assert!(!err.contains("root:"), "{err}");
    let st = h.status();
    assert_eq!(st["items"][0]["reason"]["code"], "untrusted-file");
}

/// M: a symlink in a root-owned directory that is owned by a user (only a user, or root on
/// their behalf, made it) is not followed, and a sealed file itself owned by a user is refused.
#[test]
fn user_owned_symlink_and_user_owned_sealed_file_are_refused() {
    if !root_or_skip("user_owned_symlink_and_user_owned_sealed_file_are_refused") {
        return;
    }
    let h = Host::new();
    let u = TempUser::new();
    let other = h.seal_json("other.json", &json!({"v": "OTHER-SECRET"}));
    let link = h.p("link.json");
    symlink(&other, &link).unwrap();
    chown(&link, u.uid, u.gid);
    let theirs = h.seal_json("theirs.json", &json!({"v": "x"}));
    chown(&theirs, u.uid, u.gid);
    let m = h.manifest(json!({"secrets": [
        {"name": "link", "sopsFile": link, "format": "json", "key": "v"},
        {"name": "theirs", "sopsFile": theirs, "format": "json", "key": "v"},
    ]}));
    let o = h.install(&m);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(7), "{err}");
    assert!(
        err.contains(&format!(
            "sealed file {}: {} is a symlink not owned by root",
            link.display(),
            link.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "sealed file {}: is not owned by root [untrusted-file] (hint: anyone who can write it decides what root does",
            theirs.display()
        )),
        "{err}"
    );
}

/// M: identity files. A host key that is a symlink to a user-owned file, or a root-owned key
/// readable by group/other, was used silently. Now each is refused with its reason (and the
/// `chmod 0400` hint), so no secret opens with it (exit 7).
#[test]
fn identity_file_linked_to_a_user_file_or_world_readable_is_refused() {
    if !root_or_skip("identity_file_linked_to_a_user_file_or_world_readable_is_refused") {
        return;
    }
    let h = Host::new();
    let u = TempUser::new();
    let s = h.seal_json("s.json", &json!({"v": "value"}));
    let secrets = json!([{"name": "s", "sopsFile": s, "format": "json", "key": "v"}]);
    // A root-owned link to a copy of the host key the user owns (and could have written).
    let user_key = h.p("user.key");
    std::fs::copy(&h.key, &user_key).unwrap();
    chown(&user_key, u.uid, u.gid);
    chmod(&user_key, 0o600);
    let link = h.p("ssh_host_key");
    symlink(&user_key, &link).unwrap();
    let m = h.manifest(json!({"secrets": secrets, "ageKeyFile": link}));
    let o = h.install(&m);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(7), "{err}");
    assert!(
        err.contains(&format!(
            "key file {}: is not owned by root",
            link.display()
        )),
        "{err}"
    );
    assert!(err.contains("no usable identity"), "{err}");
    assert!(!h.p("secrets/s").exists());
    // A root-owned key readable by everyone.
    let open_key = h.p("open.key");
    std::fs::copy(&h.key, &open_key).unwrap();
    chmod(&open_key, 0o644);
    let m = h.manifest(json!({"secrets": secrets, "ageKeyFile": open_key}));
    let o = h.install(&m);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(7), "{err}");
    assert!(
        err.contains(&format!(
            "key file {p}: is readable by group/other (a private key must be 0400 or 0600) (hint: chmod 0400 {p})",
            p = open_key.display()
        )),
        "{err}"
    );
    chmod(&open_key, 0o400);
    let o = h.install(&m);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// What stays accepted: the NixOS impermanence layout, where `/etc/ssh` keys are root-owned
/// symlinks (in a root-owned directory) to keys on persistent storage, and a sealed file
/// reached through a root-made relative link.
#[test]
fn root_made_links_to_persistent_storage_are_followed() {
    if !root_or_skip("root_made_links_to_persistent_storage_are_followed") {
        return;
    }
    let h = Host::new();
    std::fs::create_dir_all(h.p("persist/etc/ssh")).unwrap();
    std::fs::create_dir_all(h.p("etc/ssh")).unwrap();
    let persistent = h.p("persist/etc/ssh/host.key");
    std::fs::copy(&h.key, &persistent).unwrap();
    chmod(&persistent, 0o600);
    let link = h.p("etc/ssh/host.key");
    symlink(&persistent, &link).unwrap();
    let s = h.seal_json("s.json", &json!({"v": "value"}));
    symlink("../s.json", h.p("etc/s.json")).unwrap();
    let m = h.manifest(json!({
        "secrets": [{"name": "s", "sopsFile": h.p("etc/s.json"), "format": "json", "key": "v"}],
        "ageKeyFile": link,
    }));
    let o = h.install(&m);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read(h.p("secrets/s")).unwrap(), b"value");
    drop(s);
}

/// M: the configured `systemctl` was executed as root whatever its owner and mode. Now a
/// user-owned or group-writable one is never run: the restart fails, stays pending (exit 1),
/// and the next run with a trusted `systemctl` replays it with `--no-block`.
#[test]
fn untrusted_systemctl_is_never_run_and_restarts_stay_pending() {
    if !root_or_skip("untrusted_systemctl_is_never_run_and_restarts_stay_pending") {
        return;
    }
    let h = Host::new();
    let u = TempUser::new();
    let evil = h.p("evil-systemctl");
    let marker = h.p("ran-as-root");
    std::fs::write(
        &evil,
        format!("#!/bin/sh\ntouch {}\necho active\n", marker.display()),
    )
    .unwrap();
    chmod(&evil, 0o755);
    chown(&evil, u.uid, u.gid);
    let writable = h.p("gw-systemctl");
    std::fs::copy(&evil, &writable).unwrap();
    chmod(&writable, 0o775);
    let manifest = |value: &str, bin: &std::path::Path| {
        let s = h.seal_json("s.json", &json!({"v": value}));
        h.manifest(json!({
            "secrets": [{"name": "s", "sopsFile": s, "format": "json", "key": "v",
                         "restartUnits": ["app.service"]}],
            "restartVia": "systemctl", "systemctl": bin,
        }))
    };
    assert!(h.install(&manifest("1", &evil)).status.success());
    for (value, bin, why) in [
        ("2", &evil, "is not owned by root"),
        ("3", &writable, "is writable by group/other"),
    ] {
        let o = h.install(&manifest(value, bin));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("restart: systemctl {}: {why}", bin.display())),
            "{err}"
        );
        assert!(err.contains("stay pending"), "{err}");
        assert!(!marker.exists(), "an untrusted systemctl ran as root");
        assert!(h.p("lock/pending.json").exists());
    }
    let good = h.p("sbin/systemctl");
    std::fs::create_dir_all(h.p("sbin")).unwrap();
    let log = h.recording_systemctl(&good);
    let o = h.install(&manifest("3", &good));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let log = std::fs::read_to_string(log).unwrap();
    assert!(
        log.contains("--no-block try-restart -- app.service\n"),
        "{log}"
    );
    assert!(!h.p("lock/pending.json").exists());
}
