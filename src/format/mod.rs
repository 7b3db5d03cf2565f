//! The sops on-disk format, pure: no I/O, no clock read implicitly.
//!
//! * [`tree`]: the ordered tree every store parses into.
//! * stores, one per file type: [`yaml`], [`json`], [`dotenv`], [`ini`], and binary (a JSON
//!   envelope around one `data` value, handled here).
//! * [`value`], [`cipher`], [`mac`], [`metadata`]: the pieces of sops's encryption scheme.
//!
//! Whole-file age (agenix style) is not a tree format; it lives in [`crate::age_file`], beside
//! [`crate::sops`], as the other thing that opens a file with keys.

pub mod cipher;
pub mod dotenv;
pub mod flatten;
pub mod ini;
pub mod json;
pub mod mac;
pub mod metadata;
pub mod timestamp;
pub mod tree;
pub mod value;
pub mod yaml;

use std::path::Path;
use tree::{Map, Node, Scalar, Tree};

/// Why bytes could not be parsed or emitted as a store. Never contains input text: positions
/// are `line:column`, values are named by key path and type only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// A syntax error at a position (1-based line and column).
    #[error("{kind} syntax error at {line}:{column}: {message}")]
    Syntax {
        /// The store that failed ("YAML", "JSON", …).
        kind: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong (no input text).
        message: String,
    },
    /// Well-formed syntax, but not a shape sops accepts (e.g. a top-level sequence).
    #[error("{0}")]
    Invalid(String),
    /// Over a parser limit of [`crate::limits`].
    #[error("{0}")]
    Limit(String),
}

/// The file types hostseal reads and writes (docs/cli.md#file-types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// YAML, go-yaml v3 flavoured.
    Yaml,
    /// JSON; every number is a float64.
    Json,
    /// `KEY=VALUE` lines.
    Dotenv,
    /// INI sections.
    Ini,
    /// Any bytes, sealed as one value in a JSON envelope.
    Binary,
    /// Whole-file age (agenix style): not a sops file.
    Age,
}

/// How emitted output is indented (`stores:` in `.sops.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmitOptions {
    /// YAML indent (sops default 4).
    pub yaml_indent: usize,
    /// JSON indent: `None` = tab (sops default), `Some(n)` = n spaces (`Some(0)`: one entry per
    /// line, no indentation, like sops).
    pub json_indent: Option<usize>,
}

/// A parse failure is a malformed input (exit code of [`crate::error::Kind::Malformed`]). The
/// conversion lives here so that `error` imports nothing above it.
impl From<FormatError> for crate::error::Error {
    fn from(e: FormatError) -> Self {
        crate::error::Error::malformed(e.to_string())
    }
}

impl Default for EmitOptions {
    fn default() -> Self {
        EmitOptions {
            yaml_indent: 4,
            json_indent: None,
        }
    }
}

impl Format {
    /// Every type name [`Format::from_name`] accepts, in the order `--help` lists them.
    pub const NAMES: [&'static str; 6] = ["yaml", "json", "dotenv", "ini", "binary", "age"];

    /// Parses a type name as given to `--input-type`/`--output-type` or a manifest `format`.
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "yaml" => Format::Yaml,
            "json" => Format::Json,
            "dotenv" => Format::Dotenv,
            "ini" => Format::Ini,
            "binary" => Format::Binary,
            "age" => Format::Age,
            _ => return None,
        })
    }

    /// The default type for a file name, from its extension (else binary).
    pub fn from_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => Format::Yaml,
            Some("json") => Format::Json,
            Some("env") => Format::Dotenv,
            Some("ini") => Format::Ini,
            Some("age") => Format::Age,
            _ => Format::Binary,
        }
    }

    /// The type's name as users write it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Dotenv => "dotenv",
            Format::Ini => "ini",
            Format::Binary => "binary",
            Format::Age => "age",
        }
    }

    /// Parses plaintext input of this type into a tree.
    pub fn parse_plain(self, input: &[u8]) -> Result<Tree, FormatError> {
        check_size(input)?;
        match self {
            Format::Binary => binary_tree(input.to_vec()),
            other => other.parse_tree(input),
        }
    }

    /// Parses a sealed file of this type; the `sops` metadata stays in the tree as the
    /// top-level `sops` entry of each document (dotenv/INI unflatten their `sops_*` keys).
    pub fn parse_sealed(self, input: &[u8]) -> Result<Tree, FormatError> {
        check_size(input)?;
        match self {
            Format::Binary => json::parse(input),
            Format::Yaml => {
                reject_bare_cr(input)?;
                yaml::parse(input)
            }
            other => other.parse_tree(input),
        }
    }

    fn parse_tree(self, input: &[u8]) -> Result<Tree, FormatError> {
        match self {
            Format::Yaml => yaml::parse(input),
            Format::Json => json::parse(input),
            Format::Dotenv => dotenv::parse(input),
            Format::Ini => ini::parse(input),
            Format::Binary | Format::Age => Err(FormatError::Invalid(format!(
                "{} is not a tree format",
                self.name()
            ))),
        }
    }

    /// Emits a plaintext tree as this type.
    pub fn emit_plain(self, tree: &Tree, opts: &EmitOptions) -> Result<Vec<u8>, FormatError> {
        match self {
            Format::Binary => binary_payload(tree),
            other => other.emit_tree(tree, opts),
        }
    }

    /// Emits a sealed tree (with its `sops` entries) as this type.
    pub fn emit_sealed(self, tree: &Tree, opts: &EmitOptions) -> Result<Vec<u8>, FormatError> {
        match self {
            Format::Binary => json::emit(tree, opts.json_indent),
            other => other.emit_tree(tree, opts),
        }
    }

    fn emit_tree(self, tree: &Tree, opts: &EmitOptions) -> Result<Vec<u8>, FormatError> {
        match self {
            Format::Yaml => yaml::emit(tree, opts.yaml_indent),
            Format::Json => json::emit(tree, opts.json_indent),
            Format::Dotenv => dotenv::emit(tree),
            Format::Ini => ini::emit(tree),
            Format::Binary | Format::Age => Err(FormatError::Invalid(format!(
                "{} is not a tree format",
                self.name()
            ))),
        }
    }
}

/// A carriage return not followed by a line feed is a line break to YAML but invisible in most
/// editors, and sops never writes one. In a sealed file it can turn a one-item list into a
/// scalar without changing any AAD or the MAC (sops authenticates leaf values in order, not the
/// structure), so sealed YAML with one is refused.
fn reject_bare_cr(input: &[u8]) -> Result<(), FormatError> {
    let mut line = 1;
    for (i, &b) in input.iter().enumerate() {
        if b == b'\n' {
            line += 1;
        } else if b == b'\r' && input.get(i + 1) != Some(&b'\n') {
            return Err(FormatError::Syntax {
                kind: "YAML",
                line,
                column: 1 + input[..i].iter().rev().take_while(|&&c| c != b'\n').count(),
                message: "a carriage return without a line feed (not written by sops)".into(),
            });
        }
    }
    Ok(())
}

fn check_size(input: &[u8]) -> Result<(), FormatError> {
    if input.len() > crate::limits::MAX_INPUT {
        return Err(FormatError::Limit(format!(
            "input is larger than the {} MiB limit",
            crate::limits::MAX_INPUT / (1024 * 1024)
        )));
    }
    Ok(())
}

/// The binary store's plaintext tree, taking the bytes rather than copying them (a binary
/// file may be large): one `data` entry, held as text when it is (as opening the sealed file
/// gives it back), as raw bytes otherwise; either way it is sealed as one `str` value.
pub fn binary_tree(input: Vec<u8>) -> Result<Tree, FormatError> {
    check_size(&input)?;
    let data = match String::from_utf8(input) {
        Ok(text) => Scalar::Str(text),
        Err(e) => Scalar::Bytes(e.into_bytes()),
    };
    let mut doc = Map::default();
    doc.push("data", Node::Scalar(data));
    Ok(Tree { docs: vec![doc] })
}

/// Takes the binary store's plaintext out of `tree` (the `data` value of the first document)
/// without copying it; what [`Format::emit_plain`] gives for [`Format::Binary`].
pub fn take_binary_payload(tree: &mut Tree) -> Result<Vec<u8>, FormatError> {
    match tree.docs.first_mut().and_then(|d| d.get_mut("data")) {
        Some(Node::Scalar(Scalar::Bytes(b))) => Ok(std::mem::take(b)),
        Some(Node::Scalar(Scalar::Str(s))) => Ok(std::mem::take(s).into_bytes()),
        other => Err(no_binary_data(other.is_some())),
    }
}

/// The binary store's plaintext: the `data` value of the single document, as raw bytes.
fn binary_payload(tree: &Tree) -> Result<Vec<u8>, FormatError> {
    match tree.docs.first().and_then(|d| d.get("data")) {
        Some(Node::Scalar(Scalar::Bytes(b))) => Ok(b.clone()),
        Some(Node::Scalar(Scalar::Str(s))) => Ok(s.as_bytes().to_vec()),
        other => Err(no_binary_data(other.is_some())),
    }
}

fn no_binary_data(present: bool) -> FormatError {
    FormatError::Invalid(if present {
        "binary file's `data` entry is not a string".into()
    } else {
        "binary file has no `data` entry".into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_extension() {
        assert_eq!(Format::from_path(Path::new("a/b.yml")), Format::Yaml);
        assert_eq!(Format::from_path(Path::new("tunnel.json")), Format::Json);
        assert_eq!(Format::from_path(Path::new(".env")), Format::Binary);
        assert_eq!(Format::from_path(Path::new("x.env")), Format::Dotenv);
        assert_eq!(Format::from_path(Path::new("secret1.age")), Format::Age);
        assert_eq!(Format::from_path(Path::new("cert.pem")), Format::Binary);
    }

    #[test]
    fn binary_plaintext_is_text_when_it_can_be() {
        let t = Format::Binary.parse_plain(b"").unwrap();
        assert_eq!(t.docs[0].get("data"), Some(&Node::str("")));
    }

    #[test]
    fn binary_round_trip_keeps_bytes() {
        let input = b"\xff\x00not utf8\n";
        let tree = Format::Binary.parse_plain(input).unwrap();
        let out = Format::Binary
            .emit_plain(&tree, &EmitOptions::default())
            .unwrap();
        assert_eq!(out, input);
    }
}
