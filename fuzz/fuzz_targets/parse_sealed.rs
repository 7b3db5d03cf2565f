//! Fuzz target `parse_sealed`: Format::parse_sealed + sops::split_metadata (a sealed file before any key is used).
//! The check itself lives in `fuzz/checks.rs` (shared with `tests/regressions.rs`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::parse_sealed(data));
