//! The `hostseal` binary: a thin shell over the library. (Skeleton.)
fn main() {}
