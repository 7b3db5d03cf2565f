//! The dotenv store: parse bytes into a [`Tree`], emit a tree as bytes, matching sops byte for byte.
//! (Skeleton: being written.)

use super::tree::Tree;
use super::FormatError;

/// Parses dotenv input (plain or sealed) into a tree.
pub fn parse(_input: &[u8]) -> Result<Tree, FormatError> {
    Err(FormatError::Invalid(
        "dotenv store not implemented yet".into(),
    ))
}

/// Emits a tree as dotenv.
pub fn emit(_tree: &Tree) -> Result<Vec<u8>, FormatError> {
    Err(FormatError::Invalid(
        "dotenv store not implemented yet".into(),
    ))
}
