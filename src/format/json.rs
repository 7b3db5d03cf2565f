//! The JSON store: parse bytes into a [`Tree`], emit a tree as bytes, matching sops byte for byte.
//!
//! A small recursive-descent parser of our own rather than `serde_json`: sops keeps duplicate
//! keys (it reads Go `json.Decoder` tokens), every number must become a float64, errors must
//! name `line:column` without quoting input, and nesting is bounded by
//! [`crate::limits::MAX_DEPTH`]. Emission reproduces Go `json.Marshal` escaping followed by
//! `json.Indent` (docs/format.md#json).

use super::flatten::{go_exponent, shortest_exp};
use super::tree::{Map, MapItem, Node, Scalar, Tree};
use super::FormatError;
use crate::limits::MAX_DEPTH;

/// Parses JSON input (plain or sealed) into a tree of one document. The top level must be an
/// object; duplicate keys are kept in order (as sops does); numbers become `Float`.
pub fn parse(input: &[u8]) -> Result<Tree, FormatError> {
    super::flatten::check_input_size(input)?;
    let text = std::str::from_utf8(input).map_err(|e| {
        let (line, column) = position(input, e.valid_up_to());
        syntax(line, column, "invalid UTF-8")
    })?;
    let mut p = Parser {
        src: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    if p.peek() != Some(b'{') {
        return Err(p.error(if p.peek().is_none() {
            "unexpected end of JSON input"
        } else {
            "expected a JSON object at the top level"
        }));
    }
    let doc = p.object()?;
    p.skip_ws();
    if p.peek().is_some() {
        return Err(p.error("unexpected data after the top-level object"));
    }
    Ok(Tree { docs: vec![doc] })
}

fn syntax(line: usize, column: usize, message: &str) -> FormatError {
    FormatError::Syntax {
        kind: "JSON",
        line,
        column,
        message: message.into(),
    }
}

/// 1-based line and column (in characters) of byte offset `at`.
fn position(src: &[u8], at: usize) -> (usize, usize) {
    let before = src.get(..at).unwrap_or(src);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let col_bytes = before.get(line_start..).unwrap_or_default();
    let column = col_bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count() + 1;
    (line, column)
}

struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn error(&self, message: &str) -> FormatError {
        let (line, column) = position(self.src, self.pos);
        syntax(line, column, message)
    }

    fn unexpected(&self) -> FormatError {
        match self.peek() {
            None => self.error("unexpected end of JSON input"),
            Some(_) => self.error("unexpected character"),
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), FormatError> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn enter(&mut self) -> Result<(), FormatError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FormatError::Limit(format!(
                "JSON nesting deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(())
    }

    /// An object; the cursor is on `{`.
    fn object(&mut self) -> Result<Map, FormatError> {
        self.enter()?;
        self.pos += 1;
        let mut map = Map::default();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(map);
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected());
            }
            let key = self.string()?;
            self.expect(b':')?;
            let value = self.value()?;
            map.0.push(MapItem::Entry(key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => break,
                _ => return Err(self.unexpected()),
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(map)
    }

    /// An array; the cursor is on `[`.
    fn array(&mut self) -> Result<Vec<Node>, FormatError> {
        self.enter()?;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(items);
        }
        loop {
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => break,
                _ => return Err(self.unexpected()),
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(items)
    }

    fn value(&mut self) -> Result<Node, FormatError> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => Ok(Node::Map(self.object()?)),
            Some(b'[') => Ok(Node::Seq(self.array()?)),
            Some(b'"') => Ok(Node::str(self.string()?)),
            Some(b't') => self.literal("true", Scalar::Bool(true)),
            Some(b'f') => self.literal("false", Scalar::Bool(false)),
            Some(b'n') => self.literal("null", Scalar::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.unexpected()),
        }
    }

    fn literal(&mut self, word: &str, value: Scalar) -> Result<Node, FormatError> {
        for &b in word.as_bytes() {
            if self.peek() != Some(b) {
                return Err(self.unexpected());
            }
            self.pos += 1;
        }
        Ok(Node::Scalar(value))
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// A number in strict JSON grammar, read as a float64 like Go's decoder.
    fn number(&mut self) -> Result<Node, FormatError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.unexpected()),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.unexpected());
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.unexpected());
            }
        }
        let text = self.src.get(start..self.pos).unwrap_or_default();
        let value = std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|v| v.is_finite());
        match value {
            Some(v) => Ok(Node::Scalar(Scalar::Float(v))),
            None => {
                self.pos = start;
                Err(self.error("number out of float64 range"))
            }
        }
    }

    /// A string; the cursor is on the opening quote.
    fn string(&mut self) -> Result<String, FormatError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while matches!(self.peek(), Some(b) if b >= 0x20 && b != b'"' && b != b'\\') {
                self.pos += 1;
            }
            let run = self.src.get(run_start..self.pos).unwrap_or_default();
            // the input was checked to be UTF-8 and runs end at ASCII bytes
            out.push_str(std::str::from_utf8(run).map_err(|_| self.error("invalid UTF-8"))?);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => self.escape(&mut out)?,
                None => return Err(self.error("unexpected end of JSON input")),
                Some(_) => return Err(self.error("control character in string")),
            }
        }
    }

    /// An escape sequence; the cursor is on the backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), FormatError> {
        self.pos += 1;
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                out.push(self.unicode_escape()?);
                return Ok(());
            }
            _ => return Err(self.error("invalid escape in string")),
        };
        self.pos += 1;
        out.push(c);
        Ok(())
    }

    /// The rest of `\uXXXX` (cursor after `u`), joining surrogate pairs; a lone surrogate
    /// becomes U+FFFD, as Go's decoder does.
    fn unicode_escape(&mut self) -> Result<char, FormatError> {
        let first = self.hex4()?;
        if !(0xD800..0xDC00).contains(&first) {
            return Ok(char::from_u32(first).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
        let rest = self.src.get(self.pos..).unwrap_or_default();
        if rest.starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let second = self.hex4()?;
            if (0xDC00..0xE000).contains(&second) {
                let c = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            self.pos = save;
        }
        Ok(char::REPLACEMENT_CHARACTER)
    }

    fn hex4(&mut self) -> Result<u32, FormatError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = self
                .peek()
                .and_then(|b| (b as char).to_digit(16))
                .ok_or_else(|| self.error("invalid \\u escape in string"))?;
            v = v * 16 + d;
            self.pos += 1;
        }
        Ok(v)
    }
}

/// Emits the first document of a tree as JSON like sops: Go `json.Marshal` escaping, then
/// `json.Indent` layout (`None` = tab, `Some(n)` = n spaces, `Some(0)` = one entry per line
/// without indentation, as sops's `indent: 0`), empty `{}`/`[]` compact, a final newline.
/// Comments are skipped. NaN and infinities cannot be written (Go refuses them too).
pub fn emit(tree: &Tree, indent: Option<usize>) -> Result<Vec<u8>, FormatError> {
    let unit = match indent {
        None => "\t".to_string(),
        Some(n) => " ".repeat(n),
    };
    let mut e = Emitter {
        out: String::new(),
        unit,
        path: Vec::new(),
    };
    let empty = Map::default();
    let doc = tree.docs.first().unwrap_or(&empty);
    e.map(doc, 0)?;
    e.out.push('\n');
    Ok(e.out.into_bytes())
}

struct Emitter<'t> {
    out: String,
    unit: String,
    /// Keys from the root to the value being written, for error messages.
    path: Vec<&'t str>,
}

impl<'t> Emitter<'t> {
    fn newline(&mut self, depth: usize) {
        self.out.push('\n');
        for _ in 0..depth {
            self.out.push_str(&self.unit);
        }
    }

    fn map(&mut self, map: &'t Map, depth: usize) -> Result<(), FormatError> {
        self.out.push('{');
        let mut first = true;
        for (key, value) in map.entries() {
            self.out.push_str(if first { "" } else { "," });
            self.newline(depth + 1);
            first = false;
            write_str(&mut self.out, key);
            self.out.push_str(": ");
            self.path.push(key);
            self.node(value, depth + 1)?;
            self.path.pop();
        }
        if !first {
            self.newline(depth);
        }
        self.out.push('}');
        Ok(())
    }

    fn seq(&mut self, items: &'t [Node], depth: usize) -> Result<(), FormatError> {
        self.out.push('[');
        let mut first = true;
        for item in items.iter().filter(|n| !matches!(n, Node::Comment(_))) {
            self.out.push_str(if first { "" } else { "," });
            self.newline(depth + 1);
            first = false;
            self.node(item, depth + 1)?;
        }
        if !first {
            self.newline(depth);
        }
        self.out.push(']');
        Ok(())
    }

    fn node(&mut self, node: &'t Node, depth: usize) -> Result<(), FormatError> {
        match node {
            Node::Map(m) => self.map(m, depth),
            Node::Seq(items) => self.seq(items, depth),
            // a comment is never an entry's value in a well-formed tree; write nothing useful
            Node::Comment(_) => {
                self.out.push_str("null");
                Ok(())
            }
            Node::Scalar(s) => self.scalar(s),
        }
    }

    fn scalar(&mut self, s: &Scalar) -> Result<(), FormatError> {
        match s {
            Scalar::Null => self.out.push_str("null"),
            Scalar::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Scalar::Int(i) => self.out.push_str(&i.to_string()),
            Scalar::Float(f) => {
                let text = go_json_float(*f).ok_or_else(|| {
                    FormatError::Invalid(format!(
                        "cannot write a NaN or infinite number in JSON at key `{}`",
                        self.path.join(".")
                    ))
                })?;
                self.out.push_str(&text);
            }
            Scalar::Str(t) | Scalar::Time(t) => write_str(&mut self.out, t),
            Scalar::Bytes(b) => write_string(&mut self.out, b),
        }
        Ok(())
    }
}

/// Go `json.Marshal` of a float64: `'f'` formatting, but `'e'` for |x| < 1e-6 or ≥ 1e21
/// with `e-07` shortened to `e-7`. `None` for NaN and infinities.
fn go_json_float(v: f64) -> Option<String> {
    if !v.is_finite() {
        return None;
    }
    let abs = v.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        return Some(super::tree::go_format_float_f(v));
    }
    let (mantissa, exp) = shortest_exp(v);
    let mut s = go_exponent(&mantissa, 'e', exp);
    if (-9..0).contains(&exp) {
        // Go's clean-up of a two-digit negative exponent with a leading zero
        s = format!("{mantissa}e-{}", exp.unsigned_abs());
    }
    Some(s)
}

/// A JSON string as Go `json.Marshal` writes it: `<`, `>`, `&`, U+2028, U+2029 and control
/// characters escaped (`\b \f \n \r \t` short), each invalid UTF-8 byte as `\ufffd`.
fn write_string(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        write_valid(out, chunk.valid());
        for _ in chunk.invalid() {
            out.push_str("\\ufffd");
        }
    }
    out.push('"');
}

/// [`write_string`] for text already known to be UTF-8 (no second validation pass).
fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    write_valid(out, s);
    out.push('"');
}

/// Bytes that may start a character Go escapes: ASCII controls, `"`, `\\`, `<`, `>`, `&`, and
/// 0xE2, the first byte of U+2028/U+2029 (checked in full by [`write_valid`]).
const MAY_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'&' as usize] = true;
    t[0xE2] = true;
    t
};

/// Copies runs that need no escape in one go (a sealed value or a base64 blob is one long
/// run), escaping only the characters Go's encoder escapes. The scan is by byte through
/// [`MAY_ESCAPE`]: decoding every character made this a third of a 5 MB binary seal.
fn write_valid(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !MAY_ESCAPE[usize::from(bytes[i])] {
            i += 1;
            continue;
        }
        // `i` is a char boundary: every flagged byte is ASCII or a UTF-8 lead byte.
        let c = s[i..].chars().next().unwrap_or('\u{fffd}');
        if needs_escape(c) {
            out.push_str(&s[start..i]);
            escape_char(out, c);
            start = i + c.len_utf8();
        }
        i += c.len_utf8();
    }
    out.push_str(&s[start..]);
}

fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '"' | '\\' | '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\u{0}'..='\u{1f}'
    )
}

fn escape_char(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\u{0}'..='\u{1f}' => {
            out.push_str(&format!("\\u{:04x}", c as u32));
        }
        _ => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn doc(tree: &Tree) -> &Map {
        &tree.docs[0]
    }

    #[test]
    fn parses_types_in_order_with_duplicates() {
        let t = parse(br#"{"b": 1, "a": [true, null, "x", {}], "b": -2.5e3}"#).unwrap();
        let items: Vec<_> = doc(&t).entries().collect();
        assert_eq!(items[0], ("b", &Node::Scalar(Scalar::Float(1.0))));
        assert_eq!(items[2], ("b", &Node::Scalar(Scalar::Float(-2500.0))));
        let Node::Seq(a) = items[1].1 else { panic!() };
        assert_eq!(a[0], Node::Scalar(Scalar::Bool(true)));
        assert_eq!(a[1], Node::Scalar(Scalar::Null));
        assert_eq!(a[3], Node::Map(Map::default()));
    }

    #[test]
    fn escapes_and_surrogates() {
        let t = parse(br#"{"k": "\ud83d\ude00\u00e9\ud800x\n\/"}"#).unwrap();
        assert_eq!(
            doc(&t).get("k"),
            Some(&Node::str("\u{1F600}\u{e9}\u{FFFD}x\n/"))
        );
    }

    #[test]
    fn errors_give_positions_not_text() {
        let cases: &[(&[u8], usize, usize)] = &[
            (b"{\"a\": 1,\n \"secret\" 2}", 2, 11),
            (b"[1]", 1, 1),
            (b"{\"a\": 01}", 1, 8),
            (b"{\"a\": 1", 1, 8),
            (b"", 1, 1),
            (b"{\"a\": \"x\ny\"}", 1, 9),
            (b"{\"a\": 1e400}", 1, 7),
            (b"{} x", 1, 4),
            (b"{\"a\": tru}", 1, 10),
            (b"{\"a\": \"\xff\"}", 1, 8),
        ];
        for (input, line, column) in cases {
            match parse(input) {
                Err(FormatError::Syntax {
                    line: l,
                    column: c,
                    message,
                    ..
                }) => {
                    assert_eq!((l, c), (*line, *column), "{message}");
                    assert!(!message.contains("secret"));
                }
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
            }
        }
    }

    #[test]
    fn depth_is_limited() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(parse(deep.as_bytes()), Err(FormatError::Limit(_))));
        let ok = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn go_float_spellings() {
        let f = |v| go_json_float(v).unwrap();
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(1e-7), "1e-7");
        assert_eq!(f(1.5e-10), "1.5e-10");
        assert_eq!(f(-1.25e-7), "-1.25e-7");
        assert_eq!(f(1e300), "1e+300");
        assert_eq!(f(1.2345678901234569e23), "1.2345678901234569e+23");
        assert_eq!(f(0.000001), "0.000001");
        assert_eq!(f(1e20), "100000000000000000000");
        assert_eq!(f(-0.0), "-0");
        assert_eq!(f(1e-100), "1e-100");
        assert!(go_json_float(f64::NAN).is_none());
    }

    #[test]
    fn emits_go_layout_and_escapes() {
        let t =
            parse(br#"{"a":"<>&\u2028\b\f\u0001\u007f","e":{},"l":[],"n":{"x":[1,{}]}}"#).unwrap();
        let out = String::from_utf8(emit(&t, None).unwrap()).unwrap();
        assert_eq!(
            out,
            "{\n\t\"a\": \"\\u003c\\u003e\\u0026\\u2028\\b\\f\\u0001\u{7f}\",\n\t\"e\": {},\n\t\"l\": [],\n\t\"n\": {\n\t\t\"x\": [\n\t\t\t1,\n\t\t\t{}\n\t\t]\n\t}\n}\n"
        );
        let two = String::from_utf8(emit(&t, Some(2)).unwrap()).unwrap();
        assert!(two.contains("\n    \"x\": [\n      1,"));
        let zero = String::from_utf8(emit(&t, Some(0)).unwrap()).unwrap();
        assert!(zero.starts_with("{\n\"a\""));
    }

    #[test]
    fn emits_other_scalars_and_skips_comments() {
        let mut m = Map::default();
        m.0.push(MapItem::Comment(" note".into()));
        m.push("i", Node::Scalar(Scalar::Int(-42)));
        m.push(
            "t",
            Node::Scalar(Scalar::Time("2024-01-02T00:00:00Z".into())),
        );
        m.push("b", Node::Scalar(Scalar::Bytes(b"a\xffb".to_vec())));
        m.push("s", Node::Seq(vec![Node::Comment("c".into())]));
        let out = emit(&Tree { docs: vec![m] }, None).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n\t\"i\": -42,\n\t\"t\": \"2024-01-02T00:00:00Z\",\n\t\"b\": \"a\\ufffdb\",\n\t\"s\": []\n}\n"
        );
        let mut bad = Map::default();
        bad.push("x", Node::Scalar(Scalar::Float(f64::NAN)));
        let err = emit(&Tree { docs: vec![bad] }, None).unwrap_err();
        assert!(err.to_string().contains("`x`"));
    }

    fn arb_node() -> impl Strategy<Value = Node> {
        let leaf = prop_oneof![
            Just(()).prop_map(|()| Node::Scalar(Scalar::Null)),
            any::<bool>().prop_map(|b| Node::Scalar(Scalar::Bool(b))),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| Node::Scalar(Scalar::Float(f))),
            any::<String>().prop_map(Node::str),
        ];
        leaf.prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Node::Seq),
                arb_map(inner).prop_map(Node::Map),
            ]
        })
    }

    fn arb_map(inner: impl Strategy<Value = Node>) -> impl Strategy<Value = Map> {
        prop::collection::vec((any::<String>(), inner), 0..5).prop_map(|entries| {
            Map(entries
                .into_iter()
                .map(|(k, v)| MapItem::Entry(k, v))
                .collect())
        })
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics_and_reparses(
            input in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..64),
                "[{}\\[\\],:\"\\\\u0-9a-fE.+\\- \n\t\u{e9}lnrstu]{0,80}".prop_map(String::into_bytes),
                "\\{\"[a-z]{0,2}\": ?([\\[\\]{},:\"0-9.e-]|true|null|\"a\"){0,40}".prop_map(String::into_bytes),
            ]
        ) {
            if let Ok(tree) = parse(&input) {
                let out = emit(&tree, None).unwrap();
                prop_assert_eq!(parse(&out).unwrap(), tree);
            }
        }
    }

    proptest! {
        #[test]
        fn round_trips(doc in arb_map(arb_node()), indent in prop::option::of(0usize..4)) {
            let tree = Tree { docs: vec![doc] };
            let bytes = emit(&tree, indent).unwrap();
            let back = parse(&bytes).unwrap();
            prop_assert_eq!(&back, &tree);
            prop_assert_eq!(emit(&back, indent).unwrap(), bytes);
        }
    }
}
