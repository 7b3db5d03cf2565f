//! A temporary host root for the `hostseal install` tests (in a trusted directory under `target/`: the installer refuses inputs under `/tmp`): mount point, link, lock and restart
//! lists all inside one directory, and the manifest written there.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary host root.
pub struct Host {
    /// The root directory.
    pub t: tempfile::TempDir,
}

impl Host {
    /// A fresh host root.
    pub fn new() -> Host {
        Host {
            t: super::trusted_tempdir(),
        }
    }

    /// A path inside the host root.
    pub fn p(&self, rel: &str) -> PathBuf {
        self.t.path().join(rel)
    }

    /// Writes `manifest.json`: mount point `m`, link `secrets`, lock `lock/lock`, restart
    /// lists in `nixos`, and the fields of `extra` (which win).
    pub fn manifest(&self, extra: Value) -> PathBuf {
        let mut m = json!({
            "secretsMountPoint": self.p("m"), "symlinkPath": self.p("secrets"),
            "lockPath": self.p("lock/lock"), "restartListsDir": self.p("nixos"),
        });
        if let (Some(m), Value::Object(e)) = (m.as_object_mut(), extra) {
            m.extend(e);
        }
        let path = self.p("manifest.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
        path
    }

    /// `hostseal install FLAGS --no-mount --allow-disk MANIFEST`.
    pub fn install(&self, manifest: &Path, flags: &[&str]) -> Output {
        super::hostseal(self.t.path())
            .arg("install")
            .args(flags)
            .args(["--no-mount", "--allow-disk"])
            .arg(manifest)
            .output()
            .unwrap()
    }

    /// Where the link points.
    pub fn link(&self) -> PathBuf {
        std::fs::read_link(self.p("secrets")).unwrap()
    }

    /// The status file, parsed.
    pub fn status(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.p("m/status.json")).unwrap()).unwrap()
    }
}

/// Unmounts (lazily) on drop, also when an assertion fails.
pub struct Unmount(pub PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The exit code (-1 for a signal).
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `m` to `dir/manifest.json` and runs `hostseal install` on it (mounting a ramfs), as
/// activation does with the manifest the NixOS module wrote.
pub fn install_value(dir: &Path, m: &Value) -> Output {
    let p = dir.join("manifest.json");
    std::fs::write(&p, serde_json::to_vec_pretty(m).unwrap()).unwrap();
    super::hostseal(dir)
        .arg("install")
        .arg(&p)
        .output()
        .unwrap()
}

/// Asserts that `hostseal install` exited 0, showing its stderr otherwise.
pub fn assert_installed(o: &Output) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "hostseal install failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Writes an executable `systemctl` at `path` that appends its arguments to `path.log` (which
/// it returns) and reports every unit active.
pub fn recording_systemctl(path: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let log = path.with_extension("log");
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> {}\n[ \"$1\" = is-active ] && echo active\nexit 0\n",
        log.display()
    );
    std::fs::write(path, script).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    log
}

/// A host in a trusted temporary directory ([`super::trusted_tempdir`], 0755) with an age
/// identity of its own (a 0400 copy, as `install` requires) and its recipient.
pub struct KeyedHost {
    /// The host's directory.
    pub t: tempfile::TempDir,
    /// The host's age identity file.
    pub key: PathBuf,
    /// Its recipient.
    pub recipient: String,
}

impl KeyedHost {
    /// A fresh host with a fresh key.
    pub fn new() -> KeyedHost {
        let t = super::trusted_tempdir();
        let (key, recipient) = super::age_keygen(t.path(), "host");
        let key = super::private_copy(&key, t.path());
        KeyedHost { t, key, recipient }
    }

    /// A path in the host's directory.
    pub fn p(&self, rel: &str) -> PathBuf {
        self.t.path().join(rel)
    }
}
