//! Step 11 of docs/manifest.md#what-install-does: custom `path`s. Each is reached by an fd-relative walk from `/` through
//! directories no other user can replace, and replaced only by `renameat` of a fresh symlink
//! (→ `symlinkPath/<name>`, lchowned to the owner) made under a random name beside it.

use super::fs;
use nix::fcntl::{readlinkat, renameat, AtFlags};
use nix::sys::stat::SFlag;
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use std::path::Path;

/// What happened at a custom path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linked {
    /// A symlink was made or replaced.
    Linked,
    /// A regular file was there and was replaced (logged, recorded as `replaced-file`).
    ReplacedFile,
}

/// Points `path` at `target`, owned (the link itself) by `uid:gid`.
pub fn link(path: &Path, target: &Path, uid: u32, gid: u32) -> Result<Linked, String> {
    let (parent, name) = fs::split_parent(path).ok_or_else(|| "not a file path".to_string())?;
    let dir = fs::walk_dir(parent, true).map_err(|e| e.message())?;
    let existing = fs::lstat_at(&dir, name).map_err(|e| e.desc().to_lowercase())?;
    let outcome = match existing.as_ref().map(fs::kind) {
        None | Some(SFlag::S_IFLNK) => Linked::Linked,
        Some(SFlag::S_IFREG) => Linked::ReplacedFile,
        Some(SFlag::S_IFDIR) => return Err("a directory is there; it is never replaced".into()),
        Some(_) => return Err("a special file is there; refusing to replace it".into()),
    };
    fs::remove_leftovers(&dir, &format!(".{name}.hostseal-"), SFlag::S_IFLNK);
    let tmp = format!(".{name}.hostseal-{}", fs::random_suffix());
    symlinkat(target, &dir, tmp.as_str()).map_err(|e| e.desc().to_lowercase())?;
    let r = fchownat(
        &dir,
        tmp.as_str(),
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .and_then(|()| renameat(&dir, tmp.as_str(), &dir, name));
    if let Err(e) = r {
        let _ = unlinkat(&dir, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
        return Err(e.desc().to_lowercase());
    }
    Ok(outcome)
}

/// Removes the symlink at `path` if it still points at `target` (a secret no longer in the
/// manifest). Anything else there is left alone.
pub fn unlink_if_ours(path: &Path, target: &Path) -> bool {
    let Some((parent, name)) = fs::split_parent(path) else {
        return false;
    };
    let Ok(dir) = fs::walk_dir(parent, false) else {
        return false;
    };
    match readlinkat(&dir, name) {
        Ok(t) if Path::new(&t) == target => {
            unlinkat(&dir, name, UnlinkatFlags::NoRemoveDir).is_ok()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_file_and_symlink_not_directory() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("etc/app/secret");
        let target = Path::new("/run/secrets/app");
        assert_eq!(link(&p, target, 0, 0), Ok(Linked::Linked));
        assert_eq!(std::fs::read_link(&p).unwrap(), target);
        assert_eq!(
            link(&p, Path::new("/run/secrets/b"), 0, 0),
            Ok(Linked::Linked)
        );
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, b"old").unwrap();
        assert_eq!(link(&p, target, 0, 0), Ok(Linked::ReplacedFile));
        std::fs::remove_file(&p).unwrap();
        std::fs::create_dir(&p).unwrap();
        assert!(link(&p, target, 0, 0).is_err());
        assert!(p.is_dir());
    }

    #[test]
    fn refuses_symlinked_parent_and_writable_parent() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), t.path().join("ln")).unwrap();
        assert!(link(&t.path().join("ln/x"), Path::new("/t"), 0, 0).is_err());
        assert!(std::fs::read_dir(elsewhere.path())
            .unwrap()
            .next()
            .is_none());
        let w = t.path().join("w");
        std::fs::create_dir(&w).unwrap();
        std::fs::set_permissions(&w, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(link(&w.join("x"), Path::new("/t"), 0, 0).is_err());
    }

    #[test]
    fn unlink_only_our_links() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("l");
        std::os::unix::fs::symlink("/run/secrets/a", &p).unwrap();
        assert!(!unlink_if_ours(&p, Path::new("/run/secrets/b")));
        assert!(unlink_if_ours(&p, Path::new("/run/secrets/a")));
        assert!(std::fs::symlink_metadata(&p).is_err());
    }
}
