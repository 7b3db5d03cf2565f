//! Unit tests of the yaml store: parsing, comment placement, emission, round trips.

use super::*;

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
