//! Cloudflare Tunnel credentials: recognising the credentials JSON that `cloudflared tunnel
//! create` writes (`{"AccountTag","TunnelSecret","TunnelID"}`), validating it before it is
//! sealed (a malformed credential would take a host offline at its next activation), and
//! converting it to and from a tunnel token (base64 of `{"a","s","t"}`).

use crate::error::Error;
use crate::format::Format;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};

/// Validates `plaintext` if it is a credentials file: a JSON object with a `TunnelID` key.
/// Exit 5 naming the field otherwise; other inputs pass untouched.
pub fn validate_if_credentials(plaintext: &[u8], format: Format) -> Result<(), Error> {
    if !matches!(format, Format::Json | Format::Binary) {
        return Ok(());
    }
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(plaintext) else {
        return Ok(());
    };
    if !obj.contains_key("TunnelID") {
        return Ok(());
    }
    validate(&obj)
}

fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, Error> {
    obj.get(name).and_then(Value::as_str).ok_or_else(|| {
        Error::malformed(format!(
            "tunnel credentials: {name} is missing or not a string"
        ))
    })
}

/// Checks the three fields of a credentials object.
pub fn validate(obj: &Map<String, Value>) -> Result<(), Error> {
    let hint = "use the file `cloudflared tunnel create` wrote, or pass --no-validate";
    let account = field(obj, "AccountTag")?;
    if account.len() != 32 || !account.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(
            Error::malformed("tunnel credentials: AccountTag is not 32 hex digits").with_hint(hint),
        );
    }
    let secret = field(obj, "TunnelSecret")?;
    match STANDARD.decode(secret) {
        Ok(bytes) if bytes.len() >= 32 => {}
        Ok(_) => {
            return Err(Error::malformed(
                "tunnel credentials: TunnelSecret is shorter than 32 bytes",
            )
            .with_hint(hint))
        }
        Err(_) => {
            return Err(
                Error::malformed("tunnel credentials: TunnelSecret is not standard base64")
                    .with_hint(hint),
            )
        }
    }
    let id = field(obj, "TunnelID")?;
    if !is_uuid(id) {
        return Err(Error::malformed("tunnel credentials: TunnelID is not a UUID").with_hint(hint));
    }
    Ok(())
}

/// Whether `s` is a UUID in its canonical 8-4-4-4-12 hex form.
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(account: &str, secret: &str, id: &str) -> Vec<u8> {
        serde_json::json!({"AccountTag": account, "TunnelSecret": secret, "TunnelID": id})
            .to_string()
            .into_bytes()
    }

    const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
    const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const ID: &str = "c0ffee00-1234-4abc-8def-0123456789ab";

    #[test]
    fn accepts_good_credentials_and_other_json() {
        validate_if_credentials(&creds(ACCOUNT, SECRET, ID), Format::Json).unwrap();
        validate_if_credentials(b"{\"a\": 1}", Format::Json).unwrap();
        validate_if_credentials(b"not json", Format::Binary).unwrap();
    }

    #[test]
    fn names_the_bad_field() {
        let msg = |b: Vec<u8>| {
            validate_if_credentials(&b, Format::Json)
                .unwrap_err()
                .message
        };
        assert!(msg(creds("xyz", SECRET, ID)).contains("AccountTag"));
        assert!(msg(creds(ACCOUNT, "!!!", ID)).contains("TunnelSecret is not standard base64"));
        assert!(msg(creds(ACCOUNT, "AAAA", ID)).contains("shorter than 32"));
        assert!(msg(creds(ACCOUNT, SECRET, "nope")).contains("TunnelID"));
        let err =
            validate_if_credentials(&creds(ACCOUNT, SECRET, "nope"), Format::Json).unwrap_err();
        assert_eq!(err.exit_code(), 5);
    }
}
