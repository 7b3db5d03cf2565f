//! Install-time validation of tunnel credentials (docs/nixos.md#tunnels-tunnelsid, the manifest's per-secret
//! `validate`): a malformed new credential fails its secret — so the previous copy is kept —
//! instead of taking the host offline. Messages name fields, never values.

use super::failure::Failure;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};

/// What a secret's bytes must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The credentials JSON `cloudflared tunnel create` writes.
    CloudflaredCredentials,
    /// A tunnel token: base64 of `{"a","s","t"}`.
    CloudflaredToken,
    /// A Cloudflare Access service token `{"client_id","client_secret"}` (docs/remote-builders.md).
    AccessServiceToken,
}

impl Check {
    /// Parses the manifest's `validate` value.
    pub fn from_name(s: &str) -> Option<Check> {
        match s {
            "cloudflared-credentials" => Some(Check::CloudflaredCredentials),
            "cloudflared-token" => Some(Check::CloudflaredToken),
            "cloudflare-access-service-token" => Some(Check::AccessServiceToken),
            _ => None,
        }
    }

    /// Checks `bytes`.
    pub fn run(self, bytes: &[u8]) -> Result<(), Failure> {
        if self == Check::AccessServiceToken {
            return access_service_token(bytes);
        }
        let obj = match self {
            Check::CloudflaredCredentials => {
                json_object(bytes).ok_or_else(|| bad("tunnel credentials are not a JSON object"))?
            }
            Check::CloudflaredToken => token_as_credentials(bytes)?,
            Check::AccessServiceToken => unreachable!("checked above"),
        };
        crate::tunnel::validate(&obj).map_err(|e| bad(&e.message))
    }
}

fn bad(message: &str) -> Failure {
    Failure::new("invalid-credentials", message)
        .hint("the previous credential is kept; re-seal the file `cloudflared` wrote")
}

/// `client_id` (Cloudflare's end in `.access`) and `client_secret`, both non-empty strings.
fn access_service_token(bytes: &[u8]) -> Result<(), Failure> {
    let bad = |m: &str| {
        Failure::new("invalid-credentials", m)
            .hint("the previous token is kept; re-seal {\"client_id\": …, \"client_secret\": …}")
    };
    let obj = json_object(bytes).ok_or_else(|| bad("Access service token is not a JSON object"))?;
    for field in ["client_id", "client_secret"] {
        match obj.get(field) {
            Some(Value::String(v)) if !v.trim().is_empty() => {}
            _ => {
                return Err(bad(&format!(
                    "Access service token: {field} must be a non-empty string"
                )))
            }
        }
    }
    Ok(())
}

fn json_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(bytes).ok()? {
        Value::Object(o) => Some(o),
        _ => None,
    }
}

/// A token's `a`/`s`/`t` as the credentials' `AccountTag`/`TunnelSecret`/`TunnelID`.
fn token_as_credentials(bytes: &[u8]) -> Result<Map<String, Value>, Failure> {
    let text = std::str::from_utf8(bytes).map_err(|_| bad("tunnel token is not text"))?;
    let decoded = STANDARD
        .decode(text.trim())
        .map_err(|_| bad("tunnel token is not standard base64"))?;
    let obj =
        json_object(&decoded).ok_or_else(|| bad("tunnel token is not base64 of a JSON object"))?;
    let mut out = Map::new();
    for (short, long) in [
        ("a", "AccountTag"),
        ("s", "TunnelSecret"),
        ("t", "TunnelID"),
    ] {
        if let Some(v) = obj.get(short) {
            out.insert(long.to_string(), v.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
    const ID: &str = "6ff42ae2-765d-4adf-8112-31c55c1551ef";

    fn secret() -> String {
        STANDARD.encode([9u8; 32])
    }

    #[test]
    fn credentials() {
        let good = format!(
            r#"{{"AccountTag":"{ACCOUNT}","TunnelSecret":"{}","TunnelID":"{ID}"}}"#,
            secret()
        );
        assert!(Check::CloudflaredCredentials.run(good.as_bytes()).is_ok());
        let short =
            format!(r#"{{"AccountTag":"{ACCOUNT}","TunnelSecret":"c2hvcnQ=","TunnelID":"{ID}"}}"#);
        let e = Check::CloudflaredCredentials
            .run(short.as_bytes())
            .unwrap_err();
        assert_eq!(e.code, "invalid-credentials");
        assert!(e.message.contains("TunnelSecret") && !e.message.contains("c2hvcnQ"));
        assert!(Check::CloudflaredCredentials.run(b"[1]").is_err());
    }

    #[test]
    fn access_service_tokens() {
        let c = Check::from_name("cloudflare-access-service-token").unwrap();
        assert!(c
            .run(br#"{"client_id":"abc.access","client_secret":"s3cr3t-value"}"#)
            .is_ok());
        let e = c
            .run(br#"{"client_id":"abc.access","client_secret":""}"#)
            .unwrap_err();
        assert!(e.message.contains("client_secret"));
        let e = c
            .run(br#"{"client_id":"abc.access","client_secret":7}"#)
            .unwrap_err();
        assert!(!e.message.contains('7'));
        assert!(c.run(b"not json s3cr3t").is_err());
    }

    #[test]
    fn tokens() {
        let tok = STANDARD.encode(format!(
            r#"{{"a":"{ACCOUNT}","s":"{}","t":"{ID}"}}"#,
            secret()
        ));
        assert!(Check::CloudflaredToken
            .run(format!("{tok}\n").as_bytes())
            .is_ok());
        let bad_id = STANDARD.encode(format!(r#"{{"a":"{ACCOUNT}","s":"{}","t":"x"}}"#, secret()));
        assert!(Check::CloudflaredToken.run(bad_id.as_bytes()).is_err());
        assert!(Check::CloudflaredToken.run(b"%%%").is_err());
    }
}
