//! Judging one file against the rules (docs/commit-workflow.md#3-the-guard-hostseal-check): must it be sealed, is it, do its
//! recipients and leaf rule match its rule, does its MAC verify. Pure: the caller reads the
//! bytes (from the work tree or the git index) and passes the rules and identities in.

use super::Problem;
use crate::error::Kind;
use crate::format::metadata::{LeafRule, Metadata};
use crate::format::tree::{Map, MapItem, Node, Scalar, Tree};
use crate::format::Format;
use crate::keys::identity::IdentitySet;
use crate::keys::recipient::Recipient;
use crate::rotation::plan::Names;
use crate::rules::{CreationRule, RulesFile};
use crate::sops::leaf_rule::{LeafSelector, Marked};
use crate::sops::path::{display_path, PathSegment};
use std::collections::BTreeSet;
use std::path::Path;

/// Hint for plaintext that must be sealed.
pub const HINT_SEAL: &str =
    "seal it with `hostseal encrypt -i FILE` (or `hostseal check --staged --encrypt`)";
/// Hint for recipients that differ from the rule.
pub const HINT_UPDATEKEYS: &str = "run `hostseal updatekeys FILE` to apply the rules' recipients";
/// Hint for a leaf rule that differs from the rule's.
pub const HINT_ROTATE: &str =
    "run `hostseal rotate FILE` to re-encrypt it under the rule's suffix/regex";
/// Hint for integrity failures.
pub const HINT_INTEGRITY: &str =
    "the file was altered without its data key: restore it from history, or re-create it";

/// The rules that apply to one file: those of the state being judged, and (for `--staged`)
/// those of HEAD, since a path must be sealed if either says so.
#[derive(Clone, Copy, Default)]
pub struct RuleSet<'a> {
    /// The rules of the state being judged (the index, or the work tree).
    pub current: Option<&'a RulesFile>,
    /// The rules of HEAD, for `--staged`.
    pub previous: Option<&'a RulesFile>,
}

impl<'a> RuleSet<'a> {
    /// The rule of the current rules for `abs`, else HEAD's.
    pub fn rule_for(&self, abs: &Path) -> Option<&'a CreationRule> {
        self.current
            .and_then(|r| r.rule_for(abs))
            .or_else(|| self.previous.and_then(|r| r.rule_for(abs)))
    }

    /// Whether a rule *with a `path_regex`* (current or HEAD) matches `abs`.
    pub fn must_be_sealed(&self, abs: &Path) -> Option<&'a CreationRule> {
        let with_regex = |rf: Option<&'a RulesFile>| {
            rf.and_then(|r| r.rule_for(abs))
                .filter(|rule| rule.path_regex.is_some())
        };
        with_regex(self.current).or_else(|| with_regex(self.previous))
    }
}

/// Whether `check` ignores this path: the rules file itself and our own temporary files.
pub fn is_exempt(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name == crate::rules::FILE_NAME || crate::rotation::walk::is_temp_name(name)
}

/// One file to judge.
pub struct Subject<'a> {
    /// The path shown in problems.
    pub shown: &'a str,
    /// The absolute path, for the type (extension) and rule matching.
    pub abs: &'a Path,
    /// The file's content.
    pub bytes: &'a [u8],
}

/// What `judge` found out about a file besides its problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No rule applies: the file was not looked at.
    Unruled,
    /// A rule with a `path_regex` matches and the content is not a sealed file.
    Plaintext,
    /// A sealed file (sops or whole-file age).
    Sealed,
    /// A rule without `path_regex` matches and the content is not sealed: fine.
    PlainAllowed,
}

/// Judges one file; returns its verdict and its problems (empty when all is well).
pub fn judge(s: &Subject, rules: RuleSet, ids: &IdentitySet) -> (Verdict, Vec<Problem>) {
    if is_exempt(s.abs) {
        return (Verdict::Unruled, Vec::new());
    }
    let Some(rule) = rules.rule_for(s.abs) else {
        return (Verdict::Unruled, Vec::new());
    };
    let must = rules.must_be_sealed(s.abs);
    let format = Format::from_path(s.abs);
    let not_sealed = |why: String| match must {
        Some(r) => (
            Verdict::Plaintext,
            vec![Problem::new(
                s.shown,
                format!("not sealed ({why}); {} requires it", r.describe()),
            )
            .hint(HINT_SEAL)],
        ),
        None => (Verdict::PlainAllowed, Vec::new()),
    };
    if format == Format::Age {
        if crate::age_file::is_age_file(s.bytes) {
            return (Verdict::Sealed, Vec::new());
        }
        return not_sealed("not an age file".into());
    }
    let tree = match format.parse_sealed(s.bytes) {
        Ok(t) => t,
        Err(e) => return not_sealed(format!("not parseable as {}: {e}", format.name())),
    };
    if !tree.docs.iter().any(|d| d.get("sops").is_some()) {
        return not_sealed("plaintext: no sops metadata".into());
    }
    let (tree, md) = match crate::sops::split_metadata(tree) {
        Ok(x) => x,
        Err(e) => return not_sealed(format!("its sops metadata is invalid: {}", e.message)),
    };
    let mut problems = Vec::new();
    let leaf_rule = leaf_rule_for(format, rule);
    clear_leaves(s.shown, &tree, &leaf_rule, &mut problems);
    if let Some((file, current)) = rules
        .current
        .and_then(|r| r.rule_for(s.abs).map(|rule| (r, rule)))
    {
        let names = Names::from_rules(Some(file));
        compare_groups(s.shown, &md, current, &names, &mut problems);
        compare_leaf_rule(s.shown, format, &md, current, &mut problems);
    }
    verify(s, &tree, md, ids, &mut problems);
    (Verdict::Sealed, problems)
}

/// The leaf rule a rule asks for (sops's default when it sets none; everything for binary).
fn leaf_rule_for(format: Format, rule: &CreationRule) -> LeafRule {
    if format == Format::Binary {
        return LeafRule::None;
    }
    rule.leaf_rule.clone().unwrap_or_default()
}

/// Flags every leaf the rule says to encrypt that is not an `ENC[…]` string.
fn clear_leaves(shown: &str, tree: &Tree, rule: &LeafRule, out: &mut Vec<Problem>) {
    let Ok(sel) = LeafSelector::new(rule) else {
        return;
    };
    let mut w = LeafWalk {
        sel: &sel,
        path: Vec::new(),
        found: Vec::new(),
    };
    for doc in &tree.docs {
        w.map(doc, Marked::default());
    }
    for (path, ty) in w.found {
        out.push(
            Problem::new(
                shown,
                format!("value {path} ({ty}) is in clear text but its rule wants it encrypted"),
            )
            .hint(HINT_SEAL),
        );
    }
}

struct LeafWalk<'a> {
    sel: &'a LeafSelector,
    path: Vec<PathSegment>,
    found: Vec<(String, &'static str)>,
}

impl LeafWalk<'_> {
    fn map(&mut self, map: &Map, state: Marked) {
        let mut marked = false;
        for item in &map.0 {
            match item {
                MapItem::Comment(text) => marked |= self.sel.comment_marks(text),
                MapItem::Entry(k, v) => {
                    let child = self
                        .sel
                        .after_marking_comment(self.sel.enter_key(state, k), marked);
                    marked = false;
                    self.path.push(PathSegment::Key(k.clone()));
                    self.node(v, child);
                    self.path.pop();
                }
            }
        }
    }

    fn node(&mut self, node: &Node, state: Marked) {
        match node {
            Node::Map(m) => self.map(m, state),
            Node::Seq(items) => {
                let mut marked = false;
                let mut index = 0usize;
                for item in items {
                    if let Node::Comment(text) = item {
                        marked |= self.sel.comment_marks(text);
                        continue;
                    }
                    self.path.push(PathSegment::Index(index));
                    self.node(item, self.sel.after_marking_comment(state, marked));
                    self.path.pop();
                    marked = false;
                    index = index.saturating_add(1);
                }
            }
            Node::Comment(_) => {}
            Node::Scalar(s) => {
                if self.sel.encrypts(state) && is_clear(s) {
                    self.found.push((display_path(&self.path), s.type_name()));
                }
            }
        }
    }
}

/// Whether a sealed file's leaf is clear text (null and empty strings are never encrypted).
fn is_clear(s: &Scalar) -> bool {
    match s {
        Scalar::Null => false,
        Scalar::Str(v) => !v.is_empty() && !crate::format::value::looks_encrypted(v),
        Scalar::Bytes(b) => !b.is_empty(),
        _ => true,
    }
}

/// A recipient's identity for comparison: normalised key, else its trimmed text.
fn normalize(r: &str) -> String {
    Recipient::parse(r)
        .map(|r| r.normalized())
        .unwrap_or_else(|_| r.trim().to_string())
}

/// Flags key groups that differ from the rule's (group order matters, recipients within a
/// group compare as sets) and recipients listed twice in one group. Recipients are shown by
/// their `keys:` anchor name where the rules file gives one, as `updatekeys` shows them.
fn compare_groups(
    shown: &str,
    md: &Metadata,
    rule: &CreationRule,
    names: &Names,
    out: &mut Vec<Problem>,
) {
    for (i, group) in md.groups.iter().enumerate() {
        let mut seen = BTreeSet::new();
        for stanza in &group.age {
            if !seen.insert(normalize(&stanza.recipient)) {
                out.push(
                    Problem::new(
                        shown,
                        format!(
                            "key group {} lists recipient {} twice",
                            i + 1,
                            names.label(&stanza.recipient)
                        ),
                    )
                    .hint(HINT_UPDATEKEYS),
                );
            }
        }
    }
    if rule.groups.is_empty() {
        return;
    }
    if md.groups.len() != rule.groups.len() {
        out.push(
            Problem::new(
                shown,
                format!(
                    "has {} key group(s), its rule ({}) {}",
                    md.groups.len(),
                    rule.describe(),
                    rule.groups.len()
                ),
            )
            .hint(HINT_UPDATEKEYS),
        );
        return;
    }
    for (i, (group, wanted)) in md.groups.iter().zip(&rule.groups).enumerate() {
        let have: BTreeSet<String> = group.age.iter().map(|s| normalize(&s.recipient)).collect();
        let want: BTreeSet<String> = wanted.iter().map(|s| normalize(s)).collect();
        if have == want {
            continue;
        }
        let mut diff: Vec<String> = want
            .difference(&have)
            .map(|r| format!("+{}", names.label(r)))
            .collect();
        diff.extend(
            have.difference(&want)
                .map(|r| format!("-{}", names.label(r))),
        );
        let which = if md.groups.len() > 1 {
            format!(" in key group {}", i + 1)
        } else {
            String::new()
        };
        out.push(
            Problem::new(
                shown,
                format!(
                    "recipients{which} differ from its rule ({}): {}",
                    rule.describe(),
                    diff.join(" ")
                ),
            )
            .hint(HINT_UPDATEKEYS),
        );
    }
}

/// Flags a file whose recorded suffix/regex differs from its rule's.
fn compare_leaf_rule(
    shown: &str,
    format: Format,
    md: &Metadata,
    rule: &CreationRule,
    out: &mut Vec<Problem>,
) {
    if format == Format::Binary {
        return;
    }
    let wanted = rule.leaf_rule.clone().unwrap_or_default();
    if md.leaf_rule == wanted {
        return;
    }
    let show = |r: &LeafRule| match r.field() {
        Some((f, v)) => format!("{f} {v:?}"),
        None => "none".to_string(),
    };
    out.push(
        Problem::new(
            shown,
            format!(
                "sealed with {}, but its rule ({}) says {}",
                show(&md.leaf_rule),
                rule.describe(),
                show(&wanted)
            ),
        )
        .hint(HINT_ROTATE),
    );
}

/// Opens the file when identities are available: a MAC or AEAD failure, or a malformed
/// sealed file, is a problem; no fitting identity is not (nothing can be checked). Works on
/// the tree `judge` parsed (each file is parsed once).
fn verify(s: &Subject, tree: &Tree, md: Metadata, ids: &IdentitySet, out: &mut Vec<Problem>) {
    if ids.is_empty() {
        return;
    }
    match crate::sops::open_split(tree, md, ids) {
        Ok(_) => {}
        Err(e) if e.kind == Kind::Integrity => out
            .push(Problem::new(s.shown, format!("integrity: {}", e.message)).hint(HINT_INTEGRITY)),
        Err(e) if e.kind == Kind::Malformed => out.push(Problem::new(
            s.shown,
            format!("malformed sealed file: {}", e.message),
        )),
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::EmitOptions;
    use crate::sops::SealParams;
    use std::path::PathBuf;

    struct Fixture {
        rules: RulesFile,
        ids: IdentitySet,
        recipient: String,
        other: String,
    }

    fn fixture(extra_rule: &str) -> Fixture {
        let id = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate().to_public().to_string();
        let recipient = id.to_public().to_string();
        let text = format!(
            "creation_rules:\n{extra_rule}  - path_regex: ^secrets/\n    age: {recipient}\n  - age: {recipient}\n"
        );
        let rules = RulesFile::parse(&text, Path::new("/repo/.sops.yaml")).unwrap();
        let mut ids = IdentitySet::new();
        ids.push_x25519(id, "test");
        Fixture {
            rules,
            ids,
            recipient,
            other,
        }
    }

    fn seal_json(text: &str, recipients: &[&str], leaf: LeafRule) -> Vec<u8> {
        let tree = Format::Json.parse_plain(text.as_bytes()).unwrap();
        let params = SealParams {
            groups: vec![recipients
                .iter()
                .map(|r| Recipient::parse(r).unwrap())
                .collect()],
            threshold: None,
            leaf_rule: leaf,
            mac_only_encrypted: false,
        };
        crate::sops::seal(&tree, Format::Json, &params, &EmitOptions::default()).unwrap()
    }

    fn judge_at(f: &Fixture, rel: &str, bytes: &[u8]) -> (Verdict, Vec<Problem>) {
        let abs = PathBuf::from("/repo").join(rel);
        let s = Subject {
            shown: rel,
            abs: &abs,
            bytes,
        };
        judge(
            &s,
            RuleSet {
                current: Some(&f.rules),
                previous: None,
            },
            &f.ids,
        )
    }

    #[test]
    fn plaintext_under_a_path_regex_is_flagged_elsewhere_not() {
        let f = fixture("");
        let plain = br#"{"password": "hunter2"}"#;
        let (v, p) = judge_at(&f, "secrets/db.json", plain);
        assert_eq!(v, Verdict::Plaintext);
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("not sealed"), "{}", p[0]);
        assert!(!p[0].message.contains("hunter2"));
        let (v, p) = judge_at(&f, "app/db.json", plain);
        assert_eq!((v, p.len()), (Verdict::PlainAllowed, 0));
        let (_, p) = judge_at(&f, "secrets/.sops.yaml", b"x: 1");
        assert!(p.is_empty());
        let (v, _) = judge_at(&f, "secrets/cert.pem", b"-----BEGIN CERTIFICATE-----");
        assert_eq!(v, Verdict::Plaintext);
    }

    #[test]
    fn a_good_sealed_file_passes() {
        let f = fixture("");
        let sealed = seal_json(
            r#"{"a": "b", "n": 1}"#,
            &[&f.recipient],
            LeafRule::default(),
        );
        let (v, p) = judge_at(&f, "secrets/x.json", &sealed);
        assert_eq!(v, Verdict::Sealed);
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn stale_and_duplicate_recipients_are_flagged() {
        let f = fixture("");
        let sealed = seal_json(
            r#"{"a": "b"}"#,
            &[&f.recipient, &f.other],
            LeafRule::default(),
        );
        let (_, p) = judge_at(&f, "secrets/x.json", &sealed);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].message.contains(&format!("-{}", f.other)), "{}", p[0]);
        let dup = seal_json(
            r#"{"a": "b"}"#,
            &[&f.recipient, &f.recipient],
            LeafRule::default(),
        );
        let (_, p) = judge_at(&f, "secrets/x.json", &dup);
        assert!(p.iter().any(|p| p.message.contains("twice")), "{p:?}");
    }

    #[test]
    fn clear_values_and_other_leaf_rules_are_flagged() {
        let f = fixture("");
        let sealed = seal_json(
            r#"{"a": "b", "c": {"d": "e"}}"#,
            &[&f.recipient],
            LeafRule::EncryptedRegex("^a$".into()),
        );
        let (_, p) = judge_at(&f, "secrets/x.json", &sealed);
        let text: Vec<String> = p.iter().map(ToString::to_string).collect();
        assert!(
            text.iter().any(|t| t.contains(r#"["c"]["d"] (str)"#)),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.contains("encrypted_regex")),
            "{text:?}"
        );
        assert!(!text.iter().any(|t| t.contains("\"e\"")), "{text:?}");
    }

    #[test]
    fn broken_mac_is_flagged_only_with_a_key() {
        let f = fixture("");
        let sealed = seal_json(
            r#"{"a": "b", "c_unencrypted": "x"}"#,
            &[&f.recipient],
            LeafRule::default(),
        );
        let text = String::from_utf8(sealed).unwrap().replace("\"x\"", "\"y\"");
        let (_, p) = judge_at(&f, "secrets/x.json", text.as_bytes());
        assert!(
            p.iter().any(|p| p.message.starts_with("integrity")),
            "{p:?}"
        );
        let no_ids = Fixture {
            ids: IdentitySet::new(),
            ..fixture("")
        };
        let (_, p) = judge_at(&no_ids, "secrets/x.json", text.as_bytes());
        assert!(
            !p.iter().any(|p| p.message.starts_with("integrity")),
            "{p:?}"
        );
    }

    #[test]
    fn head_rules_also_demand_sealing() {
        let f = fixture("");
        let empty =
            RulesFile::parse("creation_rules: []\n", Path::new("/repo/.sops.yaml")).unwrap();
        let abs = Path::new("/repo/secrets/x.json");
        let s = Subject {
            shown: "secrets/x.json",
            abs,
            bytes: b"{}",
        };
        let rules = RuleSet {
            current: Some(&empty),
            previous: Some(&f.rules),
        };
        assert_eq!(judge(&s, rules, &f.ids).0, Verdict::Plaintext);
    }

    proptest::proptest! {
        #[test]
        fn judge_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
                              ext in proptest::sample::select(vec!["json", "yaml", "env", "ini", "bin", "age"])) {
            let f = fixture("");
            let rel = format!("secrets/x.{ext}");
            let (v, p) = judge_at(&f, &rel, &bytes);
            proptest::prop_assert!(v != Verdict::Unruled);
            proptest::prop_assert!(v != Verdict::Plaintext || !p.is_empty());
        }
    }
}
