//! The ini store: parse bytes into a [`Tree`], emit a tree as bytes, matching sops byte for byte.
//! (Skeleton: being written.)

use super::tree::Tree;
use super::FormatError;

/// Parses ini input (plain or sealed) into a tree.
pub fn parse(_input: &[u8]) -> Result<Tree, FormatError> {
    Err(FormatError::Invalid("ini store not implemented yet".into()))
}

/// Emits a tree as ini.
pub fn emit(_tree: &Tree) -> Result<Vec<u8>, FormatError> {
    Err(FormatError::Invalid("ini store not implemented yet".into()))
}
