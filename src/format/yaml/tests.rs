//! Unit tests of the yaml store: parsing, comment placement, emission, round trips.

use super::*;
use crate::format::tree::{Map, MapItem, Node, Scalar};

fn p(s: &str) -> Tree {
    parse(s.as_bytes()).unwrap()
}

fn rt(s: &str) -> String {
    String::from_utf8(emit(&p(s), 4).unwrap()).unwrap()
}

#[test]
fn dump_events_for_debugging() {
    let Ok(path) = std::env::var("YDUMP") else {
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let out = match parse(text.as_bytes()) {
        Ok(t) => emit(&t, 4).unwrap(),
        Err(e) => format!("ERROR {e}\n").into_bytes(),
    };
    std::fs::write(format!("{path}.mine"), out).unwrap();
}

#[test]
fn simple_round_trip() {
    let s = "a: 1\nb:\n    c: x\nl:\n    - 1\n    - two\n";
    assert_eq!(rt(s), s);
}

#[test]
fn dump_raw_events_for_debugging() {
    let Ok(path) = std::env::var("YEVENTS") else {
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let mut parser = granit_parser::Parser::new_from_str(&text);
    let mut out = String::new();
    while let Some(Ok((e, span))) = parser.next_event() {
        out.push_str(&format!(
            "{}:{} {e:?}\n",
            span.start.line(),
            span.start.col()
        ));
    }
    std::fs::write(format!("{path}.events"), out).unwrap();
}

fn entry(k: &str, v: Node) -> MapItem {
    MapItem::Entry(k.into(), v)
}

fn comment(t: &str) -> MapItem {
    MapItem::Comment(t.into())
}

#[test]
fn line_comments_go_before_their_entry() {
    let t = p("a: 1 # one\nb:\n    - x # ex\n    - name: n # nn\n      v: 2\n");
    let b = Node::Seq(vec![
        Node::Comment(" ex".into()),
        Node::str("x"),
        Node::Map(Map(vec![
            comment(" nn"),
            entry("name", Node::str("n")),
            entry("v", Node::Scalar(Scalar::Int(2))),
        ])),
    ]);
    let want = Map(vec![
        comment(" one"),
        entry("a", Node::Scalar(Scalar::Int(1))),
        entry("b", b),
    ]);
    assert_eq!(t.docs, vec![want]);
}

#[test]
fn head_and_foot_comments_by_column() {
    let t = p("# h\na:\n    # inner head\n    b: 1\n    # inner foot\n# outer\nc: 2\n# end\n");
    let a = Node::Map(Map(vec![
        comment(" inner head"),
        entry("b", Node::Scalar(Scalar::Int(1))),
        comment(" inner foot"),
    ]));
    let want = Map(vec![
        comment(" h"),
        entry("a", a),
        comment(" outer"),
        entry("c", Node::Scalar(Scalar::Int(2))),
        comment(" end"),
    ]);
    assert_eq!(t.docs, vec![want]);
}

#[test]
fn sealed_comment_items_are_plain_strings() {
    let enc = "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:comment]";
    let t = p(&format!("l:\n    - {enc}\n    - b\n#{enc}\n"));
    let l = Node::Seq(vec![Node::str(enc), Node::str("b")]);
    assert_eq!(t.docs, vec![Map(vec![entry("l", l), comment(enc)])]);
}

#[test]
fn sealed_comment_line_after_sequence_stays_in_mapping() {
    // sops writes a mapping's comment after a nested list like this; it must stay in the
    // mapping (its AAD is the mapping's path), unlike a clear comment at the same place.
    let enc = "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:comment]";
    let t = p(&format!(
        "u:\n    - r:\n        - a\n      #{enc}\n    - b\n"
    ));
    let item = Map(vec![
        entry("r", Node::Seq(vec![Node::str("a")])),
        comment(enc),
    ]);
    let want = Map(vec![entry(
        "u",
        Node::Seq(vec![Node::Map(item), Node::str("b")]),
    )]);
    assert_eq!(t.docs, vec![want]);
    let t = p("u:\n    - r:\n        - a\n      # clear\n    - b\n");
    let r = Node::Seq(vec![Node::str("a"), Node::Comment(" clear".into())]);
    let want = Map(vec![entry(
        "u",
        Node::Seq(vec![Node::Map(Map(vec![entry("r", r)])), Node::str("b")]),
    )]);
    assert_eq!(t.docs, vec![want]);
}

#[test]
fn scalar_types() {
    let t = p("a: 0x1F\nb: '0x1F'\nc: !!str 42\nd: !!binary aGVsbG8=\ne: !!binary /w==\nf: 2024-01-02\ng: ~\nh: on\ni: 1.0e+3\n");
    let d = &t.docs[0];
    assert_eq!(d.get("a"), Some(&Node::Scalar(Scalar::Int(31))));
    assert_eq!(d.get("b"), Some(&Node::str("0x1F")));
    assert_eq!(d.get("c"), Some(&Node::str("42")));
    assert_eq!(d.get("d"), Some(&Node::str("hello")));
    assert_eq!(d.get("e"), Some(&Node::Scalar(Scalar::Bytes(vec![0xff]))));
    assert_eq!(
        d.get("f"),
        Some(&Node::Scalar(Scalar::Time("2024-01-02T00:00:00Z".into())))
    );
    assert_eq!(d.get("g"), Some(&Node::Scalar(Scalar::Null)));
    assert_eq!(d.get("h"), Some(&Node::str("on")));
    assert_eq!(d.get("i"), Some(&Node::Scalar(Scalar::Float(1000.0))));
}

#[test]
fn multi_document_streams() {
    let t = p("a: 1\n---\nb: 2\n");
    assert_eq!(t.docs.len(), 2);
    assert_eq!(rt("a: 1\n---\nb: 2\n"), "a: 1\n---\nb: 2\n");
}

fn err(s: &str) -> FormatError {
    parse(s.as_bytes()).unwrap_err()
}

#[test]
fn refusals_name_positions_not_text() {
    let cases = [
        "sekrit: 1\nsekrit: 2\n",
        "1: sekrit\n",
        "- sekrit\n",
        "a: \"sekrit\n",
        "a: sekrit\n b: x\n",
        "a: 18446744073709551615\n",
        "a: !!int sekrit\n",
        "a: !!binary sekrit!\n",
        "a: *sekrit\n",
        "a: b: sekrit\n",
        "a: \"\\qsekrit\"\n",
    ];
    for c in cases {
        let e = err(c);
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("sekrit"), "{c:?} → {shown}");
        assert!(!shown.contains("18446744073709551615"), "{shown}");
        assert!(shown.contains(':'), "{shown}");
    }
    assert_eq!(
        err(""),
        FormatError::Invalid(
            "File cannot be completely empty, it must contain at least one document".into()
        )
    );
    assert_eq!(err("# c\n"), err(""));
    match err("a: 1\nb: \"x\n") {
        FormatError::Syntax { kind, line, .. } => {
            assert_eq!(kind, "YAML");
            assert!(line >= 2);
        }
        other => panic!("{other:?}"),
    }
    match parse(b"a: 1\nb: \xff\n").unwrap_err() {
        FormatError::Syntax { line, column, .. } => assert_eq!((line, column), (2, 4)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn alias_expansion_is_bounded() {
    let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..8 {
        let prev = i - 1;
        s.push_str(&format!(
            "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
        ));
    }
    assert!(matches!(err(&s), FormatError::Limit(_)));
    let t = p("a: &x {k: v}\nb: *x\n");
    assert_eq!(t.docs[0].get("a"), t.docs[0].get("b"));
}

#[test]
fn nesting_is_bounded() {
    let deep = |n: usize| {
        let mut s = String::from("a: ");
        s.push_str(&"[".repeat(n));
        s.push_str(&"]".repeat(n));
        s.push('\n');
        s
    };
    assert!(parse(deep(100).as_bytes()).is_ok());
    assert!(matches!(err(&deep(500)), FormatError::Limit(_)));
    let mut block = String::new();
    for i in 0..300 {
        block.push_str(&" ".repeat(i));
        block.push_str("k:\n");
    }
    assert!(matches!(err(&block), FormatError::Limit(_)));
}

#[test]
fn emit_styles_as_go_yaml() {
    let mut m = Map::default();
    m.push("s", Node::str("yes"));
    m.push("e", Node::str(""));
    m.push(
        "t",
        Node::Scalar(Scalar::Time("2024-01-02T00:00:00Z".into())),
    );
    m.push("ts", Node::str("2026-11-23T14:48:02Z"));
    m.push("f", Node::Scalar(Scalar::Float(f64::INFINITY)));
    m.push("n", Node::Scalar(Scalar::Null));
    m.push("b", Node::Scalar(Scalar::Bytes(b"raw".to_vec())));
    m.push("lock", Node::str("🔐"));
    m.push("em", Node::Map(Map::default()));
    m.push("el", Node::Seq(vec![]));
    m.0.push(MapItem::Comment(" tail".into()));
    let out = emit(&Tree { docs: vec![m] }, 4).unwrap();
    let want = "s: \"yes\"\ne: \"\"\nt: 2024-01-02T00:00:00Z\nts: \"2026-11-23T14:48:02Z\"\nf: .inf\n\"n\": null\nb: raw\nlock: \"\\U0001F510\"\nem: {}\nel: []\n# tail\n";
    assert_eq!(String::from_utf8(out).unwrap(), want);
}
