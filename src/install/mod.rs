//! `hostseal install`: puts each secret on the host at activation (SPEC §3). (Skeleton.)

pub mod cli;
