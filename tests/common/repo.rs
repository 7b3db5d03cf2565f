//! A temporary repository for the key-rotation and audit tests: age keys made by the real
//! `age-keygen`, files sealed by the real sops, and hostseal run inside it.

use super::{age_keygen, hostseal, run_ok, sops};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use tempfile::TempDir;

/// An age key: (identity file, `age1…` recipient).
pub type Key = (PathBuf, String);

/// A temporary directory with the given subdirectories.
pub struct Repo {
    /// The repository root.
    pub dir: TempDir,
}

impl Repo {
    /// A fresh repository with `dirs` created.
    pub fn new(dirs: &[&str]) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        for d in dirs {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Repo { dir }
    }

    /// A new age key named `name` (`<name>.key` in the repository).
    pub fn key(&self, name: &str) -> Key {
        age_keygen(self.dir.path(), name)
    }

    /// A path inside the repository.
    pub fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `.sops.yaml`.
    pub fn write_rules(&self, text: &str) {
        std::fs::write(self.p(".sops.yaml"), text).unwrap();
    }

    /// Writes plaintext and seals it in place with the real sops to `recipients`.
    pub fn sops_seal(&self, name: &str, plain: &[u8], recipients: &[&str]) -> PathBuf {
        let path = self.p(name);
        let bytes = sops_seal_outside(plain, &path, recipients);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// `sops decrypt FILE` with `key` as the only identity.
    pub fn sops_decrypt(&self, file: &Path, key: &Path) -> Output {
        sops(self.dir.path())
            .env("SOPS_AGE_KEY_FILE", key)
            .arg("decrypt")
            .arg(file)
            .output()
            .unwrap()
    }

    /// hostseal with `key` as its identity, no terminal on stdin.
    pub fn hs(&self, key: &Path, args: &[&str]) -> Output {
        hostseal(self.dir.path())
            .env("SOPS_AGE_KEY_FILE", key)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// hostseal with no identity at all.
    pub fn hs_no_key(&self, args: &[&str]) -> Output {
        hostseal(self.dir.path()).args(args).output().unwrap()
    }
}

/// Seals `plain` with the real sops in a directory of its own (no `.sops.yaml` in reach: sops
/// refuses `--age` when a rules file has no rule for the path), named like `like`.
pub fn sops_seal_outside(plain: &[u8], like: &Path, recipients: &[&str]) -> Vec<u8> {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join(like.file_name().unwrap());
    std::fs::write(&f, plain).unwrap();
    run_ok(
        sops(d.path())
            .args(["encrypt", "--age", &recipients.join(",")])
            .arg(&f),
    )
}

/// Output bytes as text, for messages and `contains` checks.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A repository with three keys, an admin and two hosts: the cast of the key-rotation tests.
pub struct AdminAndHosts {
    /// The repository.
    pub repo: Repo,
    /// The admin's key.
    pub admin: Key,
    /// The first host's key.
    pub host1: Key,
    /// The second host's key.
    pub host2: Key,
}

impl std::ops::Deref for AdminAndHosts {
    type Target = Repo;
    fn deref(&self) -> &Repo {
        &self.repo
    }
}

impl AdminAndHosts {
    /// A fresh repository with `dirs` and three new keys.
    pub fn new(dirs: &[&str]) -> AdminAndHosts {
        let repo = Repo::new(dirs);
        AdminAndHosts {
            admin: repo.key("admin"),
            host1: repo.key("host1"),
            host2: repo.key("host2"),
            repo,
        }
    }
}
