//! Well-known secret shapes (SPEC §1 `check --staged`): content that is a secret whatever the
//! rules say — private keys, cloudflared credentials and tunnel tokens. Found by shape only;
//! what is reported is the kind of secret and its line, never its bytes.

use regex::bytes::Regex;
use std::sync::OnceLock;

/// One secret shape found: what it is and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind of secret (e.g. "an age secret key").
    pub what: &'static str,
    /// 1-based line.
    pub line: usize,
    /// A secret that belongs in no repository, not even sealed: an admin's age identity
    /// (keys.txt) or cloudflared's account certificate (cert.pem).
    pub never_commit: bool,
}

/// The shapes that are never committed, even sealed (see [`Finding::never_commit`]).
const NEVER_COMMIT: [&str; 2] = [AGE_SECRET_KEY, CERT_PEM];
const AGE_SECRET_KEY: &str = "an age secret key";
const CERT_PEM: &str = "a cloudflared tunnel certificate (cert.pem)";

/// The textual shapes: a name and a pattern.
fn patterns() -> &'static [(&'static str, Regex)] {
    static P: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    P.get_or_init(|| {
        let raw: [(&'static str, &str); 5] = [
            (
                AGE_SECRET_KEY,
                r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
            ),
            (
                "an OpenSSH private key",
                r"-----BEGIN OPENSSH PRIVATE KEY-----",
            ),
            (
                "a PEM private key",
                r"-----BEGIN (RSA |EC )?PRIVATE KEY-----",
            ),
            (CERT_PEM, r"-----BEGIN ARGO TUNNEL TOKEN-----"),
            // Base64 of `{"` starts with `eyJ`; the candidate is decoded and checked below.
            ("a tunnel token", r"eyJ[A-Za-z0-9+/]{20,}={0,2}"),
        ];
        raw.into_iter()
            .filter_map(|(name, re)| Regex::new(re).ok().map(|r| (name, r)))
            .collect()
    })
}

/// Every secret shape in `bytes` (any encoding; non-UTF-8 is fine).
pub fn scan(bytes: &[u8]) -> Vec<Finding> {
    let mut out = Vec::new();
    if is_credentials_json(bytes) {
        out.push(Finding {
            what: "cloudflared tunnel credentials (TunnelSecret)",
            line: 1,
            never_commit: false,
        });
    }
    for (what, re) in patterns() {
        for m in re.find_iter(bytes) {
            if *what == "a tunnel token" && !is_token(m.as_bytes()) {
                continue;
            }
            out.push(Finding {
                what,
                line: line_of(bytes, m.start()),
                never_commit: NEVER_COMMIT.contains(what),
            });
        }
    }
    out.sort_by_key(|f| f.line);
    out
}

/// A JSON object with a `TunnelSecret` key (what `cloudflared tunnel create` writes).
fn is_credentials_json(bytes: &[u8]) -> bool {
    let trimmed = bytes.trim_ascii_start();
    if !trimmed.starts_with(b"{") {
        return false;
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(o)) => o.contains_key("TunnelSecret"),
        _ => false,
    }
}

fn is_token(candidate: &[u8]) -> bool {
    std::str::from_utf8(candidate).is_ok_and(crate::tunnel::looks_like_token)
}

/// The 1-based line of a byte offset.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    let before = bytes.get(..offset).unwrap_or(bytes);
    before
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        .saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    fn whats(bytes: &[u8]) -> Vec<&'static str> {
        scan(bytes).into_iter().map(|f| f.what).collect()
    }

    #[test]
    fn finds_each_shape_with_its_line() {
        // TEST-ONLY key, generated for this test; protects nothing.
        let age = "# created\nAGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n";
        assert_eq!(
            scan(age.as_bytes()),
            vec![Finding {
                what: "an age secret key",
                line: 2,
                never_commit: true,
            }]
        );
        assert_eq!(
            whats(b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n"),
            ["an OpenSSH private key"]
        );
        assert_eq!(
            whats(b"-----BEGIN RSA PRIVATE KEY-----"),
            ["a PEM private key"]
        );
        assert_eq!(
            whats(b"-----BEGIN EC PRIVATE KEY-----"),
            ["a PEM private key"]
        );
        assert_eq!(whats(b"-----BEGIN PRIVATE KEY-----"), ["a PEM private key"]);
        assert_eq!(
            whats(b"x\n-----BEGIN ARGO TUNNEL TOKEN-----\n"),
            ["a cloudflared tunnel certificate (cert.pem)"]
        );
        assert!(scan(b"-----BEGIN ARGO TUNNEL TOKEN-----")[0].never_commit);
        assert!(!scan(b"-----BEGIN OPENSSH PRIVATE KEY-----")[0].never_commit);
        assert_eq!(
            whats(br#"{"AccountTag": "a", "TunnelSecret": "b", "TunnelID": "c"}"#),
            ["cloudflared tunnel credentials (TunnelSecret)"]
        );
        let token = STANDARD.encode(r#"{"a":"acct","s":"c2VjcmV0","t":"id"}"#);
        let env = format!("PORT=1\nTUNNEL_TOKEN={token}\n");
        assert_eq!(
            scan(env.as_bytes()),
            vec![Finding {
                what: "a tunnel token",
                line: 2,
                never_commit: false,
            }]
        );
    }

    #[test]
    fn ignores_lookalikes() {
        assert!(scan(b"AGE-SECRET-KEY-1... goes in keys.txt").is_empty());
        assert!(scan(b"-----BEGIN PUBLIC KEY-----").is_empty());
        assert!(scan(b"-----BEGIN OPENSSH PUBLIC KEY-----").is_empty());
        let jwt_like = STANDARD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert!(scan(jwt_like.as_bytes()).is_empty());
        assert!(scan(br#"{"TunnelID": "x"}"#).is_empty());
        assert!(scan(b"\xff\xfe binary \x00").is_empty());
    }

    proptest::proptest! {
        #[test]
        fn scan_never_panics_and_lines_are_in_range(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..1024)
        ) {
            let lines = bytes.iter().filter(|b| **b == b'\n').count() + 1;
            for f in scan(&bytes) {
                proptest::prop_assert!(f.line >= 1 && f.line <= lines);
            }
        }
    }
}
