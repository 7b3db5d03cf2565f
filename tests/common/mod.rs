//! Helpers shared by the integration tests: the real peers (sops, age) and the built binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Path of a file under `../shared/peers` (sops-nix's and agenix's test data).
pub fn peer(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/peers")
        .join(name)
}
