//! The commit-time guard: the plaintext check behind `hostseal check` and the git hook.
//!
//! * [`check`]: judges one file's bytes against the rules (pure: bytes in, problems out).
//! * [`scan`]: recognises well-known secret shapes (private keys, tunnel credentials/tokens).
//! * [`git`]: the few git plumbing calls `check --staged` needs (index blobs, HEAD, status).
//! * [`run`]: the use cases — judging paths, tracked files or the index, sealing staged files.
//! * [`hook`]: writing the pre-commit hook.

pub mod check;
pub mod git;
pub mod hook;
pub mod run;
pub mod scan;

use std::fmt;

/// One problem `check` found: the file (as shown to the user) and one line saying what is
/// wrong, never containing secret bytes (values are named by key path and type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, as shown (relative to the repository root for git-based checks).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<&'static str>,
}

impl Problem {
    /// A problem about `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
            hint: None,
        }
    }

    /// Adds the hint shown (once per distinct hint) after the list of problems.
    pub fn hint(mut self, hint: &'static str) -> Self {
        self.hint = Some(hint);
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}
