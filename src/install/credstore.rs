//! systemd credentials as an install target (docs/credstore.md).
//!
//! A secret with `credstore` is installed inside the generation like any file, under
//! `credstore/<name>` (`plain`: the plaintext) or `credstore.encrypted/<name>` (`encrypted`:
//! only the output of `systemd-creds encrypt --name=<name> --with-key=<key> - -`, fed the
//! plaintext through a pipe, so the plaintext is never on any filesystem). Both are
//! `root:root 0400` in `0700` directories. The directories systemd searches
//! (`/run/credstore`, `/run/credstore.encrypted`, configurable as `credstoreDir` /
//! `credstoreEncryptedDir`) are symlinks to `<symlinkPath>/credstore(.encrypted)`, so the
//! generation switch moves every credential at once, and carry-over, status and restarts are
//! the file path's own.
//!
//! An encrypted credential whose plaintext did not change keeps its previous ciphertext
//! (checked by `systemd-creds decrypt` of the previous copy), so units restart only on a real
//! change, not on every activation's fresh random IV.

use super::fs;
use super::generation::{self, LinkSlot};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use zeroize::Zeroizing;

/// The generation's directory of plain credentials.
pub const PLAIN_DIR: &str = "credstore";
/// The generation's directory of encrypted credentials.
pub const ENCRYPTED_DIR: &str = "credstore.encrypted";
/// Default for `credstoreDir`.
pub const DEFAULT_PLAIN_ROOT: &str = "/run/credstore";
/// Default for `credstoreEncryptedDir`.
pub const DEFAULT_ENCRYPTED_ROOT: &str = "/run/credstore.encrypted";
/// Largest output accepted from `systemd-creds`.
const MAX_OUTPUT: u64 = 64 * 1024 * 1024;

/// How a secret is delivered as a systemd credential (manifest `credstore`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credstore {
    /// `plain`: the plaintext in `/run/credstore/<name>` (for `LoadCredential=`).
    Plain,
    /// `encrypted`: `systemd-creds encrypt` output in `/run/credstore.encrypted/<name>` (for
    /// `LoadCredentialEncrypted=`), sealed with this key.
    Encrypted(CredKey),
}

impl Credstore {
    /// The generation directory this kind lives in.
    pub fn dir(self) -> &'static str {
        match self {
            Credstore::Plain => PLAIN_DIR,
            Credstore::Encrypted(_) => ENCRYPTED_DIR,
        }
    }
}

/// The key `systemd-creds encrypt --with-key=` uses (manifest `credstoreKey`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredKey {
    /// `auto`: systemd's choice (host key, plus the TPM2 when there is one).
    Auto,
    /// `host`: `/var/lib/systemd/credential.secret`.
    Host,
    /// `tpm2`: the machine's TPM2.
    Tpm2,
    /// `host+tpm2`: both.
    HostTpm2,
}

impl CredKey {
    /// The manifest spelling, which is also systemd-creds' argument.
    pub fn from_name(name: &str) -> Option<CredKey> {
        Some(match name {
            "auto" => CredKey::Auto,
            "host" => CredKey::Host,
            "tpm2" => CredKey::Tpm2,
            "host+tpm2" => CredKey::HostTpm2,
            _ => return None,
        })
    }

    /// The `--with-key=` value.
    pub fn as_arg(self) -> &'static str {
        match self {
            CredKey::Auto => "auto",
            CredKey::Host => "host",
            CredKey::Tpm2 => "tpm2",
            CredKey::HostTpm2 => "host+tpm2",
        }
    }
}

/// systemd's rule for credential names: a valid file name (no `/`, not `.`/`..`, ≤ 255 bytes),
/// here also printable ASCII without spaces (it is a command-line argument and a unit setting).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b'/')
}

/// The host's `systemd-creds` (an absolute path from the manifest's `systemdCreds`).
pub struct SystemdCreds<'a>(pub &'a Path);

impl SystemdCreds<'_> {
    /// `systemd-creds encrypt --name=<name> --with-key=<key> - -`: plaintext in by pipe,
    /// ciphertext out by pipe.
    pub fn encrypt(&self, name: &str, key: CredKey, plain: &[u8]) -> Result<Vec<u8>, String> {
        let out = self.run(
            &[
                "encrypt",
                &format!("--name={name}"),
                &format!("--with-key={}", key.as_arg()),
                "-",
                "-",
            ],
            plain,
        )?;
        Ok(std::mem::take(&mut *Zeroizing::new(out)))
    }

    /// `systemd-creds decrypt --name=<name> - -`.
    pub fn decrypt(&self, name: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
        self.run(&["decrypt", &format!("--name={name}"), "-", "-"], sealed)
            .map(Zeroizing::new)
    }

    /// Runs systemd-creds with an empty environment in `/`, `input` written from a second
    /// thread (no pipe deadlock), stdout collected (bounded); the error is its last stderr line.
    fn run(&self, args: &[&str], input: &[u8]) -> Result<Vec<u8>, String> {
        if !self.0.is_absolute() {
            return Err("systemdCreds is not an absolute path".into());
        }
        let exe = super::trust::check_trusted_executable(self.0).map_err(|e| {
            let hint = e
                .hint(self.0)
                .map(|h| format!(" (hint: {h})"))
                .unwrap_or_default();
            format!("systemdCreds {} not run: {e}{hint}", self.0.display())
        })?;
        let mut child = exe
            .command()
            .args(args)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot run {}: {}",
                    self.0.display(),
                    crate::error::io_message(&e)
                )
            })?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("cannot connect to systemd-creds".into());
        };
        let mut out = Vec::new();
        let mut err = Vec::new();
        let read = std::thread::scope(|s| {
            s.spawn(move || {
                let _ = stdin.write_all(input);
            });
            let errs = s.spawn(move || stderr.take(64 * 1024).read_to_end(&mut err).map(|_| err));
            let r = stdout.take(MAX_OUTPUT).read_to_end(&mut out);
            (r, errs.join().ok().and_then(Result::ok).unwrap_or_default())
        });
        let status = child.wait().map_err(|e| crate::error::io_message(&e))?;
        let (read, err) = read;
        read.map_err(|e| format!("reading systemd-creds output: {e}"))?;
        if !status.success() {
            let text = String::from_utf8_lossy(&err);
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            let shown: String = last
                .chars()
                .take(300)
                .map(|c| if c.is_control() { '?' } else { c })
                .collect();
            return Err(format!("systemd-creds {} failed: {shown}", args[0]));
        }
        Ok(out)
    }
}

/// The ciphertext to install for an encrypted credential: the previous one when it is sealed
/// with the same kind of key as a fresh encryption today and still decrypts to `plain`; else
/// the fresh encryption. (A changed `credstoreKey`, or `auto` finding a TPM2 it did not find
/// before, therefore re-seals.)
pub fn seal(
    creds: Option<&Path>,
    name: &str,
    key: CredKey,
    plain: &[u8],
    previous: Option<&[u8]>,
) -> Result<Vec<u8>, String> {
    let creds = SystemdCreds(creds.ok_or("systemdCreds is not set in the manifest")?);
    let fresh = creds.encrypt(name, key, plain)?;
    if let Some(old) = previous {
        let same_key = key_kind(old).is_some() && key_kind(old) == key_kind(&fresh);
        if same_key {
            if let Ok(opened) = creds.decrypt(name, old) {
                if opened.as_slice() == plain {
                    return Ok(old.to_vec());
                }
            }
        }
    }
    Ok(fresh)
}

/// The kind of key a credential is sealed with: the 16-byte id that starts systemd's
/// credential header (`systemd-creds encrypt` writes it base64-encoded), e.g.
/// `5a1c6a86…` for the host key, `0c7cc07b…` for the TPM2, `93a89409…` for both.
fn key_kind(sealed: &[u8]) -> Option<[u8; 16]> {
    use base64::prelude::{Engine, BASE64_STANDARD};
    let start: Vec<u8> = sealed
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .take(24)
        .collect();
    let header = BASE64_STANDARD.decode(start).ok()?;
    header.get(..16)?.try_into().ok()
}

/// Where systemd looks for credentials (each a symlink into the current generation).
#[derive(Debug, Clone)]
pub struct Roots {
    /// `credstoreDir` (default `/run/credstore`).
    pub plain: PathBuf,
    /// `credstoreEncryptedDir` (default `/run/credstore.encrypted`).
    pub encrypted: PathBuf,
}

/// Makes (or keeps) the symlink `root` → `target` atomically, as `symlinkPath` is made: an
/// absent entry, a symlink or an empty directory is replaced; anything else is refused.
pub fn link_root(root: &Path, target: &Path) -> Result<(), String> {
    let (parent, name) = fs::split_parent(root).ok_or("not a file path")?;
    let dir = fs::walk_dir(parent, true).map_err(|e| e.message())?;
    let slot = generation::inspect_link(&dir, name)?;
    if let LinkSlot::Symlink(t) = &slot {
        if Path::new(t) == target {
            return Ok(());
        }
    }
    generation::switch_link(&dir, name, target, &slot).map_err(|e| e.desc().to_lowercase())
}

/// Removes the symlink `root` if it still points at `target` (no credential of this kind is
/// left); anything else there is left alone.
pub fn unlink_root(root: &Path, target: &Path) -> bool {
    super::custom_paths::unlink_if_ours(root, target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys() {
        assert!(valid_name("cloudflared-tunnel.json"));
        for bad in ["", ".", "..", "a/b", "a b", "a\nb", &"x".repeat(256)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        for k in ["auto", "host", "tpm2", "host+tpm2"] {
            assert_eq!(CredKey::from_name(k).unwrap().as_arg(), k);
        }
        assert!(CredKey::from_name("tpm2+host").is_none());
    }

    #[test]
    fn root_link_replaces_empty_dir_and_refuses_content() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("credstore");
        std::fs::create_dir(&root).unwrap();
        let target = Path::new("/run/secrets/credstore");
        if nix::unistd::Uid::effective().is_root() {
            link_root(&root, target).unwrap();
            assert_eq!(std::fs::read_link(&root).unwrap(), target);
            link_root(&root, target).unwrap();
            assert!(unlink_root(&root, target));
            std::fs::create_dir(&root).unwrap();
            std::fs::write(root.join("x"), b"x").unwrap();
            assert!(link_root(&root, target).is_err());
        }
    }

    #[test]
    fn key_kind_is_the_header_id() {
        // The start of a real `systemd-creds encrypt --with-key=host` output (systemd 252).
        let host = b"Whxqht+dQJax1aZeCGLxmiAAAAABAAAADAAAABAAAAAs1bJVD3hO8fiAS/8AAAAA\nPxS4";
        assert_eq!(
            hex::encode(key_kind(host).unwrap()),
            "5a1c6a86df9d4096b1d5a65e0862f19a"
        );
        assert!(key_kind(b"short").is_none());
        assert!(key_kind(b"!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!").is_none());
    }

    #[test]
    fn missing_binary_is_a_message() {
        let err = seal(None, "n", CredKey::Host, b"x", None).unwrap_err();
        assert!(err.contains("systemdCreds"));
        let err = SystemdCreds(Path::new("/nonexistent/systemd-creds"))
            .encrypt("n", CredKey::Host, b"x")
            .unwrap_err();
        assert!(err.contains("not run: no such file"), "{err}");
        let err = SystemdCreds(Path::new("systemd-creds"))
            .encrypt("n", CredKey::Host, b"x")
            .unwrap_err();
        assert!(err.contains("absolute"), "{err}");
    }
}
