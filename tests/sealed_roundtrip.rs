//! Sealed files written by sops and by hostseal (the `sealed_roundtrip` fuzz seeds under
//! `tests/fixtures/fuzz/sealed_roundtrip/`, sealed to the fixture key) are reproduced byte for
//! byte by parsing and emitting them without a key, and open with the fixture key. Inputs the
//! fuzzer found (`finding-*`) are not such files; `tests/regressions.rs` replays them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use hostseal::format::{EmitOptions, Format};
use hostseal::keys::identity::IdentitySet;
use std::path::Path;

/// The fuzz targets' store selector (first byte of each seed).
const SEALED: [Format; 5] = [
    Format::Json,
    Format::Yaml,
    Format::Dotenv,
    Format::Ini,
    Format::Binary,
];

fn seeds() -> Vec<(String, Format, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz/sealed_roundtrip");
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("finding-")
        })
        .map(|p| {
            let data = std::fs::read(&p).unwrap();
            let format = SEALED[usize::from(data[0]) % SEALED.len()];
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, format, data[1..].to_vec())
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn seeds_cover_every_store_shamir_and_sops() {
    let all = seeds();
    for f in SEALED {
        assert!(all.iter().any(|(_, g, _)| *g == f), "no seed for {f:?}");
    }
    assert!(all.iter().any(|(n, _, _)| n.contains("shamir")));
    assert!(all.iter().any(|(n, _, _)| n.starts_with("sops")));
}

#[test]
fn parse_then_emit_reproduces_sealed_files_byte_for_byte() {
    for (name, format, bytes) in seeds() {
        let tree = format.parse_sealed(&bytes).unwrap();
        let out = format.emit_sealed(&tree, &EmitOptions::default()).unwrap();
        assert!(out == bytes, "{name}: emit(parse(x)) != x");
    }
}

#[test]
fn seeds_open_with_the_fixture_key() {
    let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys/fuzz-fixture.agekey");
    let ids = IdentitySet::from_file(&key).unwrap();
    for (name, format, bytes) in seeds() {
        assert!(
            hostseal::sops::open(&bytes, format, &ids).is_ok(),
            "{name} does not open"
        );
    }
}
