//! The ordered tree every store parses into and emits from: documents of mappings, sequences and
//! typed scalar leaves, with comments kept as items in their place (sops encrypts comments too).
//! The same type holds plaintext and sealed trees; [`crate::sops`] turns one into the other.
//!
//! Because a tree may hold plaintext, none of these types is `Clone` (a copy would outlive the
//! zeroizing of the original) and [`Tree`] overwrites its contents on drop. `Debug` shows only
//! the shape (keys, types, lengths). Code that really needs a second copy (a YAML alias) says so
//! with [`Node::duplicate`].

use zeroize::Zeroize;

/// A parsed file: one or more documents (several only in multi-document YAML), each a mapping.
#[derive(Debug, PartialEq, Default)]
pub struct Tree {
    /// The documents in file order.
    pub docs: Vec<Map>,
}

/// An ordered mapping; keys keep their input order, which the MAC depends on.
#[derive(Debug, PartialEq, Default)]
pub struct Map(pub Vec<MapItem>);

/// One item of a mapping: an entry or a comment line between entries.
#[derive(PartialEq)]
pub enum MapItem {
    /// `key: value`.
    Entry(String, Node),
    /// A comment line; the text after `#` (or `;` in INI), leading space kept.
    Comment(String),
}

/// A node of the tree.
#[derive(PartialEq)]
pub enum Node {
    /// A nested mapping.
    Map(Map),
    /// A sequence; may contain [`Node::Comment`] items.
    Seq(Vec<Node>),
    /// A leaf.
    Scalar(Scalar),
    /// A comment inside a sequence (in a mapping, comments are [`MapItem::Comment`]).
    Comment(String),
}

/// A leaf value with the type sops gives it (docs/format.md#values).
#[derive(PartialEq)]
pub enum Scalar {
    /// `null`, `~` or an empty YAML value; never encrypted, not in the MAC.
    Null,
    /// A string (also every dotenv/INI value, and every `ENC[…]` in a sealed tree).
    Str(String),
    /// Raw bytes that need not be UTF-8: only the binary store's `data`. Encrypted as `str`.
    Bytes(Vec<u8>),
    /// A YAML integer.
    Int(i64),
    /// A YAML float or any JSON number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A YAML timestamp, held in its canonical sops spelling (Go RFC 3339 with nanoseconds,
    /// trailing zeros cut), e.g. `2024-01-02T00:00:00Z`.
    Time(String),
}

// `Debug` shows the shape of a tree (keys, types, lengths) but never a value or a comment:
// plaintext trees hold secrets, and `Debug` output ends up in logs and test failures.
impl std::fmt::Debug for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Null => f.write_str("Null"),
            Scalar::Str(s) => write!(f, "Str(<{} bytes>)", s.len()),
            Scalar::Bytes(b) => write!(f, "Bytes(<{} bytes>)", b.len()),
            Scalar::Time(s) => write!(f, "Time(<{} bytes>)", s.len()),
            Scalar::Int(_) => f.write_str("Int(<redacted>)"),
            Scalar::Float(_) => f.write_str("Float(<redacted>)"),
            Scalar::Bool(_) => f.write_str("Bool(<redacted>)"),
        }
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Node::Map(m) => m.fmt(f),
            Node::Seq(items) => f.debug_list().entries(items).finish(),
            Node::Scalar(s) => s.fmt(f),
            Node::Comment(c) => write!(f, "Comment(<{} bytes>)", c.len()),
        }
    }
}

impl std::fmt::Debug for MapItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MapItem::Entry(k, v) => write!(f, "{k:?}: {v:?}"),
            MapItem::Comment(c) => write!(f, "Comment(<{} bytes>)", c.len()),
        }
    }
}

impl Map {
    /// The value of `key`, if present (first occurrence).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.0.iter().find_map(|item| match item {
            MapItem::Entry(k, v) if k == key => Some(v),
            _ => None,
        })
    }

    /// The value of `key` to change in place (first occurrence).
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.0.iter_mut().find_map(|item| match item {
            MapItem::Entry(k, v) if k == key => Some(v),
            _ => None,
        })
    }

    /// Removes every entry named `key` and returns the first one's value.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let mut found = None;
        self.0.retain_mut(|item| match item {
            MapItem::Entry(k, v) if k == key => {
                if found.is_none() {
                    found = Some(std::mem::replace(v, Node::Scalar(Scalar::Null)));
                }
                false
            }
            _ => true,
        });
        found
    }

    /// Appends an entry.
    pub fn push(&mut self, key: impl Into<String>, value: Node) {
        self.0.push(MapItem::Entry(key.into(), value));
    }

    /// Entries only, skipping comments.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.0.iter().filter_map(|item| match item {
            MapItem::Entry(k, v) => Some((k.as_str(), v)),
            MapItem::Comment(_) => None,
        })
    }
}

impl Node {
    /// A string leaf.
    pub fn str(s: impl Into<String>) -> Node {
        Node::Scalar(Scalar::Str(s.into()))
    }
    /// The string of a `Str` leaf.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar(Scalar::Str(s)) => Some(s),
            _ => None,
        }
    }
    /// The mapping of a `Map` node.
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Node::Map(m) => Some(m),
            _ => None,
        }
    }
}

impl Scalar {
    /// The sops type name of this leaf (`type:` field of an `ENC[…]` value).
    pub fn type_name(&self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Str(_) | Scalar::Bytes(_) => "str",
            Scalar::Int(_) => "int",
            Scalar::Float(_) => "float",
            Scalar::Bool(_) => "bool",
            Scalar::Time(_) => "time",
        }
    }
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest round-trip digits, never an exponent,
/// `+Inf`/`-Inf`/`NaN`. This is the canonical plaintext of a `float` value (docs/format.md#values).
pub fn go_format_float_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v == 0.0 && v.is_sign_negative() {
        "-0".into()
    } else {
        format!("{v}")
    }
}

impl Tree {
    /// A tree of the given documents.
    pub fn new(docs: Vec<Map>) -> Tree {
        Tree { docs }
    }

    /// A deep copy; see [`Node::duplicate`].
    pub fn duplicate(&self) -> Tree {
        Tree::new(self.docs.iter().map(Map::duplicate).collect())
    }
}

/// Overwrites every string and byte leaf, key and comment with zeros.
impl Zeroize for Tree {
    fn zeroize(&mut self) {
        self.docs.iter_mut().for_each(zeroize_map);
    }
}

/// Every tree overwrites its strings, bytes, keys and comments with zeros when dropped (best
/// effort; see [`crate::secret`]), so no owner of a plaintext tree has to remember to.
impl Drop for Tree {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl Node {
    /// A deep copy, for the one place a second copy of a value is the point (a YAML alias
    /// expands to its anchor's value). Deliberately not `Clone`, so copies are visible.
    pub fn duplicate(&self) -> Node {
        match self {
            Node::Map(m) => Node::Map(m.duplicate()),
            Node::Seq(items) => Node::Seq(items.iter().map(Node::duplicate).collect()),
            Node::Scalar(s) => Node::Scalar(s.duplicate()),
            Node::Comment(c) => Node::Comment(c.clone()),
        }
    }
}

impl Map {
    /// A deep copy; see [`Node::duplicate`].
    pub fn duplicate(&self) -> Map {
        Map(self
            .0
            .iter()
            .map(|item| match item {
                MapItem::Entry(k, v) => MapItem::Entry(k.clone(), v.duplicate()),
                MapItem::Comment(c) => MapItem::Comment(c.clone()),
            })
            .collect())
    }
}

impl Scalar {
    /// A copy of this leaf; see [`Node::duplicate`].
    pub fn duplicate(&self) -> Scalar {
        match self {
            Scalar::Null => Scalar::Null,
            Scalar::Str(s) => Scalar::Str(s.clone()),
            Scalar::Bytes(b) => Scalar::Bytes(b.clone()),
            Scalar::Int(i) => Scalar::Int(*i),
            Scalar::Float(f) => Scalar::Float(*f),
            Scalar::Bool(b) => Scalar::Bool(*b),
            Scalar::Time(t) => Scalar::Time(t.clone()),
        }
    }
}

impl Zeroize for Map {
    fn zeroize(&mut self) {
        zeroize_map(self);
    }
}

impl Zeroize for Node {
    fn zeroize(&mut self) {
        zeroize_node(self);
    }
}

fn zeroize_map(map: &mut Map) {
    for item in &mut map.0 {
        match item {
            MapItem::Entry(k, v) => {
                k.zeroize();
                zeroize_node(v);
            }
            MapItem::Comment(c) => c.zeroize(),
        }
    }
}

fn zeroize_node(node: &mut Node) {
    match node {
        Node::Map(m) => zeroize_map(m),
        Node::Seq(items) => items.iter_mut().for_each(zeroize_node),
        Node::Comment(c) => c.zeroize(),
        Node::Scalar(s) => match s {
            Scalar::Str(x) | Scalar::Time(x) => x.zeroize(),
            Scalar::Bytes(b) => b.zeroize(),
            Scalar::Int(i) => i.zeroize(),
            Scalar::Float(f) => *f = 0.0,
            Scalar::Bool(b) => *b = false,
            Scalar::Null => {}
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_spellings() {
        assert_eq!(go_format_float_f(1000.0), "1000");
        assert_eq!(go_format_float_f(0.75), "0.75");
        assert_eq!(go_format_float_f(1e21), "1000000000000000000000");
        assert_eq!(go_format_float_f(-0.0), "-0");
        assert_eq!(go_format_float_f(f64::INFINITY), "+Inf");
        assert_eq!(go_format_float_f(f64::NEG_INFINITY), "-Inf");
        assert_eq!(go_format_float_f(f64::NAN), "NaN");
    }

    #[test]
    fn debug_never_shows_values_or_comments() {
        let mut m = Map::default();
        m.push("password", Node::str("hunter2"));
        m.push("port", Node::Scalar(Scalar::Int(4242)));
        m.0.push(MapItem::Comment(" secret note".into()));
        let shown = format!("{:?}", Tree { docs: vec![m] });
        assert!(shown.contains("password"));
        assert!(!shown.contains("hunter2") && !shown.contains("4242") && !shown.contains("note"));
    }

    #[test]
    fn remove_takes_every_occurrence() {
        let mut m = Map::default();
        m.push("a", Node::str("1"));
        m.push("sops", Node::str("x"));
        m.push("sops", Node::str("y"));
        assert_eq!(m.remove("sops"), Some(Node::str("x")));
        assert_eq!(m.0.len(), 1);
    }
}
