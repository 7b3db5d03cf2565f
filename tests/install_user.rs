//! `hostseal install` in user mode (home-manager), for real: an unprivileged user made with
//! `useradd` (removed afterwards), its runtime directory `/run/user/<uid>` on a tmpfs as
//! systemd-logind makes it, an age key in its home, files sealed by the real sops, and the built
//! binary run as that user through `setpriv` with `XDG_RUNTIME_DIR` set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod common;

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

use common::users::{LoginUser, RuntimeDir};

/// Root's side: a directory any user can search (0755), holding the sealed files and the
/// manifests (root-owned, 0444: readable by the user, changeable only by root).
struct Setup {
    t: tempfile::TempDir,
    user: LoginUser,
    rt: RuntimeDir,
    key: PathBuf,
    recipient: String,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        let t = common::trusted_tempdir();
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let user = LoginUser::new(&format!("hsu{tag}"));
        let rt = RuntimeDir::new(&user);
        let (made, recipient) = common::age_keygen(t.path(), "user");
        let dir = user.home.join(".config/sops/age");
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("keys.txt");
        std::fs::rename(&made, &key).unwrap();
        for p in [
            user.home.join(".config"),
            user.home.join(".config/sops"),
            dir.clone(),
        ] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let ok = Command::new("chown")
            .args(["-R", &format!("{}:{}", user.uid, user.gid)])
            .arg(user.home.join(".config"))
            .status()
            .unwrap()
            .success();
        assert!(ok);
        Setup {
            t,
            user,
            rt,
            key,
            recipient,
        }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.t.path().join(rel)
    }

    /// Seals JSON with the real sops to the user's recipient (root-owned, 0444).
    fn seal_json(&self, name: &str, plain: &Value) -> PathBuf {
        common::sops_seal_json(&self.p(&format!("{name}.json")), &self.recipient, plain)
    }

    /// A manifest as sops-nix's home-manager module writes it (plus the given fields).
    fn manifest(&self, name: &str, sealed: &Path, extra: Value, secret_extra: Value) -> PathBuf {
        let mut secret = json!({
            "name": "tunnel.json",
            "key": "",
            "path": "%r/secrets/tunnel.json",
            "sopsFile": sealed,
            "format": "json",
            "mode": "0400",
        });
        merge(&mut secret, secret_extra);
        let mut m = json!({
            "secrets": [secret],
            "templates": {},
            "placeholderBySecretName": {},
            "secretsMountPoint": "%r/secrets.d",
            "symlinkPath": "%r/secrets",
            "keepGenerations": 1,
            "gnupgHome": null,
            "sshKeyPaths": [],
            "ageKeyFile": self.key,
            "ageSshKeyPaths": [],
            "useTmpfs": false,
            "userMode": true,
            "logging": {"keyImport": true, "secretChanges": true},
        });
        merge(&mut m, extra);
        let p = self.p(&format!("{name}.manifest.json"));
        let _ = std::fs::remove_file(&p);
        std::fs::write(&p, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
        p
    }

    /// The built binary run as the user, with only PATH, HOME and XDG_RUNTIME_DIR set.
    fn as_user(&self, args: &[&str], manifest: &Path) -> Output {
        Command::new("setpriv")
            .args(["--reuid", &self.user.uid.to_string()])
            .args(["--regid", &self.user.gid.to_string()])
            .args(["--init-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_hostseal"))
            .arg("install")
            .args(args)
            .arg(manifest)
            .current_dir(self.t.path())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &self.user.home)
            .env("XDG_RUNTIME_DIR", &self.rt.path)
            .output()
            .unwrap()
    }

    fn rt(&self, rel: &str) -> PathBuf {
        self.rt.path.join(rel)
    }
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(a), Value::Object(b)) = (into.as_object_mut(), extra) {
        a.extend(b);
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every path owned by `uid` under the directories a user can write outside its runtime
/// directory (and its home): a file the run created is the user's, and the user is new, so
/// anything it owns there that was not there before was made by the run.
fn owned_by(uid: u32, skip: &Path) -> BTreeSet<PathBuf> {
    common::users::owned_by(
        uid,
        &["/tmp", "/var/tmp", "/dev/shm", "/run", "/home"],
        &[skip],
    )
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn user_mode_installs_in_the_runtime_dir_and_switches_generations() {
    if !is_root() {
        eprintln!("SKIPPED: user_mode_installs_in_the_runtime_dir needs root (useradd, mount)");
        return;
    }
    let s = Setup::new("a");
    let (uid, gid) = (s.user.uid, s.user.gid);
    let before = owned_by(uid, &s.rt.path);
    let first = json!({"AccountTag": "acc", "TunnelSecret": "c2VjcmV0LW9uZQ==", "TunnelID": "t1"});
    let sealed = s.seal_json("tunnel", &first);
    let template = json!({"cfg": {"content": "id=<SOPS:tunnel:PLACEHOLDER>\n", "mode": "0440",
                                  "path": "%r/secrets/rendered/cfg"}});
    let m = s.manifest(
        "a",
        &sealed,
        json!({"templates": template, "placeholderBySecretName": {"tunnel.json": "<SOPS:tunnel:PLACEHOLDER>"}}),
        json!({"key": "TunnelID"}),
    );

    // --dry-run writes nothing.
    let o = s.as_user(&["--dry-run"], &m);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("would be added"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&s.rt.path).unwrap().count(), 0);

    let o = s.as_user(&[], &m);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let link = s.rt("secrets");
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        s.rt("secrets.d/1"),
        "the link points at generation 1"
    );
    let installed = s.rt("secrets/tunnel.json");
    assert_eq!(std::fs::read(&installed).unwrap(), b"t1");
    let rendered = s.rt("secrets/rendered/cfg");
    assert_eq!(std::fs::read(&rendered).unwrap(), b"id=t1\n");
    let rm = std::fs::metadata(&rendered).unwrap();
    assert_eq!((rm.uid(), rm.gid(), mode(&rendered)), (uid, gid, 0o440));
    let md = std::fs::metadata(&installed).unwrap();
    assert_eq!((md.uid(), md.gid()), (uid, gid), "owned by the user");
    assert_eq!(md.permissions().mode() & 0o7777, 0o400);
    let mp = std::fs::metadata(s.rt("secrets.d")).unwrap();
    assert_eq!((mp.uid(), mode(&s.rt("secrets.d"))), (uid, 0o700));
    let g1 = std::fs::metadata(s.rt("secrets.d/1")).unwrap();
    assert_eq!(g1.uid(), uid);
    assert_eq!(
        mode(&s.rt("secrets.d/1")) & 0o007,
        0o001,
        "0751: no read for others"
    );
    let status: Value =
        serde_json::from_slice(&std::fs::read(s.rt("secrets.d/status.json")).unwrap()).unwrap();
    assert_eq!(status["generation"], 1);
    assert_eq!(status["items"][0]["state"], "ok");
    assert_eq!(
        std::fs::metadata(s.rt("secrets.d/status.json"))
            .unwrap()
            .uid(),
        uid
    );

    // The user can read its secret (through the link) as itself.
    let cat = Command::new("setpriv")
        .args(["--reuid", &uid.to_string(), "--regid", &gid.to_string()])
        .args(["--init-groups", "cat"])
        .arg(&installed)
        .output()
        .unwrap();
    assert!(cat.status.success(), "{}", stderr(&cat));

    // Second run, new sealed value: generation 2, link switched, generation 1 pruned.
    let second = json!({"AccountTag": "acc", "TunnelSecret": "c2VjcmV0LXR3bw==", "TunnelID": "t2"});
    s.seal_json("tunnel", &second);
    let o = s.as_user(&[], &m);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read_link(&link).unwrap(), s.rt("secrets.d/2"));
    assert_eq!(std::fs::read(&installed).unwrap(), b"t2");
    assert_eq!(std::fs::read(&rendered).unwrap(), b"id=t2\n");
    assert!(
        !s.rt("secrets.d/1").exists(),
        "keepGenerations 1 prunes generation 1"
    );
    let md = std::fs::metadata(&installed).unwrap();
    assert_eq!((md.uid(), md.permissions().mode() & 0o7777), (uid, 0o400));

    // Nothing of the user's appeared outside the runtime directory.
    let after = owned_by(uid, &s.rt.path);
    assert_eq!(before, after, "files created outside the runtime directory");
    let mut inside: Vec<String> = std::fs::read_dir(&s.rt.path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    inside.sort();
    assert_eq!(inside, ["hostseal", "secrets", "secrets.d"]);
    assert!(!err_has_secret(&o, "c2VjcmV0"));
}

fn err_has_secret(o: &Output, needle: &str) -> bool {
    stderr(o).contains(needle) || String::from_utf8_lossy(&o.stdout).contains(needle)
}

#[test]
fn user_mode_refusals() {
    if !is_root() {
        eprintln!("SKIPPED: user_mode_refusals needs root (useradd, mount)");
        return;
    }
    let s = Setup::new("b");
    let sealed = s.seal_json("x", &json!({"a": "b"}));
    let rt = s.rt.path.display().to_string();
    let before = owned_by(s.user.uid, &s.rt.path);

    // A written path outside the runtime directory: exit 6, one clear line.
    for (tag, extra, sx) in [
        (
            "mp",
            json!({"secretsMountPoint": "/tmp/hs-user-secrets.d"}),
            json!({}),
        ),
        (
            "link",
            json!({"symlinkPath": "/run/hs-user-secrets"}),
            json!({}),
        ),
        (
            "status",
            json!({"statusFile": "/tmp/hs-user-status.json"}),
            json!({}),
        ),
        (
            "path",
            json!({}),
            json!({"path": s.user.home.join("tunnel.json")}),
        ),
    ] {
        let m = s.manifest(tag, &sealed, extra, sx);
        let o = s.as_user(&[], &m);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(6), "{tag}: {e}");
        assert!(e.contains("outside the runtime directory"), "{tag}: {e}");
        assert!(e.contains(&rt), "{tag}: names the runtime directory: {e}");
    }

    // An owner other than the caller: exit 6.
    for (tag, sx) in [
        ("owner", json!({"owner": "root"})),
        ("uid", json!({"owner": null, "uid": 0})),
        ("group", json!({"group": "root"})),
    ] {
        let m = s.manifest(tag, &sealed, json!({}), sx);
        let o = s.as_user(&[], &m);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(6), "{tag}: {e}");
        assert!(e.contains("only for the caller"), "{tag}: {e}");
    }

    // restartVia systemctl: exit 6.
    let m = s.manifest(
        "restart",
        &sealed,
        json!({"restartVia": "systemctl", "systemctl": "/usr/bin/systemctl"}),
        json!({}),
    );
    let o = s.as_user(&[], &m);
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));

    // A sealed file others can write: refused before anything is read or written.
    let loose = s.p("loose.json");
    std::fs::copy(&sealed, &loose).unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o666)).unwrap();
    let m = s.manifest("loose", &loose, json!({}), json!({}));
    let o = s.as_user(&[], &m);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(
        e.contains("loose.json") && e.contains("not writable by others"),
        "{e}"
    );

    // A manifest without userMode, as the user: install must run as root.
    let m = s.manifest("system", &sealed, json!({"userMode": false}), json!({}));
    let o = s.as_user(&[], &m);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.starts_with("hostseal: install must run as root"), "{e}");

    // A user-mode manifest as root: refused.
    let m = s.manifest("asroot", &sealed, json!({}), json!({}));
    let o = common::hostseal(s.t.path())
        .env("XDG_RUNTIME_DIR", &s.rt.path)
        .arg("install")
        .arg(&m)
        .output()
        .unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("as root"), "{e}");

    // A runtime directory that is not the user's: refused.
    let m = s.manifest("ok", &sealed, json!({}), json!({}));
    let o = Command::new("setpriv")
        .args(["--reuid", &s.user.uid.to_string()])
        .args(["--regid", &s.user.gid.to_string(), "--init-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_hostseal"))
        .arg("install")
        .arg(&m)
        .current_dir(s.t.path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("XDG_RUNTIME_DIR", s.t.path())
        .output()
        .unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(
        e.contains("runtime directory") && e.contains("not by you"),
        "{e}"
    );

    // None of the refusals wrote anything, in the runtime directory or elsewhere.
    assert_eq!(std::fs::read_dir(&s.rt.path).unwrap().count(), 0);
    assert_eq!(before, owned_by(s.user.uid, &s.rt.path));
    // The user-mode check modes need neither root nor a runtime directory.
    let o = s.as_user(&["--check-mode", "manifest"], &m);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}
