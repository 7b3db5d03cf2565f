//! Recipients: who a data key is wrapped to.
//!
//! A recipient comes from `--age`, `.sops.yaml` or a file's metadata. We keep the text as given
//! (sops stores it verbatim, ssh comment included) and a parsed key for wrapping and for
//! comparing two spellings of one key. Plugin recipients (`age1<name>1…`) wrap through the
//! `age-plugin-<name>` program found on `PATH` (workstation commands only; see
//! docs/plugins.md).

use crate::error::Error;
use crate::keys::armor;
use crate::keys::plugin::{self, tty::TtyCallbacks};
use base64::prelude::{Engine, BASE64_STANDARD};
use sha2::{Digest, Sha256};
use std::fmt;

/// The parsed key of a recipient.
#[derive(Clone)]
enum Key {
    /// A native age X25519 recipient (`age1…`).
    X25519(age::x25519::Recipient),
    /// A native age ssh recipient (`ssh-ed25519 …` or `ssh-rsa …`).
    Ssh(age::ssh::Recipient),
    /// A plugin recipient (`age1<name>1…`), wrapped by `age-plugin-<name>`.
    Plugin(age::plugin::Recipient),
}

/// One recipient as written in `.sops.yaml`, `--age` or a file's metadata.
#[derive(Clone)]
pub struct Recipient {
    text: String,
    key: Key,
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Recipient").field(&self.text).finish()
    }
}

impl Recipient {
    /// Parses `age1…` (X25519 or a plugin's `age1<name>1…`), `ssh-ed25519 …`, `ssh-rsa …`;
    /// other ssh types and post-quantum recipients are errors. Parsing runs no plugin.
    pub fn parse(s: &str) -> Result<Recipient, Error> {
        let text = s.trim();
        let key = if text.starts_with("age1") {
            parse_age(text)?
        } else if text.starts_with("ssh-ed25519") || text.starts_with("ssh-rsa") {
            parse_ssh(text)?
        } else {
            return Err(unknown_type(text));
        };
        Ok(Recipient {
            text: text.to_string(),
            key,
        })
    }

    /// The recipient exactly as stored in metadata (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Key identity for set comparison: type + key bytes, comments and whitespace ignored.
    /// `ssh-ed25519 X` and the `age1…` derived from it are different.
    pub fn normalized(&self) -> String {
        match &self.key {
            Key::X25519(r) => r.to_string(),
            Key::Ssh(r) => r.to_string(),
            Key::Plugin(r) => r.to_string().to_ascii_lowercase(),
        }
    }

    /// For ssh recipients, age's stanza tag: the first 4 bytes of SHA-256 of the ssh
    /// wire-format public key (it lets `audit` match ssh stanzas to keys).
    pub fn ssh_tag(&self) -> Option<[u8; 4]> {
        let wire = match &self.key {
            Key::X25519(_) | Key::Plugin(_) => return None,
            Key::Ssh(age::ssh::Recipient::SshEd25519(wire, _))
            | Key::Ssh(age::ssh::Recipient::SshRsa(wire, _)) => wire,
        };
        let digest = Sha256::digest(wire);
        let mut tag = [0u8; 4];
        tag.copy_from_slice(digest.get(..4)?);
        Some(tag)
    }

    /// Whether this is an ssh recipient (`ssh-ed25519`/`ssh-rsa`).
    pub fn is_ssh(&self) -> bool {
        matches!(self.key, Key::Ssh(_))
    }

    /// For a plugin recipient, the plugin's name (`yubikey` for `age1yubikey1…`).
    pub fn plugin_name(&self) -> Option<&str> {
        match &self.key {
            Key::Plugin(r) => Some(r.plugin()),
            _ => None,
        }
    }

    /// Encrypts `payload` (a data key or Shamir share) to this recipient as a canonical
    /// armored age file in the shape sops writes (BEGIN line, 64-column base64, END line,
    /// final newline). Unlike Go age, the age crate adds one random "grease" stanza, which
    /// sops and every age implementation ignore; the armor is therefore a few lines longer.
    pub fn wrap(&self, payload: &[u8]) -> Result<String, Error> {
        let binary = encrypt_binary(payload, std::iter::once(self))?;
        Ok(armor::encode(&binary))
    }
}

/// The age recipients for `recipients`: natives as they are, plugin recipients grouped into
/// one `age-plugin-<name>` run per plugin (found on `PATH`, prompting on `/dev/tty`).
fn age_recipients<'a>(
    recipients: impl Iterator<Item = &'a Recipient>,
) -> Result<Vec<Box<dyn age::Recipient + 'a>>, Error> {
    let mut out: Vec<Box<dyn age::Recipient + 'a>> = Vec::new();
    let mut plugins: Vec<age::plugin::Recipient> = Vec::new();
    for r in recipients {
        match &r.key {
            Key::X25519(k) => out.push(Box::new(k.clone())),
            Key::Ssh(k) => out.push(Box::new(k.clone())),
            Key::Plugin(k) => plugins.push(k.clone()),
        }
    }
    let mut names: Vec<&str> = plugins.iter().map(|p| p.plugin()).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let p = age::plugin::RecipientPluginV1::new(name, &plugins, &[], TtyCallbacks::new())
            .map_err(|_| plugin::missing_on_path(name))?;
        out.push(Box::new(plugin::Serialised(p)));
    }
    Ok(out)
}

/// Encrypts `payload` to all `recipients` as one binary age file.
pub(crate) fn encrypt_binary<'a>(
    payload: &[u8],
    recipients: impl Iterator<Item = &'a Recipient>,
) -> Result<Vec<u8>, Error> {
    use std::io::Write;
    let boxed = age_recipients(recipients)?;
    let encryptor =
        age::Encryptor::with_recipients(boxed.iter().map(|b| b.as_ref() as &dyn age::Recipient))
            .map_err(encrypt_error)?;
    let mut out = Vec::with_capacity(payload.len().saturating_add(512));
    let write_failed = |_| Error::failure("age: encryption failed");
    let mut writer = encryptor.wrap_output(&mut out).map_err(write_failed)?;
    writer.write_all(payload).map_err(write_failed)?;
    writer.finish().map_err(write_failed)?;
    Ok(out)
}

/// Our error for an age encryption error; a plugin's own words are kept (made printable).
fn encrypt_error(e: age::EncryptError) -> Error {
    match e {
        age::EncryptError::Plugin(_) => Error::failure(format!(
            "plugin: {}",
            plugin::printable(&e.to_string()).trim()
        )),
        _ => Error::failure("age: cannot encrypt to this set of recipients"),
    }
}

/// `age1…`: X25519, a plugin's `age1<name>1…`, or a refused post-quantum recipient.
fn parse_age(text: &str) -> Result<Key, Error> {
    // The bech32 separator is the last '1'; the data part never contains '1'. A plain X25519
    // recipient therefore has exactly one '1' (the one after "age"); more means the prefix
    // is `age1<name>`, i.e. a plugin (or the post-quantum `age1pq1…`).
    if text.rfind('1') != Some(3) {
        if text.starts_with("age1pq1") {
            return Err(Error::failure(
                "post-quantum (age1pq1…) recipients are not supported in this build",
            ));
        }
        return text
            .parse::<age::plugin::Recipient>()
            .map(Key::Plugin)
            .map_err(|_| {
                Error::failure("invalid plugin recipient (age1<name>1…): bad bech32 encoding")
            });
    }
    text.parse::<age::x25519::Recipient>()
        .map(Key::X25519)
        .map_err(|_| Error::failure("invalid age recipient (age1…): bad bech32 encoding or length"))
}

/// `ssh-ed25519 B64 [comment]` or `ssh-rsa B64 [comment]`.
fn parse_ssh(text: &str) -> Result<Key, Error> {
    let mut words = text.split_ascii_whitespace();
    let (kind, b64) = match (words.next(), words.next()) {
        (Some(k), Some(b)) => (k, b),
        _ => {
            return Err(Error::failure(
                "invalid ssh recipient: expected `TYPE BASE64 [comment]`",
            ))
        }
    };
    if kind != "ssh-ed25519" && kind != "ssh-rsa" {
        return Err(unknown_type(text));
    }
    let bare = format!("{kind} {b64}");
    let parsed = bare.parse::<age::ssh::Recipient>().map_err(|e| {
        use age::ssh::ParseRecipientKeyError as E;
        match e {
            E::RsaModulusTooSmall => {
                Error::failure("ssh-rsa recipients must have at least 2048 bits")
            }
            E::RsaModulusTooLarge => Error::failure("ssh-rsa recipient key is too large"),
            _ => Error::failure(format!("invalid {kind} recipient")),
        }
    })?;
    // age's parser stops after the key; insist that the whole word was the key, canonically.
    if parsed.to_string() != bare || !is_canonical_b64(b64) {
        return Err(Error::failure(format!("invalid {kind} recipient")));
    }
    Ok(Key::Ssh(parsed))
}

/// Whether `s` is standard padded base64 that re-encodes to itself.
fn is_canonical_b64(s: &str) -> bool {
    BASE64_STANDARD
        .decode(s)
        .map(|b| BASE64_STANDARD.encode(b) == s)
        .unwrap_or(false)
}

/// The error for an unsupported recipient; names the type only when it is a known public-key
/// type word (never echoes input that could be a secret key).
fn unknown_type(text: &str) -> Error {
    if text.starts_with("AGE-SECRET-KEY-") || text.starts_with("AGE-PLUGIN-") {
        return Error::failure("this is an age identity (secret key), not a recipient")
            .with_hint("use the `age1…` public key: `hostseal pubkey FILE`");
    }
    if text.starts_with("-----BEGIN") {
        return Error::failure("this is a private key file, not a recipient")
            .with_hint("use the public key (`hostseal pubkey --ssh FILE`)");
    }
    let first = text.split_ascii_whitespace().next().unwrap_or("");
    let looks_like_ssh_type =
        (first.starts_with("ssh-") || first.starts_with("ecdsa-") || first.starts_with("sk-"))
            && first.len() <= 64
            && first
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-@.".contains(&b));
    if looks_like_ssh_type {
        Error::failure(format!(
            "unsupported recipient type \"{first}\" (age supports ssh-ed25519 and ssh-rsa)"
        ))
    } else {
        Error::failure("unknown recipient type (expected age1…, ssh-ed25519 … or ssh-rsa …)")
    }
}

/// Splits a comma-separated recipient list (empty entries skipped, whitespace trimmed).
pub fn parse_list(s: &str) -> Result<Vec<Recipient>, Error> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(Recipient::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN";
    const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDE7nIXTGNuaRBN9toI/wNALuQec8mvlt0iJ7o3OaD2UvoKHJ7S8rmIn4FiQDUed/Vac3OhUibei1k+TBmm16u2Rj3klgWZOIDgi8d4vXKI5N3YBhxr3jsQ+kz1c+iZ4z/tTtz306+4K46XViVMWwyyg9j82Jn41mOAy9vdeDIfQ5fLeaGqn5KwlT61GNkZ+ozWK/ZNlQIlNCcoXxhJULIs9XrtczWyVBAea1nlDo0WHODePxoJjmsNHrpQXn5mf9O83xs10qfTUjnRUt48jRmedFy4tcra3QGmSTQ3KZne+wXXSb0cIpXLGvZjQSPHgG1hc4r3uBpiSzvesGLv79XL";
    const AGE: &str = "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw";

    #[test]
    fn keeps_text_trimmed_with_comment() {
        let r = Recipient::parse(&format!("  {ED} alice@host \n")).unwrap();
        assert_eq!(r.as_str(), format!("{ED} alice@host"));
        assert!(r.is_ssh());
    }

    #[test]
    fn normalisation_ignores_comments_and_spacing() {
        let a = Recipient::parse(&format!("{ED} alice@host")).unwrap();
        let b = Recipient::parse(&format!("{}   {}", "ssh-ed25519", &ED[12..])).unwrap();
        let c = Recipient::parse(ED).unwrap();
        assert_eq!(a.normalized(), b.normalized());
        assert_eq!(a.normalized(), c.normalized());
        assert_eq!(a.normalized(), ED);
        let x = Recipient::parse(AGE).unwrap();
        assert_eq!(x.normalized(), AGE);
        assert!(x.ssh_tag().is_none());
    }

    #[test]
    fn ssh_key_and_its_derived_age_key_differ() {
        let ssh = Recipient::parse(ED).unwrap();
        let derived = crate::keys::ssh_to_age::recipient_from_ssh_public(ED).unwrap();
        let age = Recipient::parse(&derived).unwrap();
        assert_ne!(ssh.normalized(), age.normalized());
    }

    #[test]
    fn ssh_tag_is_sha256_prefix_of_wire_key() {
        let r = Recipient::parse(ED).unwrap();
        let wire = BASE64_STANDARD.decode(&ED[12..]).unwrap();
        let d = Sha256::digest(&wire);
        assert_eq!(r.ssh_tag().unwrap(), [d[0], d[1], d[2], d[3]]);
        assert!(Recipient::parse(RSA).unwrap().ssh_tag().is_some());
    }

    #[test]
    fn refuses_bad_plugins_secrets_and_other_types() {
        let e = Recipient::parse("age1yubikey1qwerty").unwrap_err();
        assert!(
            e.message.contains("invalid plugin recipient"),
            "{}",
            e.message
        );
        assert_eq!(e.exit_code(), 1);
        assert!(Recipient::parse("age1pq1abc").is_err());
        let e = Recipient::parse("ecdsa-sha2-nistp256 AAAAE2VjZHNh").unwrap_err();
        assert!(e.message.contains("ecdsa-sha2-nistp256"));
        let secret = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";
        let e = Recipient::parse(secret).unwrap_err();
        assert!(!e.message.contains("QQQQ"));
        assert!(Recipient::parse("garbage").is_err());
        assert!(Recipient::parse("age1qqqq").is_err());
        assert!(Recipient::parse("ssh-ed25519").is_err());
        assert!(Recipient::parse(&format!("{ED}AAAA")).is_err());
    }

    #[test]
    fn plugin_recipients_parse_without_running_anything() {
        // A recipient of the test plugin (tests/age-plugin-hstest).
        let text = "age1hstest1znr2eucm3cr62ucy68ym5zjg9ndt2kppkwhj8v96qk8fxy22gu8qmcjr0y";
        let r = Recipient::parse(&format!(" {text}\n")).unwrap();
        assert_eq!(r.plugin_name(), Some("hstest"));
        assert_eq!(r.normalized(), text);
        assert_eq!(r.as_str(), text);
        let typo = format!("{}x", &text[..text.len() - 1]);
        assert!(Recipient::parse(&typo).is_err());
        assert!(!r.is_ssh() && r.ssh_tag().is_none());
        assert!(Recipient::parse(AGE).unwrap().plugin_name().is_none());
    }

    #[test]
    fn list_parsing_skips_empty_entries() {
        let list = parse_list(&format!(" {AGE} ,, {ED} c ,")).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].as_str(), format!("{ED} c"));
        assert!(parse_list("age1bad").is_err());
    }

    #[test]
    fn wrap_produces_canonical_armor() {
        let r = Recipient::parse(AGE).unwrap();
        let armored = r.wrap(&[5u8; 32]).unwrap();
        assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(armored.ends_with("\n-----END AGE ENCRYPTED FILE-----\n"));
        let body: Vec<&str> = armored.lines().skip(1).collect();
        let body = &body[..body.len() - 1];
        assert!(body[..body.len() - 1].iter().all(|l| l.len() == 64));
        let bin = armor::decode(armored.as_bytes()).unwrap();
        assert!(bin.starts_with(b"age-encryption.org/v1\n-> X25519 "));
    }
}
