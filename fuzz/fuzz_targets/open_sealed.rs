//! Fuzz target `open_sealed`: see `checks::open_sealed`.
//! The check itself lives in `fuzz/checks.rs` (shared with `tests/regressions.rs`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::open_sealed(data));
