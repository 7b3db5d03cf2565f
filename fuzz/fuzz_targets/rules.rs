//! Fuzz target `rules`: the .sops.yaml rules parser (RulesFile::parse) and rule matching.
//! The check itself lives in `fuzz/checks.rs` (shared with `tests/regressions.rs`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::rules(data));
