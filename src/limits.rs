//! Parser limits shared by every store (docs/cli.md#errors): they bound the work an attacker-supplied
//! file can cause, so that a hostile sealed file is an error (exit 5), never a hang or a crash.

/// Largest input any parser accepts, in bytes.
pub const MAX_INPUT: usize = 16 * 1024 * 1024;
/// Deepest nesting of mappings and sequences any parser accepts.
pub const MAX_DEPTH: usize = 128;
/// Most nodes that YAML alias expansion may produce in one file.
pub const MAX_ALIAS_NODES: usize = 10_000;
