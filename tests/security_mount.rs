//! The mount point, attacked by a local unprivileged user made for the test: a mount point the
//! user owns was silently mounted over, and one under a directory the user can write could be
//! swapped between the check and `mount(2)`. Now both are refused before anything is mounted,
//! and a real mount is checked in `/proc/self/mountinfo`. Run as root (real ramfs mounts).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod common;

use common::host::{is_mount_point, root_or_skip, stderr, Host, TempUser};
use serde_json::json;

fn secrets(h: &Host) -> serde_json::Value {
    let s = h.seal_json("s.json", &json!({"v": "value"}));
    json!([{"name": "s", "sopsFile": s, "format": "json", "key": "v"}])
}

/// M: a mount point owned by a user is refused (exit 1), nothing is mounted there.
#[test]
fn user_owned_mount_point_is_refused() {
    if !root_or_skip("user_owned_mount_point_is_refused") {
        return;
    }
    let h = Host::new();
    let u = TempUser::new();
    let mp = u.dir(&h.p("m"));
    let m = h.manifest(json!({"secrets": secrets(&h)}));
    let o = h.install_mounting(&m);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "{}: the mount point is owned by uid {}, not root: refusing to mount over it",
            mp.display(),
            u.uid
        )),
        "{err}"
    );
    assert!(!is_mount_point(&mp));
    assert!(!h.p("secrets").exists());
}

/// M: a mount point under a directory a user can write (the user could rename it away and put
/// a symlink to any root directory in its place) is refused before anything is created there.
#[test]
fn mount_point_under_a_user_writable_directory_is_refused() {
    if !root_or_skip("mount_point_under_a_user_writable_directory_is_refused") {
        return;
    }
    let h = Host::new();
    let u = TempUser::new();
    let udir = u.dir(&h.p("run"));
    let mp = udir.join("not/yet/secrets.d");
    let m = h.manifest(json!({"secrets": secrets(&h), "secretsMountPoint": mp}));
    let o = h.install_mounting(&m);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "{}: directory {} is not owned by root or is writable by group/other: the mount point must not be under a directory other users can write",
            mp.display(),
            udir.display()
        )),
        "{err}"
    );
    assert!(!udir.join("not").exists(), "nothing is created under it");
    assert!(!is_mount_point(&mp));
}

/// The mount itself: made on the opened directory and found again in mountinfo as ramfs.
#[test]
fn mount_lands_on_the_mount_point_and_is_verified() {
    if !root_or_skip("mount_lands_on_the_mount_point_and_is_verified") {
        return;
    }
    let h = Host::new();
    let m = h.manifest(json!({"secrets": secrets(&h)}));
    let o = h.install_mounting(&m);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mp = h.p("m");
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = info
        .lines()
        .find(|l| l.split(' ').nth(4) == mp.to_str())
        .unwrap_or_else(|| panic!("no mount at {}", mp.display()));
    assert!(line.contains(" - ramfs "), "{line}");
    assert_eq!(std::fs::read(h.p("secrets/s")).unwrap(), b"value");
    let o = h.install_mounting(&m);
    assert_eq!(o.status.code(), Some(0), "reuse: {}", stderr(&o));
    nix::mount::umount(&mp).unwrap();
}
