//! The manifest `nix/home-manager.nix` writes (evaluated with nixpkgs' lib, as in
//! tests/nix_module.rs), installed for real by an unprivileged user made with `useradd`: the
//! built binary run as that user through `setpriv`, its runtime directory a tmpfs at
//! `/run/user/<uid>` as systemd-logind makes it, the user's age key in its home. The secret
//! lands in `$XDG_RUNTIME_DIR/secrets/<name>` (a generation under `secrets.d`), owned by the
//! user, mode as configured; a second run switches generations. Needs the installer's user mode
//! (docs/manifest.md, "User mode (home-manager)").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;
#[path = "nix_support/mod.rs"]
mod nix_support;

use nix_support::{eval_home_manager, failed, fixture, nix_instantiate};
use serde_json::Value;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

use common::users::{LoginUser, RuntimeDir};

/// The built binary run as `u`, with only PATH, HOME and XDG_RUNTIME_DIR set.
fn install_as(u: &LoginUser, rt: &Path, dir: &Path, manifest: &Path) -> Output {
    Command::new("setpriv")
        .args(["--reuid", &u.uid.to_string(), "--regid", &u.gid.to_string()])
        .args(["--init-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_hostseal"))
        .arg("install")
        .arg(manifest)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &u.home)
        .env("XDG_RUNTIME_DIR", rt)
        .output()
        .unwrap()
}

#[test]
fn home_manager_manifest_installs_as_the_user_into_its_runtime_directory() {
    let Some(bin) = nix_instantiate() else { return };
    if !nix::unistd::geteuid().is_root() {
        eprintln!("!!! SKIPPED: not root (useradd, mount): the home-manager manifest is NOT installed !!!");
        return;
    }
    let user = LoginUser::new("hsnu");
    let rt = RuntimeDir::new(&user);
    // Root's side: a 0755 directory with the sealed file (root-owned, 0444).
    let dir = common::trusted_tempdir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let sealed = dir.path().join("me.yaml");
    std::fs::copy(fixture("secrets.yaml"), &sealed).unwrap();
    std::fs::set_permissions(&sealed, std::fs::Permissions::from_mode(0o444)).unwrap();
    // The user's side: the (test) age key in its home, 0600.
    let keys = user.home.join(".config/sops/age");
    std::fs::create_dir_all(&keys).unwrap();
    let key = keys.join("keys.txt");
    std::fs::copy(fixture("host.key"), &key).unwrap();
    assert!(Command::new("chown")
        .args(["-R", &format!("{}:{}", user.uid, user.gid)])
        .arg(user.home.join(".config"))
        .status()
        .unwrap()
        .success());
    for p in [
        user.home.join(".config"),
        user.home.join(".config/sops"),
        keys.clone(),
    ] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let r = eval_home_manager(
        &bin,
        &format!(
            r#"{{ ... }}: {{
              hostseal.validateSopsFiles = false;
              hostseal.age.keyFile = "{key}";
              hostseal.secrets.db = {{ sopsFile = "{s}"; key = "db_password"; mode = "0440"; }};
            }}"#,
            key = key.display(),
            s = sealed.display()
        ),
    );
    assert_eq!(failed(&r), Vec::<String>::new());
    let m: Value = r["manifest"].clone();
    assert_eq!(m["userMode"], true);
    let manifest = dir.path().join("user-manifest.json");
    std::fs::write(&manifest, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o444)).unwrap();

    let o = install_as(&user, &rt.path, dir.path(), &manifest);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let file = rt.path.join("secrets/db");
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (user.uid, user.gid));
    assert_eq!(meta.mode() & 0o7777, 0o440);
    assert!(!std::fs::read(&file).unwrap().is_empty());
    let first = std::fs::read_link(rt.path.join("secrets")).unwrap();
    assert!(
        first.starts_with(rt.path.join("secrets.d")),
        "{}",
        first.display()
    );
    // A second run switches generations.
    let o = install_as(&user, &rt.path, dir.path(), &manifest);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let second = std::fs::read_link(rt.path.join("secrets")).unwrap();
    assert_ne!(first, second, "a new generation");
    assert!(second.starts_with(rt.path.join("secrets.d")));
    // Nothing was created outside the runtime directory (and the home the test set up).
    let outside = common::users::owned_by(
        user.uid,
        &["/tmp", "/var/tmp", "/dev/shm", "/run"],
        &[&rt.path, &user.home],
    );
    assert!(outside.is_empty(), "created outside: {outside:?}");
}
