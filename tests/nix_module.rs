//! `nix/module.nix` evaluated with nixpkgs' real `lib`, cloudflared.nix, assertions.nix and
//! activation-script.nix (tests/fixtures/nixpkgs/), stubs with nixpkgs' types for the rest:
//! the activation path per NixOS release, the systemd-sysusers wiring, a configuration written
//! for sops-nix after renaming `sops.` to `hostseal.`, every assertion the module adds, and a
//! remote-builder client (buildMachines, known hosts, the ssh `Host` block, the Access token
//! wrapper — run for real — and no token value anywhere in the evaluated configuration).
//! docs/nixos.md and docs/remote-builders.md describe what is tested here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;
#[path = "nix_support/mod.rs"]
mod nix_support;

use nix_support::{
    assert_fires, eval_darwin, eval_home_manager, eval_nixos, failed, fixture, nix_instantiate,
    secret,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

/// A host with one tunnel and secrets of both kinds on the given release, plus `extra`.
fn host(release: &str, extra: &str) -> String {
    format!(
        r#"{{ config, lib, pkgs, ... }}: {{
          services.openssh.enable = true;
          services.cloudflared.enable = true;
          system.nixos.release = "{release}";
          hostseal = {{
            age.hostRecipient = "age1f7h6xz4cquezjxc8xf335udry0calxuxvl7jffvzv4znpn8ymsuq6dtz65";
            tunnels.builder.sopsFile = {t};
            secrets.db_password = {{ sopsFile = {s}; restartUnits = [ "app.service" ]; }};
            secrets.user_password = {{ sopsFile = {s}; neededForUsers = true; }};
          }};
          {extra}
        }}"#,
        t = fixture("tunnel.json"),
        s = fixture("secrets.yaml"),
    )
}

fn has(list: &Value, item: &str) -> bool {
    list.as_array().is_some_and(|a| a.contains(&json!(item)))
}

// ---- activation path per NixOS release -----------------------------------------------------

#[test]
fn release_26_05_and_later_install_from_the_systemd_unit() {
    let Some(bin) = nix_instantiate() else { return };
    for release in ["26.05", "26.05pre-git", "26.11"] {
        let r = eval_nixos(&bin, &host(release, ""));
        assert_eq!(failed(&r), Vec::<String>::new(), "{release}");
        let unit = &r["services"]["hostseal-install"];
        assert!(
            has(&unit["before"], "sysinit-reactivation.target"),
            "{release}: {unit:#}"
        );
        assert!(has(&unit["requiredBy"], "sysinit-reactivation.target"));
        assert!(unit["serviceConfig"]["ExecStart"]
            .as_str()
            .unwrap()
            .ends_with("-hostseal-manifest.json"));
        assert_eq!(
            r["activation"]["hostseal"],
            Value::Null,
            "{release}: no activation snippet for the regular secrets"
        );
        let m = &r["manifest"];
        assert_eq!(
            m["restartVia"], "systemctl",
            "{release}: no activation lists"
        );
        assert!(m["systemctl"].as_str().unwrap().ends_with("/bin/systemctl"));
        // The tunnel's unit waits for the installer (nixpkgs' cloudflared.nix defines it).
        assert!(has(
            &r["services"]["cloudflared-tunnel-builder"]["after"],
            "hostseal-install.service"
        ));
        // Users are still made by the activation script here (no sysusers): the password
        // secrets must exist before it, so they stay a snippet ordered before `users`.
        assert!(has(&r["activation"]["users"]["deps"], "hostseal-for-users"));
        assert_eq!(r["services"]["hostseal-install-for-users"], Value::Null);
        assert!(r["activationScript"]
            .as_str()
            .unwrap()
            .contains("--ignore-passwd"));
    }
}

#[test]
fn releases_before_26_05_keep_the_activation_snippet_and_lists() {
    let Some(bin) = nix_instantiate() else { return };
    for release in ["25.05", "25.11"] {
        let r = eval_nixos(&bin, &host(release, ""));
        assert_eq!(failed(&r), Vec::<String>::new(), "{release}");
        assert_eq!(r["services"]["hostseal-install"], Value::Null, "{release}");
        assert!(has(&r["activation"]["hostseal"]["deps"], "users"));
        assert_eq!(r["manifest"]["restartVia"], "activation-lists", "{release}");
        // nixpkgs' activation-script.nix orders the snippets: keys, for-users, users, hostseal.
        let script = r["activationScript"].as_str().unwrap();
        let at = |needle: &str| {
            script
                .find(needle)
                .unwrap_or_else(|| panic!("{needle} not in the activation script"))
        };
        assert!(at("snippet hostseal-for-users:") < at("snippet users:"));
        assert!(at("snippet users:") < at("snippet hostseal:"));
    }
    // The tunnel layout follows the same release.
    let r = eval_nixos(
        &bin,
        &host(
            "24.11",
            r#"users.users.cloudflared.group = "cloudflared"; users.groups.cloudflared = { };"#,
        ),
    );
    assert_eq!(
        secret(&r["manifest"], "cloudflared/builder.json")["owner"],
        "cloudflared"
    );
}

#[test]
fn opting_out_of_the_unit_on_26_05_warns() {
    let Some(bin) = nix_instantiate() else { return };
    let r = eval_nixos(
        &bin,
        &host("26.05", "hostseal.useSystemdActivation = false;"),
    );
    assert_eq!(failed(&r), Vec::<String>::new());
    assert_eq!(r["manifest"]["restartVia"], "activation-lists");
    assert!(has(&r["activation"]["hostseal"]["deps"], "users"));
    let warnings: Vec<String> = serde_json::from_value(r["warnings"].clone()).unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("restarting units from the activation script is deprecated")),
        "{warnings:#?}"
    );
    // (nixpkgs' cloudflared.nix adds an empty warning per tunnel without a raw token.)
    let quiet = eval_nixos(&bin, &host("25.11", ""));
    assert_eq!(quiet["warnings"], json!([""]));
}

#[test]
fn sysusers_hosts_install_both_manifests_from_units_restarting_via_systemctl() {
    let Some(bin) = nix_instantiate() else { return };
    for release in ["25.11", "26.05"] {
        let r = eval_nixos(
            &bin,
            &host(
                release,
                "systemd.sysusers.enable = true; users.mutableUsers = true;",
            ),
        );
        assert_eq!(failed(&r), Vec::<String>::new(), "{release}");
        let unit = &r["services"]["hostseal-install"];
        assert_eq!(unit["serviceConfig"]["Type"], "oneshot");
        assert_eq!(unit["unitConfig"]["DefaultDependencies"], false);
        assert!(has(&unit["before"], "sysinit-reactivation.target"));
        assert!(has(&unit["after"], "systemd-sysusers.service"));
        let users = &r["services"]["hostseal-install-for-users"];
        assert!(has(&users["before"], "systemd-sysusers.service"));
        assert!(users["serviceConfig"]["ExecStart"]
            .as_str()
            .unwrap()
            .contains("--ignore-passwd"));
        for a in ["hostseal", "hostseal-for-users"] {
            assert_eq!(r["activation"][a], Value::Null, "{release}: {a}");
        }
        // The restart goes through systemctl (with --no-block, added by the installer: see
        // tests/nix_install.rs for the recorded arguments), never through activation lists.
        assert_eq!(r["manifest"]["restartVia"], "systemctl");
        assert_eq!(r["manifestForUsers"]["restartVia"], "systemctl");
        assert!(has(
            &r["services"]["app"]["after"],
            "hostseal-install.service"
        ));
        // sops-nix's snippet names still resolve (empty, nothing to order after).
        assert_eq!(r["activation"]["setupSecrets"]["deps"], json!([]));
    }
}

// ---- a sops-nix configuration after `sops.` → `hostseal.` ----------------------------------

fn sops_nix_style(release: &str) -> String {
    format!(
        r##"{{ config, lib, pkgs, ... }}: {{
          services.openssh.enable = true;
          system.nixos.release = "{release}";
          users.users.app = {{ }};
          hostseal.defaultSopsFile = {s};
          hostseal.age.plugins = [ pkgs.age-plugin-yubikey ];
          hostseal.gnupg.sshKeyPaths = [ ];
          hostseal.log = [ "secretChanges" ];
          hostseal.secrets.db_password = {{ owner = "app"; restartUnits = [ "app.service" ]; }};
          hostseal.secrets.user_password.neededForUsers = true;
          hostseal.placeholder.db_password = "@DB_PASSWORD@";
          hostseal.templates."app.env".content = "DB=${{config.hostseal.placeholder.db_password}}";
          systemd.services.app.restartTriggers = [ config.hostseal.secrets.db_password.sopsFileHash ];
          system.activationScripts.app = {{
            deps = [ "setupSecrets" ];
            text = "test -e /run/secrets/db_password # app-snippet";
          }};
          system.activationScripts.app-users = lib.stringAfter [ "setupSecretsForUsers" "generate-age-key" ] "# app-users";
        }}"##,
        s = fixture("secrets.yaml"),
    )
}

#[test]
fn sops_nix_configuration_evaluates_after_the_rename() {
    let Some(bin) = nix_instantiate() else { return };
    let sealed = std::fs::read(fixture("secrets.yaml")).unwrap();
    let hash = hex::encode(Sha256::digest(&sealed));
    for release in ["25.11", "26.05"] {
        let r = eval_nixos(&bin, &sops_nix_style(release));
        assert_eq!(failed(&r), Vec::<String>::new(), "{release}");
        // sopsFileHash as sops-nix computes it: sha256 of the sealed file, hex.
        assert_eq!(r["sopsFileHashes"]["db_password"], hash);
        assert_eq!(r["services"]["app"]["restartTriggers"], json!([hash]));
        // age.plugins takes packages; the manifest gets their binaries' absolute paths.
        assert_eq!(
            r["manifest"]["agePlugins"],
            json!(["/nix/store/00000000000000000000000000000000-age-plugin-yubikey/bin/age-plugin-yubikey"])
        );
        // sops-nix's gnupg.sshKeyPaths (rsa host keys) and log switches.
        assert_eq!(r["manifest"]["sshKeyPaths"], json!([]));
        assert_eq!(
            r["manifest"]["logging"],
            json!({"keyImport": false, "secretChanges": true})
        );
        // A placeholder set by the configuration reaches the manifest and the template.
        assert_eq!(
            r["manifest"]["placeholderBySecretName"]["db_password"],
            "@DB_PASSWORD@"
        );
        assert_eq!(r["manifest"]["templates"][0]["content"], "DB=@DB_PASSWORD@");
        // The snippets that named sops-nix's run after hostseal's, with a deprecation warning.
        let script = r["activationScript"].as_str().unwrap();
        assert!(script.contains("# app-snippet") && script.contains("# app-users"));
        let warnings: Vec<String> = serde_json::from_value(r["warnings"].clone()).unwrap();
        for n in ["app", "app-users"] {
            assert!(
                warnings.iter().any(|w| w.contains(&format!(
                    "system.activationScripts.{n}.deps names sops-nix's"
                ))),
                "{release}: {warnings:#?}"
            );
        }
        if release == "25.11" {
            let at = |s: &str| script.find(s).unwrap();
            assert!(at("-hostseal-manifest.json") < at("# app-snippet"));
            assert!(at("-hostseal-manifest-for-users.json") < at("# app-users"));
        }
    }
}

#[test]
fn owner_without_group_writes_no_group_key() {
    let Some(bin) = nix_instantiate() else { return };
    let r = eval_nixos(
        &bin,
        &host(
            "25.11",
            r#"users.users.app = { }; users.groups.web = { };
               hostseal.secrets.shared = { sopsFile = hostseal-fixture; owner = "app"; mode = "0440"; };
               hostseal.secrets.grouped = { sopsFile = hostseal-fixture; owner = "app"; group = "web"; };
               hostseal.secrets.numeric = { sopsFile = hostseal-fixture; uid = 1000; gid = 100; };"#
                .replace("hostseal-fixture", &fixture("secrets.yaml"))
                .as_str(),
        ),
    );
    assert_eq!(failed(&r), Vec::<String>::new());
    let m = &r["manifest"];
    let shared = secret(m, "shared");
    assert_eq!(shared["owner"], "app");
    assert!(
        shared.get("group").is_none(),
        "owner only: no group key, the installer uses the owner's primary group: {shared:#}"
    );
    assert_eq!(secret(m, "grouped")["group"], "web");
    let numeric = secret(m, "numeric");
    assert_eq!(numeric["group"], Value::Null, "gid: an explicit null group");
    assert_eq!(numeric["gid"], 100);
    assert!(
        secret(m, "db_password").get("group").is_none(),
        "no owner, no group: root and root's group"
    );
}

// ---- every assertion the module adds fires on its bad configuration ------------------------

#[test]
fn each_new_assertion_fires_on_its_bad_configuration() {
    let Some(bin) = nix_instantiate() else { return };
    let s = fixture("secrets.yaml");
    let key = fixture("host.key");
    let cases: Vec<(String, &str)> = vec![
        (
            format!(r#"users.users.app = {{ }}; hostseal.secrets.x = {{ sopsFile = {s}; owner = "app"; uid = 1000; }};"#),
            "hostseal.secrets.\"x\": set owner or uid, not both",
        ),
        (
            format!(r#"users.groups.web = {{ }}; hostseal.secrets.x = {{ sopsFile = {s}; group = "web"; gid = 100; }};"#),
            "hostseal.secrets.\"x\": set group or gid, not both",
        ),
        (
            "systemd.sysusers.enable = true; users.mutableUsers = false;".to_string(),
            "neededForUsers with systemd.sysusers.enable needs users.mutableUsers = true",
        ),
        (
            "imports = [ { services.cloudflared.enable = lib.mkForce false; } ];".to_string(),
            "hostseal.tunnels.\"builder\": services.cloudflared.enable is false, so cloudflared-tunnel-builder.service does not exist",
        ),
        (
            r#"hostseal.age.plugins = [ "/usr/bin/rm" ];"#.to_string(),
            "hostseal.age.plugins: \"/usr/bin/rm\" is not an age plugin binary",
        ),
        (
            format!(r#"hostseal.remoteBuilders.b = {{ systems = [ "x86_64-linux" ]; sshKeySopsFile = {key}; }};"#),
            "hostseal.remoteBuilders.\"b\".hostKey is not set",
        ),
        (
            format!(r#"hostseal.remoteBuilders.b = {{ systems = [ "x86_64-linux" ]; sshKeySopsFile = {key}; hostKey = "AAAA not a key"; }};"#),
            "hostseal.remoteBuilders.\"b\".hostKey = \"AAAA not a key\" is not an ssh public key line",
        ),
        (
            r#"hostseal.remoteBuilders.b = { systems = [ "x86_64-linux" ]; sshKeySopsFile = "/etc/nix/builder_ed25519"; hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO0 r@b"; };"#.to_string(),
            "hostseal.remoteBuilders.\"b\".sshKeySopsFile = \"/etc/nix/builder_ed25519\" is a plain path string",
        ),
        (
            r#"hostseal.remoteBuilders.b = { systems = [ "x86_64-linux" ]; hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO0 r@b"; };"#.to_string(),
            "hostseal.remoteBuilders.\"b\".sshKeySopsFile is not set",
        ),
        (
            format!(r#"hostseal.remoteBuilders.b = {{ systems = [ "x86_64-linux" ]; sshKeySopsFile = {key}; hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO0 r@b"; access.serviceTokenSopsFile = {key}; }};"#),
            "hostseal.remoteBuilders.\"b\".access.serviceTokenSopsFile is set but access.enable is false",
        ),
        (
            format!(r#"hostseal.remoteBuilders.b = {{ sshKeySopsFile = {key}; hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO0 r@b"; }};"#),
            "hostseal.remoteBuilders.\"b\".systems is empty",
        ),
    ];
    for (extra, needle) in &cases {
        let r = eval_nixos(&bin, &host("25.11", extra));
        assert_fires(&r, needle);
        // Nothing else fires: each case breaks exactly one rule.
        assert_eq!(failed(&r).len(), 1, "{needle}: {:#?}", failed(&r));
    }
    // The same host without the mistakes: no assertion at all.
    let r = eval_nixos(&bin, &host("25.11", "systemd.sysusers.enable = true;"));
    assert_eq!(failed(&r), Vec::<String>::new());
}

// ---- remote-builder client ------------------------------------------------------------------

const HOST_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ5oJ1k2y2cbOqCsDVwGGZ3cG9kIy1XQjWg3b0xVdAx1 root@builder";

/// A client whose nix-daemon builds on `builder.example.com` through the tunnel; the token is
/// sealed (real sops) in `dir`.
fn client(dir: &std::path::Path, token_value: &str) -> String {
    let token =
        format!(r#"{{"client_id":"{token_value}-id.access","client_secret":"{token_value}"}}"#);
    common::sops_seal(
        &dir.join("access-token.json"),
        nix_support::FIXTURE_RECIPIENT,
        token.as_bytes(),
        "json",
    );
    format!(
        r#"{{ ... }}: {{
          system.nixos.release = "26.05";
          hostseal.age.keyFile = "/var/lib/hostseal/key.txt";
          hostseal.remoteBuilders.builder = {{
            hostName = "builder.example.com";
            sshUser = "builder";
            systems = [ "x86_64-linux" ];
            maxJobs = 8;
            supportedFeatures = [ "kvm" "big-parallel" ];
            sshKeySopsFile = {key};
            hostKey = "{HOST_KEY}";
            access.enable = true;
            access.serviceTokenSopsFile = {dir}/access-token.json;
          }};
        }}"#,
        key = fixture("secrets.yaml"),
        dir = dir.display(),
    )
}

#[test]
fn client_builds_through_the_tunnel_with_pinned_host_key() {
    let Some(bin) = nix_instantiate() else { return };
    let dir = tempfile::tempdir().unwrap();
    let r = eval_nixos(&bin, &client(dir.path(), "unused"));
    assert_eq!(failed(&r), Vec::<String>::new());
    assert_eq!(r["distributedBuilds"], true);
    let machines = r["buildMachines"].as_array().unwrap();
    assert_eq!(machines.len(), 1);
    let m = &machines[0];
    assert_eq!(m["hostName"], "builder.example.com");
    assert_eq!(m["sshUser"], "builder");
    assert_eq!(m["systems"], json!(["x86_64-linux"]));
    assert_eq!(m["maxJobs"], 8);
    assert_eq!(m["supportedFeatures"], json!(["kvm", "big-parallel"]));
    assert_eq!(
        m["sshKey"], "/run/secrets/remote-builders/builder/ssh_key",
        "the installed key"
    );
    // publicHostKey is the base64 of the host key line (type and key), checked with coreutils.
    let decoded = Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(m["publicHostKey"].as_str().unwrap().as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(decoded.status.success());
    assert_eq!(
        String::from_utf8(decoded.stdout).unwrap(),
        format!("{HOST_KEY}\n"),
        "as `base64 -w0 ssh_host_ed25519_key.pub`"
    );
    let want: Vec<&str> = HOST_KEY.split(' ').take(2).collect();
    // root never meets a host-key prompt.
    assert_eq!(
        r["knownHosts"]["hostseal-builder-builder"]["hostNames"],
        json!(["builder.example.com"])
    );
    assert_eq!(
        r["knownHosts"]["hostseal-builder-builder"]["publicKey"],
        want.join(" ")
    );
    // The system ssh config (root, nix-daemon, users) proxies through cloudflared.
    let ssh = r["sshConfig"].as_str().unwrap();
    assert!(
        ssh.contains("Host builder.example.com\n  ProxyCommand /nix/store/00000000000000000000000000000000-hostseal-access-ssh-builder %h\n"),
        "{ssh}"
    );
    // The key and the token are installed root:root 0400, the token validated.
    let key = secret(&r["manifest"], "remote-builders/builder/ssh_key");
    assert_eq!(
        (&key["owner"], &key["group"], &key["mode"]),
        (&json!("root"), &json!("root"), &json!("0400"))
    );
    assert_eq!(key["format"], "binary");
    let tok = secret(&r["manifest"], "remote-builders/builder/access-token.json");
    assert_eq!(tok["mode"], "0400");
    assert_eq!(tok["validate"], "cloudflare-access-service-token");
    assert!(tok["sopsFile"].as_str().unwrap().starts_with("/nix/store/"));
}

/// The generated ProxyCommand wrapper, run for real with a recording `cloudflared`: it reads the
/// installed token file and hands the token over in the environment, never as an argument.
#[test]
fn access_wrapper_reads_the_installed_token_into_the_environment() {
    let Some(bin) = nix_instantiate() else { return };
    let dir = tempfile::tempdir().unwrap();
    let r = eval_nixos(&bin, &client(dir.path(), "unused"));
    let text = r["sshWrappers"]["builder"].as_str().unwrap();
    assert!(text.contains("token_file=/run/secrets/remote-builders/builder/access-token.json\n"));
    assert!(!text.contains("--service-token"), "no token flag: {text}");
    // Run it: the store paths replaced by the real jq, a recording cloudflared and a token file.
    let d = dir.path();
    let token = d.join("installed-token.json");
    std::fs::write(
        &token,
        r#"{"client_id":"0123.access","client_secret":"wrapper-secret-value"}"#,
    )
    .unwrap();
    let log = d.join("cloudflared.log");
    let fake = d.join("cloudflared");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nprintf 'args=%s\\nid=%s\\nsecret=%s\\n' \"$*\" \"$TUNNEL_SERVICE_TOKEN_ID\" \"$TUNNEL_SERVICE_TOKEN_SECRET\" > {}\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let jq = std::env::split_paths(&path)
        .map(|d| d.join("jq"))
        .find(|p| p.is_file())
        .expect("jq on PATH (the wrapper's JSON reader)");
    let script = text
        .replace(
            "/nix/store/00000000000000000000000000000000-jq/bin/jq",
            &jq.display().to_string(),
        )
        .replace(
            "/nix/store/00000000000000000000000000000000-cloudflared/bin/cloudflared",
            &fake.display().to_string(),
        )
        .replace(
            "/run/secrets/remote-builders/builder/access-token.json",
            &token.display().to_string(),
        );
    let wrapper = d.join("wrapper.sh");
    std::fs::write(&wrapper, script).unwrap();
    common::run_ok(
        Command::new("sh")
            .arg(&wrapper)
            .arg("builder.example.com")
            .env_clear()
            .env("PATH", "/usr/bin:/bin"),
    );
    let seen = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        seen,
        "args=access ssh --hostname builder.example.com\nid=0123.access\nsecret=wrapper-secret-value\n"
    );
    // Unreadable token (an ordinary user): cloudflared still runs, without a token.
    std::fs::remove_file(&token).unwrap();
    let out = Command::new("sh")
        .arg(&wrapper)
        .arg("builder.example.com")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "args=access ssh --hostname builder.example.com\nid=\nsecret=\n"
    );
}

/// The token's value appears nowhere in the evaluated configuration: manifests, wrappers, ssh
/// config, build machines, known hosts, units, activation script.
#[test]
fn no_token_value_in_the_evaluated_configuration() {
    let Some(bin) = nix_instantiate() else { return };
    let dir = tempfile::tempdir().unwrap();
    let value = "tokVALUE7f3a9c2e5b1d4";
    let r = eval_nixos(&bin, &client(dir.path(), value));
    assert_eq!(failed(&r), Vec::<String>::new());
    let all = serde_json::to_string(&r).unwrap();
    assert!(
        all.contains("access-token.json"),
        "the token is there, sealed"
    );
    assert!(
        !all.contains(value),
        "the token's value is in the evaluated configuration"
    );
    assert!(
        !all.contains("-id.access"),
        "the token's client id is in the evaluated configuration"
    );
    // The sealed file does not hold it either (sops encrypted it); the plaintext is gone.
    let sealed = std::fs::read_to_string(dir.path().join("access-token.json")).unwrap();
    assert!(!sealed.contains(value));
    assert!(!dir.path().join("token.plain.json").exists());
}

// ---- home-manager and nix-darwin ------------------------------------------------------------

#[test]
fn home_manager_installs_into_the_runtime_directory_in_user_mode() {
    let Some(bin) = nix_instantiate() else { return };
    let r = eval_home_manager(
        &bin,
        &format!(
            r#"{{ pkgs, ... }}: {{
              hostseal.age.keyFile = "/home/me/.config/sops/age/keys.txt";
              hostseal.age.sshKeyPaths = [ "/home/me/.ssh/id_ed25519" ];
              hostseal.age.plugins = [ pkgs.age-plugin-yubikey ];
              hostseal.secrets.api_token = {{ sopsFile = {s}; key = "db_password"; }};
              # sops-nix's home-manager names, set to what sops-nix users write.
              hostseal.defaultSymlinkPath = "%r/secrets";
              hostseal.defaultSecretsMountPoint = "%r/secrets.d";
            }}"#,
            s = fixture("secrets.yaml")
        ),
    );
    assert_eq!(failed(&r), Vec::<String>::new());
    let m = &r["manifest"];
    assert_eq!(m["userMode"], true);
    assert_eq!(m["secretsMountPoint"], "%r/secrets.d");
    assert_eq!(m["symlinkPath"], "%r/secrets");
    assert_eq!(m["restartVia"], "none");
    assert_eq!(m["ageKeyFile"], "/home/me/.config/sops/age/keys.txt");
    assert_eq!(m["ageSshKeyPaths"], json!(["/home/me/.ssh/id_ed25519"]));
    assert_eq!(
        m["agePlugins"],
        json!([
            "/nix/store/00000000000000000000000000000000-age-plugin-yubikey/bin/age-plugin-yubikey"
        ])
    );
    // Every path the installer touches is under the user's runtime directory.
    for f in ["lockPath", "restartListsDir"] {
        assert!(m[f].as_str().unwrap().starts_with("%r/"), "{f}: {}", m[f]);
    }
    let s = secret(m, "api_token");
    assert_eq!(s["path"], "%r/secrets/api_token");
    assert_eq!(s["key"], "db_password");
    for k in ["owner", "group", "uid", "gid"] {
        assert!(s.get(k).is_none(), "user mode: no {k}: {s:#}");
    }
    // A systemd user service installs it, restarted on every home-manager switch.
    let svc = &r["service"];
    assert_eq!(svc["Service"]["Type"], "oneshot");
    assert!(svc["Service"]["ExecStart"]
        .as_str()
        .unwrap()
        .ends_with("/bin/hostseal install /nix/store/00000000000000000000000000000000-hostseal-user-manifest.json"));
    assert_eq!(svc["Install"]["WantedBy"], json!(["default.target"]));
    assert_eq!(r["activation"]["after"], json!(["writeBoundary"]));
    assert!(r["activation"]["data"]
        .as_str()
        .unwrap()
        .contains("--user restart hostseal.service"));
    assert!(r["manifestCheck"]
        .as_str()
        .unwrap()
        .contains("--check-mode sopsfile"));
}

/// The user's own ssh through the tunnel: a matchBlocks entry whose wrapper reads the user's
/// token from the runtime directory, installed (validated) by the user service.
#[test]
fn home_manager_ssh_through_access_with_the_users_token() {
    let Some(bin) = nix_instantiate() else { return };
    let r = eval_home_manager(
        &bin,
        &format!(
            r#"{{ ... }}: {{
              hostseal.age.sshKeyPaths = [ "/home/me/.ssh/id_ed25519" ];
              hostseal.sshAccessHosts."builder.example.com".serviceTokenSopsFile = {s};
              hostseal.sshAccessHosts."other.example.com" = {{ }};
            }}"#,
            s = fixture("secrets.yaml")
        ),
    );
    assert_eq!(failed(&r), Vec::<String>::new());
    let tok = secret(&r["manifest"], "ssh-access/builder.example.com.json");
    assert_eq!(
        tok["path"],
        "%r/secrets/ssh-access/builder.example.com.json"
    );
    assert_eq!(tok["validate"], "cloudflare-access-service-token");
    assert_eq!(r["manifest"]["secrets"].as_array().unwrap().len(), 1);
    assert_eq!(
        r["matchBlocks"]["builder.example.com"],
        "/nix/store/00000000000000000000000000000000-hostseal-access-ssh-builder.example.com %h"
    );
    let w = r["sshWrappers"]["builder.example.com"].as_str().unwrap();
    assert!(
        w.contains(r#"token_file="${XDG_RUNTIME_DIR:-/nonexistent}"/secrets/ssh-access/builder.example.com.json"#),
        "{w}"
    );
    assert!(w.contains("export TUNNEL_SERVICE_TOKEN_ID TUNNEL_SERVICE_TOKEN_SECRET"));
    let plain = r["sshWrappers"]["other.example.com"].as_str().unwrap();
    assert!(
        !plain.contains("TUNNEL_SERVICE_TOKEN"),
        "no token: browser login: {plain}"
    );
}

#[test]
fn darwin_installs_at_activation_and_boot_and_wires_remote_builders() {
    let Some(bin) = nix_instantiate() else { return };
    let r = eval_darwin(
        &bin,
        &format!(
            r#"{{ ... }}: {{
              hostseal.secrets.netrc = {{ sopsFile = {s}; key = "db_password"; owner = "me"; }};
              hostseal.remoteBuilders.builder = {{
                hostName = "builder.example.com"; sshUser = "builder"; systems = [ "x86_64-linux" ];
                sshKeySopsFile = {s}; hostKey = "{HOST_KEY}";
                access.enable = true; access.serviceTokenSopsFile = {s};
              }};
            }}"#,
            s = fixture("secrets.yaml")
        ),
    );
    assert_eq!(failed(&r), Vec::<String>::new());
    let m = &r["manifest"];
    assert_eq!(m["restartVia"], "none", "no systemd on macOS");
    assert_eq!(secret(m, "netrc")["owner"], "me");
    assert_eq!(secret(m, "remote-builders/builder/ssh_key")["mode"], "0400");
    assert!(r["postActivation"]
        .as_str()
        .unwrap()
        .contains("/bin/hostseal install /nix/store/"));
    let daemon = &r["launchd"]["hostseal-install"]["serviceConfig"];
    assert_eq!(daemon["RunAtLoad"], true);
    assert_eq!(r["distributedBuilds"], true);
    let machine = &r["buildMachines"][0];
    assert_eq!(
        machine["sshKey"],
        "/run/secrets/remote-builders/builder/ssh_key"
    );
    assert!(machine["publicHostKey"]
        .as_str()
        .unwrap()
        .starts_with("c3NoLWVkMjU1MTkg"));
    assert_eq!(
        r["knownHosts"]["hostseal-builder-builder"]["hostNames"],
        json!(["builder.example.com"])
    );
    assert!(r["sshConfig"]
        .as_str()
        .unwrap()
        .contains("Host builder.example.com\n  ProxyCommand /nix/store/"));
    assert!(r["sshWrappers"]["builder"]
        .as_str()
        .unwrap()
        .contains("TUNNEL_SERVICE_TOKEN_SECRET"));
    // The same assertions as on NixOS.
    let bad = eval_darwin(
        &bin,
        r#"{ ... }: { hostseal.remoteBuilders.b = { systems = [ "x86_64-linux" ]; sshKeySopsFile = "/Users/me/.ssh/id_ed25519"; }; }"#,
    );
    assert_fires(&bad, "hostseal.remoteBuilders.\"b\".hostKey is not set");
    assert_fires(&bad, "is a plain path string");
}

/// `hostseal.lib.hostKeys`: one declaration of a host's ssh key gives the `.sops.yaml`
/// recipient, the builder's hostRecipient, the clients' hostKey and the base64 publicHostKey.
#[test]
fn one_source_for_a_hosts_key() {
    let Some(bin) = nix_instantiate() else { return };
    let v = nix_support::eval(
        &bin,
        &format!(
            r#"(import {}/lib.nix {{ defaults = builtins.fromJSON (builtins.readFile {d}/defaults.json); }}).hostKeys {{ builder = "{HOST_KEY}"; }}"#,
            nix_support::nix_dir().display(),
            d = nix_support::nix_dir().display()
        ),
    );
    let line: Vec<&str> = HOST_KEY.split(' ').take(2).collect();
    let line = line.join(" ");
    let b = &v["builder"];
    assert_eq!(b["hostKey"], line);
    assert_eq!(b["hostRecipient"], line);
    assert_eq!(b["sopsRecipient"], line);
    use base64::Engine;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(b["publicHostKey"].as_str().unwrap())
            .unwrap(),
        format!("{HOST_KEY}\n").as_bytes()
    );
    // The same as the CLI's form of it.
    let dir = tempfile::tempdir().unwrap();
    let pubfile = dir.path().join("builder.pub");
    std::fs::write(&pubfile, format!("{HOST_KEY}\n")).unwrap();
    let cli = common::run_ok(
        common::hostseal(dir.path())
            .args(["pubkey", "--format", "publicHostKey"])
            .arg(&pubfile),
    );
    assert_eq!(
        String::from_utf8(cli).unwrap().trim(),
        b["publicHostKey"].as_str().unwrap()
    );
    let e = nix_support::eval_fails(
        &bin,
        &format!(
            r#"(import {d}/lib.nix {{ defaults = builtins.fromJSON (builtins.readFile {d}/defaults.json); }}).hostKeys {{ x = "not a key"; }}"#,
            d = nix_support::nix_dir().display()
        ),
    );
    assert!(
        e.contains("hostseal.lib.hostKeys.x: \"not a key\" is not an ssh public key line"),
        "{e}"
    );
}
