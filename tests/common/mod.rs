//! Helpers shared by the integration tests: the real peers (sops, age) and the built binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod host;

/// The real `sops` binary: `$HOSTSEAL_SOPS`, else the virtualenv `.ci/run` makes.
pub fn sops_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("HOSTSEAL_SOPS") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/sops");
    assert!(
        p.exists(),
        "the real sops is needed: run .ci/run once, or set HOSTSEAL_SOPS"
    );
    p
}

/// A `sops` command isolated from the user's environment: no config lookup outside `dir`, no
/// version check, no identities but the ones given.
pub fn sops(dir: &Path) -> Command {
    let mut c = Command::new(sops_bin());
    c.current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir)
        .env("SOPS_DISABLE_VERSION_CHECK", "1");
    c
}

/// The hostseal binary built for these tests, isolated the same way.
pub fn hostseal(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hostseal"));
    c.current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir);
    c
}

/// Makes a fresh age identity with Go `age-keygen`; returns (identity file, recipient).
pub fn age_keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(format!("{name}.key"));
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&path)
        .output()
        .expect("age-keygen (Debian package age) is needed");
    assert!(out.status.success(), "age-keygen failed");
    let text = std::fs::read_to_string(&path).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    (path, recipient)
}

/// Runs a command and returns stdout, panicking with stderr on failure.
pub fn run_ok(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Path of a file under `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Path of a file of sops-nix's or agenix's own test data, vendored unchanged under
/// `tests/fixtures/peers/` (see each directory's `PROVENANCE.md`).
pub fn peer(name: &str) -> PathBuf {
    fixture("peers").join(name)
}

/// A fresh 0755 directory under `target/` for tests of `install`: files root reads at activation
/// must sit in directories only root can write, which `/tmp` (sticky, world-writable) is not.
pub fn trusted_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("trusted");
    std::fs::create_dir_all(&base).unwrap();
    let t = tempfile::tempdir_in(&base).unwrap();
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    t
}

/// A 0400 copy of a private key in `dir`: `install` refuses identity files others can read.
pub fn private_copy(src: &Path, dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dst = dir.join(format!(
        "private-{}",
        src.file_name().unwrap().to_string_lossy()
    ));
    let _ = std::fs::remove_file(&dst);
    std::fs::copy(src, &dst).unwrap();
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o400)).unwrap();
    dst
}
