//! YAML output in go-yaml v3's encoder style, as sops prints it. The column/indent bookkeeping
//! follows libyaml's emitter (`write_indent`, `write_indicator`, `increase_indent`) so that the
//! indentation of nested block collections and block scalars comes out the same.

use super::resolve;
use crate::format::tree::{MapItem, Node, Scalar, Tree};
use crate::format::FormatError;
use crate::limits::MAX_DEPTH;

/// Where a node is being emitted; go-yaml indents the first level inside a sequence item by 2,
/// everything else to the next multiple of the indent.
#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Root,
    SeqItem,
    MapValue,
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// Output buffer plus libyaml's cursor state (column, whether the last write was blank or
/// only indentation), which decides where line breaks and spaces go.
pub(crate) struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    best: usize,
}

/// Emits the whole tree.
pub(crate) fn emit_tree(tree: &Tree, indent: usize) -> Result<Vec<u8>, FormatError> {
    // go-yaml: 0 means its default 4; other values outside 2..=9 become 2.
    let best = match indent {
        0 => 4,
        2..=9 => indent,
        _ => 2,
    };
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
        best,
    };
    for (i, doc) in tree.docs.iter().enumerate() {
        if i > 0 {
            e.write_indent(0);
            e.indicator("---", true, false, false);
            e.write_indent(0);
        }
        e.map(&doc.0, None, Ctx::Root, 0)?;
        if e.column > 0 {
            e.put_break();
        }
        e.indention = true;
        e.whitespace = true;
    }
    Ok(e.out.into_bytes())
}

impl Emitter {
    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_indent(&mut self, indent: usize) {
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.out.push(' ');
            self.column += 1;
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn indicator(&mut self, text: &str, need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.out.push(' ');
            self.column += 1;
        }
        self.raw(text);
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
    }

    fn raw(&mut self, text: &str) {
        self.out.push_str(text);
        self.column += text.chars().count();
    }

    fn raw_char(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    /// libyaml's `increase_indent` for a node emitted at `parent` indent in `ctx`.
    fn child_indent(&self, parent: Option<usize>, ctx: Ctx, flow: bool) -> usize {
        match parent {
            None if flow => self.best,
            None => 0,
            Some(p) if ctx == Ctx::SeqItem => p + 2,
            Some(p) => self.best * ((p + self.best) / self.best),
        }
    }

    fn comment(&mut self, indent: usize, text: &str) {
        for line in text.split('\n') {
            self.write_indent(indent);
            self.raw("#");
            self.raw(line.strip_suffix('\r').unwrap_or(line));
            self.whitespace = false;
            self.indention = false;
        }
    }

    /// Emits a node; `skip` leading comments were already written (before a `- `).
    fn node(
        &mut self,
        node: &Node,
        parent: Option<usize>,
        ctx: Ctx,
        depth: usize,
        skip: usize,
    ) -> Result<(), FormatError> {
        if depth > MAX_DEPTH {
            return Err(FormatError::Limit(format!(
                "YAML nesting is deeper than {MAX_DEPTH} levels"
            )));
        }
        match node {
            Node::Map(m) => self.map(m.0.get(skip..).unwrap_or_default(), parent, ctx, depth + 1),
            Node::Seq(items) => self.seq(
                items.get(skip..).unwrap_or_default(),
                parent,
                ctx,
                depth + 1,
            ),
            Node::Scalar(s) => {
                self.scalar(s, parent, ctx, false);
                Ok(())
            }
            // A comment where a value belongs cannot be written as YAML; an empty value is.
            Node::Comment(_) => {
                self.scalar(&Scalar::Null, parent, ctx, false);
                Ok(())
            }
        }
    }

    fn map(
        &mut self,
        map: &[MapItem],
        parent: Option<usize>,
        ctx: Ctx,
        depth: usize,
    ) -> Result<(), FormatError> {
        let indent = self.child_indent(parent, ctx, false);
        if !map.iter().any(|i| matches!(i, MapItem::Entry(..))) {
            // go-yaml writes a comment-only mapping as a flow mapping holding the comments.
            self.indicator("{", true, true, false);
            let mut commented = false;
            for item in map {
                if let MapItem::Comment(c) = item {
                    self.comment(indent, c);
                    commented = true;
                }
            }
            if commented {
                self.write_indent(parent.unwrap_or(0));
            }
            self.indicator("}", false, false, false);
            return Ok(());
        }
        for item in map {
            match item {
                MapItem::Comment(c) => self.comment(indent, c),
                MapItem::Entry(k, v) => {
                    let skip = self.key(k, v, indent);
                    self.node(v, Some(indent), Ctx::MapValue, depth, skip)?;
                }
            }
        }
        Ok(())
    }

    /// Writes `key:` (or `? key` / `:` for keys that cannot be simple keys); returns how many
    /// head comments of the value it already wrote.
    fn key(&mut self, key: &str, value: &Node, indent: usize) -> usize {
        self.write_indent(indent);
        let simple = key.len() <= 128 && !key.chars().any(is_break);
        let scalar = Scalar::Str(key.to_string());
        if simple {
            self.scalar(&scalar, Some(indent), Ctx::MapValue, true);
            self.indicator(":", false, false, false);
            0
        } else {
            self.indicator("?", true, false, true);
            self.scalar(&scalar, Some(indent), Ctx::MapValue, false);
            // The value starts on the `:` line, so its head comments go above that line.
            let head = head_comments(value);
            for c in &head {
                self.comment(indent, c);
            }
            self.write_indent(indent);
            self.indicator(":", true, false, true);
            head.len()
        }
    }

    fn seq(
        &mut self,
        items: &[Node],
        parent: Option<usize>,
        ctx: Ctx,
        depth: usize,
    ) -> Result<(), FormatError> {
        let indent = self.child_indent(parent, ctx, false);
        if !items.iter().any(|n| !matches!(n, Node::Comment(_))) {
            // go-yaml writes the comments of an empty sequence after it, at the outer indent.
            self.indicator("[", true, true, false);
            self.indicator("]", false, false, false);
            for item in items {
                if let Node::Comment(c) = item {
                    self.comment(parent.unwrap_or(0), c);
                }
            }
            return Ok(());
        }
        for item in items {
            match item {
                Node::Comment(c) => self.comment(indent, c),
                other => {
                    // Comments heading a collection item are written before its `- `.
                    let head = head_comments(other);
                    for c in &head {
                        self.comment(indent, c);
                    }
                    self.write_indent(indent);
                    self.indicator("-", true, false, true);
                    self.node(other, Some(indent), Ctx::SeqItem, depth, head.len())?;
                }
            }
        }
        Ok(())
    }

    fn scalar(&mut self, s: &Scalar, parent: Option<usize>, ctx: Ctx, simple_key: bool) {
        let indent = self.child_indent(parent, ctx, true);
        let text = match s {
            Scalar::Null => return self.plain("null"),
            Scalar::Bool(b) => return self.plain(if *b { "true" } else { "false" }),
            Scalar::Int(i) => return self.plain(&i.to_string()),
            Scalar::Float(f) => return self.plain(&go_format_float_g(*f)),
            Scalar::Time(t) => return self.plain(t),
            Scalar::Str(s) => s.clone(),
            Scalar::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        };
        if text == "<<" {
            // go-yaml tags the merge-key spelling instead of quoting it.
            self.indicator("!!merge", true, false, false);
            return self.plain(&text);
        }
        match choose_style(&text, simple_key) {
            Style::Plain => self.plain(&text),
            Style::Single => self.single(&text, indent),
            Style::Double => self.double(&text),
            Style::Literal => {
                let hint = indent.saturating_sub(parent.unwrap_or(0));
                self.literal(&text, indent, hint);
            }
        }
    }

    fn plain(&mut self, text: &str) {
        if !self.whitespace {
            self.raw_char(' ');
        }
        self.raw(text);
        self.whitespace = false;
        self.indention = false;
    }

    fn single(&mut self, text: &str, indent: usize) {
        self.indicator("'", true, false, false);
        let mut breaks = false;
        for c in text.chars() {
            if is_break(c) {
                self.out.push(c);
                self.column = 0;
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                if c == '\'' {
                    self.raw("''");
                } else {
                    self.raw_char(c);
                }
                self.indention = false;
                breaks = false;
            }
        }
        self.indicator("'", false, false, false);
    }

    fn double(&mut self, text: &str) {
        self.indicator("\"", true, false, false);
        // go-yaml checks for a byte order mark at the start of the value instead of at each
        // character, so a value starting with one has every character escaped.
        let bom = text.starts_with('\u{FEFF}');
        for c in text.chars() {
            if bom || !is_printable(c) || is_break(c) || c == '"' || c == '\\' {
                let esc = escape(c);
                self.raw(&esc);
            } else {
                self.raw_char(c);
            }
        }
        self.indicator("\"", false, false, false);
    }

    /// A literal block scalar. `hint` is the content indentation relative to the enclosing
    /// collection. go-yaml always writes its indent setting as the indentation indicator, which
    /// is wrong (unreadable YAML) inside sequence items; we write the true offset, which is the
    /// same everywhere else.
    fn literal(&mut self, text: &str, indent: usize, hint: usize) {
        self.indicator("|", true, false, false);
        let mut hints = String::new();
        if text.starts_with([' ', '\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']) {
            hints.push_str(&hint.clamp(1, 9).to_string());
        }
        let mut rev = text.chars().rev();
        let last = rev.next();
        let before = rev.next();
        match (last, before) {
            (Some(l), _) if !is_break(l) => hints.push('-'),
            (None, _) => hints.push('-'),
            (Some(_), None) => hints.push('+'),
            (Some(_), Some(b)) if is_break(b) => hints.push('+'),
            _ => {}
        }
        self.raw(&hints);
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in text.chars() {
            if is_break(c) {
                self.out.push(c);
                self.column = 0;
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                    breaks = false;
                }
                self.raw_char(c);
                self.indention = false;
            }
        }
    }
}

/// The leading comments of a non-empty collection (written before its `- ` in a sequence).
fn head_comments(node: &Node) -> Vec<&str> {
    match node {
        Node::Map(m) if m.entries().next().is_some() => {
            m.0.iter()
                .map_while(|i| match i {
                    MapItem::Comment(c) => Some(c.as_str()),
                    MapItem::Entry(..) => None,
                })
                .collect()
        }
        Node::Seq(items) if items.iter().any(|i| !matches!(i, Node::Comment(_))) => items
            .iter()
            .map_while(|i| match i {
                Node::Comment(c) => Some(c.as_str()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's `is_printable` (tab and characters outside the BMP are not).
fn is_printable(c: char) -> bool {
    let v = u32::from(c);
    v == 0x0A
        || (0x20..=0x7E).contains(&v)
        || (0xA0..=0xD7FF).contains(&v)
        || ((0xE000..=0xFFFD).contains(&v) && v != 0xFEFF)
}

fn escape(c: char) -> String {
    match c {
        '\0' => "\\0".into(),
        '\u{7}' => "\\a".into(),
        '\u{8}' => "\\b".into(),
        '\t' => "\\t".into(),
        '\n' => "\\n".into(),
        '\u{b}' => "\\v".into(),
        '\u{c}' => "\\f".into(),
        '\r' => "\\r".into(),
        '\u{1b}' => "\\e".into(),
        '"' => "\\\"".into(),
        '\\' => "\\\\".into(),
        '\u{85}' => "\\N".into(),
        '\u{a0}' => "\\_".into(),
        '\u{2028}' => "\\L".into(),
        '\u{2029}' => "\\P".into(),
        c if u32::from(c) <= 0xFF => format!("\\x{:02X}", u32::from(c)),
        c if u32::from(c) <= 0xFFFF => format!("\\u{:04X}", u32::from(c)),
        c => format!("\\U{:08X}", u32::from(c)),
    }
}

/// What libyaml's `analyze_scalar` allows for a value.
struct Analysis {
    block_plain: bool,
    single: bool,
    block: bool,
    multiline: bool,
}

fn analyze(text: &str) -> Analysis {
    if text.is_empty() {
        return Analysis {
            block_plain: true,
            single: true,
            block: false,
            multiline: false,
        };
    }
    let chars: Vec<char> = text.chars().collect();
    let blankz = |i: usize| {
        chars
            .get(i)
            .is_none_or(|&c| c == ' ' || c == '\t' || is_break(c))
    };
    let mut block_ind = text.starts_with("---") || text.starts_with("...");
    let (mut special, mut tabs, mut line_breaks) = (false, false, false);
    let (mut lead_space, mut lead_break, mut trail_space, mut trail_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    let mut preceded_ws = true;
    let last = chars.len() - 1;
    for (i, &c) in chars.iter().enumerate() {
        let followed_ws = blankz(i + 1);
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_ind = true,
                '?' | ':' | '-' if followed_ws => block_ind = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_ws => block_ind = true,
                '#' if preceded_ws => block_ind = true,
                _ => {}
            }
        }
        if c == '\t' {
            tabs = true;
        } else if !is_printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            lead_space |= i == 0;
            trail_space |= i == last;
            break_space |= prev_break;
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            lead_break |= i == 0;
            trail_break |= i == last;
            space_break |= prev_space;
            prev_break = true;
            prev_space = false;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_ws = c == ' ' || c == '\t' || is_break(c);
    }
    let mut a = Analysis {
        block_plain: true,
        single: true,
        block: true,
        multiline: line_breaks,
    };
    if lead_space || lead_break || trail_space || trail_break {
        a.block_plain = false;
    }
    if trail_space {
        a.block = false;
    }
    if break_space {
        a.block_plain = false;
        a.single = false;
    }
    if space_break || special {
        a.block_plain = false;
        a.single = false;
        a.block = false;
    }
    if tabs {
        a.block_plain = false;
        a.single = false;
    }
    if line_breaks || block_ind {
        a.block_plain = false;
    }
    a
}

/// go-yaml's `stringv` choice followed by libyaml's `select_scalar_style` (block context).
fn choose_style(text: &str, simple_key: bool) -> Style {
    let wanted = if text.contains('\n') {
        Style::Literal
    } else if resolve::needs_type_quotes(text) {
        Style::Double
    } else {
        Style::Plain
    };
    let a = analyze(text);
    let mut style = wanted;
    if style == Style::Plain {
        if !a.block_plain || (simple_key && a.multiline) {
            style = Style::Single;
        }
        if text.is_empty() && simple_key {
            style = Style::Single;
        }
    }
    if style == Style::Single && !a.single {
        style = Style::Double;
    }
    if style == Style::Literal && (!a.block || simple_key) {
        style = Style::Double;
    }
    // Deliberate difference: go-yaml writes U+2028/U+2029 raw in quoted and block scalars,
    // where a YAML 1.2 reader keeps the following indentation as content; escape them.
    if text.contains(['\u{2028}', '\u{2029}']) {
        style = Style::Double;
    }
    style
}

/// Go's `strconv.FormatFloat(v, 'g', -1, 64)` with go-yaml's `.inf`/`-.inf`/`.nan` spellings.
pub(crate) fn go_format_float_g(v: f64) -> String {
    if v.is_nan() {
        return ".nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Shortest round-trip digits and decimal exponent from Rust's `{:e}`.
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    // Go switches to the exponent form below 1e-4 and, for shortest output, from 1e6 up.
    if !(-4..6).contains(&exp) {
        return go_exp(mantissa, exp);
    }
    format!("{v}")
}

fn go_exp(mantissa: &str, exp: i32) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_g_spellings() {
        for (v, want) in [
            (1000.0, "1000"),
            (3.0, "3"),
            (0.75, "0.75"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-07"),
            (123456789.123, "1.23456789123e+08"),
            (18446744073709551616.0, "1.8446744073709552e+19"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (f64::INFINITY, ".inf"),
            (f64::NEG_INFINITY, "-.inf"),
            (f64::NAN, ".nan"),
        ] {
            assert_eq!(go_format_float_g(v), want);
        }
    }

    #[test]
    fn styles() {
        assert!(choose_style("plain", false) == Style::Plain);
        assert!(choose_style("yes", false) == Style::Double);
        assert!(choose_style("key with: colon", false) == Style::Single);
        assert!(choose_style("a\tb", false) == Style::Double);
        assert!(choose_style("a\tb\nc", false) == Style::Literal);
        assert!(choose_style("x \ny", false) == Style::Double);
        assert!(choose_style("🔐", false) == Style::Double);
        assert!(choose_style("-lead", false) == Style::Plain);
        assert!(choose_style("- lead", false) == Style::Single);
    }
}
