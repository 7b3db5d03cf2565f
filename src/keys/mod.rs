//! Keys: age recipients and identities, ssh host keys (native and through ssh-to-age), the
//! wrapping of the data key per recipient, Shamir sharing across key groups, and identity
//! discovery on the workstation (SPEC §1 "Identities on the workstation").

pub mod datakey;
pub mod identity;
pub mod recipient;
pub mod shamir;
pub mod ssh_to_age;
