//! Texts made of ssh public key lines, as a `.pub` file, `ssh-keyscan` and `known_hosts` write
//! them: `ssh-ed25519 AAAA… [comment]` or `host[,host…] ssh-ed25519 AAAA…`, with blank lines
//! and `#` comment lines (ssh-keyscan prints `# host:22 SSH-2.0-…`) in between. `hostseal
//! pubkey` reads them so `ssh-keyscan builder | hostseal pubkey` works.

use crate::error::Error;

/// Whether a token names an ssh public key type (`ssh-ed25519`, `ecdsa-sha2-…`, `sk-…`).
fn is_key_type(token: &str) -> bool {
    token.starts_with("ssh-") || token.starts_with("ecdsa-") || token.starts_with("sk-")
}

/// The `type base64 [comment]` part of one line, or `None` when the line is no key line.
/// `@cert-authority`/`@revoked` lines of a known_hosts file are skipped (`Some(None)`): they
/// are not keys of the host.
fn key_part(line: &str) -> Option<Option<&str>> {
    let first = line.split_whitespace().next()?;
    if is_key_type(first) {
        return Some(Some(line));
    }
    if first.starts_with('@') {
        return Some(None);
    }
    let rest = line.get(first.len()..)?.trim_start();
    let second = rest.split_whitespace().next()?;
    is_key_type(second).then_some(Some(rest))
}

/// The ssh public keys of `text`, in order, when its first non-comment line is an ssh key line
/// (with or without a leading host field); `None` when it is not such a text (e.g. an age
/// identity file). A later line that is not a key line is an error naming its number.
pub fn parse(text: &str) -> Option<Result<Vec<ssh_key::PublicKey>, Error>> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(n, l)| (n.saturating_add(1), l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .peekable();
    let (_, first) = lines.peek()?;
    key_part(first)?;
    let mut keys = Vec::new();
    for (n, line) in lines {
        let part = match key_part(line) {
            Some(Some(p)) => p,
            Some(None) => continue,
            None => {
                return Some(Err(Error::malformed(format!(
                    "line {n}: not an ssh public key line"
                ))))
            }
        };
        match ssh_key::PublicKey::from_openssh(part) {
            Ok(k) => keys.push(k),
            Err(_) => {
                return Some(Err(Error::malformed(format!(
                    "line {n}: not a valid OpenSSH public key"
                ))))
            }
        }
    }
    Some(Ok(keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN";

    #[test]
    fn pub_file_keyscan_and_known_hosts_lines() {
        let pub_file = format!("ssh-ed25519 {ED} alice@rust\n");
        let keys = parse(&pub_file).unwrap().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].comment(), "alice@rust");
        let scan = format!(
            "# builder:22 SSH-2.0-OpenSSH_9.6\n\nbuilder ssh-ed25519 {ED}\n[b]:2222,10.0.0.1 ssh-ed25519 {ED}\n@revoked * ssh-ed25519 {ED}\n"
        );
        let keys = parse(&scan).unwrap().unwrap();
        assert_eq!(keys.len(), 2, "the @revoked line is not a key of the host");
        assert!(keys.iter().all(|k| k.key_data().ed25519().is_some()));
    }

    #[test]
    fn other_texts_are_not_ssh_lines() {
        assert!(parse("# created\nAGE-SECRET-KEY-1QQQ\n").is_none());
        assert!(parse("").is_none());
        assert!(parse("# only a comment\n").is_none());
        let err = parse(&format!("h ssh-ed25519 {ED}\nnonsense\n"))
            .unwrap()
            .unwrap_err();
        assert_eq!(err.message, "line 2: not an ssh public key line");
        let err = parse("h ssh-ed25519 AAAA!!\n").unwrap().unwrap_err();
        assert!(err.message.starts_with("line 1: not a valid"), "{err}");
    }
}
