//! The manifest JSON as written (docs/manifest.md): sops-nix's manifest unchanged plus hostseal's own
//! fields. This module only *types* the JSON: known fields are strictly typed, unknown fields are
//! ignored, and nothing is interpreted yet — [`super::validate`] turns it into a plan.

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`): sops-nix
/// writes `owner: null` to mean "use `uid`", while an absent owner means the default `root`.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The top level of the manifest.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct RawManifest {
    /// The secrets, in manifest order (sops-nix: `attrValues` of `sops.secrets`).
    #[serde(default)]
    pub secrets: Option<Vec<RawSecret>>,
    /// Templates: sops-nix writes an object keyed by name; a list is accepted too.
    #[serde(default)]
    pub templates: Option<RawTemplates>,
    /// sops-nix's placeholder string per secret name.
    #[serde(default)]
    pub placeholder_by_secret_name: Option<BTreeMap<String, String>>,
    /// Where generations live (a RAM filesystem).
    #[serde(default)]
    pub secrets_mount_point: Option<String>,
    /// The symlink pointing at the current generation.
    #[serde(default)]
    pub symlink_path: Option<String>,
    /// How many generations to keep (0 keeps all).
    #[serde(default)]
    pub keep_generations: Option<u64>,
    /// RSA host keys (sops-nix: for PGP; hostseal: native ssh-rsa age identities).
    #[serde(default)]
    pub ssh_key_paths: Option<Vec<String>>,
    /// GnuPG home: accepted with a warning, never used.
    #[serde(default)]
    pub gnupg_home: Option<String>,
    /// An age identity file.
    #[serde(default)]
    pub age_key_file: Option<String>,
    /// ssh ed25519/rsa private keys used as age identities (native and derived).
    #[serde(default)]
    pub age_ssh_key_paths: Option<Vec<String>>,
    /// tmpfs instead of ramfs.
    #[serde(default)]
    pub use_tmpfs: Option<bool>,
    /// home-manager installs: run as the user, confined to its runtime directory
    /// (see docs/manifest.md, "User mode (home-manager)").
    #[serde(default)]
    pub user_mode: Option<bool>,
    /// sops-nix's logging switches (accepted; hostseal always logs changes).
    #[serde(default)]
    pub logging: Option<RawLogging>,
    /// hostseal: `systemctl` | `activation-lists` | `none`.
    #[serde(default)]
    pub restart_via: Option<String>,
    /// hostseal: absolute path of `systemctl`.
    #[serde(default)]
    pub systemctl: Option<String>,
    /// hostseal: where the activation restart/reload lists live.
    #[serde(default)]
    pub restart_lists_dir: Option<String>,
    /// hostseal: the status file.
    #[serde(default)]
    pub status_file: Option<String>,
    /// hostseal: the lock file.
    #[serde(default)]
    pub lock_path: Option<String>,
    /// hostseal: any failure aborts the install without a switch.
    #[serde(default)]
    pub strict: Option<bool>,
    /// hostseal: absolute paths of age plugin binaries allowed in install.
    #[serde(default)]
    pub age_plugins: Option<Vec<String>>,
    /// hostseal: absolute path of `systemd-creds` (needed by `credstore: "encrypted"`).
    #[serde(default)]
    pub systemd_creds: Option<String>,
    /// hostseal: where systemd looks for plain credentials (default `/run/credstore`).
    #[serde(default)]
    pub credstore_dir: Option<String>,
    /// hostseal: where systemd looks for encrypted credentials (default
    /// `/run/credstore.encrypted`).
    #[serde(default)]
    pub credstore_encrypted_dir: Option<String>,
}

/// sops-nix's `logging` object.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct RawLogging {
    /// Log imported keys.
    #[serde(default)]
    pub key_import: Option<bool>,
    /// Log secret changes.
    #[serde(default)]
    pub secret_changes: Option<bool>,
}

/// One secret as written in the manifest.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct RawSecret {
    /// File name under the generation directory (may contain `/`).
    pub name: String,
    /// Key path inside a yaml/json sealed file.
    #[serde(default)]
    pub key: Option<String>,
    /// hostseal: one entry of a dotenv/INI file.
    #[serde(default)]
    pub entry: Option<String>,
    /// Custom path: a symlink made there to `symlinkPath/<name>`.
    #[serde(default)]
    pub path: Option<String>,
    /// Owner by name; `null` means "use `uid`".
    #[serde(default, deserialize_with = "present")]
    pub owner: Option<Option<String>>,
    /// Numeric owner, applied when `owner` is null.
    #[serde(default)]
    pub uid: Option<u32>,
    /// Group by name; `null` means "use `gid`".
    #[serde(default, deserialize_with = "present")]
    pub group: Option<Option<String>>,
    /// Numeric group, applied when `group` is null.
    #[serde(default)]
    pub gid: Option<u32>,
    /// The sealed file.
    pub sops_file: String,
    /// `yaml` | `json` | `dotenv` | `ini` | `binary` | `age`.
    #[serde(default)]
    pub format: Option<String>,
    /// Octal mode as a string, e.g. `"0400"`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Units restarted when this secret changes.
    #[serde(default)]
    pub restart_units: Option<Vec<String>>,
    /// Units reloaded when this secret changes.
    #[serde(default)]
    pub reload_units: Option<Vec<String>>,
    /// hostseal: `keep` (default) or `remove` the previous copy on failure.
    #[serde(default)]
    pub on_failure: Option<String>,
    /// hostseal: check the bytes before installing (`cloudflared-credentials`,
    /// `cloudflared-token`); set by the Nix module for tunnels.
    #[serde(default)]
    pub validate: Option<String>,
    /// hostseal: deliver as a systemd credential, `plain` or `encrypted` (docs/credstore.md).
    #[serde(default)]
    pub credstore: Option<String>,
    /// hostseal: the `systemd-creds` key for `encrypted`: `auto` (default), `host`, `tpm2`,
    /// `host+tpm2`.
    #[serde(default)]
    pub credstore_key: Option<String>,
}

/// sops-nix writes `templates` as an object keyed by name; hostseal also accepts a list.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub enum RawTemplates {
    /// `{ "<name>": { … } }`.
    Map(BTreeMap<String, RawTemplate>),
    /// `[ { "name": …, … } ]`.
    List(Vec<RawTemplate>),
}

/// One template as written in the manifest.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct RawTemplate {
    /// File name under `rendered/` (defaults to the object key).
    #[serde(default)]
    pub name: Option<String>,
    /// Inline content with placeholders.
    #[serde(default)]
    pub content: Option<String>,
    /// A file holding the content (wins over `content`, as in sops-nix).
    #[serde(default)]
    pub file: Option<String>,
    /// Custom path: a symlink to `symlinkPath/rendered/<name>`.
    #[serde(default)]
    pub path: Option<String>,
    /// Octal mode as a string.
    #[serde(default)]
    pub mode: Option<String>,
    /// Owner by name; `null` means "use `uid`".
    #[serde(default, deserialize_with = "present")]
    pub owner: Option<Option<String>>,
    /// Numeric owner.
    #[serde(default)]
    pub uid: Option<u32>,
    /// Group by name; `null` means "use `gid`".
    #[serde(default, deserialize_with = "present")]
    pub group: Option<Option<String>>,
    /// Numeric group.
    #[serde(default)]
    pub gid: Option<u32>,
    /// Units restarted when the rendering changes.
    #[serde(default)]
    pub restart_units: Option<Vec<String>>,
    /// Units reloaded when the rendering changes.
    #[serde(default)]
    pub reload_units: Option<Vec<String>>,
}

/// Parses manifest bytes. The error names the JSON position only (`line:column`), never text.
/// The nesting limit applies to the whole document, ignored fields included.
pub fn parse(bytes: &[u8]) -> Result<RawManifest, String> {
    check_depth(bytes)?;
    serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "wrong type or missing field",
            serde_json::error::Category::Syntax => "JSON syntax error",
            serde_json::error::Category::Eof => "unexpected end of JSON",
            serde_json::error::Category::Io => "read error",
        };
        format!("{what} at {}:{}: {}", e.line(), e.column(), field_hint(&e))
    })
}

/// Refuses JSON nested deeper than [`crate::limits::MAX_DEPTH`] anywhere (serde skips unknown
/// fields without a depth limit).
fn check_depth(bytes: &[u8]) -> Result<(), String> {
    let (mut depth, mut in_str, mut escaped, mut line) = (0usize, false, false, 1usize);
    for &b in bytes {
        match (in_str, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_str = false,
            (false, _, b'"') => in_str = true,
            (false, _, b'[' | b'{') => {
                depth = depth.saturating_add(1);
                if depth > crate::limits::MAX_DEPTH {
                    return Err(format!(
                        "nested deeper than {} levels at line {line}",
                        crate::limits::MAX_DEPTH
                    ));
                }
            }
            (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
            (_, _, b'\n') => line = line.saturating_add(1),
            _ => {}
        }
    }
    Ok(())
}

/// serde_json's data errors name the field and expected type (`invalid type: string "x",
/// expected u32`); the quoted input value is cut so no manifest text leaks into logs.
fn field_hint(e: &serde_json::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" at line ") {
        Some(i) => s.get(..i).unwrap_or_default().to_string(),
        None => s,
    };
    match (s.find('"'), s.rfind('"')) {
        (Some(a), Some(b)) if b > a => {
            let head = s.get(..a).unwrap_or_default();
            let tail = s.get(b + 1..).unwrap_or_default();
            format!("{head}…{tail}")
        }
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_null_differs_from_absent() {
        let m = parse(
            br#"{"secrets":[{"name":"a","sopsFile":"/s","owner":null,"uid":5},
                                      {"name":"b","sopsFile":"/s"}]}"#,
        )
        .unwrap();
        let s = m.secrets.unwrap();
        assert_eq!(s[0].owner, Some(None));
        assert_eq!(s[0].uid, Some(5));
        assert_eq!(s[1].owner, None);
    }

    #[test]
    fn unknown_fields_are_ignored_known_are_typed() {
        let m = parse(
            br#"{"secrets":[{"name":"a","sopsFile":"/s","sopsFileHash":"x",
                           "neededForUsers":false}],"whatever":1}"#,
        );
        assert!(m.is_ok());
        let e = parse(br#"{"secrets":[{"name":"a","sopsFile":"/s","uid":"secretvalue"}]}"#)
            .unwrap_err();
        assert!(!e.contains("secretvalue"), "{e}");
        assert!(e.contains("1:"), "{e}");
    }

    #[test]
    fn depth_limit_covers_ignored_fields() {
        let deep = format!(
            r#"{{"secrets":[],"ignored":{}1{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let e = parse(deep.as_bytes()).unwrap_err();
        assert!(e.contains("nested deeper than 128"), "{e}");
        let ok = format!(r#"{{"secrets":[],"x":"{}"}}"#, "[".repeat(200));
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn templates_as_map_or_list() {
        let m = parse(br#"{"templates":{"t":{"content":"x"}}}"#).unwrap();
        assert!(matches!(m.templates, Some(RawTemplates::Map(_))));
        let m = parse(br#"{"templates":[{"name":"t","content":"x"}]}"#).unwrap();
        assert!(matches!(m.templates, Some(RawTemplates::List(_))));
    }
}
