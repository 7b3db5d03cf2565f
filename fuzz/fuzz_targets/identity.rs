//! Fuzz target `identity`: identity files (age/OpenSSH), the age armor reader, pubkey's reader.
//! The check itself lives in `fuzz/checks.rs` (shared with `tests/regressions.rs`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::identity(data));
