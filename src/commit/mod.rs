//! Commit time: the plaintext guard (`check`), the git hook, safe `edit`. (Skeleton.)
