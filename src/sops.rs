//! The sops scheme over a parsed tree: open (data key → values → MAC) and seal. (Skeleton.)

use crate::error::Error;
use crate::format::tree::{Node, Scalar, Tree};
use crate::format::Format;
use crate::keys::identity::IdentitySet;

/// A sealed file, opened: the plaintext tree (metadata removed). Zeroized on drop.
pub struct Opened {
    /// The plaintext documents.
    pub tree: Tree,
}

impl Drop for Opened {
    fn drop(&mut self) {
        self.tree.zeroize_all();
    }
}

/// Opens a sealed file of `format` with `ids`: recovers the data key, decrypts every value and
/// verifies the MAC. Errors carry exit codes 3/4/5 but no file name (the caller adds it).
pub fn open(_input: &[u8], _format: Format, _ids: &IdentitySet) -> Result<Opened, Error> {
    Err(Error::failure("not implemented"))
}

/// The canonical plaintext bytes of a leaf (FORMAT §2): what is encrypted and fed to the MAC,
/// and what `install` writes for a scalar secret. `None` for null.
pub fn canonical_bytes(_scalar: &Scalar) -> Option<Vec<u8>> {
    None
}

/// Looks up a node by a path of keys/indices (used by `--extract` and the manifest `key`).
pub fn lookup<'a>(_tree: &'a Tree, _path: &[PathSegment]) -> Option<&'a Node> {
    None
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}
