//! Deciding which leaves (and comments) are encrypted, from the file's [`LeafRule`]
//! (docs/format.md#which-values-are-encrypted). Each rule looks at every key on the path, so the decision is carried down the
//! walk as a flag: "some key on the path matched".

use crate::error::Error;
use crate::format::metadata::LeafRule;
use regex::Regex;

/// A compiled [`LeafRule`].
pub struct LeafSelector {
    kind: Kind,
}

enum Kind {
    /// Encrypted unless some key on the path matches.
    UnlessKey(Matcher),
    /// Encrypted only if some key on the path matches.
    IfKey(Matcher),
    /// Encrypted unless a preceding comment matches.
    UnlessComment(Regex),
    /// Encrypted only if a preceding comment matches.
    IfComment(Regex),
    /// Everything encrypted (binary store).
    All,
}

enum Matcher {
    Suffix(String),
    Regex(Regex),
}

impl Matcher {
    fn matches(&self, key: &str) -> bool {
        match self {
            Matcher::Suffix(s) => key.ends_with(s.as_str()),
            Matcher::Regex(r) => r.is_match(key),
        }
    }
}

/// The walk state a selector carries from a container to its children.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marked(pub bool);

impl LeafSelector {
    /// Compiles a rule. A regex that does not compile is an error (the caller sets the kind:
    /// configuration for rules files, malformed for a file's metadata).
    pub fn new(rule: &LeafRule) -> Result<LeafSelector, Error> {
        let re = |r: &str| {
            Regex::new(r).map_err(|_| {
                Error::malformed("a regular expression in the leaf rule does not compile")
            })
        };
        let kind = match rule {
            LeafRule::UnencryptedSuffix(s) => Kind::UnlessKey(Matcher::Suffix(s.clone())),
            LeafRule::EncryptedSuffix(s) => Kind::IfKey(Matcher::Suffix(s.clone())),
            LeafRule::UnencryptedRegex(r) => Kind::UnlessKey(Matcher::Regex(re(r)?)),
            LeafRule::EncryptedRegex(r) => Kind::IfKey(Matcher::Regex(re(r)?)),
            LeafRule::UnencryptedCommentRegex(r) => Kind::UnlessComment(re(r)?),
            LeafRule::EncryptedCommentRegex(r) => Kind::IfComment(re(r)?),
            LeafRule::None => Kind::All,
        };
        Ok(LeafSelector { kind })
    }

    /// The state for the child under `key`, given its parent's state.
    pub fn enter_key(&self, parent: Marked, key: &str) -> Marked {
        match &self.kind {
            Kind::UnlessKey(m) | Kind::IfKey(m) => Marked(parent.0 || m.matches(key)),
            _ => parent,
        }
    }

    /// Whether a comment line marks the next item (comment rules only).
    pub fn comment_marks(&self, text: &str) -> bool {
        match &self.kind {
            Kind::UnlessComment(r) | Kind::IfComment(r) => r.is_match(text),
            _ => false,
        }
    }

    /// The state for an item preceded by a marking comment.
    pub fn after_marking_comment(&self, parent: Marked, marked: bool) -> Marked {
        Marked(parent.0 || marked)
    }

    /// Whether a leaf in this state is encrypted.
    pub fn encrypts(&self, state: Marked) -> bool {
        match &self.kind {
            Kind::UnlessKey(_) | Kind::UnlessComment(_) => !state.0,
            Kind::IfKey(_) | Kind::IfComment(_) => state.0,
            Kind::All => true,
        }
    }

    /// Whether a comment in a container in this state is encrypted. A comment that itself
    /// matches a comment rule stays clear (it must stay readable to mark its value).
    pub fn encrypts_comment(&self, state: Marked, text: &str) -> bool {
        !self.comment_marks(text) && self.encrypts(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(rule: LeafRule, path: &[&str]) -> bool {
        let s = LeafSelector::new(&rule).unwrap();
        let state = path
            .iter()
            .fold(Marked::default(), |m, k| s.enter_key(m, k));
        s.encrypts(state)
    }

    #[test]
    fn suffix_rules_look_at_every_key_on_the_path() {
        let def = LeafRule::default();
        assert!(decide(def.clone(), &["a", "b"]));
        assert!(!decide(def.clone(), &["service_unencrypted", "deep"]));
        assert!(!decide(def, &["x", "port_unencrypted"]));
        let enc = LeafRule::EncryptedSuffix("_secret".into());
        assert!(decide(enc.clone(), &["db_secret", "password"]));
        assert!(!decide(enc, &["db", "password"]));
    }

    #[test]
    fn regex_rules_are_unanchored() {
        let r = LeafRule::EncryptedRegex("^(data|stringData)$".into());
        assert!(decide(r.clone(), &["data", "nested", "deep"]));
        assert!(!decide(r.clone(), &["metadata", "name"]));
        assert!(!decide(r, &[]));
        let u = LeafRule::UnencryptedRegex("pub".into());
        assert!(!decide(u.clone(), &["a", "public_key"]));
        assert!(decide(u, &["a", "secret"]));
    }

    #[test]
    fn bad_regex_is_an_error() {
        assert!(LeafSelector::new(&LeafRule::EncryptedRegex("(".into())).is_err());
    }
}
