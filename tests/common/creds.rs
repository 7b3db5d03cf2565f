//! The real `systemd-creds` for the credential tests, kept off the machine's own keys: a host
//! key made by `systemd-creds setup` in the test's directory (`SYSTEMD_CREDENTIAL_SECRET`) and,
//! for the TPM2 keys, a software TPM (`SYSTEMD_TPM2_DEVICE`), set by a small wrapper script.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian's `systemd-creds`.
pub const SYSTEMD_CREDS: &str = "/usr/bin/systemd-creds";

/// Whether the credential tests can run (root, and `systemd-creds` installed); when not, prints
/// why `test` is skipped (the caller returns).
pub fn ready(test: &str) -> bool {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("!!! SKIPPED {test}: needs root: the credential is NOT installed for real !!!");
        return false;
    }
    if !Path::new(SYSTEMD_CREDS).exists() {
        eprintln!("!!! SKIPPED {test}: {SYSTEMD_CREDS} missing (Debian package systemd) !!!");
        return false;
    }
    true
}

/// The host key of `systemd-creds` in `dir` (not the machine's
/// /var/lib/systemd/credential.secret), made by `systemd-creds setup` when missing.
pub fn credential_secret(dir: &Path) -> PathBuf {
    let secret = dir.join("credential.secret");
    if !secret.exists() {
        let o = Command::new(SYSTEMD_CREDS)
            .arg("setup")
            .env("SYSTEMD_CREDENTIAL_SECRET", &secret)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    secret
}

/// A `systemd-creds` wrapper in `dir`: the host key of [`credential_secret`], and the given TPM2
/// device if any. Named `systemd-creds` without a TPM, else `systemd-creds-<device>` (one per
/// device: a shared name would let one test step rewire another's).
pub fn creds_wrapper(dir: &Path, tpm: Option<&str>) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let secret = credential_secret(dir);
    let tpm_line = tpm
        .map(|t| format!("export SYSTEMD_TPM2_DEVICE='{t}'\n"))
        .unwrap_or_default();
    let name = match tpm {
        None => "systemd-creds".to_string(),
        Some(t) => {
            let tag: String = t
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            format!("systemd-creds-{tag}")
        }
    };
    let bin = dir.join(name);
    std::fs::write(
        &bin,
        format!(
            "#!/bin/sh\nexport SYSTEMD_CREDENTIAL_SECRET='{}'\n{tpm_line}exec {SYSTEMD_CREDS} \"$@\"\n",
            secret.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}
