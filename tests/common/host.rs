//! A host for the security tests of `install`: a root-owned test root (`trusted_tempdir`), an age
//! host key, files sealed by the real sops, and local unprivileged users made with `useradd`
//! (removed on drop) who act as the attacker through `setpriv`.

use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

#[allow(unused_imports)] // re-exported for the security tests; not every test crate uses it
pub use super::root_or_skip;

/// A local unprivileged user with a group of the same name, deleted on drop.
pub struct TempUser {
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
}

impl TempUser {
    /// Makes a user `hsa<pid><n>` (unique within the test run).
    pub fn new() -> TempUser {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let name = format!("hsa{}x{n}", std::process::id() % 100_000);
        super::users::add_system_user(&name);
        let u = nix::unistd::User::from_name(&name).unwrap().unwrap();
        TempUser {
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            name,
        }
    }

    /// Runs `sh -c script` as this user (no root left: `setpriv` with its uid, gid, no groups).
    pub fn sh(&self, script: &str) -> Output {
        let out = Command::new("setpriv")
            .arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--clear-groups")
            .args(["/bin/sh", "-c", script])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "as {}: {script}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// A directory owned by this user (0755), as a user's home or project directory would be.
    pub fn dir(&self, path: &Path) -> PathBuf {
        std::fs::create_dir_all(path).unwrap();
        chown(path, self.uid, self.gid);
        path.to_path_buf()
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        super::users::remove_user(&self.name, false);
    }
}

/// `chown` without following a symlink.
pub fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
}

/// `chmod`.
pub fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A test host: its root directory, its age key (root 0400) and recipient.
pub struct Host {
    /// The test root (root-owned 0755, see [`super::trusted_tempdir`]).
    pub t: tempfile::TempDir,
    /// The host's age identity file.
    pub key: PathBuf,
    /// Its recipient.
    pub recipient: String,
}

impl Host {
    /// A fresh host.
    pub fn new() -> Host {
        let t = super::trusted_tempdir();
        let (key, recipient) = super::age_keygen(t.path(), "host");
        chmod(&key, 0o400);
        Host { t, key, recipient }
    }

    /// A path in the test root.
    pub fn p(&self, rel: &str) -> PathBuf {
        self.t.path().join(rel)
    }

    /// Seals JSON with the real sops to the host; the file at `rel` is root-owned 0444.
    pub fn seal_json(&self, rel: &str, plain: &Value) -> PathBuf {
        super::sops_seal_json(&self.p(rel), &self.recipient, plain)
    }

    /// The manifest's paths for this host, plus `extra` (which wins), written to
    /// `manifest.json`.
    pub fn manifest(&self, extra: Value) -> PathBuf {
        let mut m = json!({
            "secretsMountPoint": self.p("m"), "symlinkPath": self.p("secrets"),
            "lockPath": self.p("lock/lock"), "restartListsDir": self.p("nixos"),
            "ageKeyFile": self.key,
        });
        if let (Some(m), Value::Object(e)) = (m.as_object_mut(), extra) {
            m.extend(e);
        }
        let path = self.p("manifest.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
        path
    }

    /// `hostseal install --no-mount --allow-disk MANIFEST`.
    pub fn install(&self, manifest: &Path) -> Output {
        super::hostseal(self.t.path())
            .args(["install", "--no-mount", "--allow-disk"])
            .arg(manifest)
            .output()
            .unwrap()
    }

    /// `hostseal install MANIFEST` (mounts a ramfs).
    pub fn install_mounting(&self, manifest: &Path) -> Output {
        super::hostseal(self.t.path())
            .arg("install")
            .arg(manifest)
            .output()
            .unwrap()
    }

    /// The status file (default place).
    pub fn status(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.p("m/status.json")).unwrap()).unwrap()
    }

    /// A `systemctl` at `path` that appends its arguments to `path.log`; every unit is active.
    pub fn recording_systemctl(&self, path: &Path) -> PathBuf {
        super::install_host::recording_systemctl(path)
    }
}

/// Whether `/proc/self/mountinfo` lists a mount exactly at `path`.
pub fn is_mount_point(path: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let want = path.to_str().unwrap();
    info.lines()
        .any(|l| l.split(' ').nth(4).is_some_and(|mp| mp == want))
}
