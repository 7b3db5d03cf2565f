//! `audit`: per sealed file, who it is sealed to (names where known), the rule that matches
//! it, and whether the two agree; and whether one recipient can open a file.
//!
//! "Can open" is read from the metadata alone: the recipient's keys — the key itself and, for
//! `ssh-ed25519`, the `age1…` derived from it — must appear in at least as many key groups as
//! the file's threshold needs (ssh stanzas also match by their tag). Whole-file age files name
//! no X25519 recipient, so they can only be confirmed through an ssh stanza tag.

use super::plan::{diff, effective_threshold, key_of, Names, Target};
use super::sealed::FileKind;
use crate::error::Error;
use crate::format::metadata::{AgeStanza, Metadata};
use crate::keys::recipient::Recipient;
use crate::keys::{armor, ssh_to_age, stanzas};
use crate::rules::CreationRule;

/// The recipient asked about with `--recipient`.
#[derive(Debug, Clone)]
pub struct Who {
    keys: Vec<String>,
    tag: Option<[u8; 4]>,
}

impl Who {
    /// Parses `age1…` or `ssh-ed25519 …`/`ssh-rsa …`.
    pub fn parse(text: &str) -> Result<Who, Error> {
        let r = Recipient::parse(text)
            .map_err(|e| Error::failure(format!("--recipient: {}", e.message)))?;
        let mut keys = vec![r.normalized()];
        if r.as_str().starts_with("ssh-ed25519") {
            if let Ok(derived) = ssh_to_age::recipient_from_ssh_public(r.as_str()) {
                keys.push(key_of(&derived));
            }
        }
        Ok(Who {
            keys,
            tag: r.ssh_tag(),
        })
    }

    fn matches(&self, stanza: &AgeStanza) -> bool {
        if self.keys.contains(&key_of(&stanza.recipient)) {
            return true;
        }
        self.tag.is_some()
            && stanzas::list_armored(&stanza.enc)
                .iter()
                .any(|s| s.ssh_tag == self.tag)
    }
}

/// Whether a recipient can open a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Openable {
    /// Yes.
    Yes,
    /// No.
    No,
    /// Cannot be told from the file (whole-file age with X25519 stanzas).
    Unverifiable,
}

impl Openable {
    /// The word used in output.
    pub fn word(self) -> &'static str {
        match self {
            Openable::Yes => "yes",
            Openable::No => "no",
            Openable::Unverifiable => "unverifiable",
        }
    }
}

/// Whether `who` opens enough key groups of a sops file.
pub fn can_open_sops(md: &Metadata, who: &Who) -> Openable {
    let opened = md
        .groups
        .iter()
        .filter(|g| g.age.iter().any(|s| who.matches(s)))
        .count();
    let needed = effective_threshold(md.groups.len(), md.shamir_threshold).max(1);
    if opened >= needed {
        Openable::Yes
    } else {
        Openable::No
    }
}

/// The recipient stanzas of a whole-file age file (binary or armored), without the random
/// "grease" stanzas age writes (`…-grease`), which stand for no one.
fn age_stanzas(bytes: &[u8]) -> Vec<stanzas::StanzaInfo> {
    let all = if armor::is_armored(bytes) {
        armor::decode(bytes)
            .map(|b| stanzas::list(&b))
            .unwrap_or_default()
    } else {
        stanzas::list(bytes)
    };
    all.into_iter()
        .filter(|s| !s.kind.ends_with("-grease"))
        .collect()
}

/// Whether `who` can open a whole-file age file: an ssh stanza with its tag says yes; any
/// stanza that names nobody (X25519, plugins) makes it unverifiable.
pub fn can_open_age(bytes: &[u8], who: &Who) -> Openable {
    let list = age_stanzas(bytes);
    if who.tag.is_some() && list.iter().any(|s| s.ssh_tag == who.tag) {
        return Openable::Yes;
    }
    if list.iter().any(|s| s.ssh_tag.is_none()) {
        Openable::Unverifiable
    } else {
        Openable::No
    }
}

/// One recipient of a file as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The recipient as written in the file (`unknown` for an X25519 stanza of an age file).
    pub recipient: String,
    /// Its name from the rules file's `keys:` anchors.
    pub name: Option<String>,
}

/// Whether a file agrees with its rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Its groups are the rule's.
    Agrees,
    /// They differ (see the changes).
    Differs,
    /// No rule matches the file.
    NoRule,
    /// A whole-file age file: its recipients cannot be read.
    Unverifiable,
}

impl Status {
    /// The word used in output.
    pub fn word(self) -> &'static str {
        match self {
            Status::Agrees => "agrees",
            Status::Differs => "differs",
            Status::NoRule => "no-rule",
            Status::Unverifiable => "unverifiable",
        }
    }
}

/// The audit of one file.
#[derive(Debug, Clone)]
pub struct Report {
    /// The file as the user named it.
    pub file: String,
    /// Its type.
    pub kind: FileKind,
    /// Its recipients, group by group.
    pub groups: Vec<Vec<Holder>>,
    /// Groups needed to open (with several groups).
    pub threshold: Option<usize>,
    /// The matching rule, described.
    pub rule: Option<String>,
    /// Agreement with the rule.
    pub status: Status,
    /// What `updatekeys` would change (`+ name`, `- name`).
    pub changes: Vec<String>,
}

/// Audits a sops file.
pub fn report_sops(
    file: String,
    kind: FileKind,
    md: &Metadata,
    rule: Option<&CreationRule>,
    names: &Names,
) -> Report {
    let groups = md
        .groups
        .iter()
        .map(|g| {
            g.age
                .iter()
                .map(|s| Holder {
                    recipient: s.recipient.trim().to_string(),
                    name: names.name(&s.recipient).map(str::to_string),
                })
                .collect()
        })
        .collect();
    let (status, changes) = match rule {
        None => (Status::NoRule, Vec::new()),
        Some(r) => match Target::from_rule(r, md.shamir_threshold) {
            Err(e) => (Status::Differs, vec![format!("rule error: {}", e.message)]),
            Ok(t) => {
                let d = diff(md, &t);
                if d.is_empty() {
                    (Status::Agrees, Vec::new())
                } else {
                    (Status::Differs, d.lines(names))
                }
            }
        },
    };
    Report {
        file,
        kind,
        groups,
        threshold: (md.groups.len() > 1)
            .then(|| effective_threshold(md.groups.len(), md.shamir_threshold)),
        rule: rule.map(CreationRule::describe),
        status,
        changes,
    }
}

/// Audits a whole-file age file: ssh stanzas are matched to `known` recipients by tag; X25519
/// stanzas show as `unknown`.
pub fn report_age(
    file: String,
    bytes: &[u8],
    rule: Option<&CreationRule>,
    names: &Names,
    known: &[Recipient],
) -> Report {
    let holders = age_stanzas(bytes)
        .iter()
        .map(|s| match s.ssh_tag {
            None => Holder {
                recipient: if s.kind == "X25519" {
                    "unknown".into()
                } else {
                    format!("unknown ({})", s.kind)
                },
                name: None,
            },
            Some(tag) => match known.iter().find(|r| r.ssh_tag() == Some(tag)) {
                Some(r) => Holder {
                    recipient: r.as_str().to_string(),
                    name: names.name(r.as_str()).map(str::to_string),
                },
                None => Holder {
                    recipient: s.describe(),
                    name: None,
                },
            },
        })
        .collect();
    Report {
        file,
        kind: FileKind::Age {
            armored: armor::is_armored(bytes),
        },
        groups: vec![holders],
        threshold: None,
        rule: rule.map(CreationRule::describe),
        status: if rule.is_some() {
            Status::Unverifiable
        } else {
            Status::NoRule
        },
        changes: Vec::new(),
    }
}

/// Recipients worth matching ssh stanza tags against: the rule's and the named keys.
pub fn known_recipients(
    rule: Option<&CreationRule>,
    names_file: Option<&crate::rules::RulesFile>,
) -> Vec<Recipient> {
    let mut out: Vec<Recipient> = Vec::new();
    let from_rule = rule.into_iter().flat_map(|r| r.groups.iter().flatten());
    let from_names = names_file.into_iter().flat_map(|rf| rf.names.keys());
    for text in from_rule.chain(from_names) {
        if let Ok(r) = Recipient::parse(text) {
            if r.is_ssh() && !out.iter().any(|o| o.normalized() == r.normalized()) {
                out.push(r);
            }
        }
    }
    out
}

/// The text form of a report: a header line, then one line per group and per change.
pub fn render_text(r: &Report) -> String {
    let head = match (&r.rule, r.status) {
        (None, _) => "no rule matches".to_string(),
        (Some(rule), Status::Agrees) => format!("agrees with {rule}"),
        (Some(rule), Status::Differs) => format!("differs from {rule}"),
        (Some(rule), _) => format!("whole-file age, cannot be checked against {rule}"),
    };
    let mut out = format!("{} ({}): {head}\n", r.file, r.kind.name());
    let multi = r.groups.len() > 1;
    for (i, g) in r.groups.iter().enumerate() {
        let list: Vec<String> = g.iter().map(holder_label).collect();
        let list = if list.is_empty() {
            "(none)".to_string()
        } else {
            list.join(", ")
        };
        if multi {
            out.push_str(&format!("    group {}: {list}\n", i.saturating_add(1)));
        } else {
            out.push_str(&format!("    {list}\n"));
        }
    }
    if let Some(t) = r.threshold {
        out.push_str(&format!("    needs {t} of {} groups\n", r.groups.len()));
    }
    for c in &r.changes {
        out.push_str(&format!("    {c}\n"));
    }
    out
}

fn holder_label(h: &Holder) -> String {
    match &h.name {
        Some(n) => n.clone(),
        None => h.recipient.clone(),
    }
}

/// The JSON form of a report.
pub fn render_json(r: &Report) -> serde_json::Value {
    let groups: Vec<serde_json::Value> = r
        .groups
        .iter()
        .map(|g| {
            g.iter()
                .map(|h| serde_json::json!({"recipient": h.recipient, "name": h.name}))
                .collect()
        })
        .collect();
    serde_json::json!({
        "file": r.file,
        "type": r.kind.name(),
        "recipients": groups,
        "threshold": r.threshold,
        "rule": r.rule,
        "status": r.status.word(),
        "changes": r.changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::metadata::{KeyGroup, LeafRule};

    fn ids() -> (String, String) {
        let (s, p) = crate::keys::generate();
        (s.to_string(), p)
    }

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN";

    fn md(groups: Vec<Vec<&str>>, t: Option<usize>) -> Metadata {
        Metadata {
            groups: groups
                .into_iter()
                .map(|g| KeyGroup {
                    age: g
                        .into_iter()
                        .map(|r| AgeStanza {
                            recipient: r.into(),
                            enc: String::new(),
                        })
                        .collect(),
                    other: vec![],
                })
                .collect(),
            shamir_threshold: t,
            lastmodified: "2024-01-01T00:00:00Z".into(),
            mac: None,
            leaf_rule: LeafRule::default(),
            mac_only_encrypted: false,
            version: "3.11.0".into(),
            unknown: vec![],
        }
    }

    #[test]
    fn ssh_key_opens_through_its_derived_age_key() {
        let derived = ssh_to_age::recipient_from_ssh_public(ED).unwrap();
        let who = Who::parse(ED).unwrap();
        assert_eq!(
            can_open_sops(&md(vec![vec![&derived]], None), &who),
            Openable::Yes
        );
        assert_eq!(
            can_open_sops(&md(vec![vec![ED]], None), &who),
            Openable::Yes
        );
        let (_, other) = ids();
        assert_eq!(
            can_open_sops(&md(vec![vec![&other]], None), &who),
            Openable::No
        );
        // A file sealed to the native ssh key only does not name the derived key.
        let who_age = Who::parse(&derived).unwrap();
        assert_eq!(
            can_open_sops(&md(vec![vec![ED]], None), &who_age),
            Openable::No
        );
    }

    #[test]
    fn thresholds_count_groups() {
        let (_, a) = ids();
        let (_, b) = ids();
        let who = Who::parse(&a).unwrap();
        let two = md(vec![vec![&a], vec![&b]], Some(2));
        assert_eq!(can_open_sops(&two, &who), Openable::No);
        let two_of_three = md(vec![vec![&a], vec![&a, &b], vec![&b]], Some(2));
        assert_eq!(can_open_sops(&two_of_three, &who), Openable::Yes);
        let unset = md(vec![vec![&a], vec![&a, &b], vec![&b]], None);
        assert_eq!(can_open_sops(&unset, &who), Openable::No);
    }

    #[test]
    fn age_files_by_ssh_tag_or_unverifiable() {
        let ssh = Recipient::parse(ED).unwrap();
        let file = crate::age_file::encrypt(b"x", std::slice::from_ref(&ssh), true).unwrap();
        let who = Who::parse(ED).unwrap();
        assert_eq!(can_open_age(&file, &who), Openable::Yes);
        let (_, a) = ids();
        let who_a = Who::parse(&a).unwrap();
        assert_eq!(can_open_age(&file, &who_a), Openable::No);
        let x = crate::age_file::encrypt(b"x", &[Recipient::parse(&a).unwrap()], false).unwrap();
        assert_eq!(can_open_age(&x, &who), Openable::Unverifiable);
        let rep = report_age("f.age".into(), &file, None, &Names::default(), &[ssh]);
        assert_eq!(rep.groups[0][0].recipient, ED);
        let rep = report_age("x.age".into(), &x, None, &Names::default(), &[]);
        assert_eq!(rep.groups[0][0].recipient, "unknown");
        assert_eq!(rep.status, Status::NoRule);
    }

    #[test]
    fn report_names_and_agreement() {
        let (_, a) = ids();
        let (_, b) = ids();
        let rf = crate::rules::RulesFile::parse(
            &format!("keys:\n  - &admin {a}\ncreation_rules:\n  - age: '{a}, {b}'\n"),
            std::path::Path::new("/r/.sops.yaml"),
        )
        .unwrap();
        let names = Names::from_rules(Some(&rf));
        let m = md(vec![vec![&a]], None);
        let rep = report_sops(
            "x.json".into(),
            FileKind::Sops(crate::format::Format::Json),
            &m,
            rf.rules.first(),
            &names,
        );
        assert_eq!(rep.status, Status::Differs);
        assert_eq!(rep.changes, vec![format!("+ {b}")]);
        assert_eq!(rep.groups[0][0].name.as_deref(), Some("admin"));
        let text = render_text(&rep);
        assert!(text.starts_with("x.json (json): differs from creation rule 1"));
        assert!(text.contains("    admin\n"));
        let v = render_json(&rep);
        assert_eq!(v["status"], "differs");
        assert_eq!(v["recipients"][0][0]["name"], "admin");
        let m2 = md(vec![vec![&b, &a]], None);
        let rep = report_sops(
            "x.json".into(),
            FileKind::Sops(crate::format::Format::Json),
            &m2,
            rf.rules.first(),
            &names,
        );
        assert_eq!(rep.status, Status::Agrees);
    }
}
