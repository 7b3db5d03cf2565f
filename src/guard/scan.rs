//! Well-known secret shapes (`check --staged`, see `docs/commit-workflow.md` and
//! `docs/hardening.md`): content that is a secret whatever the rules say — private keys,
//! cloudflared credentials and tunnel tokens — also when disguised: credentials with keys in any
//! case, after a BOM, nested at any depth of JSON or YAML; tokens in either base64 alphabet or
//! folded over lines; age keys in lower case or split over lines. Inside a sealed file the same
//! shapes are looked for in what is left in clear (every `ENC[…]` value blanked first). Found by
//! shape only; what is reported is the kind of secret and its line, never its bytes.

use base64::alphabet::{Alphabet, STANDARD, URL_SAFE};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use regex::bytes::Regex;
use serde_json::Value;
use std::sync::OnceLock;

/// One secret shape found: what it is and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind of secret (e.g. "an age secret key").
    pub what: &'static str,
    /// 1-based line.
    pub line: usize,
}

impl Finding {
    /// A secret that belongs in no repository, not even sealed: an admin's age identity
    /// (keys.txt) or cloudflared's account certificate (cert.pem).
    pub fn never_commit(&self) -> bool {
        matches!(self.what, AGE_KEY | CERT_PEM)
    }
}

const AGE_KEY: &str = "an age secret key";
const CERT_PEM: &str = "a cloudflared tunnel certificate (cert.pem)";
const TOKEN: &str = "a tunnel token";
const CREDENTIALS: &str = "cloudflared tunnel credentials (TunnelSecret)";

/// Shapes matched on the text as written: PEM armour lines.
fn pem_patterns() -> &'static [(&'static str, Regex)] {
    static P: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    P.get_or_init(|| {
        let raw: [(&'static str, &str); 5] = [
            (
                "an OpenSSH private key",
                r"(?i)-----BEGIN OPENSSH PRIVATE KEY-----",
            ),
            (
                "a PEM private key",
                r"(?i)-----BEGIN (?:RSA |EC |DSA )?PRIVATE KEY-----",
            ),
            (
                "an encrypted PEM private key",
                r"(?i)-----BEGIN ENCRYPTED PRIVATE KEY-----",
            ),
            (
                "a PGP private key block",
                r"(?i)-----BEGIN PGP PRIVATE KEY BLOCK-----",
            ),
            (CERT_PEM, r"(?i)-----BEGIN ARGO TUNNEL TOKEN-----"),
        ];
        compile(&raw)
    })
}

fn compile(raw: &[(&'static str, &str)]) -> Vec<(&'static str, Regex)> {
    raw.iter()
        .filter_map(|(name, re)| Regex::new(re).ok().map(|r| (*name, r)))
        .collect()
}

fn regex(cell: &'static OnceLock<Option<Regex>>, re: &str) -> Option<&'static Regex> {
    cell.get_or_init(|| Regex::new(re).ok()).as_ref()
}

/// An age secret key in either case (bech32 is case-insensitive).
fn age_key_re() -> Option<&'static Regex> {
    static R: OnceLock<Option<Regex>> = OnceLock::new();
    regex(
        &R,
        r"(?i)AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
    )
}

/// Base64 of `{"` starts with `eyJ` in both alphabets; the candidate is decoded and checked.
fn token_re() -> Option<&'static Regex> {
    static R: OnceLock<Option<Regex>> = OnceLock::new();
    regex(&R, r"eyJ[A-Za-z0-9+/_-]{20,}={0,2}")
}

/// `TunnelSecret` (any case, quoted or not) followed by a base64-looking value.
fn credentials_re() -> Option<&'static Regex> {
    static R: OnceLock<Option<Regex>> = OnceLock::new();
    regex(
        &R,
        r#"(?i)["']?tunnelsecret["']?[ \t]*[:=][ \t]*["']?[A-Za-z0-9+/_-]{16,}"#,
    )
}

/// A line break with the blanks around it: removed to join values folded over lines.
fn fold_re() -> Option<&'static Regex> {
    static R: OnceLock<Option<Regex>> = OnceLock::new();
    regex(&R, r"[ \t]*\r?\n[ \t]*")
}

/// A sops-encrypted value.
fn enc_re() -> Option<&'static Regex> {
    static R: OnceLock<Option<Regex>> = OnceLock::new();
    regex(&R, r"ENC\[[^\]\n]*\]")
}

/// Every secret shape in `bytes` (any encoding; non-UTF-8 is fine).
pub fn scan(bytes: &[u8]) -> Vec<Finding> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut out = Vec::new();
    if let Some(line) = credentials(bytes) {
        out.push(Finding {
            what: CREDENTIALS,
            line,
        });
    }
    for (what, re) in pem_patterns() {
        for m in re.find_iter(bytes) {
            out.push(Finding {
                what,
                line: line_of(bytes, m.start()),
            });
        }
    }
    let joined = Joined::new(bytes);
    if let Some(re) = age_key_re() {
        for m in re.find_iter(&joined.text) {
            out.push(Finding {
                what: AGE_KEY,
                line: line_of(bytes, joined.origin(m.start())),
            });
        }
    }
    if let Some(re) = token_re() {
        for m in re.find_iter(&joined.text) {
            if is_token(m.as_bytes()) {
                out.push(Finding {
                    what: TOKEN,
                    line: line_of(bytes, joined.origin(m.start())),
                });
            }
        }
    }
    out.sort_by_key(|f| f.line);
    out
}

/// The shapes left in clear in a sealed file: every `ENC[…]` value is blanked (same length, so
/// lines stay), then the rest is scanned as plaintext. Public keys (`age1…`, `ssh-ed25519 …`)
/// and the armoured age stanzas of the metadata match no shape.
pub fn scan_sealed(bytes: &[u8]) -> Vec<Finding> {
    let mut blanked = bytes.to_vec();
    if let Some(re) = enc_re() {
        for m in re.find_iter(bytes) {
            if let Some(span) = blanked.get_mut(m.range()) {
                span.fill(b' ');
            }
        }
    }
    let found = scan(&blanked);
    zeroize::Zeroize::zeroize(&mut blanked);
    found
}

/// The text with line folds removed, and where they were (to map offsets back). A copy of
/// what may be plaintext, so it is wiped on drop.
struct Joined {
    text: Vec<u8>,
    /// Per fold: its offset in `text`, and how many bytes were removed up to and including it.
    folds: Vec<(usize, usize)>,
}

impl Joined {
    fn new(bytes: &[u8]) -> Joined {
        let mut text = Vec::with_capacity(bytes.len());
        let mut folds = Vec::new();
        let mut at = 0;
        let mut removed = 0usize;
        if let Some(re) = fold_re() {
            for m in re.find_iter(bytes) {
                text.extend_from_slice(bytes.get(at..m.start()).unwrap_or_default());
                removed = removed.saturating_add(m.len());
                folds.push((text.len(), removed));
                at = m.end();
            }
        }
        text.extend_from_slice(bytes.get(at..).unwrap_or_default());
        Joined { text, folds }
    }

    /// The offset in the original bytes of offset `i` of the joined text.
    fn origin(&self, i: usize) -> usize {
        let before = self.folds.partition_point(|(at, _)| *at <= i);
        let removed = before
            .checked_sub(1)
            .and_then(|k| self.folds.get(k))
            .map_or(0, |(_, r)| *r);
        i.saturating_add(removed)
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.text);
    }
}

/// The line of cloudflared credentials: a `TunnelSecret` key (any case) with a base64-looking
/// value, found in the text, or at any depth of the JSON or YAML document (which also sees
/// keys spelled with escapes).
fn credentials(bytes: &[u8]) -> Option<usize> {
    if let Some(m) = credentials_re().and_then(|re| re.find(bytes)) {
        return Some(line_of(bytes, m.start()));
    }
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let doc_like = matches!(first, Some(b'{' | b'['));
    let mentions = bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"tunnel"));
    if !doc_like && !mentions && !bytes.contains(&b'\\') {
        return None;
    }
    let found = parsed_json(bytes).or_else(|| parsed_yaml(bytes))?;
    let mention = bytes
        .windows(12)
        .position(|w| w.eq_ignore_ascii_case(b"tunnelsecret"));
    found.then(|| mention.map_or(1, |at| line_of(bytes, at)))
}

fn parsed_json(bytes: &[u8]) -> Option<bool> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    Some(has_tunnel_secret(&v))
}

/// Through the YAML store (the one YAML parser hostseal has; it bounds the nesting depth).
fn parsed_yaml(bytes: &[u8]) -> Option<bool> {
    use crate::format::tree::{Node, Scalar};
    let tree = crate::format::yaml::parse(bytes).ok()?;
    let mut stack: Vec<&Node> = Vec::new();
    let mut maps: Vec<&crate::format::tree::Map> = tree.docs.iter().collect();
    loop {
        if let Some(m) = maps.pop() {
            for (k, v) in m.entries() {
                if k.eq_ignore_ascii_case("tunnelsecret") {
                    if let Node::Scalar(Scalar::Str(s)) = v {
                        if secret_like_str(s) {
                            return Some(true);
                        }
                    }
                }
                stack.push(v);
            }
        } else if let Some(n) = stack.pop() {
            match n {
                Node::Map(m) => maps.push(m),
                Node::Seq(items) => stack.extend(items),
                Node::Scalar(_) | Node::Comment(_) => {}
            }
        } else {
            return Some(false);
        }
    }
}

/// A mapping at any depth with a `tunnelsecret` key (any case) holding a base64-looking string.
fn has_tunnel_secret(v: &Value) -> bool {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(o) => {
                for (k, val) in o {
                    if k.eq_ignore_ascii_case("tunnelsecret") && secret_like(val) {
                        return true;
                    }
                    stack.push(val);
                }
            }
            Value::Array(a) => stack.extend(a),
            _ => {}
        }
    }
    false
}

fn secret_like(v: &Value) -> bool {
    v.as_str().is_some_and(secret_like_str)
}

fn secret_like_str(s: &str) -> bool {
    let s = s.trim();
    s.len() >= 16
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=_-".contains(&b))
}

/// Whether a base64 candidate (either alphabet, padded or not, possibly followed by text
/// joined from the next line) decodes to a JSON object with string `a`, `s` and `t` fields
/// (any case: cloudflared decodes field names case-insensitively).
fn is_token(candidate: &[u8]) -> bool {
    const MAX: usize = 64 * 1024;
    if candidate.len() > MAX {
        return false;
    }
    let whole = candidate.len() / 4 * 4;
    [STANDARD, URL_SAFE].iter().any(|alphabet| {
        [candidate.len(), whole].iter().any(|&n| {
            let slice = candidate.get(..n).unwrap_or_default();
            decode(alphabet, slice).is_some_and(|json| token_json(&json))
        })
    })
}

fn decode(alphabet: &Alphabet, b: &[u8]) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let config = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    GeneralPurpose::new(alphabet, config)
        .decode(b)
        .ok()
        .map(zeroize::Zeroizing::new)
}

fn token_json(json: &[u8]) -> bool {
    let mut values = serde_json::Deserializer::from_slice(json).into_iter::<Value>();
    match values.next() {
        Some(Ok(Value::Object(o))) => ["a", "s", "t"].iter().all(|k| {
            o.iter()
                .any(|(name, v)| name.eq_ignore_ascii_case(k) && v.is_string())
        }),
        _ => false,
    }
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
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    fn whats(bytes: &[u8]) -> Vec<&'static str> {
        scan(bytes).into_iter().map(|f| f.what).collect()
    }

    // TEST-ONLY key shape, made for this test; protects nothing.
    /// An age-key-shaped string (not a key: 58 `Q`s), built at run time so that no key-shaped
    /// literal sits in the source.
    fn age() -> String {
        format!("AGE-SECRET-KEY-1{}", "Q".repeat(58))
    }
    const SECRET: &str = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=";

    #[test]
    fn finds_each_shape_with_its_line() {
        let age = format!("# created\n{}\n", age());
        assert_eq!(
            scan(age.as_bytes()),
            vec![Finding {
                what: AGE_KEY,
                line: 2
            }]
        );
        assert_eq!(
            whats(b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n"),
            ["an OpenSSH private key"]
        );
        for pem in [
            "-----BEGIN RSA PRIVATE KEY-----",
            "-----BEGIN EC PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY-----",
        ] {
            assert_eq!(whats(pem.as_bytes()), ["a PEM private key"], "{pem}");
        }
        assert_eq!(
            whats(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMII\n"),
            ["an encrypted PEM private key"]
        );
        assert_eq!(
            whats(b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQ\n"),
            ["a PGP private key block"]
        );
        assert_eq!(
            whats(b"x\n-----BEGIN ARGO TUNNEL TOKEN-----\n"),
            ["a cloudflared tunnel certificate (cert.pem)"]
        );
        let creds =
            format!(r#"{{"AccountTag": "a", "TunnelSecret": "{SECRET}", "TunnelID": "c"}}"#);
        assert_eq!(whats(creds.as_bytes()), [CREDENTIALS]);
        let token = STANDARD.encode(r#"{"a":"acct","s":"c2VjcmV0","t":"id"}"#);
        let env = format!("PORT=1\nTUNNEL_TOKEN={token}\n");
        assert_eq!(
            scan(env.as_bytes()),
            vec![Finding {
                what: TOKEN,
                line: 2
            }]
        );
    }

    #[test]
    fn sees_through_disguises() {
        // Credentials: lower-case keys, BOM, nested, YAML, escaped key.
        let lower = format!(r#"{{"accounttag":"a","tunnelsecret":"{SECRET}","tunnelid":"c"}}"#);
        let bom = format!("\u{feff}{{\"TunnelSecret\": \"{SECRET}\"}}");
        let nested = format!(r#"{{"x":{{"y":[{{"TUNNELSECRET":"{SECRET}"}}]}}}}"#);
        let yaml = format!("tunnel:\n  creds:\n    TunnelSecret: {SECRET}\n");
        let escaped = format!(r#"{{"Tunnel\u0053ecret":"{SECRET}"}}"#);
        let folded = format!("a:\n  - TunnelSecret:\n      {SECRET}\n");
        for c in [lower, bom, nested, yaml, escaped, folded] {
            assert_eq!(whats(c.as_bytes()), [CREDENTIALS], "{c}");
        }
        // Tokens: base64url without padding, folded over lines, followed by another line.
        let json = r#"{"a":"acct?>?","s":"c2VjcmV0~~~","t":"id??>"}"#;
        let url = URL_SAFE_NO_PAD.encode(json);
        assert!(url.contains(['-', '_']), "{url}");
        assert_eq!(whats(format!("T={url}\nPORT=1\n").as_bytes()), [TOKEN]);
        let std = STANDARD.encode(json);
        let (a, b) = std.split_at(30);
        assert_eq!(whats(format!("T: >\n  {a}\n  {b}\n").as_bytes()), [TOKEN]);
        // Age keys: lower case, split over lines.
        let age_key = age();
        let lower = age_key.to_lowercase();
        assert_eq!(whats(lower.as_bytes()), [AGE_KEY]);
        let (a, b) = age_key.split_at(40);
        assert_eq!(
            scan(format!("x\n{a}\n   {b}\n").as_bytes()),
            vec![Finding {
                what: AGE_KEY,
                line: 2
            }]
        );
    }

    #[test]
    fn ignores_lookalikes() {
        assert!(scan(b"AGE-SECRET-KEY-1... goes in keys.txt").is_empty());
        assert!(scan(b"-----BEGIN PUBLIC KEY-----").is_empty());
        assert!(scan(b"-----BEGIN OPENSSH PUBLIC KEY-----").is_empty());
        assert!(scan(b"-----BEGIN PGP PUBLIC KEY BLOCK-----").is_empty());
        let jwt_like = STANDARD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert!(scan(jwt_like.as_bytes()).is_empty());
        assert!(scan(br#"{"TunnelID": "x"}"#).is_empty());
        assert!(scan(br#"{"TunnelSecret": ""}"#).is_empty());
        assert!(scan(b"\xff\xfe binary \x00").is_empty());
        let public = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n\
                      ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl h\n";
        assert!(scan(public.as_bytes()).is_empty());
    }

    #[test]
    fn sealed_files_clear_values_are_scanned_enc_values_are_not() {
        let enc = "ENC[AES256_GCM,data:eyJhIjoiYWNjdCIsInMiOiJjMlZqY21WMCIsInQiOiJpZCJ9,iv:x,tag:y,type:str]";
        let age_key = age();
        let sealed = format!(
            "TunnelSecret: {enc}\nnote_unencrypted: {age_key}\nsops:\n    age:\n        - recipient: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n            YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSB4\n            -----END AGE ENCRYPTED FILE-----\n    mac: {enc}\n"
        );
        assert_eq!(
            scan_sealed(sealed.as_bytes()),
            vec![Finding {
                what: AGE_KEY,
                line: 2
            }]
        );
        let clean = sealed.replace(&age_key, "hello");
        assert!(scan_sealed(clean.as_bytes()).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn scan_never_panics_and_lines_are_in_range(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..1024)
        ) {
            let lines = bytes.iter().filter(|b| **b == b'\n').count() + 1;
            for f in scan(&bytes).into_iter().chain(scan_sealed(&bytes)) {
                proptest::prop_assert!(f.line >= 1 && f.line <= lines);
            }
        }
    }

    #[test]
    fn admin_keys_and_cert_pem_are_never_committed() {
        assert!(scan(b"-----BEGIN ARGO TUNNEL TOKEN-----")[0].never_commit());
        assert!(!scan(b"-----BEGIN OPENSSH PRIVATE KEY-----")[0].never_commit());
        let key = format!("AGE-SECRET-KEY-1{}", "Q".repeat(58));
        assert!(scan(key.as_bytes())[0].never_commit());
    }
}
