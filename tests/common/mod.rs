//! Helpers shared by the integration tests: the real peers (sops, age) and the built binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod creds;
pub mod host;
pub mod install_host;
pub mod repo;
pub mod users;

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

/// A fresh 0755 directory for tests of `install`: files root reads at activation must sit in
/// directories only root can write, which `/tmp` (sticky, world-writable) is not — nor any
/// checkout cloned under it. As root (where those tests run) it is under `/run/hostseal-tests`,
/// else under `target/` (those tests skip when not root).
pub fn trusted_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let base = if nix::unistd::geteuid().is_root() {
        PathBuf::from("/run/hostseal-tests")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("trusted")
    };
    std::fs::create_dir_all(&base).unwrap();
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
    let t = tempfile::tempdir_in(&base).unwrap();
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    t
}

/// A copy of a peer's sealed file (see [`peer`]) in `dir`, 0444: `install` reads sealed files
/// only from directories only root can write, which a checkout under `/tmp` is not.
pub fn trusted_peer(dir: &Path, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dst = dir.join(format!("peer-{}", name.replace('/', "-")));
    let _ = std::fs::remove_file(&dst);
    std::fs::copy(peer(name), &dst).unwrap();
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o444)).unwrap();
    dst
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

/// Whether the tests run as root; when not, prints why `test` is skipped (the caller returns),
/// except under `CI=true`, where it fails.
pub fn root_or_skip(test: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        // In CI a skipped root test would hide a regression: there it fails instead.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test} needs root, and CI=true: the root tests must run in CI"
        );
        eprintln!("SKIPPED {test}: needs root (real chown, mount and users); CI runs it as root");
    }
    root
}

/// The state letter of a process in `/proc/PID/stat` (`R`, `S`, `T`, `Z`, …).
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// A barrier the test controls: polls `reached` while the child runs and, once it holds,
/// stops the child with SIGSTOP and waits until it is stopped. The test then checks the state
/// the child is frozen in, which is exactly the state a following SIGKILL lands on. Returns
/// `false` when the child exited before it could be stopped.
pub fn stop_when(child: &mut std::process::Child, mut reached: impl FnMut() -> bool) -> bool {
    use nix::sys::signal::{kill, Signal};
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if reached() {
            break;
        }
        std::thread::yield_now();
    }
    if kill(pid, Signal::SIGSTOP).is_err() {
        return false;
    }
    loop {
        match proc_state(child.id()) {
            Some('T' | 't') => return true,
            Some('Z' | 'X') | None => return false,
            _ => std::thread::yield_now(),
        }
    }
}

/// SIGKILLs a child (stopped or not) and reaps it.
pub fn kill_9(child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether process `pid` has `path` open.
pub fn has_open(pid: u32, path: &Path) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t == path))
}

/// Whether process `pid` is asleep in a timed sleep (`nanosleep`), as a polling wait is.
pub fn in_timed_sleep(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("nanosleep"))
}

/// Seals `plain` (of sops `input_type`: json, yaml, binary, …) with the real sops to `recipient`
/// into `dest` (replacing it), root's and 0444 (readable by all: no secret in it); the
/// plaintext goes to a sibling `<name>.plain` only for the call.
pub fn sops_seal(dest: &Path, recipient: &str, plain: &[u8], input_type: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = dest.parent().unwrap();
    let plain_path = dir.join(format!(
        "{}.plain",
        dest.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&plain_path, plain).unwrap();
    let out = run_ok(
        sops(dir)
            .args(["encrypt", "--age", recipient])
            .args(["--input-type", input_type, "--output-type", "json"])
            .arg(&plain_path),
    );
    std::fs::remove_file(&plain_path).unwrap();
    let _ = std::fs::remove_file(dest);
    std::fs::write(dest, out).unwrap();
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o444)).unwrap();
    dest.to_path_buf()
}

/// [`sops_seal`] for a JSON value.
pub fn sops_seal_json(dest: &Path, recipient: &str, plain: &serde_json::Value) -> PathBuf {
    sops_seal(
        dest,
        recipient,
        &serde_json::to_vec_pretty(plain).unwrap(),
        "json",
    )
}
