//! Identities: what can open a wrapped data key. (Skeleton: being written.)

use crate::error::Error;
use std::path::Path;
use zeroize::Zeroizing;

/// The identities collected for one command, in discovery order, with where each came from.
#[derive(Default)]
pub struct IdentitySet {
    sources: Vec<String>,
}

impl IdentitySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }
    /// Loads an identity file: age identities or an OpenSSH private key.
    pub fn from_file(_path: &Path) -> Result<Self, Error> {
        Err(Error::failure("not implemented"))
    }
    /// Tries every identity on one armored age file; `Ok(None)` when none fits.
    pub fn unwrap(&self, _armored: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        Ok(None)
    }
    /// Where the identities came from, for error messages.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }
    /// Whether no identity was found at all.
    pub fn is_empty(&self) -> bool {
        true
    }
}

/// The environment the workstation discovery reads. (Stub.)
#[derive(Default)]
pub struct WorkstationEnv;

impl WorkstationEnv {
    /// Reads the process environment. (Stub.)
    pub fn from_process() -> Self {
        WorkstationEnv
    }
}

/// Collects workstation identities. (Stub.)
pub fn discover(
    _explicit: &[std::path::PathBuf],
    _env: &WorkstationEnv,
) -> Result<IdentitySet, Error> {
    Ok(IdentitySet::new())
}
