//! Generations under the mount point (docs/manifest.md#what-install-does, steps 5, 7, 10, 13): finding the previous one,
//! building the next in a `.staging-<random>` directory, renaming it to its number, switching
//! `symlinkPath` atomically, and pruning old ones. All fd-relative; no symlink followed.

use super::fs;
use nix::errno::Errno;
use nix::fcntl::{readlinkat, renameat};
use nix::sys::stat::{fchmod, Mode, SFlag};
use nix::unistd::{symlinkat, unlinkat, UnlinkatFlags};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Prefix of staging directories.
pub const STAGING_PREFIX: &str = ".staging-";

/// A generation number if `name` is one (ASCII digits, no sign, fits u64).
pub fn number(name: &str) -> Option<u64> {
    if name.is_empty() || name.len() > 19 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// What is at `symlinkPath` before the switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkSlot {
    /// Nothing: first install.
    Absent,
    /// A symlink, with its target text.
    Symlink(String),
    /// An empty directory (removed at the switch).
    EmptyDir,
}

/// Inspects `symlinkPath`'s entry in its parent; anything but a symlink, an empty directory or
/// nothing is refused (exit 1 before any change).
pub fn inspect_link<Fd: AsFd>(parent: Fd, name: &str) -> Result<LinkSlot, String> {
    let parent = parent.as_fd();
    let Some(st) = fs::lstat_at(parent, name).map_err(|e| e.desc().to_lowercase())? else {
        return Ok(LinkSlot::Absent);
    };
    match fs::kind(&st) {
        SFlag::S_IFLNK => {
            let t = readlinkat(parent, name).map_err(|e| e.desc().to_lowercase())?;
            Ok(LinkSlot::Symlink(t.to_string_lossy().into_owned()))
        }
        SFlag::S_IFDIR => {
            let d = fs::open_dir_at(parent, name).map_err(|e| e.desc().to_lowercase())?;
            if fs::list_dir(&d)
                .map_err(|e| e.desc().to_lowercase())?
                .is_empty()
            {
                Ok(LinkSlot::EmptyDir)
            } else {
                Err("is a non-empty directory, not a symlink".into())
            }
        }
        _ => Err("exists and is neither a symlink nor an empty directory".into()),
    }
}

/// The previous generation: the link target, only if it is `<mount_point>/<N>` and `N` is a
/// directory directly under the mount point.
pub fn previous<Fd: AsFd>(
    mount: Fd,
    mount_point: &Path,
    slot: &LinkSlot,
) -> Option<(u64, OwnedFd)> {
    let LinkSlot::Symlink(target) = slot else {
        return None;
    };
    let rest = Path::new(target).strip_prefix(mount_point).ok()?.to_str()?;
    let n = number(rest)?;
    let fd = fs::open_dir_at(mount, rest).ok()?;
    Some((n, fd))
}

/// 1 + the largest number among the mount point's numeric entries and the link target.
pub fn next_number<Fd: AsFd>(mount: Fd, prev: Option<u64>) -> Result<u64, Errno> {
    let max = fs::list_dir(mount)?
        .iter()
        .filter_map(|n| number(n))
        .chain(prev)
        .max()
        .unwrap_or(0);
    max.checked_add(1).ok_or(Errno::EOVERFLOW)
}

/// Removes leftover `.staging-*` directories of killed runs.
pub fn clean_staging<Fd: AsFd>(mount: Fd) -> Result<(), Errno> {
    let mount = mount.as_fd();
    for n in fs::list_dir(mount)? {
        if n.starts_with(STAGING_PREFIX) {
            fs::remove_tree_at(mount, &n)?;
        }
    }
    Ok(())
}

/// A generation being built.
pub struct Staging {
    /// Its name under the mount point.
    pub name: String,
    /// Its directory.
    pub dir: OwnedFd,
}

impl Staging {
    /// Creates `.staging-<random>` (0700 root) under the mount point.
    pub fn create<Fd: AsFd>(mount: Fd) -> Result<Staging, Errno> {
        let name = format!("{STAGING_PREFIX}{}", fs::random_suffix());
        let dir = fs::mkdir_exact(mount, &name, 0o700)?;
        Ok(Staging { name, dir })
    }

    /// Writes one file at `rel` (subdirectories made 0751 root:root), owner/mode set before the
    /// first byte (see [`fs::write_new`]).
    pub fn write(
        &self,
        rel: &str,
        bytes: &[u8],
        uid: u32,
        gid: u32,
        mode: u32,
    ) -> Result<(), Errno> {
        let mut comps: Vec<&str> = rel.split('/').collect();
        let file = comps.pop().ok_or(Errno::EINVAL)?;
        let mut dir: Option<OwnedFd> = None;
        for c in comps {
            let next = match &dir {
                Some(d) => fs::ensure_dir_at(d, c, 0o751)?,
                None => fs::ensure_dir_at(&self.dir, c, 0o751)?,
            };
            dir = Some(next);
        }
        match &dir {
            Some(d) => fs::write_new(d, file, bytes, uid, gid, mode),
            None => fs::write_new(&self.dir, file, bytes, uid, gid, mode),
        }
    }

    /// Removes the staging directory (strict abort, dry run).
    pub fn discard<Fd: AsFd>(self, mount: Fd) -> Result<(), Errno> {
        fs::remove_tree_at(mount, &self.name)
    }

    /// Makes the directory 0751 and renames it to `n` (never replacing an existing entry).
    pub fn commit<Fd: AsFd>(self, mount: Fd, n: u64) -> Result<(), Errno> {
        let mount = mount.as_fd();
        fchmod(&self.dir, Mode::from_bits_truncate(0o751))?;
        // rustix makes the renameat2 system call itself: nix offers it only with glibc, and
        // the static musl build (docs/install.md) must keep "never replace".
        rustix::fs::renameat_with(
            mount,
            self.name.as_str(),
            mount,
            n.to_string().as_str(),
            rustix::fs::RenameFlags::NOREPLACE,
        )
        .map_err(|e| Errno::from_raw(e.raw_os_error()))
    }
}

/// Points `name` in `parent` at `target`: a symlink made under a random name, then renamed over
/// the old entry (an empty directory there is removed first).
pub fn switch_link<Fd: AsFd>(
    parent: Fd,
    name: &str,
    target: &Path,
    slot: &LinkSlot,
) -> Result<(), Errno> {
    let parent = parent.as_fd();
    if *slot == LinkSlot::EmptyDir {
        unlinkat(parent, name, UnlinkatFlags::RemoveDir)?;
    }
    atomic_symlink(parent, name, target)
}

/// `symlinkat` under a random name in `parent`, then `renameat` onto `name`.
pub fn atomic_symlink<Fd: AsFd>(parent: Fd, name: &str, target: &Path) -> Result<(), Errno> {
    let parent = parent.as_fd();
    fs::remove_leftovers(parent, &format!(".{name}.hostseal-link-"), SFlag::S_IFLNK);
    let tmp = format!(".{name}.hostseal-link-{}", fs::random_suffix());
    symlinkat(target, parent, tmp.as_str())?;
    let r = renameat(parent, tmp.as_str(), parent, name);
    if r.is_err() {
        let _ = unlinkat(parent, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
    }
    r
}

/// Removes numeric generations ≤ `current - keep` (never `current`; `keep == 0` keeps all);
/// non-numeric entries are left alone. Returns the removed numbers.
pub fn prune<Fd: AsFd>(mount: Fd, current: u64, keep: u64) -> Result<Vec<u64>, Errno> {
    let mount = mount.as_fd();
    if keep == 0 {
        return Ok(Vec::new());
    }
    let limit = current.saturating_sub(keep);
    let mut removed = Vec::new();
    for name in fs::list_dir(mount)? {
        match number(&name) {
            Some(n) if n <= limit && n != current => {
                fs::remove_tree_at(mount, &name)?;
                removed.push(n);
            }
            _ => {}
        }
    }
    removed.sort_unstable();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> (tempfile::TempDir, OwnedFd) {
        let t = tempfile::tempdir().unwrap();
        let fd = nix::fcntl::open(t.path(), fs::DIR_FLAGS, Mode::empty()).unwrap();
        (t, fd)
    }

    #[test]
    fn numbers() {
        assert_eq!(number("12"), Some(12));
        assert_eq!(number("-1"), None);
        assert_eq!(number("1a"), None);
        assert_eq!(number(""), None);
        assert_eq!(number("99999999999999999999"), None);
    }

    #[test]
    fn sops_nix_pruning_scenario() {
        // peers/sops-nix scenario 5: generations 2..=99, a non-numeric dir, link at 99,
        // keepGenerations 10 → 100 created, ≤ 90 removed, 91..=100 kept, non-numeric kept.
        let (t, m) = dir();
        for n in 2..=99 {
            std::fs::create_dir(t.path().join(n.to_string())).unwrap();
        }
        std::fs::create_dir(t.path().join("non-numeric")).unwrap();
        let n = next_number(&m, Some(99)).unwrap();
        assert_eq!(n, 100);
        Staging::create(&m).unwrap().commit(&m, n).unwrap();
        let removed = prune(&m, n, 10).unwrap();
        assert_eq!(removed, (2..=90).collect::<Vec<_>>());
        for k in 91..=100 {
            assert!(t.path().join(k.to_string()).is_dir(), "{k}");
        }
        assert!(t.path().join("non-numeric").is_dir());
        assert!(!t.path().join("90").exists());
    }

    #[test]
    fn keep_zero_keeps_all() {
        let (t, m) = dir();
        std::fs::create_dir(t.path().join("1")).unwrap();
        assert!(prune(&m, 2, 0).unwrap().is_empty());
        assert_eq!(prune(&m, 2, 1).unwrap(), vec![1]);
    }

    #[test]
    fn commit_never_replaces() {
        let (t, m) = dir();
        std::fs::create_dir(t.path().join("3")).unwrap();
        std::fs::write(t.path().join("3/x"), b"old").unwrap();
        let s = Staging::create(&m).unwrap();
        assert_eq!(s.commit(&m, 3), Err(Errno::EEXIST));
        assert_eq!(std::fs::read(t.path().join("3/x")).unwrap(), b"old");
    }

    #[test]
    fn link_slots_and_switch() {
        let (t, m) = dir();
        assert_eq!(inspect_link(&m, "l").unwrap(), LinkSlot::Absent);
        std::fs::create_dir(t.path().join("l")).unwrap();
        let slot = inspect_link(&m, "l").unwrap();
        assert_eq!(slot, LinkSlot::EmptyDir);
        switch_link(&m, "l", Path::new("/x/1"), &slot).unwrap();
        assert_eq!(
            std::fs::read_link(t.path().join("l")).unwrap(),
            Path::new("/x/1")
        );
        let slot = inspect_link(&m, "l").unwrap();
        assert_eq!(slot, LinkSlot::Symlink("/x/1".into()));
        switch_link(&m, "l", Path::new("/x/2"), &slot).unwrap();
        assert_eq!(
            std::fs::read_link(t.path().join("l")).unwrap(),
            Path::new("/x/2")
        );
        std::fs::write(t.path().join("f"), b"").unwrap();
        assert!(inspect_link(&m, "f").is_err());
        std::fs::create_dir_all(t.path().join("d/x")).unwrap();
        assert!(inspect_link(&m, "d").is_err());
    }

    #[test]
    fn previous_only_numeric_dir_under_mount() {
        let (t, m) = dir();
        std::fs::create_dir(t.path().join("4")).unwrap();
        let mp = t.path();
        let target = |s: &str| LinkSlot::Symlink(s.to_string());
        let ok = target(&format!("{}/4", mp.display()));
        assert_eq!(previous(&m, mp, &ok).map(|p| p.0), Some(4));
        assert!(previous(&m, mp, &target("/etc")).is_none());
        assert!(previous(&m, mp, &target(&format!("{}/5", mp.display()))).is_none());
        assert!(previous(&m, mp, &target(&format!("{}/../4", mp.display()))).is_none());
    }

    #[test]
    fn staging_writes_subdirs_0751() {
        use std::os::unix::fs::PermissionsExt;
        let (t, m) = dir();
        let s = Staging::create(&m).unwrap();
        s.write("a/b/c", b"x", 0, 0, 0o400).unwrap();
        let p = t.path().join(&s.name);
        let mode = |q: &Path| std::fs::metadata(q).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&p), 0o700);
        assert_eq!(mode(&p.join("a")), 0o751);
        assert_eq!(mode(&p.join("a/b/c")), 0o400);
        clean_staging(&m).unwrap();
        assert!(!p.exists());
    }
}
