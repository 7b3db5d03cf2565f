//! Keys: age recipients and identities, ssh host keys (native and through ssh-to-age), the
//! wrapping of the data key per recipient, Shamir sharing across key groups, and identity
//! discovery on the workstation, and age plugins (docs/plugins.md).

pub mod armor;
pub mod identity;
pub mod plugin;
pub mod recipient;
pub mod shamir;
pub mod ssh_lines;
pub mod ssh_to_age;
pub mod stanzas;

use crate::error::Error;
use age::secrecy::ExposeSecret;
use zeroize::Zeroizing;

/// A new X25519 identity for `hostseal keygen`: `(secret line AGE-SECRET-KEY-1…, age1…
/// recipient)`. The secret is only for writing the key file.
pub fn generate() -> (Zeroizing<String>, String) {
    let id = age::x25519::Identity::generate();
    let secret = Zeroizing::new(id.to_string().expose_secret().to_string());
    (secret, id.to_public().to_string())
}

/// The public forms of a key, for `hostseal pubkey`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeys {
    /// The `age1…` recipient (for ssh ed25519 keys: the ssh-to-age derivation).
    pub age: String,
    /// For ssh keys, the native `ssh-ed25519 …` form (with the key's comment, if any).
    pub ssh: Option<String>,
}

/// The public keys of an age identity file (its first identity) or an OpenSSH ed25519 key,
/// public or private (a passphrase-protected private key works: its public half is clear).
/// Never returns secret material.
pub fn public_of(bytes: &[u8]) -> Result<PublicKeys, Error> {
    let text = std::str::from_utf8(bytes).map_err(|_| Error::malformed("key is not UTF-8 text"))?;
    let start = text.trim_start();
    if start.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----") {
        let key = ssh_key::PrivateKey::from_openssh(start)
            .map_err(|_| Error::malformed("not a valid OpenSSH private key"))?;
        return ssh_public_keys(key.public_key());
    }
    if start.starts_with("-----BEGIN") {
        return Err(Error::failure(
            "unsupported key format (expected an OpenSSH ed25519 key or an age identity file)",
        ));
    }
    if start.starts_with("ssh-") || start.starts_with("ecdsa-") || start.starts_with("sk-") {
        let line = start.lines().next().unwrap_or("").trim();
        let key = ssh_key::PublicKey::from_openssh(line)
            .map_err(|_| Error::malformed("not a valid OpenSSH public key"))?;
        return ssh_public_keys(&key);
    }
    let age = identity::first_age_recipient(text, "identity file")?;
    Ok(PublicKeys { age, ssh: None })
}

/// The public keys of every key in `bytes`, for `hostseal pubkey`: like [`public_of`], and also
/// a text of several ssh public key lines as `ssh-keyscan` or a `known_hosts` file write them
/// (`host ssh-ed25519 AAAA…`, `#` comments). Of several ssh keys only the ed25519 ones are
/// kept (the only type with an `age1…` form), each once, in input order.
pub fn public_keys_of(bytes: &[u8]) -> Result<Vec<PublicKeys>, Error> {
    let text = std::str::from_utf8(bytes).map_err(|_| Error::malformed("key is not UTF-8 text"))?;
    let Some(parsed) = ssh_lines::parse(text) else {
        return public_of(bytes).map(|k| vec![k]);
    };
    let keys = parsed?;
    let mut out: Vec<PublicKeys> = Vec::new();
    for key in keys.iter().filter(|k| k.key_data().ed25519().is_some()) {
        let public = ssh_public_keys(key)?;
        if !out.iter().any(|o| o.age == public.age) {
            out.push(public);
        }
    }
    if out.is_empty() {
        let mut types: Vec<String> = keys.iter().map(|k| k.algorithm().to_string()).collect();
        types.sort_unstable();
        types.dedup();
        return Err(Error::failure(format!(
            "no ssh-ed25519 key (found {}): only ssh-ed25519 keys have an age1… form",
            types.join(", ")
        ))
        .with_hint("ask for the ed25519 key: `ssh-keyscan -t ed25519 HOST`"));
    }
    Ok(out)
}

/// `age1…` and `ssh-ed25519 …` of an ssh public key; other types are errors.
fn ssh_public_keys(key: &ssh_key::PublicKey) -> Result<PublicKeys, Error> {
    let ed = key.key_data().ed25519().ok_or_else(|| {
        Error::failure(format!(
            "only ssh-ed25519 keys have an age1… form (this is {})",
            key.algorithm().as_str()
        ))
    })?;
    let age = ssh_to_age::recipient_from_ed25519_bytes(&ed.0)?;
    let ssh = key
        .to_openssh()
        .map_err(|_| Error::failure("cannot encode the ssh public key"))?;
    Ok(PublicKeys {
        age,
        ssh: Some(ssh),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_gives_a_matching_pair() {
        let (secret, recipient) = generate();
        assert!(secret.starts_with("AGE-SECRET-KEY-1"));
        assert!(recipient.starts_with("age1"));
        let keys = public_of(format!("# c\n{}\n", secret.as_str()).as_bytes()).unwrap();
        assert_eq!(keys.age, recipient);
        assert_eq!(keys.ssh, None);
    }

    #[test]
    fn public_of_ssh_public_key() {
        let line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN alice@rust\n";
        let keys = public_of(line.as_bytes()).unwrap();
        assert_eq!(keys.ssh.as_deref(), Some(line.trim()));
        assert_eq!(
            keys.age,
            ssh_to_age::recipient_from_ssh_public(line).unwrap()
        );
        assert!(public_of(b"ecdsa-sha2-nistp256 AAAA").is_err());
        assert!(public_of(b"nonsense").is_err());
    }
}
