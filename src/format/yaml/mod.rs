//! The yaml store: parse bytes into a [`Tree`], emit a tree as bytes, matching sops (go-yaml
//! v3.0.4) byte for byte: typed scalars, comments in the places sops puts them, and go-yaml's
//! encoder layout (docs/format.md#yaml).
//!
//! * [`parse`]: granit-parser events → tree (`parse` module; scalar typing in `resolve`).
//! * [`emit`]: tree → text in go-yaml's style (`emit` module).
//!
//! Where we knowingly differ from sops/go-yaml (each pinned by a unit test):
//! * strings with U+2028/U+2029 are double-quoted (`\L`, `\P`); go-yaml writes them raw,
//!   which YAML 1.2 readers (granit) read back with the indentation inside the value;
//! * a block scalar starting with a space or newline inside a sequence item gets its true
//!   indentation indicator (`|2-`), where go-yaml writes its indent setting (`|4-`) and produces
//!   YAML nobody can read back;
//! * a comment on an empty mapping (`b: {} # c`) is kept (`b: {` / `# c` / `}`, the layout sops
//!   uses in sealed files); `sops decrypt` drops it;
//! * an `#ENC[…]` comment line after a nested list stays in the mapping it was written for
//!   (sops re-reads it into the list and then cannot decrypt it);
//! * `%YAML` directives are accepted (go-yaml refuses `%YAML 1.2`).
//!
//! Normalisations shared with sops: integral floats print like ints and read back as ints
//! (`3.0` → `3`, `-0.0` → `-0` → `0`); anchors are expanded; input styles are not kept.

mod emit;
mod parse;
mod resolve;

use super::tree::Tree;
use super::FormatError;

/// Parses yaml input (plain or sealed) into a tree. Every document must be a mapping with
/// string keys; comments become comment items where sops keeps them.
pub fn parse(input: &[u8]) -> Result<Tree, FormatError> {
    if input.len() > crate::limits::MAX_INPUT {
        return Err(FormatError::Limit(format!(
            "input is larger than the {} MiB limit",
            crate::limits::MAX_INPUT / (1024 * 1024)
        )));
    }
    let text = std::str::from_utf8(input).map_err(|e| {
        let (line, column) = position(input, e.valid_up_to());
        FormatError::Syntax {
            kind: "YAML",
            line,
            column,
            message: "invalid UTF-8".into(),
        }
    })?;
    parse::parse_text(text)
}

/// Emits a tree as YAML in go-yaml v3's style with the given indent (sops default 4; as in
/// go-yaml, 0 means 4 and other values outside 2..=9 mean 2).
pub fn emit(tree: &Tree, indent: usize) -> Result<Vec<u8>, FormatError> {
    emit::emit_tree(tree, indent)
}

/// 1-based line and column of a byte offset.
fn position(input: &[u8], offset: usize) -> (usize, usize) {
    let before = input.get(..offset).unwrap_or(input);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
