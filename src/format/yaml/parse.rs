//! Builds a [`Tree`] from granit-parser events: typed scalars as go-yaml v3 resolves them,
//! aliases expanded under a budget, and comments placed where sops places them (docs/format.md#yaml).

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use granit_parser::{Event, Parser, Placement, ScalarStyle, ScanError, Span, Tag};

use super::resolve::{self, Resolved};
use crate::format::tree::{Map, MapItem, Node, Scalar, Tree};
use crate::format::FormatError;
use crate::limits::{MAX_ALIAS_NODES, MAX_DEPTH, MAX_INPUT};
use zeroize::Zeroize;

const CORE: &str = "tag:yaml.org,2002:";

/// A source position, 1-based line and column.
#[derive(Clone, Copy)]
struct Pos {
    line: usize,
    column: usize,
}

impl Pos {
    fn of(span: &Span) -> Pos {
        Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
    fn at(self) -> String {
        format!("{}:{}", self.line, self.column)
    }
}

/// An open collection.
enum Frame {
    Map {
        map: Map,
        pending_key: Option<String>,
        keys: HashSet<String>,
        col: usize,
        anchor: usize,
    },
    Seq {
        items: Vec<Node>,
        col: usize,
        anchor: usize,
    },
}

impl Frame {
    fn col(&self) -> usize {
        match self {
            Frame::Map { col, .. } | Frame::Seq { col, .. } => *col,
        }
    }
    fn push_comment(&mut self, text: String) {
        match self {
            Frame::Map { map, .. } => map.0.push(MapItem::Comment(text)),
            Frame::Seq { items, .. } => items.push(Node::Comment(text)),
        }
    }
    /// Puts a same-line comment before the entry it follows (sops writes it above its key).
    fn insert_line_comment(&mut self, text: String) {
        match self {
            Frame::Map {
                map, pending_key, ..
            } => {
                let at = map.0.iter().rposition(|i| matches!(i, MapItem::Entry(..)));
                match at {
                    Some(i) if pending_key.is_none() => map.0.insert(i, MapItem::Comment(text)),
                    _ => map.0.push(MapItem::Comment(text)),
                }
            }
            Frame::Seq { items, .. } => {
                let at = items.iter().rposition(|n| !matches!(n, Node::Comment(_)));
                match at {
                    Some(i) => items.insert(i, Node::Comment(text)),
                    None => items.push(Node::Comment(text)),
                }
            }
        }
    }
}

/// An own-line comment waiting for the token that decides where it belongs.
struct Pending {
    text: String,
    /// 0-based column of the `#`.
    col: usize,
    /// Separated from the next token by a blank line.
    free: bool,
    /// A same-line comment after a bare `- `: it heads the collection that follows.
    after_dash: bool,
}

/// The size of a subtree: nodes, and bytes of keys and text.
#[derive(Clone, Copy, Default)]
struct Cost {
    nodes: usize,
    bytes: usize,
}

impl Cost {
    fn add(self, other: Cost) -> Cost {
        Cost {
            nodes: self.nodes.saturating_add(other.nodes),
            bytes: self.bytes.saturating_add(other.bytes),
        }
    }
}

struct Builder {
    stack: Vec<Frame>,
    /// Own-line comments not yet placed.
    pending: Vec<Pending>,
    /// Anchored nodes with their node count and text size.
    anchors: HashMap<usize, (Node, Cost)>,
    /// What alias expansion has produced so far.
    alias_spent: Cost,
    /// Bytes held by anchor copies.
    anchor_bytes: usize,
    docs: Vec<Map>,
    /// Whether the current document has a root node.
    root_seen: bool,
    any_doc_content: bool,
    /// The previous event closed a collection (a same-line comment then belongs to it).
    just_closed: bool,
    /// Line where the latest node began.
    last_node_line: usize,
}

/// Parses YAML text into a tree.
pub(crate) fn parse_text(text: &str) -> Result<Tree, FormatError> {
    let opts = granit_parser::options! {
        block_scalar_eof_without_line_feed: true,
        block_nesting_limit: MAX_DEPTH,
        flow_nesting_limit: MAX_DEPTH,
    };
    let mut parser = Parser::new_from_str_with_options(text, opts);
    let mut b = Builder {
        stack: Vec::new(),
        pending: Vec::new(),
        anchors: HashMap::new(),
        alias_spent: Cost::default(),
        anchor_bytes: 0,
        docs: Vec::new(),
        root_seen: false,
        any_doc_content: false,
        just_closed: false,
        last_node_line: 0,
    };
    while let Some(ev) = parser.next_event() {
        let (event, span) = ev.map_err(syntax)?;
        b.event(event, &span)?;
    }
    if b.docs.is_empty() || !b.any_doc_content {
        return Err(FormatError::Invalid(
            "File cannot be completely empty, it must contain at least one document".into(),
        ));
    }
    Ok(Tree::new(std::mem::take(&mut b.docs)))
}

// A parse that fails part-way leaves plaintext in the finished documents and in the anchor
// copies; overwrite them as a finished tree is overwritten (best effort).
impl Drop for Builder {
    fn drop(&mut self) {
        self.docs.iter_mut().for_each(Zeroize::zeroize);
        self.anchors.values_mut().for_each(|(n, _)| n.zeroize());
    }
}

fn syntax(e: ScanError) -> FormatError {
    use granit_parser::ErrorKind as K;
    let m = e.marker();
    // Some kinds carry input text (a character, a custom message); never repeat those.
    let message = match e.kind() {
        K::RecursionLimitExceeded => {
            return FormatError::Limit(format!(
                "YAML nesting at {}:{} is deeper than {MAX_DEPTH} levels",
                m.line(),
                m.col() + 1
            ))
        }
        K::UnexpectedCharacter { .. } => "unexpected character".to_string(),
        K::Custom(_) | K::InputIo { .. } | K::InputDecoding { .. } => "invalid input".to_string(),
        other => other.to_string(),
    };
    FormatError::Syntax {
        kind: "YAML",
        line: m.line(),
        column: m.col() + 1,
        message,
    }
}

fn invalid(pos: Pos, what: &str) -> FormatError {
    FormatError::Invalid(format!("YAML error at {}: {what}", pos.at()))
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), FormatError> {
        let pos = Pos::of(span);
        let just_closed = std::mem::take(&mut self.just_closed);
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Anchor(..) => Ok(()),
            Event::UnresolvedAlias(_) => Err(invalid(pos, "unknown anchor")),
            Event::DocumentStart(..) => {
                self.root_seen = false;
                Ok(())
            }
            Event::DocumentEnd => self.document_end(),
            Event::Comment(text, placement) => {
                if placement == Placement::Right && just_closed && self.pending.is_empty() {
                    // `key: [a, b] # c`: go-yaml makes it the collection's first comment.
                    self.comment_into_last_child(text.into_owned());
                } else {
                    let line = span.start.line();
                    self.comment(text.into_owned(), placement, span.start.col(), line);
                }
                Ok(())
            }
            Event::Scalar(value, style, anchor, tag) => {
                self.last_node_line = span.start.line();
                self.scalar(&value, style, anchor, tag.as_deref(), pos)
            }
            Event::Alias(id) => {
                self.last_node_line = span.start.line();
                self.alias(id, pos)
            }
            Event::MappingStart(_, anchor, tag) => {
                self.last_node_line = span.start.line();
                self.check_collection_tag(tag.as_deref(), "map", pos)?;
                self.open(
                    Frame::Map {
                        map: Map::default(),
                        pending_key: None,
                        keys: HashSet::new(),
                        col: span.start.col(),
                        anchor,
                    },
                    pos,
                )
            }
            Event::SequenceStart(_, anchor, tag) => {
                self.last_node_line = span.start.line();
                self.check_collection_tag(tag.as_deref(), "seq", pos)?;
                self.open(
                    Frame::Seq {
                        items: Vec::new(),
                        col: span.start.col(),
                        anchor,
                    },
                    pos,
                )
            }
            Event::MappingEnd | Event::SequenceEnd => {
                // Only a flow collection's `]`/`}` has a width; a block end is zero-width.
                self.just_closed = span.end.index() != span.start.index();
                self.close(pos, span.start.col())
            }
            // Future presentation-only events.
            _ => Ok(()),
        }
    }

    fn check_collection_tag(
        &self,
        tag: Option<&Tag>,
        want: &str,
        pos: Pos,
    ) -> Result<(), FormatError> {
        match tag {
            Some(t) if t.handle() == CORE && t.suffix() != want => {
                Err(invalid(pos, "collection tag does not match its kind"))
            }
            _ => Ok(()),
        }
    }

    fn document_end(&mut self) -> Result<(), FormatError> {
        if !self.root_seen {
            // An empty document (`---` alone) reads as an empty mapping.
            self.docs.push(Map::default());
        }
        if let Some(last) = self.docs.last_mut() {
            for c in self.pending.drain(..) {
                last.0.push(MapItem::Comment(c.text));
            }
        }
        Ok(())
    }

    fn comment(&mut self, text: String, placement: Placement, col: usize, line: usize) {
        let after_dash = placement == Placement::Right
            && line != self.last_node_line
            && matches!(self.stack.last(), Some(Frame::Seq { .. }));
        match (placement, self.stack.last_mut()) {
            (Placement::Right, Some(frame)) if self.pending.is_empty() && !after_dash => {
                frame.insert_line_comment(text)
            }
            _ => self.pending.push(Pending {
                text,
                col,
                free: placement == Placement::Free,
                after_dash,
            }),
        }
    }

    /// Puts a comment first in the collection most recently added to the top frame.
    fn comment_into_last_child(&mut self, text: String) {
        let last = match self.stack.last_mut() {
            Some(Frame::Map { map, .. }) => map.0.iter_mut().rev().find_map(|i| match i {
                MapItem::Entry(_, v) => Some(v),
                MapItem::Comment(_) => None,
            }),
            Some(Frame::Seq { items, .. }) => items.last_mut(),
            None => None,
        };
        match last {
            Some(Node::Map(m)) => m.0.insert(0, MapItem::Comment(text)),
            Some(Node::Seq(items)) => items.insert(0, Node::Comment(text)),
            _ => {
                if let Some(frame) = self.stack.last_mut() {
                    frame.insert_line_comment(text);
                }
            }
        }
    }

    /// Places pending own-line comments into the top frame (head comments of what follows).
    fn flush_pending(&mut self) {
        if let Some(frame) = self.stack.last_mut() {
            for c in self.pending.drain(..) {
                frame.push_comment(c.text);
            }
        }
    }

    /// Whether the next node fills a key position or a sequence slot (not a mapping value).
    fn at_key_or_item(&self) -> bool {
        match self.stack.last() {
            Some(Frame::Map { pending_key, .. }) => pending_key.is_none(),
            Some(Frame::Seq { .. }) => true,
            None => false,
        }
    }

    fn open(&mut self, frame: Frame, pos: Pos) -> Result<(), FormatError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(FormatError::Limit(format!(
                "YAML nesting at {} is deeper than {MAX_DEPTH} levels",
                pos.at()
            )));
        }
        match self.stack.last() {
            None => {
                if !matches!(frame, Frame::Map { .. }) {
                    return Err(invalid(
                        pos,
                        "YAML documents that are sequences are not supported",
                    ));
                }
            }
            Some(Frame::Map {
                pending_key: None, ..
            }) => return Err(invalid(pos, "mapping keys must be strings")),
            Some(_) => {
                if self.at_key_or_item() {
                    // Comments after a bare `- ` head the new collection; others precede it.
                    let n = self.pending.iter().position(|c| c.after_dash);
                    let later = n.map(|n| self.pending.split_off(n)).unwrap_or_default();
                    self.flush_pending();
                    self.pending = later;
                }
            }
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Ends the top collection; `next_col` is the column of the token that ended it.
    fn close(&mut self, pos: Pos, next_col: usize) -> Result<(), FormatError> {
        let Some(mut frame) = self.stack.pop() else {
            return Err(invalid(pos, "unbalanced collection end"));
        };
        let n = self.foot_count(&frame, next_col);
        for c in self.pending.drain(..n) {
            frame.push_comment(c.text);
        }
        let (node, anchor) = match frame {
            Frame::Map {
                map,
                pending_key,
                anchor,
                ..
            } => {
                if pending_key.is_some() {
                    return Err(invalid(pos, "mapping key without a value"));
                }
                (Node::Map(map), anchor)
            }
            Frame::Seq { items, anchor, .. } => (Node::Seq(items), anchor),
        };
        if self.stack.is_empty() {
            let Node::Map(map) = node else {
                return Err(invalid(pos, "document is not a mapping"));
            };
            self.root_seen = true;
            self.any_doc_content = true;
            let mut map = map;
            for c in self.pending.drain(..) {
                map.0.push(MapItem::Comment(c.text));
            }
            self.docs.push(map);
            return Ok(());
        }
        self.remember(anchor, &node, pos)?;
        self.attach(node, pos)
    }

    /// How many pending comments are foot comments of `frame`: those indented at least as
    /// deep as it. go-yaml also gives a sequence under a mapping key the dedented comments that
    /// directly follow its last item, down to the key's column (unless a blank line follows).
    /// Encrypted comment lines (`#ENC[…]`) never get that treatment: sops writes a sequence's
    /// comments as `- ENC[…]` items, so such a line always belongs to the mapping (sops itself
    /// misreads it and then cannot decrypt it, docs/format.md#yaml).
    fn foot_count(&self, frame: &Frame, next_col: usize) -> usize {
        let own = frame.col();
        let key_col = match (frame, self.stack.last()) {
            (Frame::Seq { .. }, Some(Frame::Map { col, .. })) => Some(*col),
            _ => None,
        };
        self.pending
            .iter()
            .take_while(|c| {
                c.col >= own
                    || key_col.is_some_and(|k| {
                        !c.free && c.col > next_col && c.col >= k && !is_sealed_comment(&c.text)
                    })
            })
            .count()
    }

    /// Keeps a copy of an anchored node for its aliases. Nested anchors copy the same text
    /// again, so the copies are bounded too (a few times the input limit).
    fn remember(&mut self, anchor: usize, node: &Node, pos: Pos) -> Result<(), FormatError> {
        if anchor == 0 {
            return Ok(());
        }
        let cost = cost_of(node);
        self.anchor_bytes = self.anchor_bytes.saturating_add(cost.bytes);
        if self.anchor_bytes > MAX_INPUT.saturating_mul(4) {
            return Err(FormatError::Limit(format!(
                "YAML anchors at {} hold too much text",
                pos.at()
            )));
        }
        self.anchors.insert(anchor, (node.duplicate(), cost));
        Ok(())
    }

    /// Adds a finished node to the open collection on top of the stack.
    fn attach(&mut self, node: Node, pos: Pos) -> Result<(), FormatError> {
        let Some(frame) = self.stack.last_mut() else {
            return Err(invalid(pos, "document is not a mapping"));
        };
        match frame {
            Frame::Seq { items, .. } => items.push(node),
            Frame::Map {
                map,
                pending_key,
                keys,
                ..
            } => match pending_key.take() {
                Some(key) => map.0.push(MapItem::Entry(key, node)),
                None => {
                    let Node::Scalar(Scalar::Str(key)) = node else {
                        return Err(invalid(
                            pos,
                            "Tree contains a non-string key; mapping keys must be strings",
                        ));
                    };
                    if !keys.insert(key.clone()) {
                        return Err(invalid(pos, "mapping key already defined"));
                    }
                    *pending_key = Some(key);
                }
            },
        }
        Ok(())
    }

    fn scalar(
        &mut self,
        value: &str,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        pos: Pos,
    ) -> Result<(), FormatError> {
        if self.stack.is_empty() {
            let null = matches!(resolve::plain(value), Resolved::Leaf(Scalar::Null));
            if style == ScalarStyle::Plain && tag.is_none() && null {
                // An empty document.
                return Ok(());
            }
            return Err(invalid(pos, "document is not a mapping"));
        }
        self.flush_pending();
        let is_key = matches!(
            self.stack.last(),
            Some(Frame::Map {
                pending_key: None,
                ..
            })
        );
        let node = Node::Scalar(resolve_scalar(value, style, tag, is_key, pos)?);
        self.remember(anchor, &node, pos)?;
        self.attach(node, pos)
    }

    fn alias(&mut self, id: usize, pos: Pos) -> Result<(), FormatError> {
        let Some((node, cost)) = self.anchors.get(&id) else {
            return Err(invalid(pos, "unknown anchor"));
        };
        let total = self.alias_spent.add(*cost);
        if total.nodes > MAX_ALIAS_NODES {
            return Err(FormatError::Limit(format!(
                "YAML aliases at {} expand to more than {MAX_ALIAS_NODES} nodes",
                pos.at()
            )));
        }
        // Few nodes can still hold much text: bound the copied bytes by the input limit.
        if total.bytes > MAX_INPUT {
            return Err(FormatError::Limit(format!(
                "YAML aliases at {} expand to more than {} MiB of text",
                pos.at(),
                MAX_INPUT / (1024 * 1024)
            )));
        }
        self.alias_spent = total;
        let node = node.duplicate();
        if self.stack.is_empty() {
            return Err(invalid(pos, "document is not a mapping"));
        }
        if self.at_key_or_item() || matches!(node, Node::Scalar(_)) {
            self.flush_pending();
        }
        if depth_of(&node).saturating_add(self.stack.len()) > MAX_DEPTH {
            return Err(FormatError::Limit(format!(
                "YAML nesting at {} is deeper than {MAX_DEPTH} levels",
                pos.at()
            )));
        }
        self.attach(node, pos)
    }
}

fn is_sealed_comment(text: &str) -> bool {
    text.starts_with("ENC[AES256_GCM,") && text.ends_with(",type:comment]")
}

fn cost_of(node: &Node) -> Cost {
    let one = |bytes: usize| Cost { nodes: 1, bytes };
    match node {
        Node::Map(m) => m.0.iter().fold(one(0), |acc, item| match item {
            MapItem::Entry(k, v) => acc.add(one(k.len())).add(cost_of(v)),
            MapItem::Comment(c) => acc.add(Cost {
                nodes: 0,
                bytes: c.len(),
            }),
        }),
        Node::Seq(items) => items.iter().fold(one(0), |acc, n| acc.add(cost_of(n))),
        Node::Comment(c) => Cost {
            nodes: 0,
            bytes: c.len(),
        },
        Node::Scalar(Scalar::Str(s) | Scalar::Time(s)) => one(s.len()),
        Node::Scalar(Scalar::Bytes(b)) => one(b.len()),
        Node::Scalar(_) => one(8),
    }
}

fn depth_of(node: &Node) -> usize {
    match node {
        Node::Map(m) => 1 + m.entries().map(|(_, v)| depth_of(v)).max().unwrap_or(0),
        Node::Seq(items) => 1 + items.iter().map(depth_of).max().unwrap_or(0),
        Node::Scalar(_) | Node::Comment(_) => 0,
    }
}

/// Types one scalar as go-yaml v3 would decode it for sops.
fn resolve_scalar(
    value: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    is_key: bool,
    pos: Pos,
) -> Result<Scalar, FormatError> {
    let core = tag.filter(|t| t.handle() == CORE).map(Tag::suffix);
    if tag.is_some() && core.is_none() {
        // Local and unknown tags (`!secret`, `!`) keep the text as a string.
        return Ok(Scalar::Str(value.to_string()));
    }
    match core {
        None if style != ScalarStyle::Plain => Ok(Scalar::Str(value.to_string())),
        None => match resolve::plain(value) {
            Resolved::Leaf(s) => Ok(s),
            Resolved::Merge => Ok(Scalar::Str(value.to_string())),
            Resolved::Uint64 if is_key => Ok(Scalar::Str(value.to_string())),
            Resolved::Uint64 => Err(invalid(
                pos,
                "integer is beyond the signed 64-bit range (Cannot walk value, unknown type: uint64)",
            )),
        },
        Some("str") => Ok(Scalar::Str(value.to_string())),
        Some("binary") => decode_binary(value, pos),
        Some(kind @ ("int" | "float" | "bool" | "null" | "timestamp")) => {
            typed(value, kind, pos)
        }
        // Other core tags (`!!set`, `!!omap`, `!!merge`, …) on a scalar: keep the text.
        Some(_) => Ok(Scalar::Str(value.to_string())),
    }
}

fn typed(value: &str, kind: &str, pos: Pos) -> Result<Scalar, FormatError> {
    let resolved = match kind {
        "timestamp" => crate::format::timestamp::canonical(value).map(Scalar::Time),
        _ => match resolve::plain(value) {
            Resolved::Leaf(s) => Some(s),
            _ => None,
        },
    };
    match (kind, resolved) {
        ("int", Some(s @ Scalar::Int(_)))
        | ("float", Some(s @ Scalar::Float(_)))
        | ("bool", Some(s @ Scalar::Bool(_)))
        | ("null", Some(s @ Scalar::Null))
        | ("timestamp", Some(s @ Scalar::Time(_))) => Ok(s),
        #[allow(clippy::cast_precision_loss)]
        ("float", Some(Scalar::Int(i))) => Ok(Scalar::Float(i as f64)),
        _ => Err(invalid(pos, "value does not match its explicit tag")),
    }
}

fn decode_binary(value: &str, pos: Pos) -> Result<Scalar, FormatError> {
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| invalid(pos, "!!binary value contains invalid base64 data"))?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => Scalar::Str(s),
        Err(e) => Scalar::Bytes(e.into_bytes()),
    })
}
