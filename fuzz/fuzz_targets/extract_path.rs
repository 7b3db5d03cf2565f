//! Fuzz target `extract_path`: --extract paths (parse_extract) and manifest keys (parse_manifest_key).
//! The check itself lives in `fuzz/checks.rs` (shared with `tests/regressions.rs`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::extract_path(data));
