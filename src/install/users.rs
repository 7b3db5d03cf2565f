//! Owners and groups: names resolved through NSS (the `nix` crate), numbers applied as given,
//! `--ignore-passwd` mapping names to root (docs/manifest.md#what-install-does, step 7).

use super::plan::Principal;
use std::cell::RefCell;
use std::collections::HashMap;

/// How names are resolved.
pub trait Resolver {
    /// uid and primary gid of a user name.
    fn user(&self, name: &str) -> Option<(u32, u32)>;
    /// gid of a group name.
    fn group(&self, name: &str) -> Option<u32>;
}

/// The system's user database through NSS, each name looked up once per run (an install of
/// a thousand secrets owned by a handful of users would otherwise read `/etc/passwd` and
/// `/etc/group` thousands of times).
#[derive(Default)]
pub struct Nss {
    users: RefCell<HashMap<String, Option<(u32, u32)>>>,
    groups: RefCell<HashMap<String, Option<u32>>>,
}

impl Resolver for Nss {
    fn user(&self, name: &str) -> Option<(u32, u32)> {
        *self
            .users
            .borrow_mut()
            .entry(name.to_string())
            .or_insert_with(|| {
                let u = nix::unistd::User::from_name(name).ok()??;
                Some((u.uid.as_raw(), u.gid.as_raw()))
            })
    }
    fn group(&self, name: &str) -> Option<u32> {
        *self
            .groups
            .borrow_mut()
            .entry(name.to_string())
            .or_insert_with(|| {
                let g = nix::unistd::Group::from_name(name).ok()??;
                Some(g.gid.as_raw())
            })
    }
}

/// `--ignore-passwd`: every name is root.
pub struct IgnorePasswd;

impl Resolver for IgnorePasswd {
    fn user(&self, _name: &str) -> Option<(u32, u32)> {
        Some((0, 0))
    }
    fn group(&self, _name: &str) -> Option<u32> {
        Some(0)
    }
}

/// Why an owner or group did not resolve (names only; they come from the manifest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// No such user.
    User(String),
    /// No such group.
    Group(String),
}

impl Unresolved {
    /// The status reason code and message.
    pub fn reason(&self) -> (&'static str, String) {
        match self {
            Unresolved::User(n) => ("unknown-owner", format!("user {n:?} does not exist")),
            Unresolved::Group(n) => ("unknown-group", format!("group {n:?} does not exist")),
        }
    }
}

/// Resolves an item's owner and group to numbers.
pub fn resolve(
    r: &dyn Resolver,
    owner: &Principal,
    group: &Principal,
) -> Result<(u32, u32), Unresolved> {
    let (uid, primary) = match owner {
        Principal::Name(n) => r.user(n).ok_or_else(|| Unresolved::User(n.clone()))?,
        Principal::Id(u) => (*u, 0),
        Principal::OwnersPrimary => (0, 0),
    };
    let gid = match group {
        Principal::Name(n) => r.group(n).ok_or_else(|| Unresolved::Group(n.clone()))?,
        Principal::Id(g) => *g,
        Principal::OwnersPrimary => primary,
    };
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_numbers_and_unknowns() {
        let n = Nss::default();
        let root = Principal::Name("root".into());
        assert_eq!(resolve(&n, &root, &Principal::OwnersPrimary), Ok((0, 0)));
        assert_eq!(
            resolve(&n, &Principal::Id(1001), &Principal::Id(1002)),
            Ok((1001, 1002))
        );
        let ghost = Principal::Name("hostseal-no-such-user-x".into());
        assert!(matches!(
            resolve(&n, &ghost, &Principal::OwnersPrimary),
            Err(Unresolved::User(_))
        ));
        assert_eq!(
            resolve(&IgnorePasswd, &ghost, &Principal::Id(7)),
            Ok((0, 7))
        );
    }
}
