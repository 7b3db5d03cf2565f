//! The manifest `nix/module.nix` writes (evaluated with nixpkgs' lib and modules, as in
//! tests/nix_module.rs), installed for real as root: a real user with its own primary group, a
//! real ramfs mount, real chown/chmod, and a recording `systemctl` in place of the unit path's.
//! Pins two things a NixOS user would otherwise meet at activation: an `owner`-only secret gets
//! the owner's primary group (not root's), and the unit path (NixOS ≥ 26.05, sysusers) restarts
//! with `systemctl --no-block` (a blocking restart of a unit ordered after
//! hostseal-install.service would wait for the installer that waits for it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;
#[path = "nix_support/mod.rs"]
mod nix_support;

use nix_support::{eval_nixos, failed, fixture, nix_instantiate, secret};
use serde_json::{json, Value};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

fn is_root() -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    eprintln!("!!! SKIPPED: not root: the module's manifest is NOT installed for real here !!!");
    false
}

use common::install_host::{assert_installed, install_value, recording_systemctl, Unmount};
use common::users::SystemUser;

/// A scratch directory the installer trusts ([`common::trusted_tempdir`]), holding 0400 copies
/// of the fixture identity and sealed files.
struct Scratch {
    t: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            t: common::trusted_tempdir(),
        }
    }
    fn path(&self) -> &Path {
        self.t.path()
    }
    /// A 0400 copy of `tests/fixtures/nix/<name>` (identities must not be readable by others).
    fn copy(&self, name: &str) -> PathBuf {
        let dst = self.path().join(format!("fixture-{name}"));
        std::fs::copy(fixture(name), &dst).unwrap();
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o400)).unwrap();
        dst
    }
}

/// The module's manifest for a NixOS 26.05 host with sysusers (the unit path) and one secret
/// owned by `owner` alone, the sealed file left on disk (validateSopsFiles = false), with the
/// identity and sealed file copied into `scratch`.
fn module_manifest(bin: &Path, owner: &str, scratch: &Scratch) -> Value {
    let r = eval_nixos(
        bin,
        &format!(
            r#"{{ ... }}: {{
              system.nixos.release = "26.05";
              systemd.sysusers.enable = true;
              users.users.{owner} = {{ }};
              hostseal = {{
                validateSopsFiles = false;
                age.keyFile = "{key}";
                age.sshKeyPaths = [ ];
                sshKeyPaths = [ ];
                secrets.db_password = {{
                  sopsFile = "{s}";
                  owner = "{owner}";
                  mode = "0440";
                  restartUnits = [ "app.service" ];
                }};
              }};
            }}"#,
            key = scratch.copy("host.key").display(),
            s = scratch.copy("secrets.yaml").display(),
        ),
    );
    assert_eq!(failed(&r), Vec::<String>::new());
    r["manifest"].clone()
}

/// Points the manifest's locations into `root` and its systemctl at a recording script.
fn relocate(m: &mut Value, root: &Path) -> PathBuf {
    let systemctl = root.join("systemctl");
    let log = recording_systemctl(&systemctl);
    let link = root.join("secrets");
    m["secretsMountPoint"] = json!(root.join("m"));
    m["symlinkPath"] = json!(link);
    m["lockPath"] = json!(root.join("lock/lock"));
    m["restartListsDir"] = json!(root.join("nixos"));
    m["systemctl"] = json!(systemctl);
    for s in m["secrets"].as_array_mut().unwrap() {
        s["path"] = json!(link.join(s["name"].as_str().unwrap()));
    }
    log
}

#[test]
fn owner_only_secret_gets_the_owners_primary_group_installed_for_real() {
    let Some(bin) = nix_instantiate() else { return };
    if !is_root() {
        return;
    }
    let user = SystemUser::new("hsnown");
    let (uid, gid) = user.ids();
    assert_ne!(gid, 0);
    let scratch = Scratch::new();
    let mut m = module_manifest(&bin, &user.name, &scratch);
    let s = secret(&m, "db_password");
    assert_eq!(s["owner"], json!(user.name));
    assert!(
        s.get("group").is_none(),
        "the module writes no group for an owner-only secret: {s:#}"
    );
    let root = &scratch.t;
    let _mount = Unmount(root.path().join("m"));
    relocate(&mut m, root.path());
    assert_installed(&install_value(root.path(), &m));
    let file = root.path().join("secrets/db_password");
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.uid(), uid);
    assert_eq!(
        meta.gid(),
        gid,
        "the owner's primary group, not root's (group access with mode 0440)"
    );
    assert_eq!(meta.mode() & 0o7777, 0o440);
    let fs = Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(root.path().join("m"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&fs.stdout).trim(), "ramfs");
}

#[test]
fn unit_path_restarts_with_systemctl_no_block() {
    let Some(bin) = nix_instantiate() else { return };
    if !is_root() {
        return;
    }
    let user = SystemUser::new("hsnblk");
    let scratch = Scratch::new();
    let mut m = module_manifest(&bin, &user.name, &scratch);
    assert_eq!(m["restartVia"], "systemctl");
    let root = &scratch.t;
    let _mount = Unmount(root.path().join("m"));
    let log = relocate(&mut m, root.path());
    assert_installed(&install_value(root.path(), &m));
    // A changed mode is a changed secret: its unit is restarted.
    m["secrets"][0]["mode"] = json!("0400");
    assert_installed(&install_value(root.path(), &m));
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    let restarts: Vec<&str> = calls
        .lines()
        .filter(|l| l.contains("restart") && l.contains("app.service"))
        .collect();
    assert!(
        !restarts.is_empty(),
        "app.service was not restarted: {calls}"
    );
    for l in restarts {
        assert!(
            l.split(' ').any(|a| a == "--no-block"),
            "a blocking restart from hostseal-install.service can deadlock: {l:?}"
        );
    }
}

/// Seals `plain` with the real sops to the fixture host key (`tests/fixtures/nix/host.key`).
fn seal(dir: &Path, name: &str, plain: &[u8], input_type: &str) -> PathBuf {
    common::sops_seal(
        &dir.join(name),
        nix_support::FIXTURE_RECIPIENT,
        plain,
        input_type,
    )
}

/// A remote-builder client's key and Access token, sealed by the real sops, pass the build-time
/// check and install for real: root:root 0400 where nix.buildMachines and the wrapper look, the
/// token validated; a malformed new token keeps the previous one.
#[test]
fn remote_builder_key_and_token_install_for_real() {
    let Some(bin) = nix_instantiate() else { return };
    if !is_root() {
        return;
    }
    let scratch = Scratch::new();
    let d = scratch.path();
    let host_key = scratch.copy("host.key");
    let key = seal(d, "builder_ed25519", b"FAKE PRIVATE KEY\n", "binary");
    let token = br#"{"client_id":"0123.access","client_secret":"install-secret"}"#;
    let sealed_token = seal(d, "access-token.json", token, "json");
    let bad_token = seal(
        d,
        "bad-token.json",
        br#"{"client_id":"0123.access"}"#,
        "json",
    );
    let r = eval_nixos(
        &bin,
        &format!(
            r#"{{ ... }}: {{
              system.nixos.release = "26.05";
              hostseal = {{
                validateSopsFiles = false;
                age.keyFile = "{hk}";
                remoteBuilders.builder = {{
                  hostName = "builder.example.com"; systems = [ "x86_64-linux" ];
                  sshKeySopsFile = "/nix/store/placeholder";
                  hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ5oJ1k2 root@builder";
                  access.enable = true;
                  access.serviceTokenSopsFile = "/nix/store/placeholder";
                }};
              }};
            }}"#,
            hk = host_key.display(),
        ),
    );
    assert_eq!(failed(&r), Vec::<String>::new());
    let mut m = r["manifest"].clone();
    for s in m["secrets"].as_array_mut().unwrap() {
        let f = if s["name"] == "remote-builders/builder/ssh_key" {
            &key
        } else {
            &sealed_token
        };
        s["sopsFile"] = json!(f);
    }
    relocate(&mut m, d);
    let p = d.join("manifest.json");
    std::fs::write(&p, serde_json::to_vec(&m).unwrap()).unwrap();
    let check = common::hostseal(d)
        .args(["install", "--check-mode", "sopsfile"])
        .arg(&p)
        .output()
        .unwrap();
    assert_installed(&check);
    let _mount = Unmount(d.join("m"));
    assert_installed(&install_value(d, &m));
    for (name, want) in [
        ("ssh_key", &b"FAKE PRIVATE KEY\n"[..]),
        ("access-token.json", &token[..]),
    ] {
        let f = d.join("secrets/remote-builders/builder").join(name);
        let meta = std::fs::metadata(&f).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o7777),
            (0, 0, 0o400),
            "{name}"
        );
        let got = std::fs::read(&f).unwrap();
        if name.ends_with(".json") {
            // The installer re-emits the JSON value (sops-nix does the same).
            let parse = |b: &[u8]| serde_json::from_slice::<Value>(b).unwrap();
            assert_eq!(parse(&got), parse(want), "{name}");
        } else {
            assert_eq!(got, want, "{name}");
        }
    }
    // A token without client_secret fails validation: the previous one stays.
    let tok = m["secrets"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["name"] == "remote-builders/builder/access-token.json")
        .unwrap();
    tok["sopsFile"] = json!(bad_token);
    let o = install_value(d, &m);
    assert_ne!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("client_secret"), "{err}");
    assert!(
        !err.contains("install-secret"),
        "the token's value leaked: {err}"
    );
    let kept: Value = serde_json::from_slice(
        &std::fs::read(d.join("secrets/remote-builders/builder/access-token.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(kept["client_secret"], "install-secret");
}
