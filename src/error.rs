//! The one error type users see. Each error has a [`Kind`] that decides the exit code (docs/cli.md#exit-codes),
//! the file it is about, a one-line message and an optional hint. Messages are written for users
//! and never contain secret bytes: errors about values name the key path and type, parser errors
//! on plaintext give `line:column` only.

use std::fmt;

/// The category of a failure; it decides the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Exit 1: any failure not listed below.
    Failure,
    /// Exit 3: no identity can open the data key.
    NoKey,
    /// Exit 4: MAC mismatch or AEAD tag failure.
    Integrity,
    /// Exit 5: not parseable as its type, not a sops file, over a parser limit.
    Malformed,
    /// Exit 6: rules file or manifest invalid.
    Config,
    /// Exit 7: `install` installed some secrets but not all.
    InstallFailed,
}

impl Kind {
    /// The process exit code for this kind (docs/cli.md#exit-codes).
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Failure => 1,
            Kind::NoKey => 3,
            Kind::Integrity => 4,
            Kind::Malformed => 5,
            Kind::Config => 6,
            Kind::InstallFailed => 7,
        }
    }
}

/// A user-facing error: `hostseal: <file>: <message>` plus an optional `hint:` line.
#[derive(Debug, Clone)]
pub struct Error {
    /// Decides the exit code.
    pub kind: Kind,
    /// The file the error is about, as the user named it.
    pub file: Option<String>,
    /// One line, no secret bytes.
    pub message: String,
    /// What to do about it, if we know.
    pub hint: Option<String>,
}

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of the given kind.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            file: None,
            message: message.into(),
            hint: None,
        }
    }
    /// Exit 1.
    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(Kind::Failure, message)
    }
    /// Exit 3.
    pub fn no_key(message: impl Into<String>) -> Self {
        Self::new(Kind::NoKey, message)
    }
    /// Exit 4.
    pub fn integrity(message: impl Into<String>) -> Self {
        Self::new(Kind::Integrity, message)
    }
    /// Exit 5.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(Kind::Malformed, message)
    }
    /// Exit 6.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Kind::Config, message)
    }
    /// An I/O error on `path`; exit 1.
    pub fn io(path: impl AsRef<std::path::Path>, err: &std::io::Error) -> Self {
        Self::failure(io_message(err)).with_file(path.as_ref().display().to_string())
    }
    /// Names the file the error is about, unless one is already named.
    pub fn with_file(mut self, file: impl Into<String>) -> Self {
        if self.file.is_none() {
            self.file = Some(file.into());
        }
        self
    }
    /// Adds a hint, unless one is already there.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        if self.hint.is_none() {
            self.hint = Some(hint.into());
        }
        self
    }
    /// The exit code this error maps to.
    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }
}

/// A short, stable description of an I/O error (without the "(os error N)" tail).
pub fn io_message(err: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match err.kind() {
        K::NotFound => "no such file or directory".into(),
        K::PermissionDenied => "permission denied".into(),
        K::AlreadyExists => "already exists".into(),
        _ => {
            let s = err.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{file}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}
