//! Recipients: who a data key is wrapped to. (Skeleton: being written.)

use crate::error::Error;

/// One recipient as written in `.sops.yaml`, `--age` or a file's metadata.
pub struct Recipient {
    text: String,
}

impl Recipient {
    /// Parses `age1…`, `ssh-ed25519 …`, `ssh-rsa …` (plugin recipients refused for now).
    pub fn parse(s: &str) -> Result<Recipient, Error> {
        Ok(Recipient {
            text: s.trim().to_string(),
        })
    }
    /// The recipient exactly as stored in metadata (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }
    /// Key identity for set comparison: type + key bytes, comments ignored.
    pub fn normalized(&self) -> String {
        self.text.clone()
    }
    /// Encrypts `payload` (a data key or Shamir share) to this recipient as an armored age file.
    pub fn wrap(&self, _payload: &[u8]) -> Result<String, Error> {
        Err(Error::failure("not implemented"))
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
