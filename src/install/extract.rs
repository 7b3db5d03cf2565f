//! Step 6 of docs/manifest.md#what-install-does: each sealed file read once (with the ownership checks), opened once, and
//! each secret's bytes taken from it by `key` (yaml/json), `entry` (dotenv/ini) or whole.

use super::failure::Failure;
use super::plan::Source;
use super::trust;
use crate::error::{Error, Kind};
use crate::format::tree::{Node, Scalar, Tree};
use crate::format::{EmitOptions, Format};
use crate::secret::SecretBytes;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A plaintext tree (zeroized on drop, as every [`Tree`] is).
pub struct PlainTree(pub Tree);

/// A sealed file, opened.
pub enum Decrypted {
    /// A sops tree file (metadata removed, MAC verified).
    Tree(PlainTree),
    /// A whole-file secret (format `age`).
    Whole(SecretBytes),
}

/// Opens sealed bytes: the seam between install and the sops core (tests use a fake).
pub trait Opener {
    /// Opens `bytes` of `format`.
    fn open(&self, bytes: &[u8], format: Format) -> Result<Decrypted, Error>;
}

/// The sealed file reader: one read and one open per (file, format), failures cached too.
pub struct SealedCache<'a> {
    opener: &'a dyn Opener,
    opened: HashMap<(PathBuf, &'static str), Result<Decrypted, Failure>>,
}

impl<'a> SealedCache<'a> {
    /// An empty cache over `opener`.
    pub fn new(opener: &'a dyn Opener) -> Self {
        SealedCache {
            opener,
            opened: HashMap::new(),
        }
    }

    /// The bytes of one secret.
    pub fn secret(&mut self, source: &Source) -> Result<SecretBytes, Failure> {
        let Source::Sealed {
            sops_file,
            format,
            key,
            entry,
        } = source
        else {
            return Err(Failure::new("internal", "not a sealed secret"));
        };
        let k = (sops_file.clone(), format.name());
        if !self.opened.contains_key(&k) {
            let r = read_sealed(sops_file).and_then(|b| open_with(self.opener, &b, *format));
            self.opened.insert(k.clone(), r);
        }
        match self.opened.get(&k) {
            Some(Ok(d)) => take(d, *format, key, entry.as_deref()),
            Some(Err(f)) => Err(f.clone()),
            None => Err(Failure::new("internal", "cache miss")),
        }
    }

    /// How many distinct sealed files were opened (tests: each is opened once).
    pub fn opened_count(&self) -> usize {
        self.opened.len()
    }
}

/// Reads a sealed file under the trust rule ([`super::trust`]): root-owned, not
/// group/other-writable, regular, ≤ 16 MiB, reached through root-controlled directories only
/// (write access to it or to any directory above it decides what root installs).
pub fn read_sealed(path: &Path) -> Result<zeroize::Zeroizing<Vec<u8>>, Failure> {
    let cap = crate::limits::MAX_INPUT as u64;
    trust::read_trusted_file(path, trust::Use::Input, cap)
        .map_err(|e| trust_failure("sealed file", path, &e))
}

/// A file refused by the trust rule (`untrusted-file`, with the rule's hint) or unreadable.
pub fn trust_failure(what: &str, path: &Path, e: &trust::TrustError) -> Failure {
    let code = if e.is_refusal() {
        "untrusted-file"
    } else {
        "unreadable"
    };
    let f = Failure::new(code, format!("{what} {}: {e}", path.display()));
    match e.hint(path) {
        Some(h) => f.hint(h),
        None => f,
    }
}

fn open_with(opener: &dyn Opener, bytes: &[u8], format: Format) -> Result<Decrypted, Failure> {
    opener.open(bytes, format).map_err(|e| {
        let code = match e.kind {
            Kind::NoKey => "no-key",
            Kind::Integrity => "integrity",
            Kind::Malformed => "malformed",
            _ => "open-failed",
        };
        let f = Failure::new(code, e.message.clone());
        match (e.kind, e.hint) {
            (_, Some(h)) => f.hint(h),
            (Kind::NoKey, None) => {
                f.hint("seal the file to this host's recipient (hostseal updatekeys)")
            }
            _ => f,
        }
    })
}

/// Takes one secret's bytes out of an opened file.
fn take(
    d: &Decrypted,
    format: Format,
    key: &str,
    entry: Option<&str>,
) -> Result<SecretBytes, Failure> {
    match (d, format) {
        (Decrypted::Whole(b), _) => Ok(SecretBytes::new(b.expose().to_vec())),
        (Decrypted::Tree(o), Format::Yaml | Format::Json) if !key.is_empty() => leaf(&o.0, key),
        (Decrypted::Tree(o), Format::Dotenv | Format::Ini) if entry.is_some() => {
            leaf(&o.0, entry.unwrap_or_default())
        }
        (Decrypted::Tree(o), f) => f
            .emit_plain(&o.0, &EmitOptions::default())
            .map(SecretBytes::new)
            .map_err(|_| {
                Failure::new(
                    "malformed",
                    format!("cannot write the whole file as {}", f.name()),
                )
            }),
    }
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// `a/b/c` syntax: a mapping key, or an index when the node is a sequence and the segment
    /// is all digits.
    Auto(String),
    /// `["a"]`: a mapping key.
    Key(String),
    /// `[0]`: a sequence index.
    Index(usize),
}

/// Parses a manifest `key`: `/`-separated segments, or `--extract` syntax when it starts with `[`.
pub fn parse_key(key: &str) -> Result<Vec<Seg>, String> {
    if key.starts_with('[') {
        return parse_extract(key);
    }
    Ok(key.split('/').map(|s| Seg::Auto(s.to_string())).collect())
}

fn parse_extract(mut s: &str) -> Result<Vec<Seg>, String> {
    let mut out = Vec::new();
    while !s.is_empty() {
        let inner = s.strip_prefix('[').ok_or("expected `[`")?;
        if let Some(rest) = inner.strip_prefix('"') {
            let (k, rest) = quoted(rest)?;
            s = rest.strip_prefix(']').ok_or("expected `]`")?;
            out.push(Seg::Key(k));
        } else {
            let end = inner.find(']').ok_or("expected `]`")?;
            let digits = inner.get(..end).unwrap_or_default();
            let i = digits.parse().map_err(|_| "index is not a number")?;
            out.push(Seg::Index(i));
            s = inner.get(end + 1..).unwrap_or_default();
        }
    }
    Ok(out)
}

/// A JSON-style quoted string (opening quote already consumed): `\"` and `\\` escapes.
fn quoted(s: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, s.get(i + 1..).unwrap_or_default())),
            '\\' => match chars.next() {
                Some((_, e)) => out.push(e),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("unterminated string".into())
}

/// Follows a key path through the first document.
pub fn walk<'t>(tree: &'t Tree, path: &[Seg]) -> Option<&'t Node> {
    let mut node: Option<&Node> = None;
    let first = tree.docs.first()?;
    for seg in path {
        node = Some(match (node, seg) {
            (None, Seg::Auto(k) | Seg::Key(k)) => first.get(k)?,
            (None, Seg::Index(_)) => return None,
            (Some(Node::Map(m)), Seg::Auto(k) | Seg::Key(k)) => m.get(k)?,
            (Some(Node::Seq(items)), Seg::Auto(k)) if k.bytes().all(|b| b.is_ascii_digit()) => {
                nth_value(items, k.parse().ok()?)?
            }
            (Some(Node::Seq(items)), Seg::Index(i)) => nth_value(items, *i)?,
            _ => return None,
        });
    }
    node
}

/// The `i`-th non-comment item of a sequence.
fn nth_value(items: &[Node], i: usize) -> Option<&Node> {
    items
        .iter()
        .filter(|n| !matches!(n, Node::Comment(_)))
        .nth(i)
}

fn leaf(tree: &Tree, key: &str) -> Result<SecretBytes, Failure> {
    let path = parse_key(key).map_err(|m| Failure::new("bad-key", format!("key {key:?}: {m}")))?;
    let node = walk(tree, &path)
        .ok_or_else(|| Failure::new("key-absent", format!("key {key:?} is not in the file")))?;
    let Node::Scalar(s) = node else {
        return Err(Failure::new(
            "not-a-leaf",
            format!("key {key:?} is a mapping or sequence"),
        ));
    };
    scalar_bytes(s).ok_or_else(|| Failure::new("null-value", format!("key {key:?} is null")))
}

/// A string's bytes (no trailing newline); other scalars' canonical sops spelling.
fn scalar_bytes(s: &Scalar) -> Option<SecretBytes> {
    match s {
        Scalar::Null => None,
        Scalar::Str(t) => Some(SecretBytes::new(t.as_bytes().to_vec())),
        Scalar::Bytes(b) => Some(SecretBytes::new(b.clone())),
        other => crate::sops::canonical_bytes(other).map(SecretBytes::new),
    }
}

/// `--check-mode sopsfile`: parses a sealed file without decrypting and checks each `key`
/// exists (values are still `ENC[…]` strings, so only the path is checked).
pub fn check_sealed(bytes: &[u8], format: Format, key: &str) -> Result<(), Failure> {
    if format == Format::Age {
        return check_age(bytes);
    }
    let tree = format
        .parse_sealed(bytes)
        .map_err(|e| Failure::new("malformed", e.to_string()))?;
    let has_sops = tree.docs.iter().any(|d| d.get("sops").is_some());
    if !has_sops {
        return Err(Failure::new(
            "malformed",
            "not a sops file (no `sops` metadata)",
        ));
    }
    if matches!(format, Format::Yaml | Format::Json) && !key.is_empty() {
        let path =
            parse_key(key).map_err(|m| Failure::new("bad-key", format!("key {key:?}: {m}")))?;
        walk(&tree, &path)
            .ok_or_else(|| Failure::new("key-absent", format!("key {key:?} is not in the file")))?;
    }
    Ok(())
}

fn check_age(bytes: &[u8]) -> Result<(), Failure> {
    let binary = bytes.starts_with(b"age-encryption.org/v1\n");
    let armored = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .and_then(|i| bytes.get(i..))
        .is_some_and(|b| b.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"));
    if binary || armored {
        Ok(())
    } else {
        Err(Failure::new("malformed", "not an age file"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::format::tree::Map;

    /// Treats sealed bytes as plaintext YAML/JSON/… (the core is tested elsewhere).
    pub struct PlainOpener;
    impl Opener for PlainOpener {
        fn open(&self, bytes: &[u8], format: Format) -> Result<Decrypted, Error> {
            if bytes.starts_with(b"NOKEY") {
                return Err(Error::no_key("no identity opens the data key"));
            }
            match format {
                Format::Age => Ok(Decrypted::Whole(SecretBytes::new(bytes.to_vec()))),
                Format::Binary => Ok(Decrypted::Tree(PlainTree(
                    Format::Binary.parse_plain(bytes)?,
                ))),
                _ => Ok(Decrypted::Tree(PlainTree(lines(bytes)))),
            }
        }
    }

    /// `k: v` lines as a flat string map (no dependency on the YAML store).
    fn lines(bytes: &[u8]) -> Tree {
        let mut m = Map::default();
        for l in String::from_utf8_lossy(bytes).lines() {
            if let Some((k, v)) = l.split_once(": ") {
                m.push(k, Node::str(v));
            }
        }
        Tree { docs: vec![m] }
    }

    fn tree() -> Tree {
        let mut inner = Map::default();
        inner.push("a/b", Node::str("slash"));
        inner.push(
            "list",
            Node::Seq(vec![
                Node::Comment("c".into()),
                Node::str("x"),
                Node::str("y"),
            ]),
        );
        let mut m = Map::default();
        m.push("top", Node::Map(inner));
        m.push("s", Node::str("v"));
        m.push("n", Node::Scalar(Scalar::Null));
        Tree { docs: vec![m] }
    }

    #[test]
    fn key_paths() {
        let t = tree();
        let get = |k: &str| leaf(&t, k).map(|b| b.expose().to_vec());
        assert_eq!(get("s").unwrap(), b"v");
        assert_eq!(get("top/list/1").unwrap(), b"y");
        assert_eq!(get(r#"["top"]["a/b"]"#).unwrap(), b"slash");
        assert_eq!(get(r#"["top"]["list"][0]"#).unwrap(), b"x");
        assert_eq!(get("missing").unwrap_err().code, "key-absent");
        assert_eq!(get("n").unwrap_err().code, "null-value");
        assert_eq!(get("top").unwrap_err().code, "not-a-leaf");
        assert_eq!(get("s/0").unwrap_err().code, "key-absent");
        assert_eq!(get("[\"s").unwrap_err().code, "bad-key");
    }

    #[test]
    fn each_file_opened_once_and_failures_isolated() {
        if !crate::install::trust::test_support::is_root() {
            eprintln!("skipped: needs root (sealed files must be root-owned)");
            return;
        }
        let t = crate::install::trust::test_support::trusted_tmp();
        let f = t.path().join("s.yaml");
        std::fs::write(&f, b"a: one\nb: two\n").unwrap();
        let o = PlainOpener;
        let mut c = SealedCache::new(&o);
        let src = |k: &str| Source::Sealed {
            sops_file: f.clone(),
            format: Format::Yaml,
            key: k.into(),
            entry: None,
        };
        assert_eq!(c.secret(&src("a")).unwrap().expose(), b"one");
        assert_eq!(c.secret(&src("b")).unwrap().expose(), b"two");
        assert_eq!(c.secret(&src("zz")).unwrap_err().code, "key-absent");
        assert_eq!(c.opened_count(), 1);
        let gone = Source::Sealed {
            sops_file: t.path().join("no"),
            format: Format::Yaml,
            key: "a".into(),
            entry: None,
        };
        assert_eq!(c.secret(&gone).unwrap_err().code, "unreadable");
    }

    #[test]
    fn group_writable_sealed_file_refused() {
        use std::os::unix::fs::PermissionsExt;
        let t = crate::install::trust::test_support::trusted_tmp();
        let f = t.path().join("s.yaml");
        std::fs::write(&f, b"a: 1\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o664)).unwrap();
        assert_eq!(read_sealed(&f).unwrap_err().code, "untrusted-file");
    }

    #[test]
    fn check_age_headers() {
        assert!(check_sealed(b"age-encryption.org/v1\n-> X25519", Format::Age, "").is_ok());
        assert!(check_sealed(b"\n-----BEGIN AGE ENCRYPTED FILE-----\n", Format::Age, "").is_ok());
        assert!(check_sealed(b"hello", Format::Age, "").is_err());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any key, written in `--extract` syntax with JSON escaping, parses back to itself.
        #[test]
        fn extract_syntax_round_trips(keys in proptest::collection::vec("[^\\x00-\\x1f]*", 1..4), idx in 0usize..1000) {
            let mut text = String::new();
            for k in &keys {
                text.push('[');
                text.push_str(&serde_json::to_string(k).unwrap());
                text.push(']');
            }
            text.push_str(&format!("[{idx}]"));
            let mut want: Vec<Seg> = keys.iter().map(|k| Seg::Key(k.clone())).collect();
            want.push(Seg::Index(idx));
            prop_assert_eq!(parse_key(&text).unwrap(), want);
        }

        /// The key parser never panics.
        #[test]
        fn parse_key_total(s in ".*") {
            let _ = parse_key(&s);
        }
    }
}
