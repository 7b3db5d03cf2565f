//! The manifest the Nix side produces (`nix/manifest.nix`, evaluated with `nix-instantiate`)
//! installs for real: the tunnel credential (sealed by the real sops, `tests/fixtures/nix`) in
//! both layouts, and a malformed new credential fails its secret and keeps the previous one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod common;

use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `nix-instantiate`, or `None` after a loud message (the Nix side is then not tested here).
fn nix_instantiate() -> Option<PathBuf> {
    let found = [
        "/usr/bin/nix-instantiate",
        "/run/current-system/sw/bin/nix-instantiate",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file());
    if found.is_none() {
        eprintln!("!!! SKIPPED: nix-instantiate not found; nix/manifest.nix is NOT exercised !!!");
    }
    found
}

fn nix_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("nix")
}

/// The manifest for a tunnel sealed in `sealed`, copied into `root` first (install reads
/// sealed files only from directories only root can write; a checkout may be under /tmp).
fn manifest(bin: &Path, root: &Path, layout: &str, sealed: &Path) -> Value {
    let copy = root.join(format!(
        "in-{}",
        sealed.file_name().unwrap().to_string_lossy()
    ));
    std::fs::copy(sealed, &copy).unwrap();
    let sealed = copy;
    let expr = format!(
        r#"import {nix}/manifest.nix {{
             tunnels.builder = {{ sopsFile = "{sealed}"; layout = "{layout}"; }};
             settings = {{
               ageKeyFile = "{key}";
               secretsMountPoint = "{root}/m"; symlinkPath = "{root}/secrets";
               lockPath = "{root}/lock/lock"; restartListsDir = "{root}/nixos";
               restartVia = "activation-lists";
             }};
           }}"#,
        nix = nix_dir().display(),
        sealed = sealed.display(),
        key = common::private_copy(&common::fixture("nix/host.key"), root).display(),
        root = root.display(),
    );
    let out = common::run_ok(
        Command::new(bin)
            .current_dir(root)
            .env_clear()
            .env("HOME", root)
            .env("NIX_STATE_DIR", root.join("nix-state"))
            .env("NIX_LOG_DIR", root.join("nix-log"))
            .args(["--eval", "--strict", "--json", "--expr", &expr]),
    );
    serde_json::from_slice(&out).unwrap()
}

fn install(root: &Path, m: &Value) -> std::process::Output {
    let p = root.join("manifest.json");
    std::fs::write(&p, serde_json::to_vec(m).unwrap()).unwrap();
    common::hostseal(root)
        .args(["install", "--no-mount", "--allow-disk"])
        .arg(&p)
        .output()
        .unwrap()
}

/// The `cloudflared` user and group for the legacy layout; removed afterwards only if made here.
struct Cloudflared {
    made: bool,
}

impl Cloudflared {
    fn ensure() -> Cloudflared {
        let exists = nix::unistd::User::from_name("cloudflared")
            .ok()
            .flatten()
            .is_some();
        if !exists {
            let _ = Command::new("groupadd")
                .args(["-r", "cloudflared"])
                .status();
            let ok = Command::new("useradd")
                .args([
                    "-r",
                    "-M",
                    "-s",
                    "/usr/sbin/nologin",
                    "-g",
                    "cloudflared",
                    "cloudflared",
                ])
                .status()
                .unwrap()
                .success();
            assert!(ok);
        }
        Cloudflared { made: !exists }
    }
}

impl Drop for Cloudflared {
    fn drop(&mut self) {
        if self.made {
            let _ = Command::new("userdel").arg("cloudflared").status();
            let _ = Command::new("groupdel").arg("cloudflared").status();
        }
    }
}

#[test]
fn nix_manifest_tunnel_installs_in_both_layouts() {
    let Some(bin) = nix_instantiate() else { return };
    let cf = Cloudflared::ensure();
    let sealed = common::fixture("nix/tunnel.json");
    for (layout, owner, mode) in [
        ("loadCredential", "root", 0o400),
        ("legacyUser", "cloudflared", 0o600),
    ] {
        let t = common::trusted_tempdir();
        let m = manifest(&bin, t.path(), layout, &sealed);
        let o = install(t.path(), &m);
        assert!(
            o.status.success(),
            "{layout}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let f = t.path().join("secrets/cloudflared/builder.json");
        let meta = std::fs::metadata(&f).unwrap();
        let u = nix::unistd::User::from_name(owner).unwrap().unwrap();
        let g = nix::unistd::Group::from_name(owner).unwrap().unwrap();
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o7777),
            (u.uid.as_raw(), g.gid.as_raw(), mode),
            "{layout}"
        );
        let creds: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        assert_eq!(creds["TunnelID"], "6ff42ae2-765d-4adf-8112-31c55c1551ef");
    }
    drop(cf);
}

#[test]
fn malformed_new_credential_keeps_the_previous_one() {
    let Some(bin) = nix_instantiate() else { return };
    let t = common::trusted_tempdir();
    let m = manifest(
        &bin,
        t.path(),
        "loadCredential",
        &common::fixture("nix/tunnel.json"),
    );
    assert!(install(t.path(), &m).status.success());
    let before = std::fs::read(t.path().join("secrets/cloudflared/builder.json")).unwrap();
    // The same tunnel with a TunnelSecret of 8 bytes, sealed by the real sops to host.key.
    let recipient = "age1f7h6xz4cquezjxc8xf335udry0calxuxvl7jffvzv4znpn8ymsuq6dtz65";
    let bad = common::sops_seal(
        &t.path().join("bad.sealed.json"),
        recipient,
        br#"{"AccountTag":"0123456789abcdef0123456789abcdef","TunnelSecret":"c2hvcnRzaHQ=","TunnelID":"6ff42ae2-765d-4adf-8112-31c55c1551ef"}"#,
        "json",
    );
    let m = manifest(&bin, t.path(), "loadCredential", &bad);
    let o = install(t.path(), &m);
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(
        log.contains("TunnelSecret") && !log.contains("c2hvcnRzaHQ"),
        "{log}"
    );
    assert_eq!(
        std::fs::read(t.path().join("secrets/cloudflared/builder.json")).unwrap(),
        before
    );
    let st: Value =
        serde_json::from_slice(&std::fs::read(t.path().join("m/status.json")).unwrap()).unwrap();
    assert_eq!(st["items"][0]["state"], "stale");
    assert_eq!(st["items"][0]["reason"]["code"], "invalid-credentials");
}
