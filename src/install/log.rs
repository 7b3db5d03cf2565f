//! What install has to say while it runs. The library composes each line; the command layer
//! (`commands/install.rs`) decides where it goes, so nothing below `commands/` prints.

/// A sink for install's progress lines, warnings and per-secret problems, passed down from the
/// command layer. Each call is one whole line, without its newline.
#[derive(Clone, Copy)]
pub struct Log<'a> {
    sink: &'a dyn Fn(&str),
}

impl<'a> Log<'a> {
    /// Lines go to `sink`.
    pub fn new(sink: &'a dyn Fn(&str)) -> Self {
        Log { sink }
    }

    /// A progress line: `hostseal: install: LINE` (names only, never secret bytes).
    pub fn install(&self, line: &str) {
        (self.sink)(&format!("hostseal: install: {line}"));
    }

    /// A warning about a file: `hostseal: warning: FILE: MESSAGE`.
    pub fn warning(&self, file: &str, message: &str) {
        (self.sink)(&format!("hostseal: warning: {file}: {message}"));
    }

    /// A problem with one secret: `hostseal: SECRET: MESSAGE`.
    pub fn problem(&self, secret: &str, message: &str) {
        (self.sink)(&format!("hostseal: {secret}: {message}"));
    }
}

impl Log<'static> {
    /// Drops every line (unit tests).
    pub fn silent() -> Self {
        Log { sink: &|_| {} }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn lines_carry_their_prefix() {
        let lines = RefCell::new(Vec::new());
        let push = |l: &str| lines.borrow_mut().push(l.to_string());
        let log = Log::new(&push);
        log.install("pruned 1 old generation(s)");
        log.warning("m.json", "unknown field x");
        log.problem("db", "no key");
        assert_eq!(
            lines.into_inner(),
            [
                "hostseal: install: pruned 1 old generation(s)",
                "hostseal: warning: m.json: unknown field x",
                "hostseal: db: no key",
            ]
        );
    }
}
