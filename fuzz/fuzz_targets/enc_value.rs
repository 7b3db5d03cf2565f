//! Fuzz target `enc_value`: the ENC[AES256_GCM,…] value parser (and its render/parse round trip).
//! The check itself lives in `fuzz/checks.rs` (shared with `tests/regressions.rs`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::enc_value(data));
