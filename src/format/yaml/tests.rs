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
    let text = std::fs::read_to_string(path).unwrap();
    print!("{}", String::from_utf8(emit(&p(&text), 4).unwrap()).unwrap());
}

#[test]
fn simple_round_trip() {
    let s = "a: 1\nb:\n    c: x\nl:\n    - 1\n    - two\n";
    assert_eq!(rt(s), s);
}
