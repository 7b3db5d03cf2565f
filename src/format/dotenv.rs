//! The dotenv store: `KEY=VALUE` lines and `#` comments (docs/format.md#dotenv), matching sops byte for
//! byte. A sealed file keeps its metadata as `sops_<flattened key>` lines; [`parse`] folds
//! them back into a nested `sops` entry and [`emit`] flattens that entry again.

use super::flatten::{flatten, go_val_to_string, unflatten};
use super::tree::{Map, MapItem, Node, Tree};
use super::FormatError;

/// Prefix of every metadata key in a sealed dotenv file.
const SOPS_PREFIX: &str = "sops_";

/// Parses dotenv input (plain or sealed) into a tree of one document. Lines split on `\n`;
/// empty lines are skipped; `#` starts a comment line; other lines split at the first `=`,
/// key and value verbatim except that the two characters `\n` in a value become a newline.
/// Every `sops_…` key is taken out and rebuilt into a `sops` entry appended at the end.
pub fn parse(input: &[u8]) -> Result<Tree, FormatError> {
    super::flatten::check_input_size(input)?;
    let text = std::str::from_utf8(input).map_err(|e| {
        let before = input.get(..e.valid_up_to()).unwrap_or_default();
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let column = before.len().saturating_sub(start) + 1;
        syntax(line, column, "invalid UTF-8")
    })?;
    let mut doc = Map::default();
    let mut metadata = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            doc.0.push(MapItem::Comment(comment.to_string()));
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| syntax(index + 1, 1, "line has no `=`"))?;
        let value = value.replace("\\n", "\n");
        match key.strip_prefix(SOPS_PREFIX) {
            Some(meta_key) => metadata.push((meta_key.to_string(), value)),
            None => doc.push(key, Node::str(value)),
        }
    }
    if !metadata.is_empty() {
        metadata.sort();
        doc.push("sops", unflatten(metadata)?);
    }
    Ok(Tree { docs: vec![doc] })
}

fn syntax(line: usize, column: usize, message: &str) -> FormatError {
    FormatError::Syntax {
        kind: "dotenv",
        line,
        column,
        message: message.into(),
    }
}

/// Emits the first document of a tree as dotenv: `KEY=VALUE` lines (newlines in values written
/// as `\n`, non-string leaves in sops's spelling, e.g. `1.0`, `true`), `#` comments, and a
/// `sops` mapping entry as `sops_…` lines sorted bytewise, last. Nested values are an error.
pub fn emit(tree: &Tree) -> Result<Vec<u8>, FormatError> {
    let mut out = String::new();
    let mut metadata = None;
    let Some(doc) = tree.docs.first() else {
        return Ok(Vec::new());
    };
    for item in &doc.0 {
        match item {
            MapItem::Comment(text) => {
                for line in text.split('\n') {
                    out.push('#');
                    out.push_str(line);
                    out.push('\n');
                }
            }
            MapItem::Entry(key, value @ Node::Map(_)) if key == "sops" => metadata = Some(value),
            MapItem::Entry(key, value) => emit_entry(&mut out, key, value)?,
        }
    }
    if let Some(meta) = metadata {
        for (key, value) in flatten(meta)? {
            out.push_str(SOPS_PREFIX);
            out.push_str(&key);
            out.push('=');
            out.push_str(&value.replace('\n', "\\n"));
            out.push('\n');
        }
    }
    Ok(out.into_bytes())
}

fn emit_entry(out: &mut String, key: &str, value: &Node) -> Result<(), FormatError> {
    if key.contains(['=', '\n']) || key.starts_with('#') {
        return Err(FormatError::Invalid(format!(
            "cannot write key `{}` in a dotenv file (it has `=`, a newline or a leading `#`)",
            key.escape_debug()
        )));
    }
    let text = match value {
        Node::Scalar(super::tree::Scalar::Str(s)) => s.replace('\n', "\\n"),
        Node::Scalar(s) => go_val_to_string(s),
        Node::Map(_) | Node::Seq(_) | Node::Comment(_) => {
            return Err(FormatError::Invalid(format!(
                "cannot use complex value in dotenv file (key `{key}`)"
            )))
        }
    };
    out.push_str(key);
    out.push('=');
    out.push_str(&text);
    out.push('\n');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tree::Scalar;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_lines_verbatim() {
        let input = b"# top\nexport A = x=y \r\n\nB=multi\\nline\n#c2\nC=\n=v";
        let t = parse(input).unwrap();
        let items = &t.docs[0].0;
        assert_eq!(items[0], MapItem::Comment(" top".into()));
        assert_eq!(
            items[1],
            MapItem::Entry("export A ".into(), Node::str(" x=y \r"))
        );
        assert_eq!(
            items[2],
            MapItem::Entry("B".into(), Node::str("multi\nline"))
        );
        assert_eq!(items[3], MapItem::Comment("c2".into()));
        assert_eq!(items[4], MapItem::Entry("C".into(), Node::str("")));
        assert_eq!(items[5], MapItem::Entry("".into(), Node::str("v")));
        assert_eq!(
            emit(&t).unwrap(),
            b"# top\nexport A = x=y \r\nB=multi\\nline\n#c2\nC=\n=v\n"
        );
    }

    #[test]
    fn blank_crlf_line_is_an_error_as_in_sops() {
        assert!(parse(b"A=1\r\n\r\nB=2\r\n").is_err());
    }

    #[test]
    fn line_without_equals_is_an_error_naming_the_line() {
        let err = parse(b"A=1\nsecretvalue\n").unwrap_err();
        assert_eq!(
            err,
            FormatError::Syntax {
                kind: "dotenv",
                line: 2,
                column: 1,
                message: "line has no `=`".into()
            }
        );
        assert!(!err.to_string().contains("secret"));
    }

    #[test]
    fn metadata_is_unflattened_and_flattened_back() {
        let input = b"A=1\nsops_version=3.11.0\nsops_age__list_0__map_enc=x\\ny\nsops_age__list_0__map_recipient=age1\nsops_mac_only_encrypted=true\n";
        let t = parse(input).unwrap();
        let doc = &t.docs[0];
        assert_eq!(doc.0.len(), 2);
        let sops = doc.get("sops").unwrap().as_map().unwrap();
        assert_eq!(
            sops.get("mac_only_encrypted"),
            Some(&Node::Scalar(Scalar::Bool(true)))
        );
        let Some(Node::Seq(age)) = sops.get("age") else {
            panic!()
        };
        assert_eq!(
            age[0].as_map().unwrap().get("enc"),
            Some(&Node::str("x\ny"))
        );
        assert_eq!(
            String::from_utf8(emit(&t).unwrap()).unwrap(),
            "A=1\nsops_age__list_0__map_enc=x\\ny\nsops_age__list_0__map_recipient=age1\nsops_mac_only_encrypted=true\nsops_version=3.11.0\n"
        );
    }

    #[test]
    fn complex_values_and_bad_keys_are_errors() {
        let mut m = Map::default();
        m.push("nested", Node::Map(Map::default()));
        let err = emit(&Tree { docs: vec![m] }).unwrap_err();
        assert!(err.to_string().contains("complex value"));
        assert!(err.to_string().contains("`nested`"));
        let mut m = Map::default();
        m.push("a=b", Node::str("x"));
        assert!(emit(&Tree { docs: vec![m] }).is_err());
    }

    #[test]
    fn non_strings_use_sops_spelling() {
        let mut m = Map::default();
        m.push("a", Node::Scalar(Scalar::Int(1)));
        m.push("b", Node::Scalar(Scalar::Float(1.0)));
        m.push("c", Node::Scalar(Scalar::Float(1e6)));
        m.push("d", Node::Scalar(Scalar::Bool(true)));
        m.push("f", Node::Scalar(Scalar::Null));
        let out = emit(&Tree { docs: vec![m] }).unwrap();
        assert_eq!(out, b"a=1\nb=1.0\nc=1E+06\nd=true\nf=<nil>\n");
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics_and_reparses(
            input in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..64),
                "(sops_|__map_|__list_|[0-9]|[a-z=#\\\\ \n\r]){0,30}".prop_map(String::into_bytes),
            ]
        ) {
            if let Ok(tree) = parse(&input) {
                let out = emit(&tree).unwrap();
                prop_assert_eq!(parse(&out).unwrap(), tree);
            }
        }
    }

    proptest! {
        #[test]
        fn round_trips(
            entries in prop::collection::vec(
                prop_oneof![
                    ("[A-Za-z_ ][A-Za-z0-9_ .-]{0,10}", "[^\\\\]{0,16}")
                        .prop_map(|(k, v)| (Some(k), v)),
                    "[^\\\\\n]{0,16}".prop_map(|c| (None, c)),
                ],
                0..8,
            )
        ) {
            let mut doc = Map::default();
            for (key, text) in entries {
                match key {
                    Some(k) if !k.starts_with("sops_") => doc.push(k, Node::str(text)),
                    Some(_) => {}
                    None => doc.0.push(MapItem::Comment(text)),
                }
            }
            let tree = Tree { docs: vec![doc] };
            let bytes = emit(&tree).unwrap();
            prop_assert_eq!(parse(&bytes).unwrap(), tree);
        }
    }
}
