//! ssh-to-age: ed25519 ssh keys as X25519 age keys, byte-identical to Mic92's tool. (Skeleton.)
