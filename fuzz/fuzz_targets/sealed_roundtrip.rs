//! Fuzz target `sealed_roundtrip`: see `checks::sealed_roundtrip`.
//! The check itself lives in `fuzz/checks.rs` (shared with `tests/regressions.rs`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::sealed_roundtrip(data));
