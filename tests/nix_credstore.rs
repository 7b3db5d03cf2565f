//! systemd credentials through `nix/module.nix` (docs/credstore.md, docs/nixos.md), evaluated
//! with nixpkgs' real `lib`, cloudflared.nix, assertions.nix and activation-script.nix
//! (tests/fixtures/nixpkgs/): the manifest's `credstore` / `credstoreKey` / `systemdCreds`,
//! `credentialFor` and the tunnel helper wired to `LoadCredentialEncrypted=` /
//! `LoadCredential=`, every credstore assertion; and, as root, the module's manifest for an
//! encrypted tunnel credential installed for real with Debian's `systemd-creds` (host key made
//! by `systemd-creds setup` in the test's directory), decrypted under the id the evaluated unit
//! loads it with back to the tunnel JSON.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;
#[path = "nix_support/mod.rs"]
mod nix_support;

use nix_support::{assert_fires, eval_nixos, failed, fixture, nix_instantiate, secret};
use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix_support::FIXTURE_RECIPIENT as RECIPIENT;

/// A NixOS 26.05 host running cloudflared with `hostseal` settings `body`, plus `extra`.
fn host(body: &str, extra: &str) -> String {
    format!(
        r#"{{ config, lib, pkgs, ... }}: {{
          services.openssh.enable = true;
          services.cloudflared.enable = true;
          system.nixos.release = "26.05";
          users.users.app = {{ }};
          hostseal = {{
            age.hostRecipient = "{RECIPIENT}";
            {body}
          }};
          {extra}
        }}"#
    )
}

fn t() -> String {
    fixture("tunnel.json")
}

fn s() -> String {
    fixture("secrets.yaml")
}

fn strings(v: &Value) -> Vec<String> {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

// ---- the manifest ---------------------------------------------------------------------------

#[test]
fn manifest_carries_credstore_key_and_systemd_creds() {
    let Some(bin) = nix_instantiate() else { return };
    let r = eval_nixos(
        &bin,
        &host(
            &format!(
                r#"secrets.api = {{ sopsFile = {s}; credstore = "encrypted"; credstoreKey = "host+tpm2"; credentialFor = [ "api.service" ]; }};
                   secrets.plain = {{ sopsFile = {s}; credstore = "plain"; }};
                   secrets.auto = {{ sopsFile = {s}; credstore = "encrypted"; }};
                   secrets.file = {{ sopsFile = {s}; owner = "app"; }};"#,
                s = s()
            ),
            "",
        ),
    );
    assert_eq!(failed(&r), Vec::<String>::new());
    let m = &r["manifest"];
    let api = secret(m, "api");
    assert_eq!(api["credstore"], "encrypted");
    assert_eq!(api["credstoreKey"], "host+tpm2");
    assert_eq!(api["restartUnits"], json!(["api.service"]));
    // A credential has no path (the installer refuses one) and is root:root 0400.
    assert!(api.get("path").is_none(), "{api:#}");
    assert_eq!(
        (&api["owner"], &api["group"], &api["mode"]),
        (&json!("root"), &json!("root"), &json!("0400"))
    );
    assert_eq!(secret(m, "auto")["credstoreKey"], "auto");
    let plain = secret(m, "plain");
    assert_eq!(plain["credstore"], "plain");
    assert!(
        plain.get("credstoreKey").is_none(),
        "the installer refuses credstoreKey without encrypted: {plain:#}"
    );
    let file = secret(m, "file");
    assert!(file.get("credstore").is_none());
    assert_eq!(file["path"], "/run/secrets/file");
    assert_eq!(
        m["systemdCreds"], "/nix/store/00000000000000000000000000000000-systemd/bin/systemd-creds",
        "config.systemd.package's systemd-creds"
    );
    // The option's `path` says where systemd finds each credential.
    assert_eq!(r["secretPaths"]["api"], "/run/credstore.encrypted/api");
    assert_eq!(r["secretPaths"]["plain"], "/run/credstore/plain");

    // Without an encrypted secret there is no systemdCreds (nothing to seal).
    let r = eval_nixos(
        &bin,
        &host(
            &format!(
                r#"secrets.plain = {{ sopsFile = {}; credstore = "plain"; }};"#,
                s()
            ),
            "",
        ),
    );
    assert_eq!(failed(&r), Vec::<String>::new());
    assert!(r["manifest"].get("systemdCreds").is_none());
}

/// The pure manifest (nix/manifest.nix, no nixpkgs) as the module, home-manager and nix-darwin
/// share it: credstore fields of secrets and tunnels, systemdCreds only when needed.
#[test]
fn pure_manifest_writes_credstore_fields() {
    let Some(bin) = nix_instantiate() else { return };
    let m = nix_support::eval(
        &bin,
        &format!(
            r#"import {}/manifest.nix {{
              secrets.a = {{ sopsFile = "/s.yaml"; credstore = "plain"; }};
              secrets.b = {{ sopsFile = "/s.yaml"; credstore = "encrypted"; credstoreKey = "tpm2"; }};
              tunnels.t = {{ sopsFile = "/t.json"; layout = "loadCredential"; credstore = "encrypted"; }};
              settings.systemdCreds = "/run/current-system/sw/bin/systemd-creds";
            }}"#,
            nix_support::nix_dir().display()
        ),
    );
    assert_eq!(
        m["systemdCreds"],
        "/run/current-system/sw/bin/systemd-creds"
    );
    assert_eq!(secret(&m, "a")["credstore"], "plain");
    assert!(secret(&m, "a").get("credstoreKey").is_none());
    assert_eq!(secret(&m, "b")["credstoreKey"], "tpm2");
    let t = secret(&m, "cloudflared-tunnel-t.json");
    assert_eq!(t["credstore"], "encrypted");
    assert_eq!(t["credstoreKey"], "auto");
    assert!(t.get("path").is_none());
    let m = nix_support::eval(
        &bin,
        &format!(
            r#"import {}/manifest.nix {{
              secrets.a = {{ sopsFile = "/s.yaml"; credstore = "plain"; }};
              settings.systemdCreds = "/bin/systemd-creds";
            }}"#,
            nix_support::nix_dir().display()
        ),
    );
    assert!(m.get("systemdCreds").is_none(), "{m:#}");
}

// ---- wiring -----------------------------------------------------------------------------------

#[test]
fn credential_for_loads_encrypted_and_plain_credentials_by_name() {
    let Some(bin) = nix_instantiate() else { return };
    let r = eval_nixos(
        &bin,
        &host(
            &format!(
                r#"secrets.enc = {{ sopsFile = {s}; credstore = "encrypted"; credentialFor = [ "dyn.service" ]; }};
                   secrets.pln = {{ sopsFile = {s}; credstore = "plain"; credentialFor = [ "dyn.service" ]; }};
                   secrets."sub/file" = {{ sopsFile = {s}; credentialFor = [ "dyn.service" ]; }};"#,
                s = s()
            ),
            "",
        ),
    );
    assert_eq!(failed(&r), Vec::<String>::new());
    let dyn_ = &r["services"]["dyn"];
    assert_eq!(
        dyn_["serviceConfig"]["LoadCredentialEncrypted"],
        json!(["enc:/run/credstore.encrypted/enc"]),
        "the id is the name the credential was sealed with: {dyn_:#}"
    );
    let mut plain = strings(&dyn_["serviceConfig"]["LoadCredential"]);
    plain.sort();
    assert_eq!(
        plain,
        ["pln:/run/credstore/pln", "sub_file:/run/secrets/sub/file"]
    );
    // Ordered after the installer (the unit path of 26.05) and restarted on change.
    assert!(strings(&dyn_["after"]).contains(&"hostseal-install.service".to_string()));
    for n in ["enc", "pln"] {
        assert_eq!(
            secret(&r["manifest"], n)["restartUnits"],
            json!(["dyn.service"])
        );
    }
}

#[test]
fn encrypted_tunnel_gets_load_credential_encrypted_and_no_plaintext_path() {
    let Some(bin) = nix_instantiate() else { return };
    let r = eval_nixos(
        &bin,
        &host(
            &format!(
                r#"tunnels.builder = {{ sopsFile = {}; credstore = "encrypted"; credstoreKey = "tpm2"; }};"#,
                t()
            ),
            "",
        ),
    );
    assert_eq!(failed(&r), Vec::<String>::new());
    let id = "cloudflared-tunnel-builder.json";
    let m = &r["manifest"];
    let s = secret(m, id);
    assert_eq!(s["credstore"], "encrypted");
    assert_eq!(s["credstoreKey"], "tpm2");
    assert_eq!(s["validate"], "cloudflared-credentials");
    assert_eq!(
        s["restartUnits"],
        json!(["cloudflared-tunnel-builder.service"])
    );
    assert!(m["systemdCreds"]
        .as_str()
        .unwrap()
        .ends_with("/bin/systemd-creds"));
    // No file for cloudflared.nix to LoadCredential (it would hand over the ciphertext).
    assert_eq!(r["cloudflared"]["builder"], json!({}));
    let unit = &r["services"]["cloudflared-tunnel-builder"];
    let sc = &unit["serviceConfig"];
    assert_eq!(
        sc["LoadCredentialEncrypted"],
        json!([format!("{id}:/run/credstore.encrypted/{id}")])
    );
    assert_eq!(sc["LoadCredential"], json!([]), "{unit:#}");
    // cloudflared reads the decrypted copy from its credential directory.
    assert_eq!(unit["environment"]["TUNNEL_CRED_FILE"], format!("%d/{id}"));
    assert!(sc["ExecStart"]
        .as_str()
        .unwrap()
        .contains("tunnel --config="));
    assert!(strings(&unit["after"]).contains(&"hostseal-install.service".to_string()));
    let text = unit.to_string();
    assert!(
        !text.contains("/run/secrets") && !text.contains("/run/credstore/"),
        "no plaintext path in the unit: {unit:#}"
    );

    // A token: nixpkgs' token command line, reading the credential under its own id.
    let r = eval_nixos(
        &bin,
        &host(
            &format!(
                r#"tunnels.tok = {{ sopsFile = {}; tokenFile = true; credstore = "encrypted"; }};"#,
                t()
            ),
            "",
        ),
    );
    assert_eq!(failed(&r), Vec::<String>::new());
    let id = "cloudflared-tunnel-tok.token";
    assert_eq!(secret(&r["manifest"], id)["validate"], "cloudflared-token");
    let sc = &r["services"]["cloudflared-tunnel-tok"]["serviceConfig"];
    assert_eq!(
        sc["LoadCredentialEncrypted"],
        json!([format!("{id}:/run/credstore.encrypted/{id}")])
    );
    assert_eq!(sc["LoadCredential"], json!([]));
    assert_eq!(
        sc["ExecStart"],
        format!(
            "/nix/store/00000000000000000000000000000000-cloudflared/bin/cloudflared tunnel run --token-file \"$CREDENTIALS_DIRECTORY/{id}\""
        )
    );
}

#[test]
fn plain_tunnel_is_loaded_by_cloudflared_nix_from_run_credstore() {
    let Some(bin) = nix_instantiate() else { return };
    let r = eval_nixos(
        &bin,
        &host(
            &format!(
                r#"tunnels.builder = {{ sopsFile = {}; credstore = "plain"; }};"#,
                t()
            ),
            "",
        ),
    );
    assert_eq!(failed(&r), Vec::<String>::new());
    let id = "cloudflared-tunnel-builder.json";
    assert_eq!(secret(&r["manifest"], id)["credstore"], "plain");
    assert!(
        r["manifest"].get("systemdCreds").is_none(),
        "nothing to seal"
    );
    assert_eq!(
        r["cloudflared"]["builder"],
        json!({ "credentialsFile": format!("/run/credstore/{id}") })
    );
    let unit = &r["services"]["cloudflared-tunnel-builder"];
    assert_eq!(
        unit["serviceConfig"]["LoadCredential"],
        json!([format!("credentials.json:/run/credstore/{id}")]),
        "nixpkgs' own LoadCredential (plain credentials carry no name)"
    );
    assert!(unit["serviceConfig"]
        .get("LoadCredentialEncrypted")
        .is_none());
    assert!(unit["environment"].get("TUNNEL_CRED_FILE").is_none());
}

// ---- assertions -------------------------------------------------------------------------------

#[test]
fn each_credstore_assertion_fires() {
    let Some(bin) = nix_instantiate() else { return };
    let cases: &[(&str, &str)] = &[
        (
            r#"secrets.o = { sopsFile = @S@; credstore = "encrypted"; owner = "app"; };"#,
            r#"hostseal.secrets."o": a credstore secret is always root:root 0400"#,
        ),
        (
            r#"secrets.u = { sopsFile = @S@; credstore = "plain"; uid = 1000; };"#,
            r#"hostseal.secrets."u": a credstore secret is always root:root 0400"#,
        ),
        (
            r#"secrets.g = { sopsFile = @S@; credstore = "plain"; group = "wheel"; };"#,
            r#"hostseal.secrets."g": a credstore secret is always root:root 0400"#,
        ),
        (
            r#"secrets.m = { sopsFile = @S@; credstore = "encrypted"; mode = "0440"; };"#,
            r#"hostseal.secrets."m": a credstore secret is always root:root 0400"#,
        ),
        (
            r#"secrets.p = { sopsFile = @S@; credstore = "plain"; path = "/etc/p"; };"#,
            r#"hostseal.secrets."p".path = "/etc/p": a credstore secret has no custom path; systemd finds it as /run/credstore/p"#,
        ),
        (
            r#"secrets.n = { sopsFile = @S@; credstore = "encrypted"; neededForUsers = true; };"#,
            r#"hostseal.secrets."n": credstore cannot be combined with neededForUsers (both installs would manage /run/credstore.encrypted)"#,
        ),
        (
            r#"secrets."a/b" = { sopsFile = @S@; credstore = "encrypted"; };"#,
            r#"hostseal.secrets."a/b": the credential name "a/b" must be printable ASCII without `/`"#,
        ),
        (
            r#"secrets.x = { sopsFile = @S@; credstore = "plain"; name = "two words"; };"#,
            r#"the credential name "two words" must be printable ASCII"#,
        ),
        (
            r#"secrets.k = { sopsFile = @S@; credstore = "plain"; credstoreKey = "tpm2"; };"#,
            r#"hostseal.secrets."k".credstoreKey = "tpm2": only with credstore = "encrypted""#,
        ),
        (
            r#"secrets.f = { sopsFile = @S@; credstoreKey = "host"; };"#,
            r#"hostseal.secrets."f".credstoreKey = "host": only with credstore = "encrypted""#,
        ),
        (
            r#"secrets.c = { sopsFile = @S@; credstore = "encrypted"; }; secrets."credstore.encrypted/d" = { sopsFile = @S@; };"#,
            r#"hostseal.secrets: "credstore.encrypted/d" is under credstore.encrypted/, which holds the systemd credentials"#,
        ),
        (
            r#"tunnels.old = { sopsFile = @T@; credstore = "plain"; layout = "legacyUser"; };"#,
            r#"hostseal.tunnels."old": credstore needs the loadCredential layout"#,
        ),
        (
            r#"tunnels.e = { sopsFile = @T@; credstore = "encrypted"; }; ## services.cloudflared.tunnels.e.credentialsFile = "/var/lib/e.json";"#,
            r#"hostseal.tunnels."e": credstore = "encrypted" but services.cloudflared.tunnels."e".credentialsFile is set too"#,
        ),
        (
            r#"tunnels.k = { sopsFile = @T@; credstoreKey = "host"; };"#,
            r#"hostseal.tunnels."k".credstoreKey = "host": only with credstore = "encrypted""#,
        ),
    ];
    let users = r#"users.users.cloudflared.group = "cloudflared"; users.groups.cloudflared = { }; users.groups.wheel = { };"#;
    for (body, needle) in cases {
        let body = body.replace("@S@", &s()).replace("@T@", &t());
        // `hostseal` settings ## other NixOS settings
        let (body, outside) = body.split_once("##").unwrap_or((&body, ""));
        let r = eval_nixos(&bin, &host(body, &format!("{users} {outside}")));
        assert_fires(&r, needle);
        assert_eq!(failed(&r).len(), 1, "{body}: {:#?}", failed(&r));
    }
    // root:root 0400 spelled out, and the default path, are fine; so are a credential and a
    // file of the same name (they live apart), and `credstore/…` files without plain ones.
    let r = eval_nixos(
        &bin,
        &host(
            &format!(
                r#"secrets.ok = {{ sopsFile = {s}; credstore = "encrypted"; owner = "root"; group = "root"; mode = "400"; path = "/run/credstore.encrypted/ok"; }};
                   secrets.file = {{ sopsFile = {s}; name = "ok"; }};
                   secrets."credstore/x" = {{ sopsFile = {s}; }};"#,
                s = s()
            ),
            "",
        ),
    );
    assert_eq!(failed(&r), Vec::<String>::new());
}

// ---- installed for real -------------------------------------------------------------------------

use common::install_host::{assert_installed, install_value, recording_systemctl, Unmount};

use common::creds::ready;

/// Seals `plain` (JSON) with the real sops to the fixture host key.
fn seal_json(dir: &Path, name: &str, plain: &Value) -> PathBuf {
    common::sops_seal_json(&dir.join(name), RECIPIENT, plain)
}

/// The module's manifest for a tunnel delivered as an encrypted credential, installed for real
/// (ramfs, generations, the host's systemd-creds with a host key of the test's own), gives a
/// root:root 0400 ciphertext that `systemd-creds decrypt` opens, under the id the evaluated
/// unit's `LoadCredentialEncrypted=` names, to the tunnel JSON; no plaintext copy anywhere in
/// the generation; an unchanged re-install keeps the ciphertext (no needless restart); a
/// rotated secret is re-sealed and restarts the tunnel with `systemctl --no-block`.
#[test]
fn encrypted_tunnel_credential_installs_and_decrypts_under_the_units_id() {
    let Some(bin) = nix_instantiate() else { return };
    if !ready("encrypted_tunnel_credential_installs_and_decrypts_under_the_units_id") {
        return;
    }
    let scratch = common::trusted_tempdir();
    let d = scratch.path();
    let host_key = common::private_copy(Path::new(&fixture("host.key")), d);
    let tunnel = json!({
        "AccountTag": "0123456789abcdef0123456789abcdef",
        "TunnelSecret": "aG9zdHNlYWwtdGVzdC10dW5uZWwtc2VjcmV0LTMyYiE=",
        "TunnelID": "6ff42ae2-765d-4adf-8112-31c55c1551ef",
    });
    let sealed = seal_json(d, "tunnel.json", &tunnel);
    let r = eval_nixos(
        &bin,
        &format!(
            r#"{{ ... }}: {{
              system.nixos.release = "26.05";
              services.cloudflared.enable = true;
              hostseal = {{
                validateSopsFiles = false;
                age.keyFile = "{k}";
                age.sshKeyPaths = [ ];
                sshKeyPaths = [ ];
                age.hostRecipient = "{RECIPIENT}";
                tunnels.builder = {{ sopsFile = "{t}"; credstore = "encrypted"; credstoreKey = "host"; }};
              }};
            }}"#,
            k = host_key.display(),
            t = sealed.display(),
        ),
    );
    assert_eq!(failed(&r), Vec::<String>::new());
    // What the unit loads: `<id>:<path>`.
    let load = strings(
        &r["services"]["cloudflared-tunnel-builder"]["serviceConfig"]["LoadCredentialEncrypted"],
    );
    assert_eq!(load.len(), 1, "{load:?}");
    let (id, unit_path) = load[0].split_once(':').unwrap();
    let file_name = Path::new(unit_path).file_name().unwrap().to_owned();
    assert_eq!(
        Path::new(unit_path).parent().unwrap(),
        Path::new("/run/credstore.encrypted")
    );

    // The module's manifest, its host locations moved into the test's directory.
    let mut m = r["manifest"].clone();
    let systemctl = d.join("systemctl");
    let log = recording_systemctl(&systemctl);
    let enc_dir = d.join("run/credstore.encrypted");
    std::fs::create_dir_all(d.join("run")).unwrap();
    m["secretsMountPoint"] = json!(d.join("m"));
    m["symlinkPath"] = json!(d.join("secrets"));
    m["lockPath"] = json!(d.join("lock/lock"));
    m["restartListsDir"] = json!(d.join("nixos"));
    m["systemctl"] = json!(systemctl);
    m["credstoreDir"] = json!(d.join("run/credstore"));
    m["credstoreEncryptedDir"] = json!(enc_dir);
    assert!(m["systemdCreds"]
        .as_str()
        .unwrap()
        .ends_with("/bin/systemd-creds"));
    m["systemdCreds"] = json!(common::creds::creds_wrapper(d, None));
    let _mount = Unmount(d.join("m"));
    assert_installed(&install_value(d, &m));

    let installed = enc_dir.join(&file_name);
    let meta = std::fs::metadata(&installed).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (0, 0, 0o400)
    );
    let ciphertext = std::fs::read(&installed).unwrap();
    let secret_value = tunnel["TunnelSecret"].as_str().unwrap();
    assert!(
        !String::from_utf8_lossy(&ciphertext).contains(secret_value),
        "the installed credential is ciphertext"
    );
    // No plaintext copy anywhere in the generation.
    let found = Command::new("grep")
        .args(["-r", "-l", "-F", secret_value])
        .arg(d.join("m"))
        .output()
        .unwrap();
    assert!(
        found.stdout.is_empty(),
        "plaintext in the generation: {}",
        String::from_utf8_lossy(&found.stdout)
    );

    let wrapper = d.join("systemd-creds");
    let decrypt = |name: &str| {
        Command::new(&wrapper)
            .args(["decrypt", &format!("--name={name}")])
            .arg(&installed)
            .arg("-")
            .output()
            .unwrap()
    };
    let opened = decrypt(id);
    assert!(
        opened.status.success(),
        "{}",
        String::from_utf8_lossy(&opened.stderr)
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&opened.stdout).unwrap(),
        tunnel
    );
    // Why the id matters: systemd refuses a credential under another name (such as the
    // `credentials.json` nixpkgs' LoadCredential uses).
    let other = decrypt("credentials.json");
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains("does not match"));

    // An unchanged re-install keeps the ciphertext, so cloudflared is not restarted for nothing.
    let _ = std::fs::remove_file(&log);
    assert_installed(&install_value(d, &m));
    assert_eq!(std::fs::read(&installed).unwrap(), ciphertext);
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !calls.contains("restart"),
        "nothing changed, nothing restarted: {calls}"
    );
    // The installer sealed it under the manifest's name, which is the unit's id.
    assert_eq!(secret(&m, id)["name"], id);

    // A rotated tunnel secret is re-sealed and restarts the tunnel (without blocking).
    let mut rotated = tunnel.clone();
    rotated["TunnelSecret"] = json!("cm90YXRlZC10dW5uZWwtc2VjcmV0LTMyLWJ5dGVzISE=");
    let resealed = seal_json(d, "tunnel-rotated.json", &rotated);
    for s in m["secrets"].as_array_mut().unwrap() {
        s["sopsFile"] = json!(resealed);
    }
    assert_installed(&install_value(d, &m));
    assert_ne!(std::fs::read(&installed).unwrap(), ciphertext);
    let opened = decrypt(id);
    assert!(opened.status.success());
    assert_eq!(
        serde_json::from_slice::<Value>(&opened.stdout).unwrap(),
        rotated
    );
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        calls.lines().any(|l| l.contains("restart")
            && l.contains("--no-block")
            && l.contains("cloudflared-tunnel-builder.service")),
        "the tunnel was not restarted: {calls}"
    );
}
