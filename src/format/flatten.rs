//! Flattening of the `sops` metadata mapping into `a__map_b__list_0…` keys and back, for the
//! dotenv and INI stores, which cannot nest (docs/format.md#dotenv and #ini).
//!
//! Also home of `go_val_to_string`, the spelling sops gives a non-string leaf when a store
//! can only hold strings (dotenv and INI values).

use std::collections::{BTreeMap, HashMap};

use super::tree::{go_format_float_f, Map, MapItem, Node, Scalar};
use super::FormatError;
use crate::limits::MAX_DEPTH;

/// Joins a mapping key onto its parent's flattened key.
const MAP_SEP: &str = "__map_";
/// Joins a list index onto its parent's flattened key.
const LIST_SEP: &str = "__list_";

/// Flattens a metadata mapping into `(key, value)` pairs sorted bytewise by key: nested keys
/// are joined with `__map_`, list indices with `__list_<i>`; nulls, comments and empty
/// collections are left out, as sops does. Values keep real newlines (each store escapes them).
pub fn flatten(node: &Node) -> Result<Vec<(String, String)>, FormatError> {
    let map = node
        .as_map()
        .ok_or_else(|| FormatError::Invalid("sops metadata is not a mapping".into()))?;
    let mut out = Vec::new();
    for (key, value) in map.entries() {
        flatten_node(value, key.to_string(), &mut out)?;
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    let twice = out.windows(2).find_map(|w| match w {
        [a, b] if a.0 == b.0 => Some(a.0.clone()),
        _ => None,
    });
    if let Some(key) = twice {
        return Err(FormatError::Invalid(format!(
            "sops metadata key `{key}` occurs twice once flattened"
        )));
    }
    Ok(out)
}

fn flatten_node(
    node: &Node,
    key: String,
    out: &mut Vec<(String, String)>,
) -> Result<(), FormatError> {
    match node {
        Node::Map(map) => {
            for (k, v) in map.entries() {
                flatten_node(v, format!("{key}{MAP_SEP}{k}"), out)?;
            }
        }
        Node::Seq(items) => {
            let data = items.iter().filter(|n| !matches!(n, Node::Comment(_)));
            for (i, v) in data.enumerate() {
                flatten_node(v, format!("{key}{LIST_SEP}{i}"), out)?;
            }
        }
        Node::Comment(_) | Node::Scalar(Scalar::Null) => {}
        Node::Scalar(s) => out.push((key, metadata_value(s))),
    }
    Ok(())
}

/// How a metadata leaf is written once flattened (`shamir_threshold=2`, `mac_only_encrypted=true`).
fn metadata_value(s: &Scalar) -> String {
    match s {
        Scalar::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 => {
            format!("{f:.0}")
        }
        Scalar::Bool(b) => b.to_string(),
        Scalar::Time(t) => t.clone(),
        other => go_val_to_string(other),
    }
}

/// One step of a flattened key: a mapping key or a list index.
#[derive(Debug, PartialEq)]
enum Token {
    Key(String),
    Index(usize),
}

/// Splits a flattened key at every `__map_`/`__list_` separator, like sops's `tokenize`.
fn tokenize(path: &str) -> Result<Vec<Token>, FormatError> {
    let bytes = path.as_bytes();
    let mut tokens = Vec::new();
    let mut start = 0; // start of the current token's text
    let mut is_index = false;
    let mut i = 0;
    while i < bytes.len() {
        let rest = bytes.get(i..).unwrap_or_default();
        let sep = if rest.starts_with(MAP_SEP.as_bytes()) {
            Some((MAP_SEP.len(), false))
        } else if rest.starts_with(LIST_SEP.as_bytes()) {
            Some((LIST_SEP.len(), true))
        } else {
            None
        };
        match sep {
            Some((len, index)) => {
                tokens.push(make_token(path, start, i, is_index)?);
                start = i + len;
                is_index = index;
                i += len;
            }
            None => i += 1,
        }
    }
    tokens.push(make_token(path, start, bytes.len(), is_index)?);
    Ok(tokens)
}

fn make_token(path: &str, start: usize, end: usize, is_index: bool) -> Result<Token, FormatError> {
    let text = path
        .get(start..end)
        .ok_or_else(|| bad_key(path, "is not splittable"))?;
    if !is_index {
        return Ok(Token::Key(text.to_string()));
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_key(path, "has a list index that is not a number"));
    }
    text.parse::<usize>()
        .map(Token::Index)
        .map_err(|_| bad_key(path, "has a list index that is too large"))
}

fn bad_key(path: &str, why: &str) -> FormatError {
    FormatError::Invalid(format!("flattened sops metadata key `{path}` {why}"))
}

/// A node being rebuilt; lists are sparse until every index is known (no allocation from
/// an index value, so `__list_99999999999` costs nothing).
enum Build {
    Leaf(String),
    Map(Keyed),
    List(BTreeMap<usize, Build>),
}

/// Mapping entries in first-seen order, with an index so that lookups stay O(1) however many
/// keys a hostile file has.
#[derive(Default)]
struct Keyed {
    entries: Vec<(String, Build)>,
    index: HashMap<String, usize>,
}

impl Keyed {
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for `key`, created as an empty mapping if missing.
    fn entry(&mut self, key: &str) -> Option<&mut Build> {
        let pos = match self.index.get(key) {
            Some(&pos) => pos,
            None => {
                self.entries
                    .push((key.to_string(), Build::Map(Keyed::default())));
                let pos = self.entries.len() - 1;
                self.index.insert(key.to_string(), pos);
                pos
            }
        };
        self.entries.get_mut(pos).map(|(_, b)| b)
    }
}

/// Rebuilds the nested metadata mapping from flattened pairs (the inverse of [`flatten`]).
/// Mapping keys keep the order in which they first occur; lists must have every index from 0
/// on; a key that is both a leaf and a parent, or given twice, is an error. As sops does,
/// `mac_only_encrypted` becomes a bool and `shamir_threshold` an int; every other leaf stays
/// a string.
pub fn unflatten(pairs: Vec<(String, String)>) -> Result<Node, FormatError> {
    let mut root = Build::Map(Keyed::default());
    for (key, value) in pairs {
        let tokens = tokenize(&key)?;
        if tokens.len() > MAX_DEPTH {
            return Err(FormatError::Limit(format!(
                "flattened sops metadata nests deeper than {MAX_DEPTH} levels"
            )));
        }
        place(&mut root, &tokens, value).map_err(|why| bad_key(&key, why))?;
    }
    let mut node = convert(root).map_err(|why| FormatError::Invalid(why.into()))?;
    if let Node::Map(map) = &mut node {
        decode_non_strings(map)?;
    }
    Ok(node)
}

fn place(mut at: &mut Build, tokens: &[Token], value: String) -> Result<(), &'static str> {
    for token in tokens {
        if let Build::Leaf(_) = at {
            return Err("is both a value and a parent");
        }
        at = child(at, token)?;
    }
    match at {
        Build::Map(m) if m.is_empty() => {}
        Build::List(l) if l.is_empty() => {}
        _ => return Err("is given twice or is both a value and a parent"),
    }
    *at = Build::Leaf(value);
    Ok(())
}

/// The child of `at` for `token`, created (as an empty mapping) if missing.
fn child<'a>(at: &'a mut Build, token: &Token) -> Result<&'a mut Build, &'static str> {
    if is_fresh(at) {
        *at = match token {
            Token::Key(_) => Build::Map(Keyed::default()),
            Token::Index(_) => Build::List(BTreeMap::new()),
        };
    }
    match (at, token) {
        (Build::Map(m), Token::Key(k)) => m.entry(k).ok_or("internal error"),
        (Build::List(l), Token::Index(i)) => {
            Ok(l.entry(*i).or_insert(Build::Map(Keyed::default())))
        }
        _ => Err("mixes mapping keys and list indices"),
    }
}

/// A placeholder created on the way down that has no content yet.
fn is_fresh(b: &Build) -> bool {
    matches!(b, Build::Map(m) if m.is_empty())
}

fn convert(b: Build) -> Result<Node, &'static str> {
    Ok(match b {
        Build::Leaf(s) => Node::str(s),
        Build::Map(m) => {
            let mut map = Map::default();
            for (k, v) in m.entries {
                map.0.push(MapItem::Entry(k, convert(v)?));
            }
            Node::Map(map)
        }
        Build::List(l) => {
            let mut items = Vec::new();
            for (expected, (index, v)) in l.into_iter().enumerate() {
                if index != expected {
                    return Err("flattened sops metadata has a list with missing indices");
                }
                items.push(convert(v)?);
            }
            Node::Seq(items)
        }
    })
}

/// sops's `DecodeNonStrings`: the two metadata fields that are not strings.
fn decode_non_strings(map: &mut Map) -> Result<(), FormatError> {
    for item in &mut map.0 {
        let MapItem::Entry(key, value) = item else {
            continue;
        };
        let Some(text) = value.as_str() else {
            continue;
        };
        match key.as_str() {
            "mac_only_encrypted" => *value = Node::Scalar(Scalar::Bool(text == "true")),
            "shamir_threshold" => {
                *value = Node::Scalar(Scalar::Int(parse_threshold(text)?));
            }
            _ => {}
        }
    }
    Ok(())
}

/// An integer, or (as older sops wrote it) a float with no fractional part.
fn parse_threshold(text: &str) -> Result<i64, FormatError> {
    if let Ok(n) = text.parse::<i64>() {
        return Ok(n);
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9e15 => Ok(f as i64),
        _ => Err(FormatError::Invalid(
            "sops metadata `shamir_threshold` is not an integer".into(),
        )),
    }
}

/// Refuses input over [`crate::limits::MAX_INPUT`] (each store checks, whoever calls it).
pub(crate) fn check_input_size(input: &[u8]) -> Result<(), FormatError> {
    if input.len() > crate::limits::MAX_INPUT {
        return Err(FormatError::Limit(format!(
            "input is larger than the {} MiB limit",
            crate::limits::MAX_INPUT / (1024 * 1024)
        )));
    }
    Ok(())
}

/// sops's `ValToString`: how a non-string leaf is written in a store that only has strings
/// (dotenv and INI values): floats in Go `%G` with a `.0` added to integral values (`1.0`,
/// `1E+06`), bools `true`/`false`, times in RFC 3339 without fractional seconds, null `<nil>`.
pub(crate) fn go_val_to_string(s: &Scalar) -> String {
    match s {
        Scalar::Null => "<nil>".into(),
        Scalar::Str(s) => s.clone(),
        Scalar::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => {
            let g = go_format_float_g(*f);
            if f.is_finite() && !g.contains('.') && !g.contains('E') {
                format!("{g}.0")
            } else {
                g
            }
        }
        Scalar::Bool(b) => b.to_string(),
        Scalar::Time(t) => drop_fraction(t),
    }
}

/// Go `strconv.FormatFloat(v, 'G', -1, 64)`: shortest digits, exponent form when the decimal
/// exponent is below -4 or at least 6, exponents with at least two digits (`1E+06`, `1E-05`).
pub(crate) fn go_format_float_g(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return go_format_float_f(v);
    }
    let (mantissa, exp) = shortest_exp(v);
    if !(-4..6).contains(&exp) {
        go_exponent(&mantissa, 'E', exp)
    } else {
        format!("{v}")
    }
}

/// The shortest round-trip digits of a finite non-zero `v` as `d.ddd` (with sign) and its
/// decimal exponent.
pub(crate) fn shortest_exp(v: f64) -> (String, i32) {
    let s = format!("{v:e}");
    match s.split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse().unwrap_or(0)),
        None => (s, 0),
    }
}

/// `mantissa` + `e` + sign + at least two exponent digits, as Go's `%e` writes it.
pub(crate) fn go_exponent(mantissa: &str, e: char, exp: i32) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}{e}{sign}{:02}", exp.unsigned_abs())
}

/// Go's `time.RFC3339` layout drops the fractional seconds RFC3339Nano keeps.
fn drop_fraction(t: &str) -> String {
    let Some(dot) = t.find('.') else {
        return t.to_string();
    };
    let (head, tail) = t.split_at(dot);
    let rest = tail.get(1..).unwrap_or_default();
    let zone = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    format!("{head}{zone}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn meta() -> Node {
        let mut recipient = Map::default();
        recipient.push("recipient", Node::str("age1xyz"));
        recipient.push("enc", Node::str("-----BEGIN\nabc\n"));
        let mut group = Map::default();
        group.push("hc_vault", Node::Scalar(Scalar::Null));
        group.push("age", Node::Seq(vec![Node::Map(recipient.duplicate())]));
        let mut m = Map::default();
        m.push("shamir_threshold", Node::Scalar(Scalar::Int(2)));
        m.push("key_groups", Node::Seq(vec![Node::Map(group)]));
        m.push("kms", Node::Seq(vec![]));
        m.push("lastmodified", Node::str("2026-11-23T14:48:02Z"));
        m.push("mac_only_encrypted", Node::Scalar(Scalar::Bool(true)));
        m.push("version", Node::str("3.11.0"));
        Node::Map(m)
    }

    #[test]
    fn flatten_joins_and_sorts() {
        let flat = flatten(&meta()).unwrap();
        let keys: Vec<&str> = flat.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "key_groups__list_0__map_age__list_0__map_enc",
                "key_groups__list_0__map_age__list_0__map_recipient",
                "lastmodified",
                "mac_only_encrypted",
                "shamir_threshold",
                "version"
            ]
        );
        assert_eq!(flat[3].1, "true");
        assert_eq!(flat[4].1, "2");
        assert_eq!(flat[0].1, "-----BEGIN\nabc\n");
    }

    #[test]
    fn flatten_refuses_colliding_keys() {
        let mut inner = Map::default();
        inner.push("b", Node::str("1"));
        let mut m = Map::default();
        m.push("a", Node::Map(inner));
        m.push("a__map_b", Node::str("2"));
        assert!(flatten(&Node::Map(m)).is_err());
        assert!(flatten(&Node::str("not a map")).is_err());
    }

    #[test]
    fn unflatten_rebuilds_types_and_nesting() {
        let node = unflatten(flatten(&meta()).unwrap()).unwrap();
        let map = node.as_map().unwrap();
        assert_eq!(
            map.get("shamir_threshold"),
            Some(&Node::Scalar(Scalar::Int(2)))
        );
        assert_eq!(
            map.get("mac_only_encrypted"),
            Some(&Node::Scalar(Scalar::Bool(true)))
        );
        let groups = map.get("key_groups").unwrap();
        let Node::Seq(g) = groups else { panic!() };
        let age = g[0].as_map().unwrap().get("age").unwrap();
        let Node::Seq(a) = age else { panic!() };
        assert_eq!(
            a[0].as_map().unwrap().get("recipient"),
            Some(&Node::str("age1xyz"))
        );
        // a float threshold written by older sops
        let n = unflatten(vec![("shamir_threshold".into(), "2.0".into())]).unwrap();
        assert_eq!(
            n.as_map().unwrap().get("shamir_threshold"),
            Some(&Node::Scalar(Scalar::Int(2)))
        );
    }

    #[test]
    fn unflatten_rejects_hostile_keys() {
        let huge = vec![("age__list_99999999999999".to_string(), "x".to_string())];
        assert!(unflatten(huge).is_err());
        let overflow = vec![("a__list_999999999999999999999999".into(), "x".into())];
        assert!(unflatten(overflow).is_err());
        let gap = vec![
            ("a__list_0".to_string(), "x".to_string()),
            ("a__list_2".to_string(), "y".to_string()),
        ];
        assert!(unflatten(gap).is_err());
        let clash = vec![
            ("a".to_string(), "x".to_string()),
            ("a__map_b".to_string(), "y".to_string()),
        ];
        assert!(unflatten(clash.clone()).is_err());
        let mut rev = clash;
        rev.reverse();
        assert!(unflatten(rev).is_err());
        let dup = vec![("a".to_string(), "x".into()), ("a".to_string(), "y".into())];
        assert!(unflatten(dup).is_err());
        let mixed = vec![
            ("a__list_0".to_string(), "x".into()),
            ("a__map_b".to_string(), "y".into()),
        ];
        assert!(unflatten(mixed).is_err());
        assert!(unflatten(vec![("a__list_x".into(), "1".into())]).is_err());
        let bad_threshold = vec![("shamir_threshold".into(), "two".into())];
        assert!(unflatten(bad_threshold).is_err());
    }

    #[test]
    fn hostile_sizes_stay_cheap() {
        let deep = format!("a{}", "__map_a".repeat(10_000));
        assert!(matches!(
            unflatten(vec![(deep, "x".into())]),
            Err(FormatError::Limit(_))
        ));
        // many keys at one level: linear, not quadratic
        let many: Vec<(String, String)> = (0..100_000)
            .map(|i| (format!("k__map_{i}"), "v".to_string()))
            .collect();
        let node = unflatten(many).unwrap();
        let Some(Node::Map(k)) = node.as_map().unwrap().get("k") else {
            panic!()
        };
        assert_eq!(k.0.len(), 100_000);
    }

    #[test]
    fn oversized_input_is_refused_by_every_store() {
        let big = vec![b' '; crate::limits::MAX_INPUT + 1];
        assert!(matches!(
            super::super::json::parse(&big),
            Err(FormatError::Limit(_))
        ));
        assert!(matches!(
            super::super::dotenv::parse(&big),
            Err(FormatError::Limit(_))
        ));
        assert!(matches!(
            super::super::ini::parse(&big),
            Err(FormatError::Limit(_))
        ));
    }

    #[test]
    fn go_value_spellings() {
        let f = |v: f64| go_val_to_string(&Scalar::Float(v));
        assert_eq!(f(1.0), "1.0");
        assert_eq!(f(1e6), "1E+06");
        assert_eq!(f(1e-5), "1E-05");
        assert_eq!(f(0.0001), "0.0001");
        assert_eq!(f(123456.0), "123456.0");
        assert_eq!(f(1234567.0), "1.234567E+06");
        assert_eq!(f(1e21), "1E+21");
        assert_eq!(f(f64::INFINITY), "+Inf");
        assert_eq!(f(-0.0), "-0.0");
        assert_eq!(f(0.75), "0.75");
        assert_eq!(go_val_to_string(&Scalar::Null), "<nil>");
        assert_eq!(go_val_to_string(&Scalar::Bool(true)), "true");
        let t = Scalar::Time("2024-01-02T03:04:05.5+01:00".into());
        assert_eq!(go_val_to_string(&t), "2024-01-02T03:04:05+01:00");
    }

    fn arb_meta() -> impl Strategy<Value = Node> {
        let key = "[a-z]{1,6}(_[a-z]{1,4})?";
        let leaf = "[ -~\n]{0,12}".prop_map(Node::str);
        let tree = leaf.prop_recursive(3, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(Node::Seq),
                prop::collection::btree_map(key, inner, 1..4).prop_map(|m| {
                    let mut map = Map::default();
                    m.into_iter().for_each(|(k, v)| map.push(k, v));
                    Node::Map(map)
                }),
            ]
        });
        prop::collection::btree_map("[a-z]{1,8}", tree, 0..5).prop_map(|m| {
            let mut map = Map::default();
            m.into_iter().for_each(|(k, v)| map.push(k, v));
            Node::Map(map)
        })
    }

    proptest! {
        #[test]
        fn flatten_round_trips(node in arb_meta()) {
            let flat = flatten(&node).unwrap();
            let back = unflatten(flat.clone()).unwrap();
            prop_assert_eq!(flatten(&back).unwrap(), flat);
            // keys are sorted, so unflatten of sorted pairs gives sorted mappings: same tree
            prop_assert_eq!(back, node);
        }
    }
}
