//! The INI store (docs/format.md#ini): sections become top-level mapping entries whose values are
//! mappings of strings. sops reads and writes INI with Go `gopkg.in/ini.v1` (non-unique
//! sections allowed, pretty format); this module reproduces that library's rules for what it
//! reads (quotes, inline comments, continuation lines, `"""`/`` ` `` multi-line values) and how it
//! writes (aligned `key = value`, quoting, comments above keys, blank line between sections).
//!
//! A sealed file's metadata is an `[sops]` section of flattened keys; [`parse`] turns it into
//! a nested `sops` entry (appended last) and [`emit`] writes it back sorted by key (sops's own
//! order is random).

use super::flatten::{flatten, go_val_to_string, unflatten};
use super::tree::{Map, MapItem, Node, Scalar, Tree};
use super::FormatError;
use std::collections::HashMap;

/// The section of keys written before any header.
const DEFAULT_SECTION: &str = "DEFAULT";
/// Characters that end a key name.
const DELIMITERS: [char; 2] = ['=', ':'];

/// One key of a section as ini.v1 holds it.
struct Key {
    name: String,
    value: String,
    /// Raw comment text (with its `;`/`#` markers), possibly several lines.
    comment: String,
}

/// One section as ini.v1 holds it.
struct Section {
    name: String,
    comment: String,
    keys: Vec<Key>,
    /// Position of each key name in `keys` (repeated keys are looked up, never scanned for).
    index: HashMap<String, usize>,
}

impl Section {
    fn new(name: String, comment: String) -> Section {
        Section {
            name,
            comment,
            keys: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// ini.v1's `NewKey`: a repeated key overwrites the value and keeps its first position.
    /// Returns the key, for its comment.
    fn set(&mut self, name: String, value: String) -> Option<&mut Key> {
        let pos = match self.index.get(&name) {
            Some(&pos) => pos,
            None => {
                self.index.insert(name.clone(), self.keys.len());
                self.keys.push(Key {
                    name,
                    value: String::new(),
                    comment: String::new(),
                });
                self.keys.len() - 1
            }
        };
        let key = self.keys.get_mut(pos)?;
        key.value = value;
        Some(key)
    }
}

/// Parses INI input (plain or sealed) into a tree of one document: `DEFAULT` first (always
/// present, possibly empty, as in sops), then every section in file order; each comment
/// follows the key it belongs to (a section's own comment comes first). An `[sops]` section is
/// unflattened into the `sops` entry, appended last.
pub fn parse(input: &[u8]) -> Result<Tree, FormatError> {
    super::flatten::check_input_size(input)?;
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let text = std::str::from_utf8(input).map_err(|e| {
        let before = input.get(..e.valid_up_to()).unwrap_or_default();
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        syntax(line, "invalid UTF-8")
    })?;
    let sections = Reader::new(text).read()?;
    let mut doc = Map::default();
    let mut metadata = None;
    for section in sections {
        if section.name == "sops" {
            if metadata.is_none() {
                metadata = Some(metadata_pairs(&section));
            }
            continue;
        }
        doc.push(section.name.clone(), Node::Map(section_map(section)));
    }
    if let Some(pairs) = metadata {
        doc.push("sops", unflatten(pairs)?);
    }
    Ok(Tree { docs: vec![doc] })
}

fn syntax(line: usize, message: &str) -> FormatError {
    FormatError::Syntax {
        kind: "INI",
        line,
        column: 1,
        message: message.into(),
    }
}

fn section_map(section: Section) -> Map {
    let mut map = Map::default();
    if !section.comment.is_empty() {
        map.0
            .push(MapItem::Comment(strip_comment_char(&section.comment)));
    }
    for key in section.keys {
        map.push(key.name, Node::str(key.value));
        if !key.comment.is_empty() {
            map.0
                .push(MapItem::Comment(strip_comment_char(&key.comment)));
        }
    }
    map
}

/// The `[sops]` keys with `\n` turned back into newlines (sops's `DecodeNewLines`), sorted
/// so that the rebuilt metadata does not depend on sops's random key order.
fn metadata_pairs(section: &Section) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = section
        .keys
        .iter()
        .map(|k| (k.name.clone(), k.value.replace("\\n", "\n")))
        .collect();
    pairs.sort();
    pairs
}

/// sops's `stripCommentChar`: drops the leading run of `;`/`#` markers and spaces.
fn strip_comment_char(comment: &str) -> String {
    if comment.starts_with(';') {
        comment.trim_start_matches([';', ' ']).to_string()
    } else if comment.starts_with('#') {
        comment.trim_start_matches(['#', ' ']).to_string()
    } else {
        comment.to_string()
    }
}

/// A line reader with ini.v1's parser state.
struct Reader<'a> {
    text: &'a str,
    pos: usize,
    eof: bool,
    /// Line number of the last line read (1-based), for errors.
    line_no: usize,
    /// Comment text collected for the next key or section.
    comment: String,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Reader<'a> {
        Reader {
            text,
            pos: 0,
            eof: false,
            line_no: 0,
            comment: String::new(),
        }
    }

    /// The next line including its `\n` (Go `ReadBytes('\n')`); sets `eof` at the end.
    fn next_line(&mut self) -> &'a str {
        let rest = self.text.get(self.pos..).unwrap_or_default();
        self.line_no += 1;
        match rest.find('\n') {
            Some(i) => {
                self.pos += i + 1;
                rest.get(..=i).unwrap_or_default()
            }
            None => {
                self.pos = self.text.len();
                self.eof = true;
                rest
            }
        }
    }

    fn error(&self, message: &str) -> FormatError {
        syntax(self.line_no, message)
    }

    fn read(mut self) -> Result<Vec<Section>, FormatError> {
        let mut sections = vec![Section::new(DEFAULT_SECTION.into(), String::new())];
        let mut counter = 1usize;
        while !self.eof {
            let line = self.next_line().trim_start();
            if line.is_empty() {
                continue;
            }
            if line.starts_with(['#', ';']) {
                self.comment.push_str(line);
                continue;
            }
            if line.starts_with('[') {
                sections.push(self.section_header(line)?);
                counter = 1;
                continue;
            }
            let (mut name, offset) = self.key_name(line)?;
            if name == "-" {
                name = format!("#{counter}");
                counter += 1;
            }
            if name.is_empty() {
                return Err(self.error("empty key name"));
            }
            let value = self.value(line.get(offset..).unwrap_or_default())?;
            let comment = self.comment.trim().to_string();
            self.comment.clear();
            let section = sections
                .last_mut()
                .ok_or_else(|| self.error("no section"))?;
            if let Some(key) = section.set(name, value) {
                key.comment = comment;
            }
        }
        Ok(sections)
    }

    fn section_header(&mut self, line: &str) -> Result<Section, FormatError> {
        let close = line
            .rfind(']')
            .ok_or_else(|| self.error("unclosed section header"))?;
        let name = line.get(1..close).unwrap_or_default();
        if name.is_empty() {
            return Err(self.error("empty section name"));
        }
        let after = line.get(close + 1..).unwrap_or_default();
        if let Some(i) = after.find(['#', ';']) {
            self.comment.push_str(after.get(i..).unwrap_or_default());
        }
        let comment = self.comment.trim().to_string();
        self.comment.clear();
        Ok(Section::new(name.to_string(), comment))
    }

    /// ini.v1's `readKeyName`: the key (trimmed, quotes removed) and the offset after the
    /// delimiter.
    fn key_name(&self, line: &str) -> Result<(String, usize), FormatError> {
        let quote = if line.len() > 6 && line.starts_with("\"\"\"") {
            "\"\"\""
        } else if line.starts_with('"') {
            "\""
        } else if line.starts_with('`') {
            "`"
        } else {
            ""
        };
        if quote.is_empty() {
            let end = line
                .find(DELIMITERS)
                .ok_or_else(|| self.error("line has no `=` or `:`"))?;
            if end == 0 {
                return Err(self.error("empty key name"));
            }
            let name = line.get(..end).unwrap_or_default().trim();
            return Ok((name.to_string(), end + 1));
        }
        let q = quote.len();
        let close = line
            .get(q..)
            .and_then(|rest| rest.find(quote))
            .ok_or_else(|| self.error("missing closing key quote"))?
            + q;
        let delim = line
            .get(close + q..)
            .and_then(|rest| rest.find(DELIMITERS))
            .ok_or_else(|| self.error("line has no `=` or `:`"))?;
        let name = line.get(q..close).unwrap_or_default().trim();
        Ok((name.to_string(), close + q + delim + 1))
    }

    /// ini.v1's `readValue`.
    fn value(&mut self, raw: &str) -> Result<String, FormatError> {
        let line = raw.trim_start();
        if line.is_empty() {
            return Ok(String::new());
        }
        let quote = if line.len() > 3 && line.starts_with("\"\"\"") {
            "\"\"\""
        } else if line.starts_with('`') {
            "`"
        } else {
            ""
        };
        if !quote.is_empty() {
            let inner = line.get(quote.len()..).unwrap_or_default();
            return match inner.rfind(quote) {
                Some(end) => Ok(inner.get(..end).unwrap_or_default().to_string()),
                None => self.multi_line(inner.to_string(), quote),
            };
        }
        let mut line = line.trim();
        if let Some(head) = line.strip_suffix('\\') {
            return Ok(self.continuation(head.to_string()));
        }
        if let Some(i) = line.find(['#', ';']) {
            self.comment.push_str(line.get(i..).unwrap_or_default());
            line = line.get(..i).unwrap_or_default().trim();
        }
        if surrounded_by(line, '\'') || surrounded_by(line, '"') {
            line = line.get(1..line.len() - 1).unwrap_or_default();
        }
        Ok(line.to_string())
    }

    /// A `"""`/`` ` `` value running over several lines, up to the last quote of a line.
    fn multi_line(&mut self, mut value: String, quote: &str) -> Result<String, FormatError> {
        loop {
            let next = self.next_line();
            if let Some(end) = next.rfind(quote) {
                value.push_str(next.get(..end).unwrap_or_default());
                let after = next.get(end..).unwrap_or_default();
                if let Some(i) = after.find(['#', ';']) {
                    self.comment
                        .push_str(after.get(i..).unwrap_or_default().trim());
                }
                return Ok(value);
            }
            value.push_str(next);
            if self.eof {
                return Err(self.error("missing closing value quote"));
            }
        }
    }

    /// Lines ending in `\` continue on the next line (trimmed), up to a blank line.
    fn continuation(&mut self, mut value: String) -> String {
        loop {
            let next = self.next_line().trim();
            if next.is_empty() {
                return value;
            }
            value.push_str(next);
            match value.strip_suffix('\\') {
                Some(head) => value = head.to_string(),
                None => return value,
            }
        }
    }
}

/// ini.v1's `hasSurroundedQuote`: quote first and last, and nowhere else.
fn surrounded_by(s: &str, quote: char) -> bool {
    s.len() >= 2
        && s.starts_with(quote)
        && s.ends_with(quote)
        && s.get(1..).and_then(|rest| rest.find(quote)) == Some(s.len() - 2)
}

/// Emits the first document of a tree as INI like sops (ini.v1 pretty format). Every top-level
/// entry must be a mapping of scalars; a `sops` mapping is written last as an `[sops]` section
/// of flattened keys, sorted, with newlines written as `\n`.
pub fn emit(tree: &Tree) -> Result<Vec<u8>, FormatError> {
    let Some(doc) = tree.docs.first() else {
        return Ok(Vec::new());
    };
    let mut sections = Vec::new();
    let mut metadata = None;
    for (name, value) in doc.entries() {
        match value {
            Node::Map(_) if name == "sops" => metadata = Some(value),
            Node::Map(map) => sections.push(build_section(name, map)?),
            _ => {
                return Err(FormatError::Invalid(format!(
                    "INI section `{name}` is not a mapping"
                )))
            }
        }
    }
    if let Some(meta) = metadata {
        let mut section = Section::new("sops".into(), String::new());
        for (key, value) in flatten(meta)? {
            let value = value.replace('\n', "\\n");
            // Same rule as data keys (a value ending in `\` would read as a continuation line).
            if !reads_back(&key, &value) {
                return Err(unrepresentable(&key, "sops"));
            }
            section.set(key, value);
        }
        sections.push(section);
    }
    Ok(write_sections(&sections).into_bytes())
}

fn build_section(name: &str, map: &Map) -> Result<Section, FormatError> {
    if name.is_empty() || name.contains('\n') {
        return Err(FormatError::Invalid(format!(
            "cannot write INI section name `{}`",
            name.escape_debug()
        )));
    }
    let mut items = map.0.iter().peekable();
    let mut comment = String::new();
    if let Some(MapItem::Comment(text)) = items.peek() {
        comment = text.clone();
        items.next();
    }
    let mut section = Section::new(name.into(), comment);
    let mut last: Option<usize> = None;
    for item in items {
        match item {
            MapItem::Comment(text) => {
                if let Some(key) = last.and_then(|pos| section.keys.get_mut(pos)) {
                    key.comment = text.clone();
                }
            }
            MapItem::Entry(key, value) => {
                let text = ini_value(name, key, value)?;
                section.set(key.clone(), text);
                last = section.index.get(key.as_str()).copied();
            }
        }
    }
    Ok(section)
}

fn ini_value(section: &str, key: &str, value: &Node) -> Result<String, FormatError> {
    let text = match value {
        Node::Scalar(Scalar::Str(s)) => s.clone(),
        Node::Scalar(s) => go_val_to_string(s),
        _ => {
            return Err(FormatError::Invalid(format!(
                "cannot use complex value in INI file (key `{section}.{key}`)"
            )))
        }
    };
    // ini.v1's quoting (which sops uses) is not total: a key starting with `#` (it names
    // `- = v` keys `#1`) reads back as a comment, a key holding both `` ` `` and `"` reads back
    // cut short, … Rather than write a file whose values change when read, every key line is
    // read back here with the same reader and refused unless it gives the same key and value.
    if !reads_back(key, &text) {
        return Err(unrepresentable(key, section));
    }
    Ok(text)
}

fn unrepresentable(key: &str, section: &str) -> FormatError {
    FormatError::Invalid(format!(
        "cannot write INI key `{}` in section `{section}`: INI quoting cannot represent this \
         key with its value (it would read back differently)",
        key.escape_debug()
    ))
}

/// Whether the line written for `key = value` reads back as exactly that key and value.
fn reads_back(key: &str, value: &str) -> bool {
    let line = format!("{} = {}\n", quote_key(key), quote_value(value));
    let Ok(sections) = Reader::new(&line).read() else {
        return false;
    };
    match sections.as_slice() {
        [only] => matches!(only.keys.as_slice(), [k] if k.name == key && k.value == value),
        _ => false,
    }
}

fn write_sections(sections: &[Section]) -> String {
    let mut out = String::new();
    let last = sections.len().saturating_sub(1);
    for (i, section) in sections.iter().enumerate() {
        if !section.comment.is_empty() {
            for line in section.comment.split('\n') {
                out.push_str(&comment_line(line, false));
            }
        }
        if i > 0 || section.name.to_uppercase() != DEFAULT_SECTION {
            out.push('[');
            out.push_str(&section.name);
            out.push_str("]\n");
        } else if section.keys.is_empty() {
            continue;
        }
        write_keys(&mut out, &section.keys);
        if i != last {
            out.push('\n');
        }
    }
    out
}

fn write_keys(out: &mut String, keys: &[Key]) {
    let names: Vec<String> = keys.iter().map(|k| quote_key(&k.name)).collect();
    let width = names.iter().map(String::len).max().unwrap_or(0);
    for (key, name) in keys.iter().zip(&names) {
        if !key.comment.is_empty() {
            for line in key.comment.split('\n') {
                out.push_str(&comment_line(line, true));
            }
        }
        out.push_str(name);
        out.push_str(&" ".repeat(width.saturating_sub(name.len())));
        out.push_str(" = ");
        out.push_str(&quote_value(&key.value));
        out.push('\n');
    }
}

/// One comment line as ini.v1 writes it: `; text`, or the line's own marker and one space.
fn comment_line(line: &str, trim: bool) -> String {
    match line.chars().next() {
        Some(c @ ('#' | ';')) => format!("{c} {}\n", line.get(1..).unwrap_or_default().trim()),
        _ if trim => format!("; {}\n", line.trim()),
        _ => format!("; {line}\n"),
    }
}

fn quote_key(name: &str) -> String {
    if name.contains('"') || name.contains(DELIMITERS) {
        format!("`{name}`")
    } else if name.contains('`') {
        format!("\"\"\"{name}\"\"\"")
    } else {
        name.to_string()
    }
}

fn quote_value(value: &str) -> String {
    if value.contains(['\n', '`']) {
        format!("\"\"\"{value}\"\"\"")
    } else if value.contains(['#', ';']) {
        format!("`{value}`")
    } else if value.trim().len() != value.len() {
        format!("\"{value}\"")
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn section<'a>(t: &'a Tree, name: &str) -> &'a Map {
        t.docs[0].get(name).unwrap().as_map().unwrap()
    }

    const SAMPLE: &str = "; top comment\n# second\ng = 1\n[s1]   ; inline sec\na = \"quoted value\"\nb = 'single'  \nc = x # inline\n; before d\nd=plain\nurl: http://x\nd = dup\n`bk;x` = 1\ne = `a;b` ; trailing\nf = \"\"\"multi\nline\"\"\" ; c2\nh = cont \\\n  inued\n[s1]\nx=1\n[ sp ]\ny=\n; dangling\nk = \"a\r\nz = 2\r\n; c1\r\n;c2\r\nm = 3\r\n";

    #[test]
    fn reads_like_ini_v1() {
        let t = parse(SAMPLE.as_bytes()).unwrap();
        let names: Vec<&str> = t.docs[0].entries().map(|(k, _)| k).collect();
        assert_eq!(names, ["DEFAULT", "s1", "s1", " sp "]);
        let d = section(&t, "DEFAULT");
        assert_eq!(d.0[0], MapItem::Entry("g".into(), Node::str("1")));
        assert_eq!(d.0[1], MapItem::Comment("top comment\n# second".into()));
        let s1 = section(&t, "s1");
        assert_eq!(s1.0[0], MapItem::Comment("inline sec".into()));
        assert_eq!(s1.get("a"), Some(&Node::str("quoted value")));
        assert_eq!(s1.get("b"), Some(&Node::str("single")));
        assert_eq!(s1.get("c"), Some(&Node::str("x")));
        assert_eq!(s1.get("d"), Some(&Node::str("dup")));
        assert_eq!(s1.get("url"), Some(&Node::str("http://x")));
        assert_eq!(s1.get("bk;x"), Some(&Node::str("1")));
        assert_eq!(s1.get("e"), Some(&Node::str("a;b")));
        assert_eq!(s1.get("f"), Some(&Node::str("multi\nline")));
        assert_eq!(s1.get("h"), Some(&Node::str("cont inued")));
    }

    #[test]
    fn writes_like_sops() {
        // the expected text is what the real sops 3.11 printed for SAMPLE (`sops decrypt`)
        let t = parse(SAMPLE.as_bytes()).unwrap();
        let out = String::from_utf8(emit(&t).unwrap()).unwrap();
        let expected = "; top comment\n# second\ng = 1\n\n; inline sec\n[s1]\na    = quoted value\nb    = single\n; inline\nc    = x\nd    = dup\nurl  = http://x\nbk;x = 1\ne    = `a;b`\n; c2\nf    = \"\"\"multi\nline\"\"\"\nh    = cont inued\n\n[s1]\nx = 1\n\n[ sp ]\ny = \n; dangling\nk = \"a\nz = 2\n; c1\n; c2\nm = 3\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn quoting_on_output() {
        let mut m = Map::default();
        for (k, v) in [
            ("semi", "a;b"),
            ("lead", "  x"),
            ("nl", "a\nb"),
            ("k=e", "v"),
            ("k`b", "v"),
            ("empty", ""),
        ] {
            m.push(k, Node::str(v));
        }
        let mut doc = Map::default();
        doc.push("sec", Node::Map(m));
        doc.push("other", Node::Map(Map::default()));
        let out = String::from_utf8(emit(&Tree { docs: vec![doc] }).unwrap()).unwrap();
        assert_eq!(
            out,
            "[sec]\nsemi      = `a;b`\nlead      = \"  x\"\nnl        = \"\"\"a\nb\"\"\"\n`k=e`     = v\n\"\"\"k`b\"\"\" = v\nempty     = \n\n[other]\n"
        );
    }

    #[test]
    fn metadata_section_round_trips_sorted() {
        let input = "[a]\nx = ENC\n\n[sops]\nversion = 3.11.0\nage__list_0__map_enc = -----BEGIN\\nabc\\n\nmac_only_encrypted = true\n";
        let t = parse(input.as_bytes()).unwrap();
        let names: Vec<&str> = t.docs[0].entries().map(|(k, _)| k).collect();
        assert_eq!(names, ["DEFAULT", "a", "sops"]);
        let sops = section(&t, "sops");
        assert_eq!(
            sops.get("mac_only_encrypted"),
            Some(&Node::Scalar(Scalar::Bool(true)))
        );
        let out = String::from_utf8(emit(&t).unwrap()).unwrap();
        assert_eq!(out, "[a]\nx = ENC\n\n[sops]\nage__list_0__map_enc = -----BEGIN\\nabc\\n\nmac_only_encrypted   = true\nversion              = 3.11.0\n");
    }

    #[test]
    fn errors_name_lines_not_text() {
        for (input, line) in [
            ("[a]\nsecret\n", 2),
            ("a = 1\n[unclosed\n", 2),
            ("[]\n", 1),
            ("= v\n", 1),
            ("k = \"\"\"never\nclosed\n", 3),
            ("`k = 1\n", 1),
        ] {
            match parse(input.as_bytes()) {
                Err(FormatError::Syntax {
                    line: l, message, ..
                }) => {
                    assert_eq!(l, line, "{input:?}");
                    assert!(!message.contains("secret") && !message.contains("never"));
                }
                other => panic!("{input:?}: {other:?}"),
            }
        }
        let mut doc = Map::default();
        doc.push("s", Node::str("not a map"));
        assert!(emit(&Tree { docs: vec![doc] }).is_err());
    }

    #[test]
    fn many_repeated_keys_stay_cheap() {
        let mut input = String::from("[s]\n");
        for i in 0..50_000 {
            input.push_str(&format!("k{i} = v\nk{i} = w\n"));
        }
        let t = parse(input.as_bytes()).unwrap();
        assert_eq!(section(&t, "s").0.len(), 50_000);
        assert!(emit(&t).is_ok());
    }

    fn arb_section() -> impl Strategy<Value = Map> {
        let key = "[a-z][a-z0-9_.]{0,6}";
        // no quotes, backslashes or backticks at the edges: ini.v1 would read them differently
        let value = "([a-zA-Z0-9 =;#:.]{0,10}[a-zA-Z0-9])?( [a-z]{1,3})?";
        let comment = prop::option::of("[a-zA-Z0-9][a-zA-Z0-9 ]{0,8}[a-z]");
        prop::collection::btree_map(key, (value, comment), 0..5).prop_map(|entries| {
            let mut map = Map::default();
            for (k, (v, c)) in entries {
                map.push(k, Node::str(v));
                if let Some(c) = c {
                    map.0.push(MapItem::Comment(c));
                }
            }
            map
        })
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(
            input in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..64),
                "(\"\"\"|\\[sops\\]|__list_0|[\\[\\]=:;#\"'`\\\\ \n\r\ta-c-]){0,60}".prop_map(String::into_bytes),
            ]
        ) {
            if let Ok(tree) = parse(&input) {
                let _ = emit(&tree);
            }
        }
    }

    proptest! {
        #[test]
        fn round_trips(
            default in arb_section(),
            sections in prop::collection::vec(
                ("[a-z][a-z0-9 ]{0,6}[a-z0-9]".prop_filter("not sops", |n| n != "sops"), arb_section()),
                0..4,
            ),
        ) {
            let mut doc = Map::default();
            doc.push(DEFAULT_SECTION, Node::Map(default));
            for (name, map) in sections {
                doc.push(name, Node::Map(map));
            }
            let tree = Tree { docs: vec![doc] };
            let bytes = emit(&tree).unwrap();
            let back = parse(&bytes).unwrap();
            prop_assert_eq!(&back, &tree);
            prop_assert_eq!(emit(&back).unwrap(), bytes);
        }
    }

    /// Fuzz finding 3: ini.v1 names `- = v` keys `#1`; written back, `#1 = v` reads as a comment
    /// and the value is gone. Emitting such a key is refused instead.
    #[test]
    fn keys_that_would_read_back_as_comments_are_refused() {
        let t = parse(b"[s]\n- = 2\n").unwrap();
        assert!(matches!(emit(&t), Err(FormatError::Invalid(_))));
    }

    /// Fuzz finding 4: a key holding both `` ` `` and `"` is quoted with backticks, and reads
    /// back cut at its own backtick. Every key line is now read back before it is written.
    #[test]
    fn keys_quoting_cannot_represent_are_refused() {
        let t = parse(b"r`\"=\n").unwrap();
        let err = emit(&t).unwrap_err().to_string();
        assert!(err.contains("would read back differently"), "{err}");
        for (key, value) in [("a", "x # y"), ("k`", "v"), ("q\"", "w;"), ("s", " pad ")] {
            assert!(reads_back(key, value), "{key} = {value}");
        }
        for (key, value) in [(" a", "v"), ("[s]", "v"), ("-", "v"), ("k", "ends\\")] {
            assert!(!reads_back(key, value), "{key} = {value}");
        }
        // Fuzz finding 11: the `[sops]` section is checked the same way (`k = \` would read
        // back as a continuation line).
        let t = parse(b"[sops]\nk=\\#").unwrap();
        let err = emit(&t).unwrap_err().to_string();
        assert!(err.contains("section `sops`"), "{err}");
    }
}
