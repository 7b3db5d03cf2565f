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

/// The largest token accepted (a real token is a few hundred bytes).
const MAX_TOKEN: usize = 64 * 1024;

/// Converts a credentials file (the JSON `cloudflared tunnel create` writes) into a tunnel
/// token: standard base64 of the compact JSON `{"a","s","t"}` (plus `"e"` when the
/// credentials name an `Endpoint`), the form `cloudflared tunnel run --token` takes.
/// The credentials are validated first (exit 5 naming the field).
pub fn credentials_to_token(credentials: &[u8]) -> Result<String, Error> {
    let obj = match serde_json::from_slice::<Value>(credentials) {
        Ok(Value::Object(obj)) => obj,
        Ok(_) => return Err(Error::malformed("tunnel credentials: not a JSON object")),
        Err(e) => {
            return Err(Error::malformed(format!(
                "tunnel credentials: JSON syntax error at {}:{}",
                e.line(),
                e.column()
            )))
        }
    };
    if obj.contains_key("sops") {
        return Err(Error::malformed(
            "tunnel credentials: this is a sealed file, not the credentials",
        )
        .with_hint("decrypt it first: hostseal decrypt FILE | hostseal tunnel token -"));
    }
    validate(&obj)?;
    let mut token = Map::new();
    for (short, long) in [
        ("a", "AccountTag"),
        ("s", "TunnelSecret"),
        ("t", "TunnelID"),
    ] {
        token.insert(short.into(), Value::String(field(&obj, long)?.to_string()));
    }
    if let Some(endpoint) = endpoint(&obj, "Endpoint")? {
        token.insert("e".into(), Value::String(endpoint.to_string()));
    }
    let json = zeroize::Zeroizing::new(Value::Object(token).to_string());
    Ok(STANDARD.encode(json.as_bytes()))
}

/// Converts a tunnel token back into the credentials JSON `cloudflared` reads
/// (`{"AccountTag","TunnelSecret","TunnelID"}`, plus `"Endpoint"` when the token has `"e"`),
/// validated like any credentials. Errors never repeat the token.
pub fn token_to_credentials(token: &str) -> Result<String, Error> {
    let token = token.trim();
    if token.len() > MAX_TOKEN {
        return Err(Error::malformed("tunnel token: longer than 64 KiB"));
    }
    let json = STANDARD
        .decode(token)
        .map(zeroize::Zeroizing::new)
        .map_err(|_| Error::malformed("tunnel token: not standard base64"))?;
    let obj = match serde_json::from_slice::<Value>(&json) {
        Ok(Value::Object(obj)) => obj,
        _ => {
            return Err(Error::malformed(
                "tunnel token: not base64 of a JSON object",
            ))
        }
    };
    let mut creds = Map::new();
    for (short, long) in [
        ("a", "AccountTag"),
        ("s", "TunnelSecret"),
        ("t", "TunnelID"),
    ] {
        let v = obj.get(short).and_then(Value::as_str).ok_or_else(|| {
            Error::malformed(format!(
                "tunnel token: \"{short}\" ({long}) is missing or not a string"
            ))
        })?;
        creds.insert(long.into(), Value::String(v.to_string()));
    }
    if let Some(endpoint) = endpoint(&obj, "e")? {
        creds.insert("Endpoint".into(), Value::String(endpoint.to_string()));
    }
    validate(&creds)?;
    Ok(Value::Object(creds).to_string())
}

/// Whether `text` (trimmed) is a tunnel token: standard base64 of a JSON object with string
/// `a`, `s` and `t` fields. Used by `check --staged` to find tokens outside sealed files.
pub fn looks_like_token(text: &str) -> bool {
    let t = text.trim();
    if t.len() < 16 || t.len() > MAX_TOKEN {
        return false;
    }
    let Ok(json) = STANDARD.decode(t).map(zeroize::Zeroizing::new) else {
        return false;
    };
    match serde_json::from_slice::<Value>(&json) {
        Ok(Value::Object(obj)) => ["a", "s", "t"]
            .iter()
            .all(|k| obj.get(*k).is_some_and(Value::is_string)),
        _ => false,
    }
}

/// An optional endpoint field: absent, null or empty mean none; anything else must be a string.
fn endpoint<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, Error> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::malformed(format!(
            "tunnel credentials: {name} is not a string"
        ))),
    }
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

    #[test]
    fn token_round_trip() {
        let token = credentials_to_token(&creds(ACCOUNT, SECRET, ID)).unwrap();
        assert!(looks_like_token(&token));
        let json: Value = serde_json::from_slice(&STANDARD.decode(&token).unwrap()).unwrap();
        assert_eq!(json["a"], ACCOUNT);
        assert_eq!(json["s"], SECRET);
        assert_eq!(json["t"], ID);
        assert!(json.get("e").is_none());
        let back: Value = serde_json::from_str(&token_to_credentials(&token).unwrap()).unwrap();
        assert_eq!(
            back,
            serde_json::from_slice::<Value>(&creds(ACCOUNT, SECRET, ID)).unwrap()
        );
    }

    #[test]
    fn endpoint_travels_both_ways() {
        let with_e =
            serde_json::json!({"a": ACCOUNT, "s": SECRET, "t": ID, "e": "fed"}).to_string();
        let creds = token_to_credentials(&STANDARD.encode(with_e)).unwrap();
        assert!(creds.contains("\"Endpoint\":\"fed\""));
        let token = credentials_to_token(creds.as_bytes()).unwrap();
        let json: Value = serde_json::from_slice(&STANDARD.decode(token).unwrap()).unwrap();
        assert_eq!(json["e"], "fed");
    }

    #[test]
    fn bad_tokens_name_the_problem_not_the_token() {
        let err = |t: &str| token_to_credentials(t).unwrap_err();
        assert!(err("!!!").message.contains("not standard base64"));
        assert_eq!(err("!!!").exit_code(), 5);
        assert!(err(&STANDARD.encode("[1]")).message.contains("JSON object"));
        let no_t = serde_json::json!({"a": ACCOUNT, "s": SECRET}).to_string();
        assert!(err(&STANDARD.encode(no_t)).message.contains("TunnelID"));
        let short = serde_json::json!({"a": ACCOUNT, "s": "AAAA", "t": ID}).to_string();
        let e = err(&STANDARD.encode(short));
        assert!(e.message.contains("TunnelSecret"));
        assert!(!e.message.contains("AAAA"));
        assert!(!looks_like_token("hello world"));
        let sealed = serde_json::json!({"TunnelID": "ENC[...]", "sops": {}}).to_string();
        let e = credentials_to_token(sealed.as_bytes()).unwrap_err();
        assert!(e.message.contains("sealed file"));
        assert!(!looks_like_token(&STANDARD.encode("{\"a\":\"x\"}")));
    }

    proptest::proptest! {
        #[test]
        fn any_valid_credentials_round_trip(
            account in proptest::array::uniform16(proptest::num::u8::ANY),
            secret in proptest::collection::vec(proptest::num::u8::ANY, 32..96),
            id in proptest::array::uniform16(proptest::num::u8::ANY),
            endpoint in proptest::option::of("[a-z]{1,8}"),
        ) {
            let id = hex::encode(id);
            let id = format!("{}-{}-{}-{}-{}", &id[..8], &id[8..12], &id[12..16], &id[16..20], &id[20..]);
            let mut obj = serde_json::json!({
                "AccountTag": hex::encode(account),
                "TunnelSecret": STANDARD.encode(&secret),
                "TunnelID": id,
            });
            if let Some(e) = &endpoint {
                obj["Endpoint"] = Value::String(e.clone());
            }
            let token = credentials_to_token(obj.to_string().as_bytes()).unwrap();
            proptest::prop_assert!(looks_like_token(&token));
            let back: Value = serde_json::from_str(&token_to_credentials(&token).unwrap()).unwrap();
            proptest::prop_assert_eq!(back, obj);
        }
    }
}
