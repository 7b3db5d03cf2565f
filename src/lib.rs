//! hostseal: seal secrets to the keys of the machines that need them.
//!
//! The on-disk format is the [sops](https://getsops.io) format, so files written by hostseal
//! decrypt with `sops` and files written by `sops` decrypt with hostseal. The library has two
//! flows, each a pipeline of small pure steps:
//!
//! * **seal / open** (workstation): bytes → a store of [`mod@format`] → [`format::tree::Tree`] →
//!   [`sops`] (data key, per-value AES-GCM, MAC) → bytes.
//! * **install** (host, activation, root): manifest → validated plan → identities → each sealed
//!   file opened once → generation written fd-relative → atomic switch → restarts → status.
//!
//! ```no_run
//! use hostseal::format::Format;
//! use hostseal::keys::identity::IdentitySet;
//! # fn main() -> Result<(), hostseal::error::Error> {
//! let sealed = std::fs::read("secrets/builder/tunnel.json").unwrap();
//! let ids = IdentitySet::from_file(std::path::Path::new("/var/lib/hostseal/key.txt"))?;
//! let plain = hostseal::sops::open(&sealed, Format::Json, &ids)?;
//! let bytes = plain.emit(Format::Json, &Default::default())?;
//! # let _ = bytes; Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod age_file;
pub mod cli;
pub mod commands;
pub mod commit;
pub mod error;
pub mod fileio;
pub mod format;
pub mod install;
pub mod keys;
pub mod limits;
pub mod rotation;
pub mod rules;
pub mod secret;
pub mod sops;
pub mod tunnel;
