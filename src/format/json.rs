//! The json store: parse bytes into a [`Tree`], emit a tree as bytes, matching sops byte for byte.
//! (Skeleton: being written.)

use super::tree::Tree;
use super::FormatError;

/// Parses json input (plain or sealed) into a tree.
pub fn parse(_input: &[u8]) -> Result<Tree, FormatError> {
    Err(FormatError::Invalid(
        "json store not implemented yet".into(),
    ))
}

/// Emits a tree as JSON like sops (Go `json.Indent`; `None` = tab indent).
pub fn emit(_tree: &Tree, _indent: Option<usize>) -> Result<Vec<u8>, FormatError> {
    Err(FormatError::Invalid(
        "json store not implemented yet".into(),
    ))
}
