//! The `ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<t>]` encoding of one encrypted value
//! (docs/format.md#values): parsing is strict (standard base64 with padding, a 16-byte tag, a known type) so
//! that damage is reported as malformed input instead of being half-read.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The `type:` of an encrypted value: how its plaintext bytes are read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// A string (also the binary store's blob).
    Str,
    /// A YAML integer, decimal.
    Int,
    /// A float in Go `'f', -1` spelling.
    Float,
    /// `True` / `False`.
    Bool,
    /// A timestamp in Go RFC 3339 (nanoseconds, trailing zeros cut).
    Time,
    /// An encrypted comment.
    Comment,
}

impl ValueType {
    /// The name written after `type:`.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Str => "str",
            ValueType::Int => "int",
            ValueType::Float => "float",
            ValueType::Bool => "bool",
            ValueType::Time => "time",
            ValueType::Comment => "comment",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "str" => ValueType::Str,
            "int" => ValueType::Int,
            "float" => ValueType::Float,
            "bool" => ValueType::Bool,
            "time" => ValueType::Time,
            "comment" => ValueType::Comment,
            _ => return None,
        })
    }
}

/// A parsed `ENC[…]` value. The ciphertext is not secret; no zeroizing needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncValue {
    /// Ciphertext without the tag (same length as the plaintext).
    pub data: Vec<u8>,
    /// The GCM nonce (32 bytes when sops writes it; any non-empty length is read).
    pub iv: Vec<u8>,
    /// The 16-byte GCM tag.
    pub tag: [u8; 16],
    /// How to read the plaintext back.
    pub value_type: ValueType,
}

/// Why an `ENC[…]` string could not be read. Never contains the string itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Not of the `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` shape.
    #[error("not a well-formed ENC[AES256_GCM,…] value")]
    Shape,
    /// A field is not standard padded base64.
    #[error("the {0} field of an ENC[…] value is not valid base64")]
    Base64(&'static str),
    /// The tag is not 16 bytes, or data/iv are empty.
    #[error("the {0} field of an ENC[…] value has the wrong length")]
    Length(&'static str),
    /// `type:` names no known type (`bytes` included: sops 3 never writes it).
    #[error("an ENC[…] value has an unknown type")]
    Type,
}

const PREFIX: &str = "ENC[AES256_GCM,data:";

/// Whether a string is meant to be an encrypted value (starts like one).
pub fn looks_encrypted(s: &str) -> bool {
    s.starts_with("ENC[")
}

impl EncValue {
    /// Parses an `ENC[…]` string.
    pub fn parse(s: &str) -> Result<EncValue, ValueError> {
        let body = s
            .strip_prefix(PREFIX)
            .and_then(|r| r.strip_suffix(']'))
            .ok_or(ValueError::Shape)?;
        let (data, rest) = body.split_once(",iv:").ok_or(ValueError::Shape)?;
        let (iv, rest) = rest.split_once(",tag:").ok_or(ValueError::Shape)?;
        let (tag, ty) = rest.split_once(",type:").ok_or(ValueError::Shape)?;
        let data = decode(data, "data")?;
        let iv = decode(iv, "iv")?;
        let tag_bytes = decode(tag, "tag")?;
        let tag: [u8; 16] = tag_bytes
            .as_slice()
            .try_into()
            .map_err(|_| ValueError::Length("tag"))?;
        if data.is_empty() {
            return Err(ValueError::Length("data"));
        }
        if iv.is_empty() {
            return Err(ValueError::Length("iv"));
        }
        let value_type = ValueType::from_name(ty).ok_or(ValueError::Type)?;
        Ok(EncValue {
            data,
            iv,
            tag,
            value_type,
        })
    }

    /// Writes the canonical `ENC[…]` string.
    pub fn render(&self) -> String {
        // Encoded straight into one buffer of the final size: for a 5 MB binary file this is
        // the largest allocation of a seal, and an intermediate base64 string doubled it.
        let b64 = |n: usize| n.div_ceil(3) * 4;
        let type_name = self.value_type.name();
        let mut out = String::with_capacity(
            PREFIX.len() + b64(self.data.len()) + b64(self.iv.len()) + 24 + type_name.len() + 18,
        );
        out.push_str(PREFIX);
        STANDARD.encode_string(&self.data, &mut out);
        out.push_str(",iv:");
        STANDARD.encode_string(&self.iv, &mut out);
        out.push_str(",tag:");
        STANDARD.encode_string(self.tag, &mut out);
        out.push_str(",type:");
        out.push_str(type_name);
        out.push(']');
        out
    }
}

fn decode(field: &str, name: &'static str) -> Result<Vec<u8>, ValueError> {
    STANDARD.decode(field).map_err(|_| ValueError::Base64(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KAT: &str = "ENC[AES256_GCM,data:f6SdJOI=,iv:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=,tag:T24uEWU6ZsEJ+sgqfIL1yA==,type:str]";

    #[test]
    fn parses_and_renders_identically() {
        let v = EncValue::parse(KAT).unwrap();
        assert_eq!(v.data.len(), 5);
        assert_eq!(v.iv, (0x20u8..0x40).collect::<Vec<_>>());
        assert_eq!(v.value_type, ValueType::Str);
        assert_eq!(v.render(), KAT);
    }

    #[test]
    fn rejects_damage() {
        assert_eq!(
            EncValue::parse("ENC[AES256_GCM,data:]"),
            Err(ValueError::Shape)
        );
        let unpadded = KAT.replace("f6SdJOI=", "f6SdJOI");
        assert_eq!(EncValue::parse(&unpadded), Err(ValueError::Base64("data")));
        let bytes = KAT.replace("type:str", "type:bytes");
        assert_eq!(EncValue::parse(&bytes), Err(ValueError::Type));
        let short_tag = KAT.replace("T24uEWU6ZsEJ+sgqfIL1yA==", "T24uEWU6ZsEJ+sgq");
        assert_eq!(EncValue::parse(&short_tag), Err(ValueError::Length("tag")));
        assert_eq!(EncValue::parse(""), Err(ValueError::Shape));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".*") {
            let _ = EncValue::parse(&s);
        }

        #[test]
        fn round_trips(data in proptest::collection::vec(proptest::num::u8::ANY, 1..64),
                       iv in proptest::collection::vec(proptest::num::u8::ANY, 1..40),
                       tag in proptest::array::uniform16(proptest::num::u8::ANY)) {
            let v = EncValue { data, iv, tag, value_type: ValueType::Float };
            proptest::prop_assert_eq!(EncValue::parse(&v.render()).unwrap(), v);
        }
    }
}
