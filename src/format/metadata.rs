//! The `sops:` metadata block (docs/format.md#metadata): key groups with their wrapped data keys, the Shamir
//! threshold, `lastmodified`, the encrypted MAC, the leaf rule, `mac_only_encrypted` and
//! `version`. Fields hostseal does not use (pgp, kms, …, and any unknown field) are kept as they
//! are, so a file rewritten by hostseal loses nothing sops wrote.

use super::tree::{Map, Node, Scalar};
use crate::error::Error;

/// The version string hostseal writes (the sops release whose format it implements).
pub const WRITE_VERSION: &str = "3.11.0";

/// One age recipient entry: the recipient as written, and the armored age file holding the data
/// key (or this group's Shamir share).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeStanza {
    /// The recipient string, as given when sealing.
    pub recipient: String,
    /// The armored age file.
    pub enc: String,
}

/// One key group. With one group the metadata uses the flat form (`sops.age`).
#[derive(Debug, PartialEq, Default)]
pub struct KeyGroup {
    /// The age recipients of this group.
    pub age: Vec<AgeStanza>,
    /// Other key types (`pgp`, `kms`, …) of this group, kept verbatim when non-empty.
    pub other: Vec<(String, Node)>,
}

/// Which leaves are encrypted (docs/format.md#which-values-are-encrypted). Exactly one applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeafRule {
    /// Leaves under a key ending with the suffix stay clear (sops's default `_unencrypted`).
    UnencryptedSuffix(String),
    /// Only leaves under a key ending with the suffix are encrypted.
    EncryptedSuffix(String),
    /// Leaves under a key matching the regex stay clear.
    UnencryptedRegex(String),
    /// Only leaves under a key matching the regex are encrypted.
    EncryptedRegex(String),
    /// Leaves preceded by a comment matching the regex stay clear.
    UnencryptedCommentRegex(String),
    /// Only leaves preceded by a comment matching the regex are encrypted.
    EncryptedCommentRegex(String),
    /// No rule written (the binary store): everything is encrypted.
    None,
}

const RULE_FIELDS: [&str; 6] = [
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
];

impl Default for LeafRule {
    fn default() -> Self {
        LeafRule::UnencryptedSuffix("_unencrypted".into())
    }
}

impl LeafRule {
    /// Builds a rule from its metadata field name and value.
    pub fn from_field(field: &str, value: String) -> Option<LeafRule> {
        Some(match field {
            "unencrypted_suffix" => LeafRule::UnencryptedSuffix(value),
            "encrypted_suffix" => LeafRule::EncryptedSuffix(value),
            "unencrypted_regex" => LeafRule::UnencryptedRegex(value),
            "encrypted_regex" => LeafRule::EncryptedRegex(value),
            "unencrypted_comment_regex" => LeafRule::UnencryptedCommentRegex(value),
            "encrypted_comment_regex" => LeafRule::EncryptedCommentRegex(value),
            _ => return None,
        })
    }

    /// The metadata field name and value, or `None` for [`LeafRule::None`].
    pub fn field(&self) -> Option<(&'static str, &str)> {
        Some(match self {
            LeafRule::UnencryptedSuffix(v) => ("unencrypted_suffix", v),
            LeafRule::EncryptedSuffix(v) => ("encrypted_suffix", v),
            LeafRule::UnencryptedRegex(v) => ("unencrypted_regex", v),
            LeafRule::EncryptedRegex(v) => ("encrypted_regex", v),
            LeafRule::UnencryptedCommentRegex(v) => ("unencrypted_comment_regex", v),
            LeafRule::EncryptedCommentRegex(v) => ("encrypted_comment_regex", v),
            LeafRule::None => return None,
        })
    }
}

/// How an empty list of another key type is written inside `key_groups`: YAML writes `[]`,
/// JSON (and stores derived from it) `null`, as Go marshals a nil slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyList {
    /// `hc_vault: []`.
    Empty,
    /// `"hc_vault": null`.
    Null,
}

/// The parsed `sops:` block.
#[derive(Debug, PartialEq)]
pub struct Metadata {
    /// Key groups; one group means the flat form.
    pub groups: Vec<KeyGroup>,
    /// Shamir threshold (only with two or more groups).
    pub shamir_threshold: Option<usize>,
    /// The encryption time as written; the MAC's AAD is derived from it.
    pub lastmodified: String,
    /// The encrypted MAC, `ENC[…]`.
    pub mac: Option<String>,
    /// Which leaves are encrypted.
    pub leaf_rule: LeafRule,
    /// Whether only encrypted leaves are in the MAC.
    pub mac_only_encrypted: bool,
    /// The sops version that wrote the file.
    pub version: String,
    /// Fields we do not know, kept in order.
    pub unknown: Vec<(String, Node)>,
}

// Metadata is never secret, so it may be copied; its verbatim nodes are copied explicitly
// because tree nodes are not `Clone` (see `format::tree`).
impl Clone for KeyGroup {
    fn clone(&self) -> Self {
        KeyGroup {
            age: self.age.clone(),
            other: duplicate_fields(&self.other),
        }
    }
}

impl Clone for Metadata {
    fn clone(&self) -> Self {
        Metadata {
            groups: self.groups.clone(),
            shamir_threshold: self.shamir_threshold,
            lastmodified: self.lastmodified.clone(),
            mac: self.mac.clone(),
            leaf_rule: self.leaf_rule.clone(),
            mac_only_encrypted: self.mac_only_encrypted,
            version: self.version.clone(),
            unknown: duplicate_fields(&self.unknown),
        }
    }
}

fn duplicate_fields(fields: &[(String, Node)]) -> Vec<(String, Node)> {
    fields
        .iter()
        .map(|(k, v)| (k.clone(), v.duplicate()))
        .collect()
}

const FLAT_OTHER_TYPES: [&str; 6] = ["kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "pgp"];

impl Metadata {
    /// Reads the `sops` entry of a parsed file.
    pub fn from_node(node: &Node) -> Result<Metadata, Error> {
        let map = node
            .as_map()
            .ok_or_else(|| bad("the sops metadata is not a mapping"))?;
        let mut md = Metadata {
            groups: Vec::new(),
            shamir_threshold: None,
            lastmodified: String::new(),
            mac: None,
            leaf_rule: LeafRule::None,
            mac_only_encrypted: false,
            version: String::new(),
            unknown: Vec::new(),
        };
        let mut flat = KeyGroup::default();
        let mut rules_seen = 0;
        for (key, value) in map.entries() {
            match key {
                "age" => flat.age = read_age_list(value, "sops.age")?,
                k if FLAT_OTHER_TYPES.contains(&k) => {
                    if !is_empty_list(value) {
                        flat.other.push((k.to_string(), value.duplicate()));
                    }
                }
                "key_groups" => md.groups = read_groups(value)?,
                "shamir_threshold" => {
                    md.shamir_threshold = Some(read_uint(value, "sops.shamir_threshold")?)
                }
                "lastmodified" => md.lastmodified = read_str(value, "sops.lastmodified")?,
                "mac" => md.mac = Some(read_str(value, "sops.mac")?),
                "mac_only_encrypted" => {
                    md.mac_only_encrypted = read_bool(value, "sops.mac_only_encrypted")?
                }
                "version" => md.version = read_str(value, "sops.version")?,
                k if RULE_FIELDS.contains(&k) => {
                    if matches!(value, Node::Scalar(Scalar::Null)) {
                        continue;
                    }
                    let v = read_str(value, k)?;
                    if v.is_empty() {
                        continue;
                    }
                    rules_seen += 1;
                    md.leaf_rule = LeafRule::from_field(k, v).unwrap_or_default();
                }
                other => md.unknown.push((other.to_string(), value.duplicate())),
            }
        }
        if rules_seen > 1 {
            return Err(bad(
                "the sops metadata sets more than one of the suffix/regex rules",
            ));
        }
        if md.groups.is_empty() {
            md.groups.push(flat);
        } else if !flat.age.is_empty() || !flat.other.is_empty() {
            return Err(bad("the sops metadata has both key_groups and flat keys"));
        }
        if md.lastmodified.is_empty() {
            return Err(bad("the sops metadata has no lastmodified"));
        }
        mac_aad(&md.lastmodified)?;
        check_version(&md.version)?;
        Ok(md)
    }

    /// Writes the `sops` entry in the field order sops uses.
    pub fn to_node(&self, empty: EmptyList) -> Node {
        let mut m = Map::default();
        if self.groups.len() >= 2 {
            if let Some(t) = self.shamir_threshold {
                m.push("shamir_threshold", Node::Scalar(Scalar::Int(t as i64)));
            }
            let groups = self
                .groups
                .iter()
                .map(|g| {
                    let mut gm = Map::default();
                    let hc_vault = g.other.iter().find(|(k, _)| k == "hc_vault");
                    gm.push(
                        "hc_vault",
                        hc_vault.map(|(_, v)| v.duplicate()).unwrap_or(match empty {
                            EmptyList::Empty => Node::Seq(Vec::new()),
                            EmptyList::Null => Node::Scalar(Scalar::Null),
                        }),
                    );
                    for (k, v) in &g.other {
                        if k != "hc_vault" && k != "pgp" {
                            gm.push(k.clone(), v.duplicate());
                        }
                    }
                    gm.push("age", age_list(&g.age));
                    if let Some((_, v)) = g.other.iter().find(|(k, _)| k == "pgp") {
                        gm.push("pgp", v.duplicate());
                    }
                    Node::Map(gm)
                })
                .collect();
            m.push("key_groups", Node::Seq(groups));
        }
        let flat = (self.groups.len() == 1).then(|| &self.groups[0]);
        if let Some(g) = flat {
            for (k, v) in g.other.iter().filter(|(k, _)| k != "pgp") {
                m.push(k.clone(), v.duplicate());
            }
            if !g.age.is_empty() {
                m.push("age", age_list(&g.age));
            }
        }
        m.push("lastmodified", Node::str(self.lastmodified.clone()));
        if let Some(mac) = &self.mac {
            m.push("mac", Node::str(mac.clone()));
        }
        if let Some((_, v)) = flat.and_then(|g| g.other.iter().find(|(k, _)| k == "pgp")) {
            m.push("pgp", v.duplicate());
        }
        if let Some((field, value)) = self.leaf_rule.field() {
            m.push(field, Node::str(value));
        }
        if self.mac_only_encrypted {
            m.push("mac_only_encrypted", Node::Scalar(Scalar::Bool(true)));
        }
        for (k, v) in &self.unknown {
            m.push(k.clone(), v.duplicate());
        }
        m.push("version", Node::str(self.version.clone()));
        Node::Map(m)
    }

    /// The AAD of the MAC: `lastmodified` re-rendered as Go's `time.RFC3339` would.
    pub fn mac_aad(&self) -> Result<String, Error> {
        mac_aad(&self.lastmodified)
    }
}

fn bad(msg: impl Into<String>) -> Error {
    Error::malformed(msg)
}

fn is_empty_list(node: &Node) -> bool {
    match node {
        Node::Seq(items) => items.is_empty(),
        Node::Scalar(Scalar::Null) => true,
        _ => false,
    }
}

fn age_list(stanzas: &[AgeStanza]) -> Node {
    Node::Seq(
        stanzas
            .iter()
            .map(|s| {
                let mut m = Map::default();
                m.push("recipient", Node::str(s.recipient.clone()));
                m.push("enc", Node::str(s.enc.clone()));
                Node::Map(m)
            })
            .collect(),
    )
}

fn read_groups(node: &Node) -> Result<Vec<KeyGroup>, Error> {
    let Node::Seq(items) = node else {
        return Err(bad("sops.key_groups is not a list"));
    };
    let mut groups = Vec::new();
    for item in items {
        let map = item
            .as_map()
            .ok_or_else(|| bad("an entry of sops.key_groups is not a mapping"))?;
        let mut g = KeyGroup::default();
        for (k, v) in map.entries() {
            if k == "age" {
                g.age = read_age_list(v, "sops.key_groups[].age")?;
            } else if !is_empty_list(v) {
                g.other.push((k.to_string(), v.duplicate()));
            }
        }
        groups.push(g);
    }
    Ok(groups)
}

fn read_age_list(node: &Node, what: &str) -> Result<Vec<AgeStanza>, Error> {
    match node {
        Node::Scalar(Scalar::Null) => Ok(Vec::new()),
        Node::Seq(items) => items
            .iter()
            .map(|item| {
                let m = item
                    .as_map()
                    .ok_or_else(|| bad(format!("an entry of {what} is not a mapping")))?;
                let field = |f: &str| {
                    m.get(f)
                        .and_then(Node::as_str)
                        .map(str::to_string)
                        .ok_or_else(|| bad(format!("an entry of {what} has no {f}")))
                };
                Ok(AgeStanza {
                    recipient: field("recipient")?,
                    enc: field("enc")?,
                })
            })
            .collect(),
        _ => Err(bad(format!("{what} is not a list"))),
    }
}

fn read_str(node: &Node, what: &str) -> Result<String, Error> {
    match node {
        Node::Scalar(Scalar::Str(s)) => Ok(s.clone()),
        Node::Scalar(Scalar::Time(s)) => Ok(s.clone()),
        _ => Err(bad(format!("{what} is not a string"))),
    }
}

fn read_uint(node: &Node, what: &str) -> Result<usize, Error> {
    let n = match node {
        Node::Scalar(Scalar::Int(i)) => usize::try_from(*i).ok(),
        Node::Scalar(Scalar::Float(f)) if f.fract() == 0.0 && *f >= 0.0 && *f < 256.0 => {
            Some(*f as usize)
        }
        Node::Scalar(Scalar::Str(s)) => s.parse().ok(),
        _ => None,
    };
    n.ok_or_else(|| bad(format!("{what} is not a whole number")))
}

fn read_bool(node: &Node, what: &str) -> Result<bool, Error> {
    match node {
        Node::Scalar(Scalar::Bool(b)) => Ok(*b),
        Node::Scalar(Scalar::Str(s)) if s == "true" => Ok(true),
        Node::Scalar(Scalar::Str(s)) if s == "false" => Ok(false),
        _ => Err(bad(format!("{what} is not a boolean"))),
    }
}

fn check_version(v: &str) -> Result<(), Error> {
    if v.is_empty() {
        return Err(bad("the sops metadata has no version"));
    }
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        Ok(())
    } else {
        Err(bad("sops.version is not of the form MAJOR.MINOR.PATCH"))
    }
}

/// `lastmodified` rendered as Go's `time.RFC3339` layout does: no fractional seconds, `Z` for a
/// zero offset.
fn mac_aad(lastmodified: &str) -> Result<String, Error> {
    super::timestamp::rfc3339_seconds(lastmodified)
        .ok_or_else(|| bad("sops.lastmodified is not an RFC 3339 timestamp"))
}

/// The current time as sops writes `lastmodified`: UTC to the second.
pub fn now_lastmodified() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_utc(secs)
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_aad_matches_go_rfc3339() {
        for (lastmodified, want) in [
            ("2026-11-23T14:48:02Z", "2026-11-23T14:48:02Z"),
            ("2026-11-23T14:48:02.999Z", "2026-11-23T14:48:02Z"),
            ("2026-11-23T14:48:02+00:00", "2026-11-23T14:48:02Z"),
            ("2026-11-23T15:48:02+01:00", "2026-11-23T15:48:02+01:00"),
        ] {
            assert_eq!(mac_aad(lastmodified).unwrap(), want);
        }
        // Hours are range-checked (one strict parser: format::timestamp).
        for bad in [
            "",
            "2026-11-23 14:48:02Z",
            "2026-11-23T14:48:02",
            "2026-11-23T25:48:02Z",
        ] {
            assert!(mac_aad(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_779_547_682), "2026-05-23T14:48:02Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
    }

    fn sample() -> Metadata {
        Metadata {
            groups: vec![KeyGroup {
                age: vec![AgeStanza {
                    recipient: "age1x".into(),
                    enc: "-----BEGIN AGE ENCRYPTED FILE-----\n".into(),
                }],
                other: vec![],
            }],
            shamir_threshold: None,
            lastmodified: "2026-11-23T14:48:02Z".into(),
            mac: Some("ENC[x]".into()),
            leaf_rule: LeafRule::default(),
            mac_only_encrypted: false,
            version: WRITE_VERSION.into(),
            unknown: vec![("future_field".into(), Node::str("kept"))],
        }
    }

    #[test]
    fn round_trips_through_node() {
        let md = sample();
        let node = md.to_node(EmptyList::Empty);
        assert_eq!(Metadata::from_node(&node).unwrap(), md);
        let keys: Vec<_> = node.as_map().unwrap().entries().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "age",
                "lastmodified",
                "mac",
                "unencrypted_suffix",
                "future_field",
                "version"
            ]
        );
    }

    #[test]
    fn rejects_bad_metadata() {
        let mut md = sample();
        md.version = "x".into();
        assert!(Metadata::from_node(&md.to_node(EmptyList::Null)).is_err());
        let mut md = sample();
        md.lastmodified = "yesterday".into();
        assert!(Metadata::from_node(&md.to_node(EmptyList::Null)).is_err());
        assert!(Metadata::from_node(&Node::str("x")).is_err());
    }
}
