//! A file's key groups against the groups it should have (docs/key-rotation.md#updatekeys): group order
//! matters, recipients within a group compare as sets of normalised keys (type + key bytes;
//! comments and whitespace ignored). The threshold is the rule's `shamir_threshold`, else the
//! file's, capped at the number of groups. Works on metadata alone: no key is needed to plan.

use crate::error::Error;
use crate::format::metadata::Metadata;
use crate::keys::recipient::Recipient;
use crate::rules::{CreationRule, RulesFile};
use std::collections::HashMap;

/// The key groups and threshold a file should be sealed to.
#[derive(Debug, Clone)]
pub struct Target {
    /// Key groups of recipients, each deduplicated by normalised key.
    pub groups: Vec<Vec<Recipient>>,
    /// Shamir threshold to write (only with two or more groups).
    pub threshold: Option<usize>,
}

impl Target {
    /// The target of a creation rule: its groups, its threshold else `file_threshold`.
    /// A recipient that does not parse is a configuration error (exit 6).
    pub fn from_rule(rule: &CreationRule, file_threshold: Option<usize>) -> Result<Target, Error> {
        let groups = rule.recipients()?.into_iter().map(dedup).collect();
        Ok(Target::capped(groups, rule.threshold.or(file_threshold)))
    }

    /// The file's own groups and threshold (for `rotate` when no rule matches). Groups with
    /// non-age keys (PGP, KMS) cannot be re-wrapped by hostseal: an error.
    pub fn from_metadata(md: &Metadata) -> Result<Target, Error> {
        if md.groups.iter().any(|g| !g.other.is_empty()) {
            return Err(Error::failure(
                "the file has PGP/KMS/Vault keys, which hostseal cannot wrap (not supported in v1)",
            ));
        }
        let groups = md
            .groups
            .iter()
            .map(|g| parse_group(g.age.iter().map(|s| s.recipient.as_str())))
            .collect::<Result<Vec<_>, Error>>()?;
        if groups.is_empty() || groups.iter().any(Vec::is_empty) {
            return Err(Error::failure(
                "a key group of the file has no age recipient",
            ));
        }
        Ok(Target::capped(groups, md.shamir_threshold))
    }

    fn capped(groups: Vec<Vec<Recipient>>, threshold: Option<usize>) -> Target {
        let n = groups.len();
        let threshold = if n >= 2 {
            threshold.filter(|t| *t > 0).map(|t| t.min(n))
        } else {
            None
        };
        Target { groups, threshold }
    }

    /// Every recipient of every group, deduplicated (for whole-file age).
    pub fn flattened(&self) -> Vec<Recipient> {
        let mut out: Vec<Recipient> = Vec::new();
        for r in self.groups.iter().flatten() {
            if !out.iter().any(|o| o.normalized() == r.normalized()) {
                out.push(r.clone());
            }
        }
        out
    }
}

/// Drops repeats of one key from a group, keeping the first spelling.
fn dedup(group: Vec<Recipient>) -> Vec<Recipient> {
    let mut out: Vec<Recipient> = Vec::new();
    for r in group {
        if !out.iter().any(|o| o.normalized() == r.normalized()) {
            out.push(r);
        }
    }
    out
}

/// Parses a group's recipients, dropping repeats of one key.
fn parse_group<'a>(texts: impl Iterator<Item = &'a str>) -> Result<Vec<Recipient>, Error> {
    let mut out: Vec<Recipient> = Vec::new();
    for t in texts {
        let r = Recipient::parse(t)?;
        if !out.iter().any(|o| o.normalized() == r.normalized()) {
            out.push(r);
        }
    }
    Ok(out)
}

/// The comparison key of a recipient as written in a file: its normalised key, or the trimmed
/// text when it does not parse (a plugin recipient, a damaged entry).
pub fn key_of(text: &str) -> String {
    Recipient::parse(text)
        .map(|r| r.normalized())
        .unwrap_or_else(|_| text.trim().to_string())
}

/// Recipient names from the rules file's `keys:` anchors, by normalised key.
#[derive(Debug, Default, Clone)]
pub struct Names(HashMap<String, String>);

impl Names {
    /// The names of a rules file (none without one).
    pub fn from_rules(rules: Option<&RulesFile>) -> Names {
        let mut map = HashMap::new();
        if let Some(rf) = rules {
            for (recipient, name) in &rf.names {
                map.insert(key_of(recipient), name.clone());
            }
        }
        Names(map)
    }

    /// The anchor name of a recipient, if the rules file names it.
    pub fn name(&self, recipient: &str) -> Option<&str> {
        self.0.get(&key_of(recipient)).map(String::as_str)
    }

    /// How a recipient is shown: its name where known, else the text as written.
    pub fn label(&self, recipient: &str) -> String {
        self.name(recipient)
            .map(str::to_string)
            .unwrap_or_else(|| recipient.trim().to_string())
    }
}

/// One recipient added to or removed from one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// 0-based group index.
    pub group: usize,
    /// Added (`+`) or removed (`-`).
    pub added: bool,
    /// The recipient as written (in the rule for additions, in the file for removals).
    pub recipient: String,
}

/// How a file's groups differ from its target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// Recipients added and removed, group by group.
    pub changes: Vec<Change>,
    /// The effective threshold (groups needed), before and after, when it changes.
    pub threshold: Option<(usize, usize)>,
    /// Non-age keys (`pgp`, `kms`, …) the file has and the target drops.
    pub dropped_other: Vec<String>,
    /// The number of groups, before and after.
    pub group_counts: (usize, usize),
}

impl Diff {
    /// Nothing to do: the file already matches.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.threshold.is_none() && self.dropped_other.is_empty()
    }

    /// Whether someone who could open the file may lose access: then the data key they may
    /// have seen must change (a removal, a dropped non-age key, or a higher threshold).
    pub fn removes_access(&self) -> bool {
        self.changes.iter().any(|c| !c.added)
            || !self.dropped_other.is_empty()
            || self.threshold.is_some_and(|(old, new)| new > old)
    }

    /// The plan lines of this diff: `+ name`, `- name`, with the group when there are several.
    pub fn lines(&self, names: &Names) -> Vec<String> {
        let multi = self.group_counts.0.max(self.group_counts.1) > 1;
        let mut out: Vec<String> = self
            .changes
            .iter()
            .map(|c| {
                let sign = if c.added { '+' } else { '-' };
                let label = names.label(&c.recipient);
                if multi {
                    format!("{sign} {label} (group {})", c.group.saturating_add(1))
                } else {
                    format!("{sign} {label}")
                }
            })
            .collect();
        out.extend(self.dropped_other.iter().map(|k| format!("- {k} keys")));
        if let Some((old, new)) = self.threshold {
            out.push(format!("threshold {old} -> {new}"));
        }
        out
    }
}

/// Compares a file's metadata with its target.
pub fn diff(md: &Metadata, target: &Target) -> Diff {
    let old: Vec<Vec<(String, String)>> = md
        .groups
        .iter()
        .map(|g| {
            g.age
                .iter()
                .map(|s| (key_of(&s.recipient), s.recipient.trim().to_string()))
                .collect()
        })
        .collect();
    let new: Vec<Vec<(String, String)>> = target
        .groups
        .iter()
        .map(|g| {
            g.iter()
                .map(|r| (r.normalized(), r.as_str().to_string()))
                .collect()
        })
        .collect();
    let mut d = Diff {
        group_counts: (old.len(), new.len()),
        ..Diff::default()
    };
    for i in 0..old.len().max(new.len()) {
        let o = old.get(i).map(Vec::as_slice).unwrap_or_default();
        let n = new.get(i).map(Vec::as_slice).unwrap_or_default();
        push_group_changes(&mut d.changes, i, o, n);
    }
    for g in &md.groups {
        d.dropped_other
            .extend(g.other.iter().map(|(k, _)| k.clone()));
    }
    let before = effective_threshold(old.len(), md.shamir_threshold);
    let after = effective_threshold(new.len(), target.threshold);
    if before != after {
        d.threshold = Some((before, after));
    }
    d
}

fn push_group_changes(
    out: &mut Vec<Change>,
    group: usize,
    old: &[(String, String)],
    new: &[(String, String)],
) {
    let mut seen_removed: Vec<&str> = Vec::new();
    for (key, text) in old {
        if !new.iter().any(|(k, _)| k == key) && !seen_removed.contains(&key.as_str()) {
            seen_removed.push(key);
            out.push(Change {
                group,
                added: false,
                recipient: text.clone(),
            });
        }
    }
    for (key, text) in new {
        if !old.iter().any(|(k, _)| k == key) {
            out.push(Change {
                group,
                added: true,
                recipient: text.clone(),
            });
        }
    }
}

/// How many groups are needed to open: 1 for one group, else the threshold (all if unset).
pub fn effective_threshold(groups: usize, threshold: Option<usize>) -> usize {
    if groups < 2 {
        return groups.min(1);
    }
    threshold.filter(|t| *t > 0).unwrap_or(groups).min(groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::metadata::{AgeStanza, KeyGroup, LeafRule};
    use std::path::Path;

    const A: &str = "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw";
    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN";

    fn other_age() -> String {
        crate::keys::ssh_to_age::recipient_from_ssh_public(ED).unwrap()
    }

    fn md(groups: &[&[&str]], threshold: Option<usize>) -> Metadata {
        Metadata {
            groups: groups
                .iter()
                .map(|g| KeyGroup {
                    age: g
                        .iter()
                        .map(|r| AgeStanza {
                            recipient: r.to_string(),
                            enc: String::new(),
                        })
                        .collect(),
                    other: vec![],
                })
                .collect(),
            shamir_threshold: threshold,
            lastmodified: "2024-01-01T00:00:00Z".into(),
            mac: None,
            leaf_rule: LeafRule::default(),
            mac_only_encrypted: false,
            version: "3.11.0".into(),
            unknown: vec![],
        }
    }

    fn rules(text: &str) -> RulesFile {
        RulesFile::parse(text, Path::new("/r/.sops.yaml")).unwrap()
    }

    #[test]
    fn same_set_with_comments_and_order_is_no_change() {
        let b = other_age();
        let rf = rules(&format!(
            "creation_rules:\n  - age: '{b}, {ED} host@x, {A}'\n"
        ));
        let t = Target::from_rule(&rf.rules[0], None).unwrap();
        let file = md(&[&[A, &format!("{ED} other-comment"), &b]], None);
        assert!(diff(&file, &t).is_empty());
    }

    #[test]
    fn additions_keep_the_key_removals_rotate() {
        let b = other_age();
        let rf = rules(&format!("creation_rules:\n  - age: '{A}, {b}'\n"));
        let t = Target::from_rule(&rf.rules[0], None).unwrap();
        let d = diff(&md(&[&[A]], None), &t);
        assert_eq!(d.changes.len(), 1);
        assert!(d.changes[0].added);
        assert!(!d.removes_access());
        let d = diff(&md(&[&[A, &b, ED]], None), &t);
        assert_eq!(d.lines(&Names::default()), vec![format!("- {ED}")]);
        assert!(d.removes_access());
    }

    #[test]
    fn ssh_key_and_derived_age_key_are_different_recipients() {
        let rf = rules(&format!("creation_rules:\n  - age: '{}'\n", other_age()));
        let t = Target::from_rule(&rf.rules[0], None).unwrap();
        let d = diff(&md(&[&[ED]], None), &t);
        assert_eq!(d.changes.len(), 2);
    }

    #[test]
    fn group_order_and_threshold() {
        let b = other_age();
        let text = format!(
            "creation_rules:\n  - key_groups:\n      - age: ['{A}']\n      - age: ['{b}']\n"
        );
        let rf = rules(&text);
        // Threshold from the file when the rule has none.
        let t = Target::from_rule(&rf.rules[0], Some(2)).unwrap();
        assert_eq!(t.threshold, Some(2));
        assert!(diff(&md(&[&[A], &[&b]], Some(2)), &t).is_empty());
        // Swapped groups differ.
        let d = diff(&md(&[&[&b], &[A]], Some(2)), &t);
        assert_eq!(d.changes.len(), 4);
        assert!(d.lines(&Names::default())[0].ends_with("(group 1)"));
        // Threshold capped at the number of groups; raising it removes access.
        let t = Target::from_rule(&rf.rules[0], Some(9)).unwrap();
        assert_eq!(t.threshold, Some(2));
        let d = diff(&md(&[&[A], &[&b], &[ED]], Some(2)), &t);
        assert!(d.removes_access());
        let rf3 = rules(&format!(
            "creation_rules:\n  - shamir_threshold: 3\n    key_groups:\n      - age: ['{A}']\n      - age: ['{b}']\n      - age: ['{ED}']\n"
        ));
        let t3 = Target::from_rule(&rf3.rules[0], None).unwrap();
        let d = diff(&md(&[&[A], &[&b], &[ED]], Some(2)), &t3);
        assert_eq!(d.threshold, Some((2, 3)));
        assert!(d.removes_access());
        let d = diff(
            &md(&[&[A], &[&b], &[ED]], Some(3)),
            &Target::from_rule(&rf3.rules[0], None).unwrap(),
        );
        assert!(d.is_empty());
    }

    #[test]
    fn names_come_from_anchors() {
        let rf = rules(&format!(
            "keys:\n  - &admin {A}\n  - &host '{ED} root@host'\ncreation_rules:\n  - age: '{A}'\n"
        ));
        let n = Names::from_rules(Some(&rf));
        assert_eq!(n.label(A), "admin");
        assert_eq!(n.label(&format!("{ED} other")), "host");
        assert_eq!(n.label("age1unknown"), "age1unknown");
    }

    #[test]
    fn bad_rule_recipient_is_a_config_error() {
        let rf = rules("creation_rules:\n  - age: 'age1nope'\n");
        assert_eq!(
            Target::from_rule(&rf.rules[0], None)
                .unwrap_err()
                .exit_code(),
            6
        );
    }

    #[test]
    fn dropped_other_keys_remove_access() {
        let mut m = md(&[&[A]], None);
        m.groups[0]
            .other
            .push(("pgp".into(), crate::format::tree::Node::str("x")));
        let rf = rules(&format!("creation_rules:\n  - age: '{A}'\n"));
        let d = diff(&m, &Target::from_rule(&rf.rules[0], None).unwrap());
        assert!(d.removes_access());
        assert!(Target::from_metadata(&m).is_err());
    }

    fn pool() -> &'static [String] {
        static POOL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        POOL.get_or_init(|| (0..6).map(|_| crate::keys::generate().1).collect())
    }

    proptest::proptest! {
        /// Over random old and new recipient sets (in any order, with repeats): no change
        /// exactly when the sets are equal, a rotation exactly when something is removed, and
        /// one `+`/`-` line per recipient in the symmetric difference.
        #[test]
        fn diff_matches_set_algebra(
            old in proptest::collection::vec(0usize..6, 1..8),
            new in proptest::collection::vec(0usize..6, 1..8),
        ) {
            use std::collections::BTreeSet;
            let p = pool();
            let old_texts: Vec<&str> = old.iter().map(|i| p[*i].as_str()).collect();
            let new_texts: Vec<String> = new.iter().map(|i| p[*i].clone()).collect();
            let target = Target {
                groups: vec![parse_group(new_texts.iter().map(String::as_str)).unwrap()],
                threshold: None,
            };
            let d = diff(&md(&[&old_texts], None), &target);
            let o: BTreeSet<usize> = old.into_iter().collect();
            let n: BTreeSet<usize> = new.into_iter().collect();
            proptest::prop_assert_eq!(d.is_empty(), o == n);
            proptest::prop_assert_eq!(d.removes_access(), !o.is_subset(&n));
            proptest::prop_assert_eq!(d.changes.len(), o.symmetric_difference(&n).count());
        }
    }
}
