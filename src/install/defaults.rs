//! The install defaults, embedded from `nix/defaults.json` so that the Nix module and the binary
//! can never disagree about them (docs/manifest.md).

use serde::Deserialize;

/// The embedded defaults file.
pub const DEFAULTS_JSON: &str = include_str!("../../nix/defaults.json");

/// The top-level defaults hostseal reads (other keys of the file are the Nix module's).
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Defaults {
    /// Default `secretsMountPoint`.
    pub secrets_mount_point: String,
    /// Default `symlinkPath`.
    pub symlink_path: String,
    /// Default `keepGenerations`.
    pub keep_generations: u64,
    /// Default `useTmpfs`.
    pub use_tmpfs: bool,
    /// Default `restartListsDir`.
    pub restart_lists_dir: String,
    /// Default `lockPath`.
    pub lock_path: String,
    /// Default `strict`.
    pub strict: bool,
    /// Per-secret defaults.
    pub secret: SecretDefaults,
}

/// Per-secret defaults.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct SecretDefaults {
    /// Default `format`.
    pub format: String,
    /// Default `key` ("" = the whole file).
    pub key: String,
    /// Default `mode`.
    pub mode: String,
    /// Default `owner`.
    pub owner: String,
    /// Default `onFailure`.
    pub on_failure: String,
}

/// The embedded defaults. The file is part of the source tree and checked by a unit test, so a
/// parse failure here is a build defect; it is still reported as an error, never a panic.
pub fn load() -> Result<Defaults, crate::error::Error> {
    serde_json::from_str(DEFAULTS_JSON)
        .map_err(|_| crate::error::Error::failure("embedded nix/defaults.json is invalid"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_defaults_parse_with_sops_nix_paths() {
        let d = super::load().unwrap();
        assert_eq!(d.secrets_mount_point, "/run/secrets.d");
        assert_eq!(d.symlink_path, "/run/secrets");
        assert_eq!(d.secret.mode, "0400");
    }
}
