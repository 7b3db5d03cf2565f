//! What kind of sealed file a file is, from its name and its bytes, without any key.
//!
//! The extension chooses the store (docs/cli.md#file-types), with two corrections by content: a file that is
//! an age ciphertext (binary or armored) is whole-file age whatever its name, and a file whose
//! extension says binary but which parses as a sealed JSON document is JSON — unless it is the
//! binary store's envelope (`data` and `sops` only), which sops-nix users keep as binary.

use crate::error::Error;
use crate::format::metadata::Metadata;
use crate::format::tree::Tree;
use crate::format::Format;
use crate::keys::armor;
use std::path::Path;

/// The kind of a sealed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A sops file of this store (never [`Format::Age`]).
    Sops(Format),
    /// Whole-file age (agenix style); `armored` keeps the output in the input's shape.
    Age {
        /// Whether the file is ASCII-armored.
        armored: bool,
    },
}

impl FileKind {
    /// The type name users know (`json`, `age`, …).
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Sops(f) => f.name(),
            FileKind::Age { .. } => "age",
        }
    }
}

/// A file recognised as sealed: its kind and, for sops files, the parsed metadata.
#[derive(Debug, Clone)]
pub struct Classified {
    /// What kind of sealed file.
    pub kind: FileKind,
    /// The `sops` metadata (`None` for whole-file age).
    pub metadata: Option<Metadata>,
}

/// The magic first line of a binary age file.
const AGE_MAGIC: &[u8] = b"age-encryption.org/v1\n";

/// How many leading bytes [`may_be_sealed`] looks at.
pub const PREFIX_LEN: usize = 64;

/// A cheap first look at a file's leading bytes: `false` only when it cannot be a sealed file.
/// Files named for a tree store always pass (YAML, dotenv and INI can start with anything);
/// others must start like an age file or, after whitespace, a JSON object.
pub fn may_be_sealed(path: &Path, prefix: &[u8]) -> bool {
    if prefix.starts_with(AGE_MAGIC) || prefix.starts_with(b"-----BEGIN AGE ENCRYPTED FILE") {
        return true;
    }
    match Format::from_path(path) {
        Format::Binary | Format::Age => {
            let start = prefix.iter().find(|b| !b.is_ascii_whitespace());
            // An armored age file may have leading whitespace; a JSON envelope starts with `{`.
            matches!(start, Some(b'{') | Some(b'-'))
                || start.is_none() && prefix.len() == PREFIX_LEN
        }
        _ => true,
    }
}

/// Recognises a sealed file; `Ok(None)` when the bytes are not a sealed file of any kind we
/// read (plaintext, another format). A sops file whose metadata is damaged is an error (exit 5)
/// naming no content.
pub fn classify(path: &Path, bytes: &[u8]) -> Result<Option<Classified>, Error> {
    if bytes.starts_with(AGE_MAGIC) || armor::is_armored(bytes) {
        return Ok(Some(Classified {
            kind: FileKind::Age {
                armored: !bytes.starts_with(AGE_MAGIC),
            },
            metadata: None,
        }));
    }
    match Format::from_path(path) {
        Format::Age => Ok(None),
        Format::Binary => classify_json_envelope(bytes),
        store => classify_store(store, bytes),
    }
}

/// A file named for a tree store: sealed if it parses and has a `sops` entry.
fn classify_store(store: Format, bytes: &[u8]) -> Result<Option<Classified>, Error> {
    let Ok(tree) = store.parse_sealed(bytes) else {
        return Ok(None);
    };
    sops_metadata(tree).map(|md| {
        md.map(|metadata| Classified {
            kind: FileKind::Sops(store),
            metadata: Some(metadata),
        })
    })
}

/// A file named as binary: the binary store's envelope, or a sealed JSON file.
fn classify_json_envelope(bytes: &[u8]) -> Result<Option<Classified>, Error> {
    let Ok(tree) = Format::Binary.parse_sealed(bytes) else {
        return Ok(None);
    };
    let envelope = is_binary_envelope(&tree);
    sops_metadata(tree).map(|md| {
        md.map(|metadata| Classified {
            kind: FileKind::Sops(if envelope {
                Format::Binary
            } else {
                Format::Json
            }),
            metadata: Some(metadata),
        })
    })
}

/// One document whose only entries are `data` and `sops`.
fn is_binary_envelope(tree: &Tree) -> bool {
    match tree.docs.as_slice() {
        [doc] => {
            let keys: Vec<&str> = doc.entries().map(|(k, _)| k).collect();
            keys == ["data", "sops"]
        }
        _ => false,
    }
}

/// The metadata of a parsed tree: `None` without a `sops` entry, an error when it is damaged.
fn sops_metadata(tree: Tree) -> Result<Option<Metadata>, Error> {
    let has_sops = tree.docs.iter().any(|d| d.get("sops").is_some());
    if !has_sops {
        return Ok(None);
    }
    crate::sops::split_metadata(tree).map(|(_, md)| Some(md))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD: &str = r#""sops": {"age": [{"recipient": "age1x", "enc": "E"}], "lastmodified": "2024-01-01T00:00:00Z", "mac": "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]", "unencrypted_suffix": "_unencrypted", "version": "3.11.0"}"#;

    fn json(body: &str) -> Vec<u8> {
        format!("{{{body}, {MD}}}").into_bytes()
    }

    #[test]
    fn json_by_extension() {
        let c = classify(Path::new("a/x.json"), &json(r#""a": "ENC[x]""#))
            .unwrap()
            .unwrap();
        assert_eq!(c.kind, FileKind::Sops(Format::Json));
        let md = c.metadata.unwrap();
        assert_eq!(md.groups[0].age[0].recipient, "age1x");
    }

    #[test]
    fn binary_extension_detects_envelope_or_json() {
        let env = classify(Path::new("cert.pem"), &json(r#""data": "ENC[x]""#))
            .unwrap()
            .unwrap();
        assert_eq!(env.kind, FileKind::Sops(Format::Binary));
        let js = classify(Path::new("secrets/tunnel"), &json(r#""a": "ENC[x]""#))
            .unwrap()
            .unwrap();
        assert_eq!(js.kind, FileKind::Sops(Format::Json));
    }

    #[test]
    fn plaintext_and_garbage_are_not_sealed() {
        assert!(classify(Path::new("a.json"), b"{\"a\": 1}")
            .unwrap()
            .is_none());
        assert!(classify(Path::new("a.json"), b"{nope").unwrap().is_none());
        assert!(classify(Path::new("a.txt"), b"\xff\x00").unwrap().is_none());
        assert!(classify(Path::new("a.age"), b"plain").unwrap().is_none());
        assert!(classify(Path::new("a.env"), b"A=1\n").unwrap().is_none());
    }

    #[test]
    fn damaged_metadata_is_malformed() {
        let e = classify(Path::new("a.json"), br#"{"a": 1, "sops": {"age": 3}}"#).unwrap_err();
        assert_eq!(e.exit_code(), 5);
    }

    #[test]
    fn prefix_check_rules_out_only_impossible_files() {
        assert!(may_be_sealed(Path::new("x.bin"), b"  {\"data\""));
        assert!(may_be_sealed(
            Path::new("x.age"),
            b"age-encryption.org/v1\n"
        ));
        assert!(may_be_sealed(
            Path::new("x"),
            b"\n-----BEGIN AGE ENCRYPTED FILE-----"
        ));
        assert!(may_be_sealed(Path::new("x.yaml"), b"\x89PNG"));
        assert!(!may_be_sealed(Path::new("x.png"), b"\x89PNG\r\n"));
        assert!(!may_be_sealed(Path::new("x.bin"), b""));
        assert!(!may_be_sealed(Path::new("x.age"), b"plain text"));
    }

    #[test]
    fn age_files_by_content() {
        let c = classify(Path::new("x.bin"), b"age-encryption.org/v1\n-> X25519 a\n")
            .unwrap()
            .unwrap();
        assert_eq!(c.kind, FileKind::Age { armored: false });
        let armored = crate::keys::armor::encode(b"age-encryption.org/v1\n");
        let c = classify(Path::new("x.age"), armored.as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(c.kind, FileKind::Age { armored: true });
    }

    proptest::proptest! {
        /// Any bytes under any of the extensions: an answer, never a panic.
        #[test]
        fn arbitrary_input_never_panics(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            ext in proptest::sample::select(vec!["json", "yaml", "env", "ini", "age", "bin", ""]),
        ) {
            let name = format!("f.{ext}");
            let _ = classify(Path::new(&name), &bytes);
        }
    }
}
