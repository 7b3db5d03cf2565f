//! Shamir secret sharing over GF(2^8) as sops does it (FORMAT §6). (Skeleton.)
