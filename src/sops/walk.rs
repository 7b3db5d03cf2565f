//! The two walks over a tree that implement sops's per-value scheme (docs/format.md):
//! [`seal_tree`] encrypts the leaves and comments a rule selects, [`open_tree`] decrypts them;
//! both compute the MAC over the same leaves in the same order. The AAD of a value is the keys
//! on its path, each followed by `:` (sequence indices are not part of it).

use super::leaf_rule::{LeafSelector, Marked};
use super::path::{display_path, PathSegment};
use crate::error::Error;
use crate::format::cipher::{self, IV_LEN};
use crate::format::mac::MacHasher;
use crate::format::tree::{go_format_float_f, Map, MapItem, Node, Scalar, Tree};
use crate::format::value::{looks_encrypted, EncValue, ValueType};
use crate::secret::DataKey;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use zeroize::Zeroizing;

/// IVs remembered while opening a file, so that re-sealing an unchanged value under the same
/// data key gives the same ciphertext (as `sops edit`/`set` do). A value keeps its IV only when
/// its AAD, type and plaintext are all unchanged; the key is a hash of the three, so no
/// plaintext is kept here. Lives in one process and is dropped when the data key changes.
/// The default stash records nothing (plain `decrypt`, install, rotation re-seal with fresh IVs
/// anyway): hashing every plaintext for it cost a second pass over a 5 MB value.
#[derive(Default)]
pub struct IvStash(Option<HashMap<[u8; 32], [u8; IV_LEN]>>);

impl IvStash {
    /// A stash that remembers the IVs of the values opened with it (for `edit`).
    pub fn recording() -> IvStash {
        IvStash(Some(HashMap::new()))
    }

    fn slot(aad: &[u8], ty: ValueType, plaintext: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update((aad.len() as u64).to_be_bytes());
        h.update(aad);
        h.update(ty.name().as_bytes());
        h.update([0]);
        h.update(plaintext);
        h.finalize().into()
    }
    fn remember(&mut self, aad: &[u8], ty: ValueType, plaintext: &[u8], iv: &[u8]) {
        if let (Some(slots), Ok(iv)) = (&mut self.0, <[u8; IV_LEN]>::try_from(iv)) {
            slots.insert(Self::slot(aad, ty, plaintext), iv);
        }
    }
    fn iv_for(&self, aad: &[u8], ty: ValueType, plaintext: &[u8]) -> [u8; IV_LEN] {
        match &self.0 {
            Some(slots) if !slots.is_empty() => slots
                .get(&Self::slot(aad, ty, plaintext))
                .copied()
                .unwrap_or_else(cipher::random_iv),
            _ => cipher::random_iv(),
        }
    }
}

/// The canonical plaintext bytes of a leaf (docs/format.md#values); `None` for null.
pub fn canonical_bytes(scalar: &Scalar) -> Option<Vec<u8>> {
    leaf_bytes(scalar).map(|b| b.to_vec())
}

/// [`canonical_bytes`] without copying text and byte leaves (a binary file is one 5 MB leaf);
/// the bytes formatted for numbers and booleans are zeroized on drop.
fn leaf_bytes(scalar: &Scalar) -> Option<LeafBytes<'_>> {
    Some(match scalar {
        Scalar::Null => return None,
        Scalar::Str(s) | Scalar::Time(s) => LeafBytes::Borrowed(s.as_bytes()),
        Scalar::Bytes(b) => LeafBytes::Borrowed(b),
        Scalar::Int(i) => LeafBytes::Owned(Zeroizing::new(i.to_string().into_bytes())),
        Scalar::Float(f) => LeafBytes::Owned(Zeroizing::new(go_format_float_f(*f).into_bytes())),
        Scalar::Bool(true) => LeafBytes::Borrowed(b"True"),
        Scalar::Bool(false) => LeafBytes::Borrowed(b"False"),
    })
}

/// A leaf's canonical bytes: borrowed from the tree, or formatted (and zeroized on drop).
enum LeafBytes<'a> {
    Borrowed(&'a [u8]),
    Owned(Zeroizing<Vec<u8>>),
}

impl std::ops::Deref for LeafBytes<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            LeafBytes::Borrowed(b) => b,
            LeafBytes::Owned(v) => v,
        }
    }
}

fn value_type(scalar: &Scalar) -> ValueType {
    match scalar {
        Scalar::Int(_) => ValueType::Int,
        Scalar::Float(_) => ValueType::Float,
        Scalar::Bool(_) => ValueType::Bool,
        Scalar::Time(_) => ValueType::Time,
        _ => ValueType::Str,
    }
}

/// Common walk state: where we are (AAD and display path) and the rule.
struct Walk<'a> {
    key: &'a DataKey,
    sel: &'a LeafSelector,
    mac: MacHasher,
    aad: String,
    display: Vec<PathSegment>,
}

impl Walk<'_> {
    fn enter(&mut self, key: &str) -> usize {
        let len = self.aad.len();
        self.aad.push_str(key);
        self.aad.push(':');
        self.display.push(PathSegment::Key(key.to_string()));
        len
    }
    fn leave(&mut self, len: usize) {
        self.aad.truncate(len);
        self.display.pop();
    }
    /// The AAD of a comment: its container's path plus `:` (`:` at the top level).
    fn comment_aad(&self) -> String {
        if self.aad.is_empty() {
            ":".to_string()
        } else {
            self.aad.clone()
        }
    }
    fn where_(&self) -> String {
        display_path(&self.display)
    }
}

// ---------------------------------------------------------------------------------------------
// Sealing

/// Encrypts a plaintext tree in place of a copy; returns the sealed tree and the MAC (hex).
pub fn seal_tree(
    tree: &Tree,
    key: &DataKey,
    sel: &LeafSelector,
    mac_only_encrypted: bool,
    stash: Option<&IvStash>,
) -> (Tree, String) {
    let mut w = Walk {
        key,
        sel,
        mac: MacHasher::new(mac_only_encrypted),
        aad: String::new(),
        display: Vec::new(),
    };
    let docs = tree
        .docs
        .iter()
        .map(|d| seal_map(&mut w, d, Marked::default(), stash))
        .collect();
    (Tree { docs }, w.mac.finish())
}

fn seal_map(w: &mut Walk, map: &Map, state: Marked, stash: Option<&IvStash>) -> Map {
    let mut out = Vec::with_capacity(map.0.len());
    let mut marked = false;
    for item in &map.0 {
        match item {
            MapItem::Comment(text) => {
                marked |= w.sel.comment_marks(text);
                out.push(MapItem::Comment(seal_comment(w, text, state, stash)));
            }
            MapItem::Entry(k, v) => {
                let child = w
                    .sel
                    .after_marking_comment(w.sel.enter_key(state, k), marked);
                marked = false;
                let len = w.enter(k);
                let v = seal_node(w, v, child, stash);
                w.leave(len);
                out.push(MapItem::Entry(k.clone(), v));
            }
        }
    }
    Map(out)
}

fn seal_node(w: &mut Walk, node: &Node, state: Marked, stash: Option<&IvStash>) -> Node {
    match node {
        Node::Map(m) => Node::Map(seal_map(w, m, state, stash)),
        Node::Seq(items) => {
            let mut marked = false;
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                if let Node::Comment(text) = item {
                    marked |= w.sel.comment_marks(text);
                    let sealed = seal_comment(w, text, state, stash);
                    // Inside a sequence an encrypted comment is written as a list item.
                    out.push(if &sealed == text {
                        Node::Comment(sealed)
                    } else {
                        Node::str(sealed)
                    });
                } else {
                    let child = w.sel.after_marking_comment(state, marked);
                    marked = false;
                    out.push(seal_node(w, item, child, stash));
                }
            }
            Node::Seq(out)
        }
        Node::Comment(text) => Node::Comment(text.clone()),
        Node::Scalar(s) => Node::Scalar(seal_scalar(w, s, state, stash)),
    }
}

fn seal_scalar(w: &mut Walk, s: &Scalar, state: Marked, stash: Option<&IvStash>) -> Scalar {
    let Some(bytes) = leaf_bytes(s) else {
        return Scalar::Null;
    };
    let encrypted = w.sel.encrypts(state);
    w.mac.leaf(&bytes, encrypted);
    if !encrypted {
        return s.duplicate();
    }
    if bytes.is_empty() {
        return Scalar::Str(String::new());
    }
    let ty = value_type(s);
    let iv = stash.map_or_else(cipher::random_iv, |st| {
        st.iv_for(w.aad.as_bytes(), ty, &bytes)
    });
    Scalar::Str(cipher::encrypt(w.key, &bytes, w.aad.as_bytes(), ty, iv).render())
}

fn seal_comment(w: &mut Walk, text: &str, state: Marked, stash: Option<&IvStash>) -> String {
    if text.is_empty() || !w.sel.encrypts_comment(state, text) {
        return text.to_string();
    }
    let aad = w.comment_aad();
    let iv = stash.map_or_else(cipher::random_iv, |st| {
        st.iv_for(aad.as_bytes(), ValueType::Comment, text.as_bytes())
    });
    cipher::encrypt(
        w.key,
        text.as_bytes(),
        aad.as_bytes(),
        ValueType::Comment,
        iv,
    )
    .render()
}

// ---------------------------------------------------------------------------------------------
// Opening

/// Checks that every `ENC[…]` string in a sealed tree parses, before any key is looked for: a
/// malformed file is reported as malformed (exit 5) whatever else is wrong with it.
pub fn check_values(tree: &Tree) -> Result<(), Error> {
    let mut display = Vec::new();
    for doc in &tree.docs {
        check_map(doc, &mut display)?;
    }
    Ok(())
}

fn check_map(map: &Map, display: &mut Vec<PathSegment>) -> Result<(), Error> {
    for item in &map.0 {
        match item {
            MapItem::Comment(c) => check_str(c, display, "comment")?,
            MapItem::Entry(k, v) => {
                display.push(PathSegment::Key(k.clone()));
                check_node(v, display)?;
                display.pop();
            }
        }
    }
    Ok(())
}

fn check_node(node: &Node, display: &mut Vec<PathSegment>) -> Result<(), Error> {
    match node {
        Node::Map(m) => check_map(m, display),
        Node::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                display.push(PathSegment::Index(i));
                check_node(item, display)?;
                display.pop();
            }
            Ok(())
        }
        Node::Scalar(Scalar::Str(s)) => check_str(s, display, "value"),
        _ => Ok(()),
    }
}

fn check_str(s: &str, display: &[PathSegment], what: &str) -> Result<(), Error> {
    if looks_encrypted(s) {
        EncValue::parse(s)
            .map_err(|e| Error::malformed(format!("{what} at {}: {e}", display_path(display))))?;
    }
    Ok(())
}

/// Decrypts a sealed tree (metadata already removed); returns the plaintext tree, the MAC
/// computed over it, and remembers IVs in `stash`.
pub fn open_tree(
    tree: &Tree,
    key: &DataKey,
    sel: &LeafSelector,
    mac_only_encrypted: bool,
    stash: &mut IvStash,
) -> Result<(Tree, String), Error> {
    let mut w = Walk {
        key,
        sel,
        mac: MacHasher::new(mac_only_encrypted),
        aad: String::new(),
        display: Vec::new(),
    };
    let mut docs = Vec::with_capacity(tree.docs.len());
    for d in &tree.docs {
        docs.push(open_map(&mut w, d, Marked::default(), stash)?);
    }
    Ok((Tree { docs }, w.mac.finish()))
}

fn open_map(w: &mut Walk, map: &Map, state: Marked, stash: &mut IvStash) -> Result<Map, Error> {
    let mut out = Vec::with_capacity(map.0.len());
    let mut marked = false;
    for item in &map.0 {
        match item {
            MapItem::Comment(text) => {
                let plain = open_comment(w, text, state, stash)?;
                marked |= w.sel.comment_marks(&plain);
                out.push(MapItem::Comment(plain));
            }
            MapItem::Entry(k, v) => {
                let child = w
                    .sel
                    .after_marking_comment(w.sel.enter_key(state, k), marked);
                marked = false;
                let len = w.enter(k);
                let v = open_node(w, v, child, stash)?;
                w.leave(len);
                out.push(MapItem::Entry(k.clone(), v));
            }
        }
    }
    Ok(Map(out))
}

fn open_node(w: &mut Walk, node: &Node, state: Marked, stash: &mut IvStash) -> Result<Node, Error> {
    Ok(match node {
        Node::Map(m) => Node::Map(open_map(w, m, state, stash)?),
        Node::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut marked = false;
            for (i, item) in items.iter().enumerate() {
                w.display.push(PathSegment::Index(i));
                let opened = match item {
                    Node::Scalar(Scalar::Str(s)) if is_comment_value(s) => {
                        let plain = open_comment(w, s, state, stash)?;
                        marked |= w.sel.comment_marks(&plain);
                        Node::Comment(plain)
                    }
                    Node::Comment(text) => {
                        let plain = open_comment(w, text, state, stash)?;
                        marked |= w.sel.comment_marks(&plain);
                        Node::Comment(plain)
                    }
                    other => {
                        let child = w.sel.after_marking_comment(state, marked);
                        marked = false;
                        open_node(w, other, child, stash)?
                    }
                };
                w.display.pop();
                out.push(opened);
            }
            Node::Seq(out)
        }
        Node::Comment(text) => Node::Comment(text.clone()),
        Node::Scalar(s) => Node::Scalar(open_scalar(w, s, state, stash)?),
    })
}

fn is_comment_value(s: &str) -> bool {
    looks_encrypted(s) && s.ends_with(",type:comment]")
}

fn open_scalar(
    w: &mut Walk,
    s: &Scalar,
    state: Marked,
    stash: &mut IvStash,
) -> Result<Scalar, Error> {
    let encrypted = w.sel.encrypts(state);
    if !encrypted {
        if let Some(bytes) = leaf_bytes(s) {
            w.mac.leaf(&bytes, false);
        }
        return Ok(s.duplicate());
    }
    let text = match s {
        Scalar::Null => return Ok(Scalar::Null),
        Scalar::Str(t) if t.is_empty() => return Ok(Scalar::Str(String::new())),
        Scalar::Str(t) if looks_encrypted(t) => t,
        other => {
            return Err(Error::integrity(format!(
                "{} ({}) is not encrypted although the file's rule says it must be",
                w.where_(),
                other.type_name()
            ))
            .with_hint("the file was altered by hand; restore it from version control"))
        }
    };
    let value = EncValue::parse(text)
        .map_err(|e| Error::malformed(format!("value at {}: {e}", w.where_())))?;
    let (ty, iv) = (value.value_type, value.iv.clone());
    let plain = cipher::decrypt_owned(w.key, value, w.aad.as_bytes())
        .map_err(|e| Error::integrity(format!("value at {}: {e}", w.where_())))?;
    stash.remember(w.aad.as_bytes(), ty, &plain, &iv);
    let scalar = scalar_from_plaintext(ty, plain).ok_or_else(|| {
        Error::integrity(format!(
            "value at {} does not read as its type {}",
            w.where_(),
            ty.name()
        ))
    })?;
    if let Some(bytes) = leaf_bytes(&scalar) {
        w.mac.leaf(&bytes, true);
    }
    Ok(scalar)
}

/// Opens a comment. Comments are outside the MAC (as in sops), so a clear comment where the
/// file's rule says comments are encrypted can only have been added or altered by hand: it is an
/// integrity error, like a clear value in an encrypted position (sops keeps such comments).
fn open_comment(
    w: &mut Walk,
    text: &str,
    state: Marked,
    stash: &mut IvStash,
) -> Result<String, Error> {
    if !looks_encrypted(text) {
        if !text.is_empty() && w.sel.encrypts_comment(state, text) {
            return Err(Error::integrity(format!(
                "comment at {} is not encrypted although the file's rule says it must be",
                w.where_()
            ))
            .with_hint("comments are not covered by the MAC; remove comments added by hand"));
        }
        return Ok(text.to_string());
    }
    let value = EncValue::parse(text)
        .map_err(|e| Error::malformed(format!("comment at {}: {e}", w.where_())))?;
    let aad = w.comment_aad();
    let plain = cipher::decrypt(w.key, &value, aad.as_bytes()).map_err(|_| {
        Error::integrity(format!(
            "encrypted comment at {} does not authenticate",
            w.where_()
        ))
    })?;
    stash.remember(aad.as_bytes(), ValueType::Comment, &plain, &value.iv);
    String::from_utf8(plain.to_vec())
        .map_err(|_| Error::integrity(format!("comment at {} is not UTF-8", w.where_())))
}

/// Reads decrypted bytes as their `type:` (Go's `strconv` rules); `None` if they do not parse.
fn scalar_from_plaintext(ty: ValueType, mut plain: Zeroizing<Vec<u8>>) -> Option<Scalar> {
    if ty == ValueType::Str {
        // Moved into the tree, not copied (the tree is zeroized by its owner, e.g. `Opened`).
        return Some(match String::from_utf8(std::mem::take(&mut *plain)) {
            Ok(s) => Scalar::Str(s),
            Err(e) => Scalar::Bytes(e.into_bytes()),
        });
    }
    let text = || std::str::from_utf8(&plain).ok();
    Some(match ty {
        ValueType::Str => return None,
        ValueType::Int => Scalar::Int(parse_go_int(text()?)?),
        ValueType::Float => Scalar::Float(parse_go_float(text()?)?),
        ValueType::Bool => Scalar::Bool(match text()? {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => true,
            "0" | "f" | "F" | "FALSE" | "false" | "False" => false,
            _ => return None,
        }),
        ValueType::Time => Scalar::Time(crate::format::timestamp::rfc3339_canonical(text()?)?),
        ValueType::Comment => return None,
    })
}

/// Go `strconv.Atoi`: optional sign, decimal digits.
fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Go `strconv.ParseFloat(s, 64)` for the spellings sops writes and a few more.
fn parse_go_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ if s
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE_".contains(&b)) =>
        {
            s.replace('_', "").parse().ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::metadata::LeafRule;

    fn sample() -> Tree {
        let mut inner = Map::default();
        inner.push("port_unencrypted", Node::Scalar(Scalar::Int(22)));
        inner.push("ratio", Node::Scalar(Scalar::Float(0.75)));
        let mut doc = Map::default();
        doc.0.push(MapItem::Comment(" top".into()));
        doc.push("name", Node::str("builder"));
        doc.push("empty", Node::str(""));
        doc.push("nothing", Node::Scalar(Scalar::Null));
        doc.push("on", Node::Scalar(Scalar::Bool(true)));
        doc.push(
            "when",
            Node::Scalar(Scalar::Time("2024-01-02T00:00:00Z".into())),
        );
        doc.push(
            "list",
            Node::Seq(vec![
                Node::str("a"),
                Node::Comment(" in list".into()),
                Node::Map(inner),
            ]),
        );
        Tree { docs: vec![doc] }
    }

    #[test]
    fn seal_then_open_round_trips() {
        let key = DataKey::generate();
        let sel = LeafSelector::new(&LeafRule::default()).unwrap();
        let (sealed, mac) = seal_tree(&sample(), &key, &sel, false, None);
        check_values(&sealed).unwrap();
        let mut stash = IvStash::recording();
        let (opened, mac2) = open_tree(&sealed, &key, &sel, false, &mut stash).unwrap();
        assert_eq!(opened, sample());
        assert_eq!(mac, mac2);
        // The stash gives back the same ciphertexts for unchanged values.
        let (again, _) = seal_tree(&opened, &key, &sel, false, Some(&stash));
        assert_eq!(again, sealed);
        // A default (non-recording) stash remembers nothing: fresh IVs.
        let mut off = IvStash::default();
        open_tree(&sealed, &key, &sel, false, &mut off).unwrap();
        let (fresh, _) = seal_tree(&opened, &key, &sel, false, Some(&off));
        assert_ne!(fresh, sealed);
    }

    #[test]
    fn clear_leaves_stay_clear_and_comments_in_lists_become_items() {
        let key = DataKey::generate();
        let sel = LeafSelector::new(&LeafRule::default()).unwrap();
        let (sealed, _) = seal_tree(&sample(), &key, &sel, false, None);
        let Some(Node::Seq(items)) = sealed.docs[0].get("list") else {
            panic!()
        };
        assert!(items[1].as_str().unwrap().ends_with("type:comment]"));
        let inner = items[2].as_map().unwrap();
        assert_eq!(
            inner.get("port_unencrypted"),
            Some(&Node::Scalar(Scalar::Int(22)))
        );
        assert_eq!(sealed.docs[0].get("empty"), Some(&Node::str("")));
    }

    #[test]
    fn moved_value_fails_to_authenticate() {
        let key = DataKey::generate();
        let sel = LeafSelector::new(&LeafRule::default()).unwrap();
        let (mut sealed, _) = seal_tree(&sample(), &key, &sel, false, None);
        let name = sealed.docs[0].get("name").map(Node::duplicate).unwrap();
        sealed.docs[0]
            .0
            .retain(|i| !matches!(i, MapItem::Entry(k, _) if k == "on"));
        sealed.docs[0].push("on", name);
        let err = open_tree(&sealed, &key, &sel, false, &mut IvStash::default())
            .err()
            .unwrap();
        assert_eq!(err.exit_code(), 4);
        assert!(err.message.contains("[\"on\"]"), "{}", err.message);
    }

    #[test]
    fn go_number_parsing() {
        assert_eq!(parse_go_int("-42"), Some(-42));
        assert_eq!(parse_go_int("0x1F"), None);
        assert_eq!(parse_go_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_go_float("1e3"), Some(1000.0));
        assert_eq!(parse_go_float("infinity"), None);
    }
}
