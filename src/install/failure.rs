//! Why one secret could not be produced: shared by extraction, credential checks and the
//! run that records it in the status file.

/// Why one secret could not be produced: a fixed code, a message with no secret content, and
/// an optional hint. It fails that secret only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Fixed code for the status file (`no-key`, `integrity`, `malformed`, `key-absent`, …).
    pub code: &'static str,
    /// One line.
    pub message: String,
    /// What to do, if known.
    pub hint: Option<String>,
}

impl Failure {
    /// A failure without hint.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            hint: None,
        }
    }
    /// Adds a hint.
    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }
}
