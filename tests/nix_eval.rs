//! The NixOS integration, evaluated with the real Nix (`nix-instantiate`, Debian's Nix 2.8 here):
//! every `.nix` file parses; the pure `nix/manifest.nix` (and the helpers in `nix/lib.nix` that
//! the module's assertions come from) give the expected manifests for the seeds' tunnel in both
//! layouts, defaults only, templates and neededForUsers; those manifests are accepted by the
//! built `hostseal install --check-mode …`; `nix/defaults.json` is the one source of defaults for
//! both the Nix side and the binary; and `nix/module.nix` itself, evaluated with nixpkgs' real
//! `lib`, cloudflared.nix, assertions.nix and activation-script.nix (vendored in
//! tests/fixtures/nixpkgs/, always: nothing here is skipped for lack of nixpkgs), wires the
//! activation snippets, the systemd unit, cloudflared and its assertions. tests/nix_module.rs
//! covers the rest of the modules.
//!
//! Evaluation needs no daemon and no writable store: `--store dummy://` with a private
//! `NIX_CONF_DIR`/`HOME`. If `nix-instantiate` is missing every test here says so loudly and
//! passes without checking anything (CI installs it; `HOSTSEAL_NIX_INSTANTIATE` overrides).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;
#[path = "nix_support/mod.rs"]
mod nix_support;

use nix_support::{
    eval, eval_fails, eval_nixos, failed, fixture, nix_cmd, nix_dir, nix_instantiate, repo, secret,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// `import nix/manifest.nix ARGS`.
fn manifest_expr(args: &str) -> String {
    format!("import {}/manifest.nix ({args})", nix_dir().display())
}

/// `(import nix/lib.nix { defaults = …; }).ATTR`.
fn lib_expr(attr: &str) -> String {
    let d = nix_dir();
    format!(
        "(import {d}/lib.nix {{ defaults = builtins.fromJSON (builtins.readFile {d}/defaults.json); }}).{attr}",
        d = d.display()
    )
}

fn defaults_json() -> Value {
    serde_json::from_str(&std::fs::read_to_string(nix_dir().join("defaults.json")).unwrap())
        .unwrap()
}

fn placeholder(name: &str) -> String {
    format!("<SOPS:{}:PLACEHOLDER>", hex::encode(Sha256::digest(name)))
}

/// The seeds' build machine: a tunnel carrying `ssh://127.0.0.1:22`, credentials sealed to
/// the machine's ssh host key, in the given layout.
fn seeds_tunnel(layout: &str) -> String {
    format!(
        r#"{{
          tunnels.builder = {{ sopsFile = "{t}"; layout = "{layout}"; }};
          settings = {{
            ageSshKeyPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
            ageKeyFile = "{k}";
            restartVia = "activation-lists";
          }};
        }}"#,
        t = fixture("tunnel.json"),
        k = fixture("host.key"),
    )
}

fn every_nix_file(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            every_nix_file(&p, out);
        } else if p.extension().is_some_and(|x| x == "nix") {
            out.push(p);
        }
    }
}

#[test]
fn every_nix_file_parses() {
    let Some(bin) = nix_instantiate() else { return };
    let mut files = vec![repo().join("flake.nix")];
    every_nix_file(&nix_dir(), &mut files);
    for want in [
        "manifest.nix",
        "lib.nix",
        "module.nix",
        "home-manager.nix",
        "darwin.nix",
        "remote-builders.nix",
        "tunnel.nix",
        "flake.nix",
    ] {
        assert!(
            files.iter().any(|f| f.ends_with(want)),
            "{want} is missing from {files:?}"
        );
    }
    let scratch = tempfile::tempdir().unwrap();
    for f in &files {
        let out = nix_cmd(&bin, scratch.path())
            .arg("--parse")
            .arg(f)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} does not parse: {}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn no_settings_yields_exactly_defaults_json() {
    let Some(bin) = nix_instantiate() else { return };
    let m = eval(&bin, &manifest_expr("{ }"));
    let d = defaults_json();
    let d = d.as_object().unwrap();
    for (k, v) in d {
        if k == "secret" || k == "forUsers" {
            continue; // per-secret defaults and the neededForUsers locations: tested below
        }
        assert_eq!(&m[k], v, "manifest field {k} differs from defaults.json");
    }
    assert_eq!(m["secrets"], json!([]));
    assert_eq!(m["templates"], json!([]));
    assert_eq!(m["placeholderBySecretName"], json!({}));
    // Nothing beyond sops-nix's manifest and defaults.json's keys.
    let extra: Vec<_> = m
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| {
            !d.contains_key(*k)
                && !["secrets", "templates", "placeholderBySecretName"].contains(&k.as_str())
        })
        .collect();
    assert!(extra.is_empty(), "unexpected fields {extra:?}");
}

#[test]
fn secret_defaults_come_from_defaults_json() {
    let Some(bin) = nix_instantiate() else { return };
    let m = eval(
        &bin,
        &manifest_expr(
            r#"{ secrets.db = { sopsFile = "/s.yaml"; }; secrets.blob = { sopsFile = "/b"; format = "binary"; }; }"#,
        ),
    );
    let d = defaults_json();
    let s = secret(&m, "db");
    for k in [
        "format",
        "mode",
        "owner",
        "group",
        "onFailure",
        "restartUnits",
        "reloadUnits",
    ] {
        assert_eq!(s[k], d["secret"][k], "secret field {k}");
    }
    // As in sops-nix, `key` of a yaml/json secret defaults to its name; whole-file formats use
    // defaults.json's key (""), which the installer ignores for them anyway.
    assert_eq!(s["key"], "db");
    assert_eq!(secret(&m, "blob")["key"], d["secret"]["key"]);
    assert_eq!(s["path"], "/run/secrets/db");
    assert_eq!(s["sopsFile"], "/s.yaml");
    assert!(s.get("uid").is_none() && s.get("entry").is_none());
}

#[test]
fn manifest_nix_reads_defaults_json_at_evaluation() {
    let Some(bin) = nix_instantiate() else { return };
    let src = std::fs::read_to_string(nix_dir().join("manifest.nix")).unwrap();
    assert!(src.contains("builtins.fromJSON (builtins.readFile ./defaults.json)"));
    // A copy of nix/ with another lockPath: the manifest follows the file, so nothing is
    // hard-coded on the Nix side.
    let copy = tempfile::tempdir().unwrap();
    for f in ["manifest.nix", "lib.nix"] {
        std::fs::copy(nix_dir().join(f), copy.path().join(f)).unwrap();
    }
    let mut d = defaults_json();
    d["lockPath"] = json!("/run/elsewhere/lock");
    d["secret"]["mode"] = json!("0440");
    std::fs::write(copy.path().join("defaults.json"), d.to_string()).unwrap();
    let m = eval(
        &bin,
        &format!(
            r#"import {}/manifest.nix {{ secrets.x.sopsFile = "/s.yaml"; }}"#,
            copy.path().display()
        ),
    );
    assert_eq!(m["lockPath"], "/run/elsewhere/lock");
    assert_eq!(secret(&m, "x")["mode"], "0440");
}

/// The binary embeds the same file (`include_str!`), so the installer's defaults and the
/// module's cannot drift. Fails until the installer lands.
#[test]
fn binary_embeds_defaults_json() {
    fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                rs_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    rs_files(&repo().join("src"), &mut files);
    let embeds = files.iter().any(|f| {
        let s = std::fs::read_to_string(f).unwrap();
        s.lines()
            .any(|l| l.contains("include_str!") && l.contains("nix/defaults.json"))
    });
    assert!(
        embeds,
        "no `include_str!(\"…/nix/defaults.json\")` under src/: the installer must embed it"
    );
}

fn assert_tunnel(m: &Value, owner: &str, group: &str, mode: &str) {
    let s = secret(m, "cloudflared/builder.json");
    assert_eq!(s["owner"], owner);
    assert_eq!(s["group"], group);
    assert_eq!(s["mode"], mode);
    assert_eq!(s["format"], "json");
    assert_eq!(s["key"], "");
    assert_eq!(s["sopsFile"], fixture("tunnel.json"));
    assert_eq!(s["path"], "/run/secrets/cloudflared/builder.json");
    assert_eq!(
        s["restartUnits"],
        json!(["cloudflared-tunnel-builder.service"])
    );
    assert_eq!(s["reloadUnits"], json!([]), "a tunnel is never reloaded");
    assert_eq!(s["validate"], "cloudflared-credentials");
    assert_eq!(m["restartVia"], "activation-lists");
    assert_eq!(
        m["ageSshKeyPaths"],
        json!(["/etc/ssh/ssh_host_ed25519_key"])
    );
    assert_eq!(m["secrets"].as_array().unwrap().len(), 1);
}

#[test]
fn seeds_tunnel_load_credential_layout_is_root_0400() {
    let Some(bin) = nix_instantiate() else { return };
    let m = eval(&bin, &manifest_expr(&seeds_tunnel("loadCredential")));
    assert_tunnel(&m, "root", "root", "0400");
}

#[test]
fn seeds_tunnel_legacy_user_layout_is_cloudflared_0600() {
    let Some(bin) = nix_instantiate() else { return };
    let m = eval(&bin, &manifest_expr(&seeds_tunnel("legacyUser")));
    assert_tunnel(&m, "cloudflared", "cloudflared", "0600");
}

#[test]
fn tunnel_service_points_at_the_installed_secret() {
    let Some(bin) = nix_instantiate() else { return };
    let v = eval(
        &bin,
        &format!(
            r#"{} {{ symlinkPath = "/run/s"; }} {{
                 a = {{ sopsFile = "/a.json"; layout = "loadCredential"; }};
                 b = {{ sopsFile = "/b"; layout = "legacyUser"; tokenFile = true; certificateSopsFile = "/c.pem"; }};
               }}"#,
            lib_expr("tunnelServiceSettings")
        ),
    );
    assert_eq!(
        v,
        json!({
            "a": { "credentialsFile": "/run/s/cloudflared/a.json" },
            "b": { "tokenFile": "/run/s/cloudflared/b.token",
                   "certificateFile": "/run/s/cloudflared/b-cert.pem" }
        })
    );
    // The token and the cert become secrets with the tunnel's ownership and restart.
    let m = eval(
        &bin,
        &manifest_expr(
            r#"{ tunnels.b = { sopsFile = "/b"; layout = "legacyUser"; tokenFile = true; certificateSopsFile = "/c.pem"; }; }"#,
        ),
    );
    let tok = secret(&m, "cloudflared/b.token");
    assert_eq!(tok["format"], "binary");
    assert_eq!(tok["validate"], "cloudflared-token");
    let cert = secret(&m, "cloudflared/b-cert.pem");
    assert_eq!(cert["sopsFile"], "/c.pem");
    assert_eq!(cert["owner"], "cloudflared");
    assert_eq!(cert["mode"], "0600");
    assert_eq!(
        cert["restartUnits"],
        json!(["cloudflared-tunnel-b.service"])
    );
}

#[test]
fn tunnel_layout_follows_the_nixpkgs_release() {
    let Some(bin) = nix_instantiate() else { return };
    let v = eval(
        &bin,
        &format!(
            r#"map {} [ "23.11" "24.11" "25.05" "25.11" "26.05pre-git" ]"#,
            lib_expr("tunnelLayoutFor")
        ),
    );
    assert_eq!(
        v,
        json!([
            "legacyUser",
            "legacyUser",
            "loadCredential",
            "loadCredential",
            "loadCredential"
        ])
    );
}

/// The activation path follows the release as the tunnel layout does: the systemd unit from
/// 26.05 on (the activation restart lists are deprecated there), pre-releases included.
#[test]
fn activation_path_follows_the_nixpkgs_release() {
    let Some(bin) = nix_instantiate() else { return };
    let v = eval(
        &bin,
        &format!(
            r#"map {} [ "24.11" "25.11" "26.05pre-git" "26.05" "26.11" "27.05" ]"#,
            lib_expr("systemdActivationFor")
        ),
    );
    assert_eq!(v, json!([false, false, true, true, true, true]));
}

#[test]
fn templates_render_under_rendered_with_sops_nix_placeholders() {
    let Some(bin) = nix_instantiate() else { return };
    let m = eval(
        &bin,
        &manifest_expr(
            r#"{
              secrets.db_password = { sopsFile = "/s.yaml"; };
              secrets."smtp/password" = { sopsFile = "/s.yaml"; key = "smtp/password"; };
              templates."app.env" = { content = "DB=x\n"; owner = "app"; restartUnits = [ "app.service" ]; };
              templates.other = { file = "/nix/store/0000-other"; path = "/etc/other"; uid = 1001; };
            }"#,
        ),
    );
    let t = &m["templates"];
    assert_eq!(t.as_array().unwrap().len(), 2);
    let app = &t[0];
    assert_eq!(app["name"], "app.env");
    assert_eq!(app["content"], "DB=x\n");
    assert_eq!(app["path"], "/run/secrets/rendered/app.env");
    assert_eq!(app["owner"], "app");
    assert_eq!(app["mode"], "0400");
    assert_eq!(app["restartUnits"], json!(["app.service"]));
    assert!(app.get("file").is_none());
    let other = &t[1];
    assert_eq!(other["file"], "/nix/store/0000-other");
    assert_eq!(other["path"], "/etc/other");
    assert_eq!(other["owner"], Value::Null, "uid alone means owner null");
    assert_eq!(other["uid"], 1001);
    assert_eq!(
        m["placeholderBySecretName"],
        json!({
            "db_password": placeholder("db_password"),
            "smtp/password": placeholder("smtp/password"),
        })
    );
    assert_eq!(secret(&m, "smtp/password")["key"], "smtp/password");
}

#[test]
fn needed_for_users_goes_to_its_own_manifest() {
    let Some(bin) = nix_instantiate() else { return };
    let args = format!(
        r#"secrets.user_password = {{ sopsFile = "{s}"; neededForUsers = true; }};
           secrets.db_password = {{ sopsFile = "{s}"; }};
           templates.t = {{ content = "x"; }};"#,
        s = fixture("secrets.yaml")
    );
    let regular = eval(&bin, &manifest_expr(&format!("{{ {args} }}")));
    let for_users = eval(
        &bin,
        &manifest_expr(&format!("{{ {args} forUsers = true; }}")),
    );
    let d = defaults_json();
    assert_eq!(regular["secrets"].as_array().unwrap().len(), 1);
    secret(&regular, "db_password");
    assert_eq!(regular["templates"].as_array().unwrap().len(), 1);

    assert_eq!(for_users["secrets"].as_array().unwrap().len(), 1);
    let u = secret(&for_users, "user_password");
    assert_eq!(u["path"], "/run/secrets-for-users/user_password");
    assert_eq!(u["owner"], "root");
    assert_eq!(for_users["templates"], json!([]));
    assert_eq!(
        for_users["secretsMountPoint"],
        d["forUsers"]["secretsMountPoint"]
    );
    assert_eq!(for_users["symlinkPath"], d["forUsers"]["symlinkPath"]);
    assert_ne!(for_users["symlinkPath"], regular["symlinkPath"]);
}

#[test]
fn credential_for_restarts_and_explicit_fields_win() {
    let Some(bin) = nix_instantiate() else { return };
    let m = eval(
        &bin,
        &manifest_expr(
            r#"{
              settings = { defaultSopsFile = "/d.yaml"; defaultSopsFormat = "json"; keepGenerations = 5; systemctl = "/sys/bin/systemctl"; restartVia = "systemctl"; };
              secrets.a = { credentialFor = [ "dyn.service" ]; restartUnits = [ "dyn.service" "b.service" ]; entry = "A"; onFailure = "remove"; mode = "0440"; group = "wheel"; };
            }"#,
        ),
    );
    let a = secret(&m, "a");
    assert_eq!(a["sopsFile"], "/d.yaml");
    assert_eq!(a["format"], "json");
    assert_eq!(a["restartUnits"], json!(["dyn.service", "b.service"]));
    assert_eq!(a["entry"], "A");
    assert_eq!(a["onFailure"], "remove");
    assert_eq!(a["mode"], "0440");
    assert_eq!(a["group"], "wheel");
    assert_eq!(m["keepGenerations"], 5);
    assert_eq!(m["systemctl"], "/sys/bin/systemctl");
    assert_eq!(m["restartVia"], "systemctl");
}

#[test]
fn missing_sops_file_and_name_clash_fail_with_clear_messages() {
    let Some(bin) = nix_instantiate() else { return };
    let e = eval_fails(&bin, &manifest_expr("{ secrets.x = { }; }"));
    assert!(
        e.contains("hostseal.secrets.\"x\".sopsFile is not set"),
        "{e}"
    );
    let e = eval_fails(
        &bin,
        &manifest_expr(
            r#"{ tunnels.t = { sopsFile = "/t"; layout = "loadCredential"; }; secrets."cloudflared/t.json".sopsFile = "/x"; }"#,
        ),
    );
    assert!(e.contains("defined both by hostseal.tunnels"), "{e}");
    let e = eval_fails(
        &bin,
        &manifest_expr(r#"{ tunnels.t = { sopsFile = "/t"; }; }"#),
    );
    assert!(
        e.contains("hostseal.tunnels.\"t\".layout is not set"),
        "{e}"
    );
}

#[test]
fn assertion_messages_name_the_option() {
    let Some(bin) = nix_instantiate() else { return };
    let p = eval(
        &bin,
        &format!(
            r#"{} {{
              secrets.a = {{ sopsFile = "/a"; owner = "bob"; group = "staff"; }};
              secrets.pw = {{ sopsFile = "/a"; neededForUsers = true; owner = "alice"; }};
              secrets.n = {{ sopsFile = "/a"; owner = "1001"; }};
              secrets.c = {{ sopsFile = "/a"; credentialFor = [ "x.service" ]; reloadUnits = [ "x.service" ]; }};
              secrets."c/d" = {{ sopsFile = "/a"; }};
              secrets."rendered/x" = {{ sopsFile = "/a"; }};
              templates.t.content = "";
              tunnels.t = {{ sopsFile = "/t"; layout = "legacyUser"; }};
              users = {{ alice = {{ }}; }};
              groups = {{ }};
              settings.ageKeyFile = "/var/lib/hostseal/key.txt";
              initrdPaths = [ "/var/lib/hostseal/key.txt" ];
              cloudflaredTunnels.other.credentialsFile = /tmp/creds.json;
              sopsNixSecrets.old = {{ }};
            }}"#,
            lib_expr("problems")
        ),
    );
    let p: Vec<String> = serde_json::from_value(p).unwrap();
    let has = |needle: &str| {
        assert!(
            p.iter().any(|m| m.contains(needle)),
            "no message containing {needle:?} in {p:#?}"
        )
    };
    has("hostseal.secrets.\"a\".owner = \"bob\": no such user in users.users");
    has("hostseal.secrets.\"a\".group = \"staff\": no such group in users.groups");
    has("hostseal.secrets.\"pw\": neededForUsers secrets");
    has("hostseal.secrets.\"c\": credentialFor units are restarted, never reloaded");
    has("the legacyUser layout needs the cloudflared user");
    has("hostseal.age.hostRecipient is not set");
    has("is also copied into the initrd");
    has("services.cloudflared.tunnels.\"other\".credentialsFile");
    has("hostseal and sops-nix both install into /run/secrets");
    has("\"c\" cannot be both a file and the directory of \"c/d\"");
    has("\"rendered/x\" is under rendered/, which holds the templates");
    assert!(
        !p.iter().any(|m| m.contains("\"n\"")),
        "a numeric owner needs no users.users entry: {p:#?}"
    );
    // A correct configuration has no problems at all.
    let ok = eval(
        &bin,
        &format!(
            r#"{} {{
              secrets.a = {{ sopsFile = "/a"; owner = "alice"; }};
              tunnels.t = {{ sopsFile = "/t"; layout = "loadCredential"; }};
              users.alice = {{ }};
              settings = {{ ageSshKeyPaths = [ "/etc/ssh/ssh_host_ed25519_key" ]; hostRecipient = "age1x"; }};
              cloudflaredTunnels.t.credentialsFile = "/run/secrets/cloudflared/t.json";
            }}"#,
            lib_expr("problems")
        ),
    );
    assert_eq!(ok, json!([]));
}

/// The manifests above, written as the module writes them, pass the installer's checks.
/// `--check-mode manifest` validates structure; `sopsfile` also parses the sealed fixtures
/// (written by the real sops) and checks each key exists. Fails until the installer lands.
#[test]
fn manifests_pass_hostseal_install_check_modes() {
    let Some(bin) = nix_instantiate() else { return };
    let s = fixture("secrets.yaml");
    let configs = [
        ("defaults", "{ }".to_string()),
        ("tunnel-loadCredential", seeds_tunnel("loadCredential")),
        ("tunnel-legacyUser", seeds_tunnel("legacyUser")),
        (
            "templates",
            format!(
                r#"{{ secrets.db_password.sopsFile = "{s}"; secrets.smtp = {{ sopsFile = "{s}"; key = "smtp/password"; }};
                     templates."app.env".content = "DB=x\n"; settings.ageKeyFile = "/nonexistent/key.txt"; }}"#
            ),
        ),
        (
            "forUsers",
            format!(
                r#"{{ secrets.user_password = {{ sopsFile = "{s}"; neededForUsers = true; }}; forUsers = true;
                     settings.sshKeyPaths = [ "/nonexistent/ssh_host_rsa_key" ]; }}"#
            ),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, args) in configs {
        let m = eval(&bin, &manifest_expr(&args));
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
        for mode in ["manifest", "sopsfile"] {
            // As the module's build runs it: the sandbox has no users.
            let out = common::hostseal(dir.path())
                .args(["install", "--check-mode", mode, "--ignore-passwd"])
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{name}: hostseal install --check-mode {mode} failed ({:?}): {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// A key that does not exist in the sealed file fails the build-time check (`sopsfile`), not
/// activation. Fails until the installer lands.
#[test]
fn wrong_key_fails_check_mode_sopsfile() {
    let Some(bin) = nix_instantiate() else { return };
    let m = eval(
        &bin,
        &manifest_expr(&format!(
            r#"{{ secrets.nope = {{ sopsFile = "{}"; key = "no_such_key"; }}; }}"#,
            fixture("secrets.yaml")
        )),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.json");
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    let out = common::hostseal(dir.path())
        .args(["install", "--check-mode", "sopsfile"])
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        err.contains("no_such_key"),
        "the error names the key: {err}"
    );
    assert!(
        !err.contains("not implemented"),
        "the installer has not landed yet: {err}"
    );
}

// ---- the module itself, with nixpkgs' lib and stubbed NixOS options --------------------------

/// The seeds' builder as a NixOS configuration: sealed files given as Nix paths.
fn module_config(extra: &str) -> String {
    format!(
        r#"{{
          services.openssh.enable = true;
          services.cloudflared.enable = true;
          users.users.cloudflared.group = "cloudflared";
          users.groups.cloudflared = {{ }};
          hostseal = {{
            age.hostRecipient = "age1f7h6xz4cquezjxc8xf335udry0calxuxvl7jffvzv4znpn8ymsuq6dtz65";
            tunnels.builder = {{ sopsFile = {t}; layout = "legacyUser"; }};
            secrets.db_password = {{ sopsFile = {s}; credentialFor = [ "dyn.service" ]; }};
            secrets.user_password = {{ sopsFile = {s}; neededForUsers = true; }};
            templates."app.env".content = "DB=x";
          }};
          {extra}
        }}"#,
        t = fixture("tunnel.json"),
        s = fixture("secrets.yaml"),
    )
}

#[test]
fn module_activation_snippets_and_wiring() {
    let Some(bin) = nix_instantiate() else { return };
    let r = eval_nixos(&bin, &module_config("system.nixos.release = \"25.11\";"));
    assert_eq!(r["failedAssertions"], json!([]), "{r:#}");
    let act = &r["activation"];
    let deps = |n: &str| act[n]["deps"].as_array().unwrap().clone();
    assert!(
        deps("hostseal").contains(&json!("users")) && deps("hostseal").contains(&json!("groups"))
    );
    assert!(deps("hostseal").contains(&json!("hostseal-keys")));
    assert!(
        deps("users").contains(&json!("hostseal-for-users")),
        "for-users runs before users"
    );
    assert!(!deps("hostseal-for-users").contains(&json!("users")));
    assert_eq!(act["hostseal"]["supportsDryActivation"], true);
    let text = act["hostseal"]["text"].as_str().unwrap();
    assert!(text.contains("dry-activate") && text.contains("--dry-run"));
    assert!(act["hostseal-for-users"]["text"]
        .as_str()
        .unwrap()
        .contains("--ignore-passwd"));
    assert!(act["hostseal-keys"]["text"]
        .as_str()
        .unwrap()
        .contains("ssh-keygen -q -t ed25519 -N \"\" -C \"\" -f /etc/ssh/ssh_host_ed25519_key"));

    let m = &r["manifest"];
    assert_eq!(m["restartVia"], "activation-lists");
    assert_eq!(
        m["ageSshKeyPaths"],
        json!(["/etc/ssh/ssh_host_ed25519_key"])
    );
    let tunnel = secret(m, "cloudflared/builder.json");
    assert_eq!(tunnel["owner"], "cloudflared");
    assert!(tunnel["sopsFile"]
        .as_str()
        .unwrap()
        .starts_with("/nix/store/"));
    assert_eq!(
        secret(m, "db_password")["restartUnits"],
        json!(["dyn.service"])
    );
    assert_eq!(
        secret(&r["manifestForUsers"], "user_password")["path"],
        "/run/secrets-for-users/user_password"
    );
    assert!(r["manifestCheck"]
        .as_str()
        .unwrap()
        .contains("install --check-mode sopsfile"));

    assert_eq!(
        r["cloudflared"],
        json!({"builder": {"credentialsFile": "/run/secrets/cloudflared/builder.json"}})
    );
    assert_eq!(
        r["services"]["dyn"]["serviceConfig"]["LoadCredential"],
        json!(["db_password:/run/secrets/db_password"])
    );
    let check = r["checks"][0].as_str().unwrap();
    assert!(
        check.contains("hostseal audit --recipient age1f7h6"),
        "{check}"
    );
    assert!(check.contains("--require"));
    assert_eq!(r["placeholder"]["db_password"], placeholder("db_password"));
}

#[test]
fn module_systemd_unit_variant() {
    let Some(bin) = nix_instantiate() else { return };
    let r = eval_nixos(
        &bin,
        &module_config("systemd.sysusers.enable = true; system.nixos.release = \"25.11\";"),
    );
    assert_eq!(r["failedAssertions"], json!([]), "{r:#}");
    assert_eq!(
        r["activation"]["hostseal"],
        Value::Null,
        "no activation snippet"
    );
    let unit = &r["services"]["hostseal-install"];
    assert_eq!(unit["serviceConfig"]["Type"], "oneshot");
    assert_eq!(unit["serviceConfig"]["RemainAfterExit"], true);
    assert_eq!(unit["unitConfig"]["DefaultDependencies"], false);
    assert!(unit["before"]
        .as_array()
        .unwrap()
        .contains(&json!("sysinit.target")));
    assert_eq!(unit["requiredBy"], json!(["sysinit-reactivation.target"]));
    assert!(unit["unitConfig"]["RequiresMountsFor"]
        .as_array()
        .unwrap()
        .contains(&json!("/etc/ssh/ssh_host_ed25519_key")));
    assert_eq!(r["manifest"]["restartVia"], "systemctl");
    // nixpkgs' cloudflared.nix adds its own network ordering beside hostseal's.
    for consumer in ["cloudflared-tunnel-builder", "dyn"] {
        let s = &r["services"][consumer];
        for field in ["after", "wants"] {
            assert!(
                s[field]
                    .as_array()
                    .is_some_and(|a| a.contains(&json!("hostseal-install.service"))),
                "{consumer}.{field}: {s:#}"
            );
        }
    }
    assert_eq!(
        r["services"]["cloudflared-tunnel-builder"]["serviceConfig"]["LoadCredential"],
        json!(["credentials.json:/run/secrets/cloudflared/builder.json"]),
        "nixpkgs' cloudflared.nix reads the installed file"
    );
    let users = &r["services"]["hostseal-install-for-users"];
    assert!(users["before"]
        .as_array()
        .unwrap()
        .contains(&json!("systemd-sysusers.service")));
}

#[test]
fn module_assertions_fire() {
    let Some(bin) = nix_instantiate() else { return };
    let r = eval_nixos(
        &bin,
        &module_config(&format!(
            r#"hostseal.secrets.other = {{ sopsFile = "/home/me/s.yaml"; owner = "nobody-here"; }};
               services.cloudflared.tunnels.manual.credentialsFile = {};
               boot.initrd.network.ssh.hostKeys = [ "/etc/ssh/ssh_host_ed25519_key" ];"#,
            fixture("README.md")
        )),
    );
    let msgs = failed(&r);
    for needle in [
        "hostseal.secrets.\"other\".owner = \"nobody-here\": no such user",
        "hostseal.secrets.\"other\".sopsFile = \"/home/me/s.yaml\" is not in the Nix store",
        "services.cloudflared.tunnels.\"manual\".credentialsFile",
        "is also copied into the initrd",
    ] {
        assert!(
            msgs.iter().any(|m| m.contains(needle)),
            "{needle:?} not in {msgs:#?}"
        );
    }
}

// ---- property: whatever the secrets, the manifest keeps what was said and fills the rest ------

mod prop {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    struct Spec {
        mode: Option<String>,
        owner: Option<String>,
        units: Vec<String>,
        for_users: bool,
    }

    fn spec() -> impl Strategy<Value = Spec> {
        (
            proptest::option::of("0[0-7]{3}"),
            proptest::option::of("[a-z][a-z0-9]{0,7}"),
            proptest::collection::vec("[a-z][a-z0-9-]{0,6}\\.service", 0..3),
            any::<bool>(),
        )
            .prop_map(|(mode, owner, units, for_users)| Spec {
                mode,
                owner,
                units,
                for_users,
            })
    }

    fn nix_secret(s: &Spec) -> String {
        let mut out = String::from("{ sopsFile = \"/s.yaml\"; ");
        if let Some(m) = &s.mode {
            out += &format!("mode = \"{m}\"; ");
        }
        if let Some(o) = &s.owner {
            out += &format!("owner = \"{o}\"; ");
        }
        let units: Vec<String> = s.units.iter().map(|u| format!("\"{u}\"")).collect();
        out += &format!(
            "restartUnits = [ {} ]; neededForUsers = {}; }}",
            units.join(" "),
            s.for_users
        );
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn manifest_keeps_given_fields_and_defaults_the_rest(
            secrets in proptest::collection::btree_map("[a-z][a-z0-9_-]{0,8}(/[a-z0-9]{1,5})?", spec(), 0..5),
            for_users in any::<bool>(),
        ) {
            let Some(bin) = nix_instantiate() else { return Ok(()) };
            let body: String = secrets
                .iter()
                .map(|(n, s)| format!("\"{n}\" = {}; ", nix_secret(s)))
                .collect();
            let m = eval(&bin, &manifest_expr(&format!("{{ secrets = {{ {body} }}; forUsers = {for_users}; }}")));
            let d = defaults_json();
            let link = if for_users { &d["forUsers"]["symlinkPath"] } else { &d["symlinkPath"] };
            let chosen: BTreeMap<_, _> = secrets.iter().filter(|(_, s)| s.for_users == for_users).collect();
            let got = m["secrets"].as_array().unwrap();
            prop_assert_eq!(got.len(), chosen.len());
            for (name, s) in chosen {
                let e = secret(&m, name);
                prop_assert_eq!(&e["path"], &json!(format!("{}/{name}", link.as_str().unwrap())));
                prop_assert_eq!(&e["key"], &json!(name));
                let mode = s.mode.as_ref().map_or(d["secret"]["mode"].clone(), |m| json!(m));
                prop_assert_eq!(&e["mode"], &mode);
                prop_assert_eq!(&e["owner"], &s.owner.as_ref().map_or(d["secret"]["owner"].clone(), |o| json!(o)));
                let mut units: Vec<&String> = Vec::new();
                for u in &s.units {
                    if !units.contains(&u) {
                        units.push(u);
                    }
                }
                prop_assert_eq!(&e["restartUnits"], &json!(units), "duplicates dropped, order kept");
                prop_assert_eq!(&m["placeholderBySecretName"][name.as_str()], &json!(placeholder(name)));
            }
        }
    }
}
