//! The `sops:` metadata block (FORMAT §8). (Skeleton.)
