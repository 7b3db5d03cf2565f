//! Unknown manifest fields: warned about, never fatal (a sops-nix manifest must keep working), with
//! the closest known name — a typo such as `restartUnit` would otherwise be silently ignored.
//! The known names are read from the typed manifest structs themselves, so a field added there
//! is known here at once; sops-nix's fields that hostseal does not use are listed below.

use super::manifest::{RawLogging, RawManifest, RawSecret, RawTemplate};
use serde::de::{Deserialize, Deserializer, Visitor};
use serde_json::Value;

/// sops-nix writes every option of a secret into its manifest; these are the ones hostseal has
/// no field for. They are accepted silently.
const SOPS_NIX_SECRET_EXTRAS: &[&str] = &["sopsFileHash", "neededForUsers"];

/// One unknown field, where it was, and the known name it is closest to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// The field as written.
    pub field: String,
    /// Where: empty at the top level, else e.g. `secret "a"`.
    pub place: String,
    /// The closest known name, when one is close.
    pub suggestion: Option<&'static str>,
}

impl Unknown {
    /// `unknown field "restartUnit" (did you mean "restartUnits"?) in secret "a"`.
    pub fn message(&self) -> String {
        let field = super::validate::shown(&self.field);
        let mut m = format!("unknown field {field}");
        if let Some(s) = self.suggestion {
            m.push_str(&format!(" (did you mean \"{s}\"?)"));
        }
        if !self.place.is_empty() {
            m.push_str(&format!(" in {}", self.place));
        }
        m
    }
}

/// Every unknown field of a manifest (top level, secrets, templates, `logging`). Bytes that do
/// not parse give nothing here: the typed parse reports them.
pub fn find(bytes: &[u8]) -> Vec<Unknown> {
    let Ok(Value::Object(top)) = serde_json::from_slice::<Value>(bytes) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    check(&top, field_names::<RawManifest>(), &[], "", &mut out);
    if let Some(Value::Object(l)) = top.get("logging") {
        check(l, field_names::<RawLogging>(), &[], "logging", &mut out);
    }
    if let Some(Value::Array(list)) = top.get("secrets") {
        for (i, s) in list.iter().enumerate() {
            if let Value::Object(s) = s {
                let place = place("secret", i, s.get("name"));
                check(
                    s,
                    field_names::<RawSecret>(),
                    SOPS_NIX_SECRET_EXTRAS,
                    &place,
                    &mut out,
                );
            }
        }
    }
    let templates: Vec<(String, &Value)> = match top.get("templates") {
        Some(Value::Array(l)) => l
            .iter()
            .enumerate()
            .map(|(i, t)| (place("template", i, t.get("name")), t))
            .collect(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, t)| (format!("template {}", super::validate::shown(k)), t))
            .collect(),
        _ => Vec::new(),
    };
    for (place, t) in templates {
        if let Value::Object(t) = t {
            check(t, field_names::<RawTemplate>(), &[], &place, &mut out);
        }
    }
    out
}

fn place(what: &str, index: usize, name: Option<&Value>) -> String {
    match name.and_then(Value::as_str) {
        Some(n) => format!("{what} {}", super::validate::shown(n)),
        None => format!("{what} #{index}"),
    }
}

fn check(
    obj: &serde_json::Map<String, Value>,
    known: &'static [&'static str],
    extras: &'static [&'static str],
    place: &str,
    out: &mut Vec<Unknown>,
) {
    for k in obj.keys() {
        if known.contains(&k.as_str()) || extras.contains(&k.as_str()) {
            continue;
        }
        out.push(Unknown {
            field: k.clone(),
            place: place.to_string(),
            suggestion: closest(k, known.iter().chain(extras)),
        });
    }
}

/// The known name nearest to `field` (case-insensitive edit distance), when it is close: at
/// most a third of the name's length, and at least 2, apart.
fn closest<'a>(field: &str, known: impl Iterator<Item = &'a &'static str>) -> Option<&'static str> {
    let f = field.to_ascii_lowercase();
    let limit = (f.chars().count() / 3).max(2);
    known
        .map(|k| (distance(&f, &k.to_ascii_lowercase()), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over chars.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i.saturating_add(1)];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0).saturating_add(1);
            let ins = cur.get(j).copied().unwrap_or(0).saturating_add(1);
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

/// The JSON field names of a `#[derive(Deserialize)]` struct, as serde itself knows them (after
/// `rename_all`): asked for by a deserializer that only records them.
fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut names: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut names));
    names
}

struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("field names only"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(serde::de::Error::custom("field names only"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_come_from_the_structs() {
        let top = field_names::<RawManifest>();
        assert!(top.contains(&"secrets") && top.contains(&"placeholderBySecretName"));
        assert!(field_names::<RawSecret>().contains(&"restartUnits"));
    }

    #[test]
    fn typos_are_found_with_a_suggestion_and_sops_nix_fields_are_silent() {
        let j = br#"{"secret":[],"secrets":[{"name":"a","sopsFile":"/s","restartUnit":["x"],
            "sopsFileHash":"h","neededForUsers":false,"zzzzzzzz":1}],
            "templates":{"t":{"content":"","fiel":"/x"}},"logging":{"keyImports":true}}"#;
        let msgs: Vec<String> = find(j).iter().map(Unknown::message).collect();
        assert_eq!(
            msgs,
            [
                r#"unknown field "secret" (did you mean "secrets"?)"#,
                r#"unknown field "keyImports" (did you mean "keyImport"?) in logging"#,
                r#"unknown field "restartUnit" (did you mean "restartUnits"?) in secret "a""#,
                r#"unknown field "zzzzzzzz" in secret "a""#,
                r#"unknown field "fiel" (did you mean "file"?) in template "t""#,
            ]
        );
    }

    #[test]
    fn the_sops_nix_style_fixture_has_no_unknown_field() {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/fuzz/manifest/sops-nix-style.json"
        );
        assert_eq!(find(&std::fs::read(p).unwrap()), []);
    }
}
