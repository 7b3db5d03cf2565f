//! `.sops.yaml` creation rules (docs/rules.md): which recipients, key groups, threshold
//! and leaf rule apply to a path. Rules files are looked up from the *file's* directory upward
//! (sops starts at the working directory; see docs/rules.md#which-rules-file). Errors here are configuration errors
//! (exit 6) naming the rules file.

use crate::error::Error;
use crate::format::metadata::LeafRule;
use crate::format::tree::{Map, Node, Scalar};
use crate::format::EmitOptions;
use regex::Regex;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

/// The rules file name.
pub const FILE_NAME: &str = ".sops.yaml";
/// How far up the lookup walks (as sops).
const MAX_LEVELS: usize = 100;

/// A loaded rules file.
#[derive(Debug)]
pub struct RulesFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The directory paths are matched relative to.
    pub dir: PathBuf,
    /// The creation rules, in order (first match wins).
    pub rules: Vec<CreationRule>,
    /// Recipient names from anchors in the top-level `keys:` list (`- &builder age1…`).
    pub names: HashMap<String, String>,
    /// Output indentation from `stores:`.
    pub emit: EmitOptions,
}

/// One creation rule.
#[derive(Debug)]
pub struct CreationRule {
    /// Position in the file (0-based), for messages.
    pub index: usize,
    /// The `path_regex` as written; `None` matches every path.
    pub path_regex: Option<String>,
    compiled: Option<Regex>,
    /// Key groups of recipient strings (one group for the `age` shorthand).
    pub groups: Vec<Vec<String>>,
    /// `shamir_threshold`, if set.
    pub threshold: Option<usize>,
    /// The leaf rule, if the rule sets one.
    pub leaf_rule: Option<LeafRule>,
    /// `mac_only_encrypted`.
    pub mac_only_encrypted: bool,
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    creation_rules: Vec<RawRule>,
    #[serde(default)]
    stores: Option<RawStores>,
}

#[derive(Deserialize)]
struct RawStores {
    yaml: Option<RawIndent>,
    json: Option<RawIndent>,
}

#[derive(Deserialize)]
struct RawIndent {
    indent: Option<usize>,
}

#[derive(Deserialize)]
struct RawRule {
    path_regex: Option<String>,
    age: Option<StringOrList>,
    #[serde(default)]
    key_groups: Vec<RawGroup>,
    shamir_threshold: Option<usize>,
    encrypted_regex: Option<String>,
    unencrypted_regex: Option<String>,
    encrypted_suffix: Option<String>,
    unencrypted_suffix: Option<String>,
    encrypted_comment_regex: Option<String>,
    unencrypted_comment_regex: Option<String>,
    #[serde(default)]
    mac_only_encrypted: bool,
    pgp: Option<serde_json::Value>,
    kms: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawGroup {
    #[serde(default)]
    age: Vec<String>,
    #[serde(default)]
    merge: Vec<RawGroup>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl RulesFile {
    /// Finds the nearest rules file: `config` if given, else `$SOPS_CONFIG` (passed in by the
    /// caller), else walking up from `file`'s directory.
    pub fn locate(file: &Path, config: Option<&Path>) -> Result<Option<RulesFile>, Error> {
        if let Some(c) = config {
            return Self::load(c).map(Some);
        }
        match Self::find(file) {
            Some(candidate) => Self::load(&candidate).map(Some),
            None => Ok(None),
        }
    }

    /// The path of the nearest rules file walking up from `file`'s directory, without reading
    /// it (so that commands over many directories load each rules file once).
    pub fn find(file: &Path) -> Option<PathBuf> {
        let abs = absolute(file);
        let mut dir = abs.parent();
        for _ in 0..MAX_LEVELS {
            let d = dir?;
            let candidate = d.join(FILE_NAME);
            if candidate.is_file() {
                return Some(candidate);
            }
            dir = d.parent();
        }
        None
    }

    /// Loads and checks a rules file.
    pub fn load(path: &Path) -> Result<RulesFile, Error> {
        let name = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io(path, &e).with_kind_config())?;
        Self::parse(&text, path).map_err(|e| e.with_file(name))
    }

    /// Parses rules text; `path` locates the directory rules are relative to.
    pub fn parse(text: &str, path: &Path) -> Result<RulesFile, Error> {
        if text.len() > crate::limits::MAX_INPUT {
            return Err(Error::config("rules file is larger than 16 MiB"));
        }
        // One YAML parser for everything (granit-parser, through the YAML store, so rules and
        // sealed files can never be read differently). The anchor pass runs first and bounds
        // the nesting depth in one linear scan (the `rules` fuzz target once found a YAML
        // scanner quadratic in the nesting depth: 5,000 `[` took 0.3 s, 16 MiB of them hours).
        let names = anchor_names(text)?;
        let tree = crate::format::yaml::parse(text.as_bytes())
            .map_err(|e| Error::config(format!("not a valid rules file: {e}")))?;
        let first = tree
            .docs
            .first()
            .ok_or_else(|| Error::config("empty rules file"))?;
        let value = map_to_json(first, 0)?;
        let raw: RawFile = serde_json::from_value(value)
            .map_err(|e| Error::config(format!("not a valid rules file: {e}")))?;
        let mut rules = Vec::new();
        for (index, r) in raw.creation_rules.into_iter().enumerate() {
            rules.push(CreationRule::from_raw(index, r)?);
        }
        let mut emit = EmitOptions::default();
        if let Some(stores) = raw.stores {
            if let Some(i) = stores.yaml.and_then(|y| y.indent) {
                emit.yaml_indent = i.clamp(1, 16);
            }
            if let Some(i) = stores.json.and_then(|j| j.indent) {
                emit.json_indent = Some(i.min(16));
            }
        }
        let abs = absolute(path);
        Ok(RulesFile {
            dir: abs
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("/")),
            path: path.to_path_buf(),
            rules,
            names,
            emit,
        })
    }

    /// The path a file is matched as: relative to the rules file's directory, `/`-separated;
    /// the absolute path for files outside it.
    pub fn match_path(&self, file: &Path) -> String {
        let abs = absolute(file);
        let rel = abs.strip_prefix(&self.dir).unwrap_or(&abs);
        rel.components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                Component::RootDir => Some(String::new()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The first rule matching `file`.
    pub fn rule_for(&self, file: &Path) -> Option<&CreationRule> {
        let p = self.match_path(file);
        self.rules.iter().find(|r| r.matches(&p))
    }

    /// The name of a recipient from the `keys:` anchors, if any.
    pub fn name_of(&self, recipient: &str) -> Option<&str> {
        self.names.get(recipient.trim()).map(String::as_str)
    }
}

impl CreationRule {
    fn from_raw(index: usize, r: RawRule) -> Result<CreationRule, Error> {
        let at = |msg: String| Error::config(format!("creation rule {}: {msg}", index + 1));
        let compiled = match &r.path_regex {
            Some(re) => Some(Regex::new(re).map_err(|_| at("path_regex does not compile".into()))?),
            None => None,
        };
        let groups = if !r.key_groups.is_empty() {
            r.key_groups.iter().map(flatten_group).collect::<Vec<_>>()
        } else {
            match &r.age {
                Some(StringOrList::One(s)) => vec![split_list(s)],
                Some(StringOrList::Many(v)) => vec![v.iter().flat_map(|s| split_list(s)).collect()],
                None => Vec::new(),
            }
        };
        let groups: Vec<Vec<String>> = groups.into_iter().filter(|g| !g.is_empty()).collect();
        if groups.is_empty() && (r.pgp.is_some() || r.kms.is_some()) {
            return Err(at(
                "only PGP/KMS keys: not supported in hostseal v1 (use age)".into(),
            ));
        }
        let candidates = [
            ("unencrypted_suffix", r.unencrypted_suffix),
            ("encrypted_suffix", r.encrypted_suffix),
            ("unencrypted_regex", r.unencrypted_regex),
            ("encrypted_regex", r.encrypted_regex),
            ("unencrypted_comment_regex", r.unencrypted_comment_regex),
            ("encrypted_comment_regex", r.encrypted_comment_regex),
        ];
        let mut set = candidates
            .into_iter()
            .filter_map(|(f, v)| v.map(|v| (f, v)));
        let leaf_rule = set.next().and_then(|(f, v)| LeafRule::from_field(f, v));
        if set.next().is_some() {
            return Err(at("sets more than one of the suffix/regex options".into()));
        }
        if let Some(rule) = &leaf_rule {
            crate::sops::leaf_rule::LeafSelector::new(rule)
                .map_err(|_| at("a regular expression does not compile".into()))?;
        }
        Ok(CreationRule {
            index,
            path_regex: r.path_regex,
            compiled,
            groups,
            threshold: r.shamir_threshold.filter(|t| *t > 0),
            leaf_rule,
            mac_only_encrypted: r.mac_only_encrypted,
        })
    }

    /// Whether this rule applies to a match path.
    pub fn matches(&self, path: &str) -> bool {
        self.compiled.as_ref().is_none_or(|re| re.is_match(path))
    }

    /// The rule's key groups as parsed recipients (exit 6 when it names none or one does not
    /// parse).
    pub fn recipients(&self) -> Result<Vec<Vec<crate::keys::recipient::Recipient>>, Error> {
        use crate::keys::recipient::Recipient;
        let groups = self
            .groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|r| Recipient::parse(r).map_err(|e| e.with_kind_config()))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        if groups.is_empty() {
            return Err(Error::config(format!(
                "{} names no age recipient",
                self.describe()
            )));
        }
        Ok(groups)
    }

    /// How the rule is named in messages: its `path_regex`, or its position.
    pub fn describe(&self) -> String {
        match &self.path_regex {
            Some(re) => format!("path_regex {re}"),
            None => format!("creation rule {} (matches every path)", self.index + 1),
        }
    }
}

fn flatten_group(g: &RawGroup) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for entry in &g.age {
        for r in split_list(entry) {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    for m in &g.merge {
        for r in flatten_group(m) {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// The rules document as a JSON value for the typed `Raw*` structs (comments dropped). YAML
/// merge keys (`<<`) are refused: sops does not apply them in rules files either.
fn map_to_json(map: &Map, depth: usize) -> Result<serde_json::Value, Error> {
    if depth > crate::limits::MAX_DEPTH {
        return Err(Error::config("nesting deeper than 128 levels"));
    }
    let mut out = serde_json::Map::new();
    for (k, v) in map.entries() {
        if k == "<<" {
            return Err(Error::config(
                "YAML merge keys (<<) are not supported in rules files",
            ));
        }
        out.insert(k.to_string(), to_json(v, depth + 1)?);
    }
    Ok(serde_json::Value::Object(out))
}

fn to_json(node: &Node, depth: usize) -> Result<serde_json::Value, Error> {
    use serde_json::Value;
    Ok(match node {
        Node::Map(m) => map_to_json(m, depth)?,
        Node::Seq(items) => Value::Array(
            items
                .iter()
                .filter(|n| !matches!(n, Node::Comment(_)))
                .map(|n| to_json(n, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Node::Comment(_) | Node::Scalar(Scalar::Null) => Value::Null,
        Node::Scalar(Scalar::Str(s) | Scalar::Time(s)) => Value::String(s.clone()),
        Node::Scalar(Scalar::Bytes(b)) => Value::String(String::from_utf8_lossy(b).into_owned()),
        Node::Scalar(Scalar::Int(i)) => Value::from(*i),
        Node::Scalar(Scalar::Float(f)) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Node::Scalar(Scalar::Bool(b)) => Value::Bool(*b),
    })
}

/// Recipient names: anchors on the scalar items of the top-level `keys:` list, read with the
/// event parser (serde resolves anchors away). Refuses nesting deeper than
/// [`crate::limits::MAX_DEPTH`]; a syntax error ends the pass quietly (the YAML store reports
/// it with its location).
fn anchor_names(text: &str) -> Result<HashMap<String, String>, Error> {
    use granit_parser::{Event, Options, Parser};
    enum Frame {
        Map { expect_key: bool, last_key: String },
        Seq { is_keys_list: bool },
    }
    let mut opts = Options::default();
    opts.emit_anchor_events = true;
    let mut names = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut pending: Option<String> = None;
    for ev in Parser::new_from_str_with_options(text, opts) {
        let (ev, _) = match ev {
            Ok(ev) => ev,
            // granit's own flow-nesting limit.
            Err(e) if matches!(e.kind(), granit_parser::ErrorKind::RecursionLimitExceeded) => {
                return Err(Error::config("nesting deeper than 128 levels"));
            }
            Err(_) => break,
        };
        let start = matches!(ev, Event::MappingStart(..) | Event::SequenceStart(..));
        let depth = stack.len();
        // A collection or scalar in value position consumes its parent's pending key.
        let is_keys_value = match stack.last_mut() {
            Some(Frame::Map {
                expect_key,
                last_key,
            }) if start || matches!(ev, Event::Scalar(..)) => {
                let value_pos = !*expect_key;
                if matches!(ev, Event::Scalar(..)) || value_pos {
                    *expect_key = value_pos;
                }
                value_pos && depth == 1 && last_key == "keys"
            }
            _ => false,
        };
        if start && depth >= crate::limits::MAX_DEPTH {
            return Err(Error::config("nesting deeper than 128 levels"));
        }
        match ev {
            Event::MappingStart(..) => stack.push(Frame::Map {
                expect_key: true,
                last_key: String::new(),
            }),
            Event::SequenceStart(..) => stack.push(Frame::Seq {
                is_keys_list: is_keys_value,
            }),
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::Scalar(value, ..) => match stack.last_mut() {
                Some(Frame::Map {
                    expect_key: false,
                    last_key,
                }) => *last_key = value.to_string(),
                Some(Frame::Seq { is_keys_list: true }) if depth == 2 => {
                    pending = Some(value.trim().to_string());
                    continue;
                }
                _ => {}
            },
            Event::Anchor(_, name) => {
                if let Some(v) = pending.take() {
                    names.insert(v, name.to_string());
                }
                continue;
            }
            _ => {}
        }
        pending = None;
    }
    Ok(names)
}

/// The nearest rules file of many files, found once per directory and loaded once however
/// many directories share it (a broken one too: its error is given again for every file it
/// governs). Used by the commands that walk thousands of files (`check`, `updatekeys`,
/// `audit`). Keyed by the directory as spelled (no `getcwd` per file): another spelling of the
/// same directory only costs one more lookup, which finds the same rules file.
#[derive(Default)]
pub struct NearestRules {
    by_dir: HashMap<PathBuf, Option<PathBuf>>,
    by_file: HashMap<PathBuf, Result<std::sync::Arc<RulesFile>, Error>>,
}

impl NearestRules {
    /// The rules file governing `file` ([`RulesFile::find`]), loaded; `None` when there is none.
    pub fn for_file(&mut self, file: &Path) -> Result<Option<std::sync::Arc<RulesFile>>, Error> {
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let found = self
            .by_dir
            .entry(dir)
            .or_insert_with(|| RulesFile::find(file));
        let Some(path) = found.clone() else {
            return Ok(None);
        };
        self.by_file
            .entry(path)
            .or_insert_with_key(|p| RulesFile::load(p).map(std::sync::Arc::new))
            .clone()
            .map(Some)
    }

    /// How many rules files were read (for tests of "loaded once").
    #[cfg(test)]
    pub(crate) fn loaded_count(&self) -> usize {
        self.by_file.len()
    }
}

/// The absolute form of a path, without touching the file system beyond the working directory.
pub fn absolute(p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Error {
    /// Re-labels an error as a configuration error (exit 6).
    pub fn with_kind_config(mut self) -> Self {
        self.kind = crate::error::Kind::Config;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
keys:
  - &admin age1admin000
  - &builder age1builder000
creation_rules:
  - path_regex: ^secrets/builder/
    key_groups:
      - age:
          - *admin
          - *builder
          - age1extra, age1builder000
          - *admin
  - path_regex: \.env$
    age: age1a, age1b ,age1a
    encrypted_regex: ^(data)$
  - age:
      - age1c
stores:
  yaml:
    indent: 2
"#;

    fn load() -> RulesFile {
        RulesFile::parse(EXAMPLE, Path::new("/repo/.sops.yaml")).unwrap()
    }

    #[test]
    fn first_matching_rule_wins() {
        let rf = load();
        let r = rf
            .rule_for(Path::new("/repo/secrets/builder/tunnel.json"))
            .unwrap();
        assert_eq!(
            r.groups,
            vec![vec!["age1admin000", "age1builder000", "age1extra"]]
        );
        let r = rf.rule_for(Path::new("/repo/app/x.env")).unwrap();
        assert_eq!(r.groups, vec![vec!["age1a", "age1b", "age1a"]]);
        assert_eq!(
            r.leaf_rule,
            Some(LeafRule::EncryptedRegex("^(data)$".into()))
        );
        let r = rf.rule_for(Path::new("/elsewhere/y.yaml")).unwrap();
        assert_eq!(r.index, 2);
        assert_eq!(rf.emit.yaml_indent, 2);
    }

    #[test]
    fn anchors_name_recipients() {
        let rf = load();
        assert_eq!(rf.name_of("age1builder000"), Some("builder"));
        assert_eq!(rf.name_of("age1admin000"), Some("admin"));
        assert_eq!(rf.name_of("age1extra"), None);
    }

    #[test]
    fn config_errors() {
        let bad = |t: &str| RulesFile::parse(t, Path::new("/r/.sops.yaml")).unwrap_err();
        assert_eq!(bad("creation_rules:\n  - path_regex: '('\n").exit_code(), 6);
        assert_eq!(bad("a: &x {b: 1}\nc:\n  <<: *x\n").exit_code(), 6);
        assert_eq!(bad("creation_rules: [\n").exit_code(), 6);
        assert_eq!(
            bad("creation_rules:\n  - encrypted_regex: a\n    unencrypted_suffix: b\n    age: x\n")
                .exit_code(),
            6
        );
    }

    #[test]
    fn match_path_is_relative_and_slash_separated() {
        let rf = load();
        assert_eq!(rf.match_path(Path::new("/repo/a/../b/c.yaml")), "b/c.yaml");
        assert_eq!(rf.match_path(Path::new("/other/c.yaml")), "/other/c.yaml");
    }
}

#[cfg(test)]
mod depth_limit {
    use super::*;

    /// Fuzz finding (`rules`): a YAML flow scanner quadratic in the nesting depth, so deep
    /// nesting is refused by the linear event pass before the document is built. Flow and
    /// block nesting both count; 128 levels still parse.
    #[test]
    fn deep_nesting_is_refused_first() {
        for text in [
            format!("creation_rules: {}", "[".repeat(20_000)),
            (0..200)
                .map(|i| format!("{}a:\n", "  ".repeat(i)))
                .collect(),
            (0..200)
                .map(|i| format!("{}- \n", "  ".repeat(i)))
                .collect(),
        ] {
            let err = RulesFile::parse(&text, Path::new("/r/.sops.yaml")).unwrap_err();
            assert!(err.to_string().contains("nesting deeper than 128"), "{err}");
        }
        let ok = format!(
            "x: {}1{}\ncreation_rules: []\n",
            "[".repeat(100),
            "]".repeat(100)
        );
        RulesFile::parse(&ok, Path::new("/r/.sops.yaml")).unwrap();
    }
}

#[cfg(test)]
mod keys_example {
    use super::*;
    use crate::keys::recipient::Recipient;

    /// The shipped `keys.example` is a valid rules file whose recipients parse and are named.
    #[test]
    fn keys_example_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("keys.example");
        let rf = RulesFile::load(&path).unwrap();
        let rule = rf
            .rule_for(&rf.dir.join("secrets/builder/tunnel.json"))
            .unwrap();
        assert_eq!(rule.groups.len(), 1);
        assert_eq!(rule.groups[0].len(), 2);
        for r in &rule.groups[0] {
            Recipient::parse(r).unwrap();
            assert!(rf.name_of(r).is_some());
        }
        let other = rf
            .rule_for(&rf.dir.join("secrets/admin-only.yaml"))
            .unwrap();
        assert_eq!(rf.name_of(&other.groups[0][0]), Some("admin"));
    }
}
