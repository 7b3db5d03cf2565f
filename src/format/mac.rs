//! The sops MAC (FORMAT §7). (Skeleton.)
