//! Step 4 of docs/manifest.md#what-install-does: the host's identities, from the manifest only (`ageKeyFile`,
//! `ageSshKeyPaths`, `sshKeyPaths`). Each key file must pass the trust rule for identities
//! ([`super::trust`]: root-owned, 0400/0600, regular, ≤ 64 KiB, reached through root-controlled
//! directories) and is handed to the keys module as bytes; derived keys exist only in memory.

use super::extract::{Decrypted, Opener, PlainTree};
use super::plan::Plan;
use super::trust;
use crate::error::Error;
use crate::format::Format;
use crate::keys::identity::IdentitySet;
use crate::keys::plugin::{PluginHost, PluginPaths};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Largest key file accepted.
pub const MAX_KEY_FILE: u64 = 64 * 1024;

/// The key files named by the manifest, in order.
pub fn key_paths(plan: &Plan) -> Vec<PathBuf> {
    plan.age_key_file
        .iter()
        .chain(&plan.age_ssh_key_paths)
        .chain(&plan.ssh_key_paths)
        .cloned()
        .collect()
}

/// One key file's bytes.
pub struct KeyFile {
    /// Where it came from (shown in messages).
    pub source: String,
    /// Its content.
    pub bytes: Zeroizing<Vec<u8>>,
}

/// Reads every key file; a missing or unusable one is a warning, not an error.
pub fn read_all(paths: &[PathBuf]) -> (Vec<KeyFile>, Vec<String>) {
    let mut keys = Vec::new();
    let mut warnings = Vec::new();
    for p in paths {
        match read_key(p) {
            Ok(bytes) => keys.push(KeyFile {
                source: p.display().to_string(),
                bytes,
            }),
            Err(m) => warnings.push(format!("{}: {m}", p.display())),
        }
    }
    (keys, warnings)
}

fn read_key(p: &Path) -> Result<Zeroizing<Vec<u8>>, String> {
    trust::read_trusted_file(p, trust::Use::Identity, MAX_KEY_FILE).map_err(|e| match e.hint(p) {
        Some(h) => format!("{e} (hint: {h})"),
        None => e.to_string(),
    })
}

/// The real opener: the sops core with the host's identities.
pub struct HostOpener {
    ids: IdentitySet,
    /// How many identities were loaded.
    pub count: usize,
    /// The plugin binaries that passed the trust rule, held open: the identities run them
    /// through their `/proc/self/fd` paths, which stay valid while these live.
    _plugins: Vec<trust::TrustedExecutable>,
}

impl HostOpener {
    /// Builds the identity set from key file bytes; parse errors are warnings (line numbers
    /// only, as the keys module reports them). Plugin identities run only the binaries in
    /// `plugins` (the manifest's `agePlugins`), never one found on `PATH`, never prompting.
    pub fn new(keys: &[KeyFile], plugins: &[PathBuf]) -> (HostOpener, Vec<String>) {
        let mut ids = IdentitySet::new();
        let (paths, mut warnings) = PluginPaths::from_list(plugins);
        let mut held = Vec::new();
        let (paths, refused) = paths.checked(|p| {
            let exe = trust::check_trusted_executable(p).map_err(|e| {
                let hint = e
                    .hint(p)
                    .map(|h| format!(" (hint: {h})"))
                    .unwrap_or_default();
                format!("age plugin not run: {e}{hint}")
            })?;
            let run = exe.exec_path();
            held.push(exe);
            Ok(run)
        });
        warnings.extend(refused);
        ids.set_plugin_host(PluginHost::Fixed(paths));
        let mut count = 0usize;
        for k in keys {
            match add_identity(&mut ids, &k.bytes, &k.source) {
                Ok(n) => count = count.saturating_add(n),
                Err(e) => warnings.push(format!("{}: {}", k.source, e.message)),
            }
        }
        (
            HostOpener {
                ids,
                count,
                _plugins: held,
            },
            warnings,
        )
    }
}

/// The keys module's entry point for identity bytes (auto-detects age identities vs OpenSSH
/// private keys; ed25519 yields native + derived identities).
fn add_identity(ids: &mut IdentitySet, bytes: &[u8], source: &str) -> Result<usize, Error> {
    ids.add_bytes(bytes, source)
}

impl Opener for HostOpener {
    fn open(&self, bytes: &[u8], format: Format) -> Result<Decrypted, Error> {
        if self.count == 0 {
            return Err(Error::no_key("no usable identity on this host")
                .with_hint("set ageKeyFile or ageSshKeyPaths to an existing key"));
        }
        match format {
            Format::Age => crate::age_file::decrypt(bytes, &self.ids)
                .map(Decrypted::Whole)
                .map_err(install_hint),
            f => {
                let mut opened = crate::sops::open(bytes, f, &self.ids).map_err(install_hint)?;
                let tree = std::mem::take(&mut opened.tree);
                Ok(Decrypted::Tree(PlainTree(tree)))
            }
        }
    }
}

/// What to do when no key of the host opens a file. The workstation hint (`--identity`,
/// `$SOPS_AGE_KEY_FILE`) does not apply: install reads only the keys its manifest names.
pub const NO_KEY_HINT: &str = "seal the file to this host's recipient (hostseal updatekeys), or name the host's key in the manifest: sshKeyPaths / ageSshKeyPaths (ssh keys) or ageKeyFile (age key file)";

/// Replaces the hint of a no-key error by [`NO_KEY_HINT`].
fn install_hint(mut e: Error) -> Error {
    if e.kind == crate::error::Kind::NoKey {
        e.hint = Some(NO_KEY_HINT.to_string());
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_oversized_key_files_are_warnings() {
        use std::os::unix::fs::PermissionsExt;
        if !crate::install::trust::test_support::is_root() {
            eprintln!("skipped: needs root (key files must be root-owned)");
            return;
        }
        let t = crate::install::trust::test_support::trusted_tmp();
        let big = t.path().join("big");
        std::fs::write(&big, vec![b'x'; 70 * 1024]).unwrap();
        let ok = t.path().join("ok");
        std::fs::write(&ok, b"AGE-SECRET-KEY-1X\n").unwrap();
        std::fs::set_permissions(&ok, std::fs::Permissions::from_mode(0o400)).unwrap();
        let open = t.path().join("open");
        std::fs::write(&open, b"AGE-SECRET-KEY-1X\n").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (keys, warns) = read_all(&[t.path().join("missing"), big, ok, open.clone()]);
        assert_eq!(keys.len(), 1);
        assert_eq!(warns.len(), 3);
        assert!(
            warns[2].contains(&format!("chmod 0400 {}", open.display())),
            "{warns:?}"
        );
        assert!(warns.iter().all(|w| !w.contains("AGE-SECRET")));
    }
}
