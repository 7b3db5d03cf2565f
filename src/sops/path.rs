//! Key paths: the `--extract '["a"]["b"][0]'` syntax, the manifest's `a/b/0` syntax, lookups in
//! a tree, and how a path is shown in error messages (keys only, never values).

use crate::error::Error;
use crate::format::tree::{Node, Scalar, Tree};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// A mapping key.
    Key(String),
    /// A sequence index (comments in the sequence are not counted).
    Index(usize),
}

/// Shows a path as `["a"]["b"][0]` (the `--extract` syntax), `the top level` when empty.
pub fn display_path(path: &[PathSegment]) -> String {
    if path.is_empty() {
        return "the top level".to_string();
    }
    path.iter()
        .map(|s| match s {
            PathSegment::Key(k) => format!("[{}]", serde_json::Value::String(k.clone())),
            PathSegment::Index(i) => format!("[{i}]"),
        })
        .collect()
}

/// Parses `["a"]["b"][0]`: keys as JSON strings, indices as decimal numbers.
pub fn parse_extract(s: &str) -> Result<Vec<PathSegment>, Error> {
    let bad = || {
        Error::failure(format!(
            "--extract: not a path of the form [\"key\"][0]: {s}"
        ))
    };
    let mut rest = s.trim();
    let mut out = Vec::new();
    while !rest.is_empty() {
        rest = rest.strip_prefix('[').ok_or_else(bad)?;
        if rest.starts_with('"') {
            // Find the closing quote of a JSON string (skip escaped characters).
            let bytes = rest.as_bytes();
            let mut i = 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            let lit = rest.get(..=i).ok_or_else(bad)?;
            let key: String = serde_json::from_str(lit).map_err(|_| bad())?;
            out.push(PathSegment::Key(key));
            rest = rest.get(i + 1..).ok_or_else(bad)?;
        } else {
            let end = rest.find(']').ok_or_else(bad)?;
            let idx = rest[..end].trim().parse().map_err(|_| bad())?;
            out.push(PathSegment::Index(idx));
            rest = &rest[end..];
        }
        rest = rest.strip_prefix(']').ok_or_else(bad)?;
    }
    Ok(out)
}

/// Parses a manifest `key`: `/`-separated segments (an all-digit segment may index a
/// sequence, decided at lookup), or the `--extract` syntax when it starts with `[`.
pub fn parse_manifest_key(key: &str) -> Result<Vec<PathSegment>, Error> {
    if key.starts_with('[') {
        return parse_extract(key);
    }
    Ok(key
        .split('/')
        .map(|s| PathSegment::Key(s.to_string()))
        .collect())
}

/// Looks a path up in the first document. A `Key` segment made of digits also indexes a
/// sequence when the node there is one (manifest syntax).
pub fn lookup<'a>(tree: &'a Tree, path: &[PathSegment]) -> Option<&'a Node> {
    let (first, rest) = split_path(path)?;
    rest.iter()
        .try_fold(tree.docs.first()?.get(first)?, |node, seg| match node {
            Node::Map(m) => m.get(key_of(seg)?),
            Node::Seq(items) => items.get(seq_position(items, seg)?),
            _ => None,
        })
}

/// Moves the node at `path` out of `tree` (leaving `null` in its place), so a caller that
/// wants one value of a plaintext tree holds it without making a copy.
pub fn take(tree: &mut Tree, path: &[PathSegment]) -> Option<Node> {
    let (first, rest) = split_path(path)?;
    let node = rest.iter().try_fold(
        tree.docs.first_mut()?.get_mut(first)?,
        |node, seg| match node {
            Node::Map(m) => m.get_mut(key_of(seg)?),
            Node::Seq(items) => {
                let i = seq_position(items, seg)?;
                items.get_mut(i)
            }
            _ => None,
        },
    )?;
    Some(std::mem::replace(node, Node::Scalar(Scalar::Null)))
}

/// The first segment (a key of the document) and the rest.
fn split_path(path: &[PathSegment]) -> Option<(&str, &[PathSegment])> {
    match path.split_first()? {
        (PathSegment::Key(k), rest) => Some((k, rest)),
        _ => None,
    }
}

/// The key a segment names in a mapping.
fn key_of(seg: &PathSegment) -> Option<&str> {
    match seg {
        PathSegment::Key(k) => Some(k),
        PathSegment::Index(_) => None,
    }
}

/// Where in `items` the `n`th non-comment item a segment names is (`[n]`, or a key of digits).
fn seq_position(items: &[Node], seg: &PathSegment) -> Option<usize> {
    let n = match seg {
        PathSegment::Index(i) => *i,
        PathSegment::Key(k) if k.bytes().all(|b| b.is_ascii_digit()) => k.parse().ok()?,
        PathSegment::Key(_) => return None,
    };
    items
        .iter()
        .enumerate()
        .filter(|(_, node)| !matches!(node, Node::Comment(_)))
        .nth(n)
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::tree::Map;

    #[test]
    fn extract_syntax() {
        assert_eq!(
            parse_extract(r#"["a/b"][0]["c\"d"]"#).unwrap(),
            vec![
                PathSegment::Key("a/b".into()),
                PathSegment::Index(0),
                PathSegment::Key("c\"d".into())
            ]
        );
        assert!(parse_extract("[a]").is_err());
        assert!(parse_extract(r#"["a""#).is_err());
        assert!(parse_extract(r#"["\"#).is_err());
    }

    #[test]
    fn manifest_keys_index_sequences() {
        let mut doc = Map::default();
        doc.push(
            "l",
            Node::Seq(vec![Node::Comment("c".into()), Node::str("x")]),
        );
        let tree = Tree { docs: vec![doc] };
        let path = parse_manifest_key("l/0").unwrap();
        assert_eq!(lookup(&tree, &path), Some(&Node::str("x")));
        assert_eq!(lookup(&tree, &parse_manifest_key("l/1").unwrap()), None);
        assert_eq!(display_path(&path), r#"["l"]["0"]"#);
    }
}
