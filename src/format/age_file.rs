//! Whole-file age (agenix style): the file is one age ciphertext, binary or ASCII-armored.
//! (Skeleton: being written.)
