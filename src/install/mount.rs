//! Step 3 of docs/manifest.md#what-install-does: the RAM filesystem at the mount point (ramfs, or tmpfs with `useTmpfs`),
//! reused only when `/proc/self/mountinfo` lists the mount point itself with the right type.
//!
//! The mount point must be owned by root and every directory above it must pass the trust rule
//! ([`super::trust`]: root-owned, not group/other-writable, no sticky `/tmp`), so no other user
//! can swap it between the checks and the mount. The file system is mounted on the directory
//! already opened (its `/proc/self/fd/N` path), and `/proc/self/mountinfo` is read again to
//! check that the new mount is at the mount point.

use super::fs;
use crate::error::Error;
use nix::sys::stat::{fchmod, fstat, Mode};
use nix::unistd::{fchown, Gid, Uid};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// How to get the mount point ready.
#[derive(Debug, Clone, Copy)]
pub struct MountOpts {
    /// tmpfs instead of ramfs.
    pub use_tmpfs: bool,
    /// Do not mount (tests, containers).
    pub no_mount: bool,
    /// With `no_mount`: accept a disk file system.
    pub allow_disk: bool,
}

/// Makes sure a RAM file system is at `mount_point`, then sets its root to 0:0 0751. Returns
/// the mount root opened.
pub fn prepare(mount_point: &Path, o: MountOpts) -> Result<OwnedFd, Error> {
    let err = |m: String| Error::failure(m).with_file(mount_point.display().to_string());
    let (parent, name) =
        fs::split_parent(mount_point).ok_or_else(|| err("not a directory path".into()))?;
    let pfd = trusted_parent(parent).map_err(err)?;
    let dir = fs::ensure_dir_at(&pfd, name, 0o751).map_err(|e| err(e.desc().to_lowercase()))?;
    ensure_root_owned(&dir).map_err(err)?;
    let dir = if o.no_mount {
        check_ram_fs(&dir, o.allow_disk).map_err(err)?;
        dir
    } else {
        mount_if_needed(mount_point, &dir, o.use_tmpfs).map_err(err)?;
        let mounted = fs::open_dir_at(&pfd, name).map_err(|e| err(e.desc().to_lowercase()))?;
        verify_mounted(mount_point, &dir, &mounted, o.use_tmpfs).map_err(err)?;
        mounted
    };
    fchown(&dir, Some(Uid::from_raw(0)), Some(Gid::from_raw(0)))
        .map_err(|e| err(e.desc().to_lowercase()))?;
    fchmod(&dir, Mode::from_bits_truncate(0o751)).map_err(|e| err(e.desc().to_lowercase()))?;
    Ok(dir)
}

/// The mount point's parent, opened under the trust rule; created (0755 root) when missing.
fn trusted_parent(parent: &Path) -> Result<OwnedFd, String> {
    let refused = |e: super::trust::TrustError| {
        format!("{e}: the mount point must not be under a directory other users can write")
    };
    // The deepest existing ancestor must pass before anything is created under it.
    for dir in parent.ancestors() {
        match super::trust::open_trusted_dir(dir) {
            Ok(_) => break,
            Err(super::trust::TrustError::Missing) => {}
            Err(e) => return Err(refused(e)),
        }
    }
    if !parent.exists() {
        fs::walk_dir(parent, true).map_err(|e| e.message())?;
    }
    super::trust::open_trusted_dir(parent).map_err(refused)
}

/// An existing mount point owned by another user is refused, never taken over.
fn ensure_root_owned(dir: &OwnedFd) -> Result<(), String> {
    let st = fstat(dir).map_err(|e| e.desc().to_lowercase())?;
    if st.st_uid != 0 {
        return Err(format!(
            "the mount point is owned by uid {}, not root: refusing to mount over it",
            st.st_uid
        ));
    }
    Ok(())
}

/// After mounting: mountinfo lists the mount point with the right type, and the directory now
/// reached there is a RAM file system on another device than the directory mounted over.
fn verify_mounted(
    mount_point: &Path,
    under: &OwnedFd,
    mounted: &OwnedFd,
    tmpfs: bool,
) -> Result<(), String> {
    let want = if tmpfs { "tmpfs" } else { "ramfs" };
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("/proc/self/mountinfo: {}", crate::error::io_message(&e)))?;
    let listed = mounted_type(&info, mount_point);
    let a = fstat(under).map_err(|e| e.desc().to_lowercase())?;
    let b = fstat(mounted).map_err(|e| e.desc().to_lowercase())?;
    let fresh_or_reused = a.st_dev != b.st_dev || is_ram_fs(under);
    if listed.as_deref() != Some(want) || !is_ram_fs(mounted) || !fresh_or_reused {
        return Err(format!(
            "after mounting, /proc/self/mountinfo does not show {want} at the mount point"
        ));
    }
    Ok(())
}

/// Whether the file system of `fd` is ramfs or tmpfs ([`super::platform`]).
pub fn is_ram_fs(fd: &OwnedFd) -> bool {
    super::platform::is_ram_fs(fd)
}

fn check_ram_fs(dir: &OwnedFd, allow_disk: bool) -> Result<(), String> {
    if allow_disk || is_ram_fs(dir) {
        return Ok(());
    }
    Err("--no-mount: the mount point is not on tmpfs or ramfs (add --allow-disk for tests)".into())
}

fn mount_if_needed(mount_point: &Path, dir: &OwnedFd, tmpfs: bool) -> Result<(), String> {
    let want = if tmpfs { "tmpfs" } else { "ramfs" };
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("/proc/self/mountinfo: {}", crate::error::io_message(&e)))?;
    match mounted_type(&info, mount_point) {
        Some(t) if t == want => return Ok(()),
        Some(t) => return Err(format!("already mounted as {t}, expected {want}")),
        None => {}
    }
    if !fs::list_dir(dir)
        .map_err(|e| e.desc().to_lowercase())?
        .is_empty()
    {
        return Err("not a mount point and not empty: refusing to mount over it".into());
    }
    // The directory already opened and checked, not the path again.
    let target = super::platform::fd_path(dir.as_raw_fd());
    let r = super::platform::mount_ram(&target, tmpfs);
    r.map_err(|e| format!("mount {want}: {}", e.desc().to_lowercase()))
}

/// The file system type of the topmost mount exactly at `path`, from mountinfo text.
pub fn mounted_type(info: &str, path: &Path) -> Option<String> {
    let want = path.to_str()?;
    info.lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let mp = f.nth(4)?;
            let rest = l.split(" - ").nth(1)?;
            let fstype = rest.split(' ').next()?;
            (unescape(mp) == want).then(|| fstype.to_string())
        })
        .next_back()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| c == b'\\' && d.iter().all(|x| (b'0'..=b'7').contains(x)));
        match oct.and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok()) {
            Some(v) => {
                out.push(v);
                i += 4;
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_parsing() {
        let info = "22 1 0:21 / /run rw,nosuid shared:5 - tmpfs tmpfs rw\n\
                    40 22 0:40 / /run/secrets.d rw,nodev - ramfs none rw,mode=751\n\
                    41 22 0:41 / /run/a\\040b rw - tmpfs x rw\n";
        assert_eq!(
            mounted_type(info, Path::new("/run/secrets.d")).as_deref(),
            Some("ramfs")
        );
        assert_eq!(
            mounted_type(info, Path::new("/run/a b")).as_deref(),
            Some("tmpfs")
        );
        assert_eq!(mounted_type(info, Path::new("/run/secrets")), None);
    }

    #[test]
    fn no_mount_refuses_disk_unless_allowed() {
        if !crate::install::trust::test_support::is_root() {
            eprintln!("skipped: needs root (the mount point must be root-owned)");
            return;
        }
        let t = crate::install::trust::test_support::trusted_tmp();
        let mp = t.path().join("m");
        let o = MountOpts {
            use_tmpfs: false,
            no_mount: true,
            allow_disk: false,
        };
        let r = prepare(&mp, o);
        let on_ram = nix::sys::statfs::statfs(t.path())
            .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC);
        assert_eq!(r.is_ok(), on_ram);
        let o = MountOpts {
            allow_disk: true,
            ..o
        };
        assert!(prepare(&mp, o).is_ok());
    }

    #[test]
    fn real_ramfs_mount_and_reuse() {
        if !crate::install::trust::test_support::is_root() {
            eprintln!("skipped: needs root (mount)");
            return;
        }
        let t = crate::install::trust::test_support::trusted_tmp();
        let mp = t.path().join("m");
        let o = MountOpts {
            use_tmpfs: false,
            no_mount: false,
            allow_disk: false,
        };
        let fd = match prepare(&mp, o) {
            Ok(fd) => fd,
            Err(e) if e.message.contains("not permitted") => return, // not root
            Err(e) => panic!("{e}"),
        };
        assert!(is_ram_fs(&fd));
        drop(fd);
        assert!(prepare(&mp, o).is_ok(), "reuse of an existing ramfs");
        let o2 = MountOpts {
            use_tmpfs: true,
            ..o
        };
        assert!(prepare(&mp, o2).is_err(), "wrong type refused");
        nix::mount::umount(&mp).unwrap();
        // Under /tmp (others can write it) and on a mount point another user owns: refused.
        let tmp = tempfile::tempdir().unwrap();
        let e = prepare(&tmp.path().join("m"), o).unwrap_err();
        assert!(e.message.contains("other users can write"), "{}", e.message);
        let mp2 = t.path().join("m2");
        std::fs::create_dir(&mp2).unwrap();
        std::os::unix::fs::chown(&mp2, Some(65534), None).unwrap();
        let e = prepare(&mp2, o).unwrap_err();
        assert!(e.message.contains("not root"), "{}", e.message);
    }
}
