//! Age plugins: recipients `age1<name>1…` and identities `AGE-PLUGIN-<NAME>-1…`, whose keys
//! live in an external program `age-plugin-<name>` (a YubiKey, a TPM, …).
//!
//! Where the program comes from is decided by a [`PluginHost`], never by the key text:
//! - on a workstation ([`PluginHost::Path`]) `age-plugin-<name>` is found on `PATH`, as age,
//!   rage and sops do, and may talk to the user through `/dev/tty` ([`tty::TtyCallbacks`]);
//! - in `install` ([`PluginHost::Fixed`]) only the absolute paths the manifest names
//!   (`agePlugins`) run, with an empty environment, and a plugin that asks for a human fails
//!   ([`fixed`]).
//!
//! Plugin calls are serialised process-wide (one prompt, one hardware token at a time, even
//! when files are opened on several cores). See docs/plugins.md.

pub mod fixed;
pub mod tty;

use crate::error::Error;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Prefix of a plugin binary's file name.
pub const BINARY_PREFIX: &str = "age-plugin-";

/// Where plugin programs come from.
#[derive(Clone, Debug, Default)]
pub enum PluginHost {
    /// Plugins never run: a plugin identity fails with a message saying so. The default for a
    /// bare identity set, so nothing runs a program unless a caller chose where it comes from.
    #[default]
    Refused,
    /// Workstation commands: `age-plugin-<name>` on `PATH`, interactive on a terminal.
    Path,
    /// `install`: only these binaries, never prompting.
    Fixed(PluginPaths),
}

/// Plugin binaries by plugin name, from absolute paths named `…/age-plugin-<name>`.
#[derive(Clone, Debug, Default)]
pub struct PluginPaths(BTreeMap<String, PathBuf>);

impl PluginPaths {
    /// The plugins at `paths` (the manifest's `agePlugins`). A path that is not absolute or
    /// whose file name is not `age-plugin-<name>` is left out with a warning naming it.
    pub fn from_list(paths: &[PathBuf]) -> (PluginPaths, Vec<String>) {
        let mut map = BTreeMap::new();
        let mut warnings = Vec::new();
        for p in paths {
            match plugin_name_of(p) {
                Ok(name) => {
                    if map.insert(name.clone(), p.clone()).is_some() {
                        warnings.push(format!(
                            "{}: a second binary for plugin \"{name}\" replaces the first",
                            p.display()
                        ));
                    }
                }
                Err(m) => warnings.push(format!("{}: {m}", p.display())),
            }
        }
        (PluginPaths(map), warnings)
    }

    /// The same plugins, each binary replaced by what `check` returns for it (install runs each
    /// through its trust rule and gets back the path of the checked inode); a binary that fails
    /// the check is left out, with a warning naming it and why.
    pub fn checked(
        self,
        mut check: impl FnMut(&Path) -> Result<PathBuf, String>,
    ) -> (PluginPaths, Vec<String>) {
        let mut map = BTreeMap::new();
        let mut warnings = Vec::new();
        for (name, binary) in self.0 {
            match check(&binary) {
                Ok(run) => {
                    map.insert(name, run);
                }
                Err(m) => warnings.push(format!("{}: {m}", binary.display())),
            }
        }
        (PluginPaths(map), warnings)
    }

    /// The binary for plugin `name`, if the manifest named one.
    pub fn get(&self, name: &str) -> Option<&Path> {
        self.0.get(name).map(PathBuf::as_path)
    }

    /// How many plugins are known.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no plugin is known.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The plugin name of an absolute `…/age-plugin-<name>` path.
fn plugin_name_of(path: &Path) -> Result<String, &'static str> {
    if !path.is_absolute() {
        return Err("a plugin binary must be an absolute path");
    }
    let file = path
        .file_name()
        .and_then(|f| f.to_str())
        .ok_or("a plugin binary path must end in a file name")?;
    let name = file
        .strip_prefix(BINARY_PREFIX)
        .ok_or("a plugin binary must be named age-plugin-<name>")?;
    if !valid_name(name) {
        return Err("invalid plugin name (letters, digits, + - . _)");
    }
    Ok(name.to_string())
}

/// age's rule for plugin names.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-._".contains(&b))
}

/// Taken around every plugin call.
static PLUGIN_CALL: Mutex<()> = Mutex::new(());

/// Serialises plugin calls; a poisoned lock (a panic elsewhere) still serialises.
pub(crate) fn call_guard() -> MutexGuard<'static, ()> {
    PLUGIN_CALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An age identity or recipient whose calls hold [`call_guard`].
pub(crate) struct Serialised<T>(pub T);

impl<T: age::Identity> age::Identity for Serialised<T> {
    fn unwrap_stanza(
        &self,
        stanza: &age_core::format::Stanza,
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        let _one_at_a_time = call_guard();
        self.0.unwrap_stanza(stanza)
    }

    fn unwrap_stanzas(
        &self,
        stanzas: &[age_core::format::Stanza],
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        let _one_at_a_time = call_guard();
        self.0.unwrap_stanzas(stanzas)
    }
}

impl<T: age::Recipient> age::Recipient for Serialised<T> {
    fn wrap_file_key(
        &self,
        file_key: &age_core::format::FileKey,
    ) -> Result<
        (
            Vec<age_core::format::Stanza>,
            std::collections::HashSet<String>,
        ),
        age::EncryptError,
    > {
        let _one_at_a_time = call_guard();
        self.0.wrap_file_key(file_key)
    }
}

/// The error for a plugin binary that is not on `PATH`.
pub(crate) fn missing_on_path(name: &str) -> Error {
    Error::failure(format!("{BINARY_PREFIX}{name} not found on PATH")).with_hint(format!(
        "install the {BINARY_PREFIX}{name} plugin (see docs/plugins.md)"
    ))
}

/// Plugin output made safe to print: control characters (terminal escapes) replaced,
/// bidirectional controls (which age's messages wrap names in) dropped, at most 1000
/// characters.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        .take(1000)
        .map(|c| if c.is_control() && c != '\n' { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_paths_keep_only_absolute_age_plugin_names() {
        let (paths, warnings) = PluginPaths::from_list(&[
            PathBuf::from("/nix/store/x/bin/age-plugin-tpm"),
            PathBuf::from("relative/age-plugin-yubikey"),
            PathBuf::from("/usr/bin/rage"),
            PathBuf::from("/usr/bin/age-plugin-bad/name"),
            PathBuf::from("/usr/bin/age-plugin-"),
        ]);
        assert_eq!(
            paths.get("tpm"),
            Some(Path::new("/nix/store/x/bin/age-plugin-tpm"))
        );
        assert_eq!(paths.len(), 1);
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        assert!(paths.get("yubikey").is_none());
    }

    #[test]
    fn printable_strips_escapes() {
        assert_eq!(printable("a\x1b[2Jb\nc"), "a?[2Jb\nc");
        assert_eq!(
            printable("'\u{2068}age-plugin-x\u{2069}'"),
            "'age-plugin-x'"
        );
        assert_eq!(printable(&"x".repeat(5000)).len(), 1000);
    }
}
