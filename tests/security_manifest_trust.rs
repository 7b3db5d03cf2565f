//! The manifest itself is an input root reads at activation: whoever can write it decides
//! which secret is installed where and for whom, so a real run reads it under the same trust
//! rule as every other input (docs/hardening.md). Check modes only parse it (the Nix build
//! sandbox has nothing root-owned). Run as root (skipped with a message otherwise).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod common;

use common::host::{chown, root_or_skip, stderr, Host, TempUser};
use serde_json::json;

/// A manifest the user owns, and a root-owned one in the user's directory: before, root
/// installed whatever they named (here: the database password, to the user); now nothing is
/// installed, exit 1, and the message names the manifest and why.
#[test]
fn manifest_writable_by_a_user_is_refused() {
    if !root_or_skip("manifest_writable_by_a_user_is_refused") {
        return;
    }
    let h = Host::new();
    let u = TempUser::new();
    let db = h.seal_json("db.json", &json!({"password": "DB-PASSWORD-VALUE"}));
    let good = h.manifest(json!({
        "secrets": [{"name": "db", "sopsFile": db, "format": "json", "key": "password",
                     "owner": u.name, "mode": "0400"}],
    }));

    // Owned by the user.
    let owned = h.p("user-manifest.json");
    std::fs::copy(&good, &owned).unwrap();
    chown(&owned, u.uid, u.gid);
    let o = h.install(&owned);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "{}: manifest not trusted: is not owned by root",
            owned.display()
        )),
        "{err}"
    );

    // Root-owned, but in a directory the user owns (they could swap it).
    let udir = u.dir(&h.p("home"));
    let inside = udir.join("manifest.json");
    std::fs::copy(&good, &inside).unwrap();
    let o = h.install(&inside);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("manifest not trusted: directory"), "{err}");
    assert!(!h.p("secrets").exists(), "nothing installed");
    assert!(!err.contains("DB-PASSWORD-VALUE"));

    // The check modes still only parse it (the Nix build has nothing root-owned).
    let o = common::hostseal(h.t.path())
        .args(["install", "--check-mode", "manifest"])
        .arg(&owned)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    // The root-owned manifest in a root-owned directory installs.
    let o = h.install(&good);
    assert!(o.status.success(), "{}", stderr(&o));
}
