//! fd-relative file system helpers (openat/mkdirat/fchown/fchmod/renameat/symlinkat/unlinkat)
//! that never follow a symlink they did not check and never rely on the umask.

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag, AT_FDCWD};
use nix::sys::stat::{fchmod, fstat, fstatat, mkdirat, FileStat, Mode, SFlag};
use nix::unistd::{fchown, unlinkat, Gid, Uid, UnlinkatFlags};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Flags for opening an existing directory without following a symlink.
pub const DIR_FLAGS: OFlag = OFlag::O_DIRECTORY
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC)
    .union(OFlag::O_RDONLY);

/// Flags for a directory only looked into (`openat`), which needs search permission but not
/// read permission: a user who is not root can open the 0644 `status.json` in the 0751 mount
/// point.
#[cfg(any(target_os = "linux", target_os = "android"))]
const SEARCH_DIR_FLAGS: OFlag = DIR_FLAGS.union(OFlag::O_PATH);
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const SEARCH_DIR_FLAGS: OFlag = DIR_FLAGS;

/// Opens `name` (one component) in `dir` as a directory, refusing symlinks.
pub fn open_dir_at<Fd: AsFd>(dir: Fd, name: &str) -> Result<OwnedFd, Errno> {
    openat(dir, name, DIR_FLAGS, Mode::empty())
}

/// The file type bits of a stat.
pub fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// `fstatat` without following a final symlink; `None` when the entry does not exist.
pub fn lstat_at<Fd: AsFd>(dir: Fd, name: &str) -> Result<Option<FileStat>, Errno> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether a directory could be replaced or written by someone other than root: it must be
/// owned by root and not group/other-writable, or owned by root with the sticky bit (then only
/// root-owned entries in it are trusted, which the caller checks per component).
pub fn root_controlled(st: &FileStat) -> bool {
    st.st_uid == 0 && st.st_mode & 0o022 == 0
}

/// A sticky, root-owned directory such as `/tmp`.
pub fn root_sticky(st: &FileStat) -> bool {
    st.st_uid == 0 && st.st_mode & 0o1000 != 0
}

/// Makes a directory `name` in `dir` owned by root (by the caller in user mode, see
/// [`self_ids`]) with exactly `mode` (explicit fchmod, no umask), refusing an
/// existing entry. Returns it opened.
pub fn mkdir_exact<Fd: AsFd>(dir: Fd, name: &str, mode: u32) -> Result<OwnedFd, Errno> {
    let dir = dir.as_fd();
    mkdirat(dir, name, Mode::from_bits_truncate(0o700))?;
    let fd = open_dir_at(dir, name)?;
    let (uid, gid) = self_ids();
    fchown(&fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))?;
    fchmod(&fd, super::platform::mode(mode))?;
    Ok(fd)
}

/// Opens the subdirectory `name` of `dir`, creating it (root, `mode`) when absent. An existing
/// entry must be a directory (not a symlink).
pub fn ensure_dir_at<Fd: AsFd>(dir: Fd, name: &str, mode: u32) -> Result<OwnedFd, Errno> {
    let dir = dir.as_fd();
    match open_dir_at(dir, name) {
        Ok(fd) => Ok(fd),
        Err(Errno::ENOENT) => match mkdir_exact(dir, name, mode) {
            Err(Errno::EEXIST) => open_dir_at(dir, name),
            r => r,
        },
        Err(e) => Err(e),
    }
}

/// Walks an absolute, normalised path from `/`, one `openat(O_DIRECTORY|O_NOFOLLOW)` per
/// component, and returns the final directory. Every directory passed through must be
/// unreplaceable by another user (see [`root_controlled`]; inside a sticky root directory, the
/// entry itself must be root-owned). With `create`, missing components are made 0755 root.
pub fn walk_dir(path: &Path, create: bool) -> Result<OwnedFd, WalkError> {
    let mut cur = openat(AT_FDCWD, "/", DIR_FLAGS, Mode::empty()).map_err(WalkError::Sys)?;
    let mut parent_sticky = false;
    let mut st = fstat(&cur).map_err(WalkError::Sys)?;
    for comp in components(path) {
        check_trusted(&st, parent_sticky)?;
        parent_sticky = root_sticky(&st);
        let next = if create {
            ensure_dir_at(&cur, comp, 0o755)
        } else {
            open_dir_at(&cur, comp)
        };
        cur = next.map_err(|e| match e {
            Errno::ELOOP | Errno::ENOTDIR => WalkError::NotDir(comp.to_string()),
            e => WalkError::Sys(e),
        })?;
        st = fstat(&cur).map_err(WalkError::Sys)?;
    }
    check_trusted(&st, parent_sticky)?;
    Ok(cur)
}

/// Root's rule as a system install runs as root; in user mode the caller is trusted as well
/// ([`Trust`]).
fn check_trusted(st: &FileStat, parent_sticky: bool) -> Result<(), WalkError> {
    if !Trust::process().dir_trusted(st, parent_sticky) {
        return Err(WalkError::Untrusted);
    }
    Ok(())
}

/// Why [`walk_dir`] refused.
#[derive(Debug, PartialEq, Eq)]
pub enum WalkError {
    /// A system call failed.
    Sys(Errno),
    /// A component is a symlink or not a directory.
    NotDir(String),
    /// A directory on the way is writable by, or owned by, someone other than root.
    Untrusted,
}

impl WalkError {
    /// A short message (no secret content: only path components the manifest named).
    pub fn message(&self) -> String {
        match self {
            WalkError::Sys(e) => e.desc().to_lowercase(),
            WalkError::NotDir(c) => format!("component {c:?} is a symlink or not a directory"),
            WalkError::Untrusted => {
                "a parent directory is writable by or owned by a user other than root".into()
            }
        }
    }
}

/// The non-empty components of an absolute path, as UTF-8 (validation guaranteed UTF-8).
pub fn components(path: &Path) -> impl Iterator<Item = &str> {
    path.to_str()
        .unwrap_or_default()
        .split('/')
        .filter(|c| !c.is_empty())
}

/// Splits an absolute path into its parent and final component.
pub fn split_parent(path: &Path) -> Option<(&Path, &str)> {
    let parent = path.parent()?;
    let name = path.file_name()?.to_str()?;
    Some((parent, name))
}

/// Creates a new file `name` in `dir` (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0), then `fchown`,
/// then `fchmod`, then writes `bytes`. On any failure after creation the file is unlinked.
pub fn write_new<Fd: AsFd>(
    dir: Fd,
    name: &str,
    bytes: &[u8],
    uid: u32,
    gid: u32,
    mode: u32,
) -> Result<(), Errno> {
    let dir = dir.as_fd();
    let flags =
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
    let fd = openat(dir, name, flags, Mode::empty())?;
    let r = fill(&fd, bytes, uid, gid, mode);
    if r.is_err() {
        let _ = unlinkat(dir, name, UnlinkatFlags::NoRemoveDir);
    }
    r
}

fn fill(fd: &OwnedFd, bytes: &[u8], uid: u32, gid: u32, mode: u32) -> Result<(), Errno> {
    fchown(fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))?;
    fchmod(fd, super::platform::mode(mode & 0o777))?;
    write_all(fd, bytes)
}

/// Writes every byte, retrying short writes and EINTR.
pub fn write_all<Fd: AsFd>(fd: Fd, mut bytes: &[u8]) -> Result<(), Errno> {
    let fd = fd.as_fd();
    while !bytes.is_empty() {
        match nix::unistd::write(fd, bytes) {
            Ok(0) => return Err(Errno::EIO),
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Opens an existing regular file for reading without following symlinks and without blocking
/// on FIFOs; checks it is regular and at most `cap` bytes; returns the fd and its stat.
pub fn open_regular_at<Fd: AsFd>(
    dir: Fd,
    name: &str,
    cap: u64,
) -> Result<(OwnedFd, FileStat), OpenError> {
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let fd = openat(dir, name, flags, Mode::empty()).map_err(OpenError::Sys)?;
    let st = fstat(&fd).map_err(OpenError::Sys)?;
    if kind(&st) != SFlag::S_IFREG {
        return Err(OpenError::NotRegular);
    }
    if u64::try_from(st.st_size).unwrap_or(u64::MAX) > cap {
        return Err(OpenError::TooLarge);
    }
    Ok((fd, st))
}

/// Reads a whole file of at most `cap` bytes (checked again while reading: it may grow).
pub fn read_capped<Fd: AsFd>(fd: Fd, cap: u64) -> Result<Vec<u8>, OpenError> {
    let fd = fd.as_fd();
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => {
                out.extend_from_slice(buf.get(..n).unwrap_or_default());
                if out.len() > cap {
                    zeroize::Zeroize::zeroize(&mut out);
                    return Err(OpenError::TooLarge);
                }
            }
            Err(Errno::EINTR) => {}
            Err(e) => return Err(OpenError::Sys(e)),
        }
    }
}

/// Why [`open_regular_at`] failed.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError {
    /// A system call failed (ENOENT, ELOOP for a symlink, EACCES, …).
    Sys(Errno),
    /// Not a regular file.
    NotRegular,
    /// Over the size cap.
    TooLarge,
}

impl OpenError {
    /// A short message.
    pub fn message(&self) -> String {
        match self {
            OpenError::Sys(Errno::ELOOP) => "is a symlink".into(),
            OpenError::Sys(Errno::ENOENT) => "no such file".into(),
            OpenError::Sys(e) => e.desc().to_lowercase(),
            OpenError::NotRegular => "not a regular file".into(),
            OpenError::TooLarge => "too large".into(),
        }
    }
}

/// Opens a file that is only parsed, never trusted: `--check-mode sopsfile` in the Nix build
/// sandbox, where nothing is owned by root. `O_NONBLOCK` (a FIFO cannot hang us), symlinks
/// followed, regular, ≤ `cap`. Everything read at activation goes through [`super::trust`].
pub fn open_input(path: &Path, cap: u64) -> Result<(OwnedFd, FileStat), String> {
    let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let fd = nix::fcntl::open(path, flags, Mode::empty()).map_err(|e| match e {
        Errno::ENOENT => "no such file".to_string(),
        e => e.desc().to_lowercase(),
    })?;
    let st = fstat(&fd).map_err(|e| e.desc().to_lowercase())?;
    if kind(&st) != SFlag::S_IFREG {
        return Err(OpenError::NotRegular.message());
    }
    if u64::try_from(st.st_size).unwrap_or(u64::MAX) > cap {
        return Err(OpenError::TooLarge.message());
    }
    Ok((fd, st))
}

/// Opens a file hostseal itself wrote (the status file): the parent is opened by path, the
/// file itself never through a symlink.
pub fn open_regular(path: &Path, cap: u64) -> Result<(OwnedFd, FileStat), String> {
    let (parent, name) = split_parent(path).ok_or_else(|| "not a file path".to_string())?;
    let dir = nix::fcntl::open(parent, SEARCH_DIR_FLAGS, Mode::empty())
        .map_err(|e| e.desc().to_lowercase())?;
    open_regular_at(&dir, name, cap).map_err(|e| e.message())
}

/// Removes `name` in `dir` and everything under it, fd-relative, never following a symlink
/// (a symlink is unlinked, not followed). Missing entries are fine.
pub fn remove_tree_at<Fd: AsFd>(dir: Fd, name: &str) -> Result<(), Errno> {
    let dir = dir.as_fd();
    let Some(st) = lstat_at(dir, name)? else {
        return Ok(());
    };
    if kind(&st) != SFlag::S_IFDIR {
        return match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
            Err(Errno::ENOENT) => Ok(()),
            r => r,
        };
    }
    let sub = open_dir_at(dir, name)?;
    for child in list_dir(&sub)? {
        remove_tree_at(&sub, &child)?;
    }
    match unlinkat(dir, name, UnlinkatFlags::RemoveDir) {
        Err(Errno::ENOENT) => Ok(()),
        r => r,
    }
}

/// The entry names of a directory (without `.` and `..`); non-UTF-8 names are skipped (we only
/// ever create UTF-8 names, so such an entry is not ours).
pub fn list_dir<Fd: AsFd>(dir: Fd) -> Result<Vec<String>, Errno> {
    let fd = openat(dir, ".", DIR_FLAGS, Mode::empty())?;
    let mut d = nix::dir::Dir::from_fd(fd)?;
    let mut out = Vec::new();
    for e in d.iter() {
        let e = e?;
        if let Ok(n) = e.file_name().to_str() {
            if n != "." && n != ".." {
                out.push(n.to_string());
            }
        }
    }
    Ok(out)
}

/// A random suffix for temporary names (16 hex digits).
pub fn random_suffix() -> String {
    use rand::RngCore;
    let mut b = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Unlinks entries of type `kind` whose name starts with `prefix`: temporary names left by a
/// run killed between create and rename. Best effort.
pub fn remove_leftovers<Fd: AsFd>(dir: Fd, prefix: &str, kind_wanted: SFlag) {
    let dir = dir.as_fd();
    for n in list_dir(dir).unwrap_or_default() {
        if !n.starts_with(prefix) {
            continue;
        }
        if let Ok(Some(st)) = lstat_at(dir, &n) {
            if kind(&st) == kind_wanted {
                let _ = unlinkat(dir, n.as_str(), UnlinkatFlags::NoRemoveDir);
            }
        }
    }
}

/// Writes `bytes` atomically to `dir/name`: a fresh temp file (root, or the caller in user
/// mode; `mode`), then `renameat`.
pub fn replace_file_at<Fd: AsFd>(
    dir: Fd,
    name: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<(), Errno> {
    let dir = dir.as_fd();
    remove_leftovers(dir, &format!(".{name}.tmp-"), SFlag::S_IFREG);
    let tmp = format!(".{name}.tmp-{}", random_suffix());
    let (uid, gid) = self_ids();
    write_new(dir, &tmp, bytes, uid, gid, mode)?;
    let r = nix::fcntl::renameat(dir, tmp.as_str(), dir, name);
    if r.is_err() {
        let _ = unlinkat(dir, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
    }
    r
}

/// Whose files and directories a run may trust: root's and `owner_uid`'s. A system install
/// runs as root, so there `owner_uid` is 0 and only root is trusted; a user-mode install
/// trusts the calling user as well (they can change their own files anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trust {
    /// The one user besides root whose files are trusted.
    pub owner_uid: u32,
}

impl Trust {
    /// The trust of this process: root and the effective user.
    pub fn process() -> Trust {
        Trust {
            owner_uid: nix::unistd::geteuid().as_raw(),
        }
    }

    /// Whether `uid` is root or the trusted user.
    pub fn owns(&self, uid: u32) -> bool {
        uid == 0 || uid == self.owner_uid
    }

    /// Whether a directory on a walked path cannot be changed by anyone else: owned by a
    /// trusted user and not group/other-writable, or root's sticky directory (`/tmp`,
    /// `/nix/store`), in which only entries owned by a trusted user are then accepted
    /// (`parent_sticky`).
    pub fn dir_trusted(&self, st: &FileStat, parent_sticky: bool) -> bool {
        let owner_ok = self.owns(st.st_uid);
        let ok = (owner_ok && st.st_mode & 0o022 == 0) || root_sticky(st);
        ok && (!parent_sticky || owner_ok)
    }
}

/// The owner and group of what this process creates: root:root for a system install (which
/// runs as root), the caller's effective uid and gid in user mode.
pub fn self_ids() -> (u32, u32) {
    let uid = nix::unistd::geteuid().as_raw();
    if uid == 0 {
        (0, 0)
    } else {
        (uid, nix::unistd::getegid().as_raw())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_rules() {
        let t = Trust { owner_uid: 1000 };
        let mut st: FileStat = stat_of_root();
        st.st_mode = SFlag::S_IFDIR.bits() | 0o755;
        st.st_uid = 1000;
        assert!(t.dir_trusted(&st, false));
        st.st_mode = SFlag::S_IFDIR.bits() | 0o775;
        assert!(!t.dir_trusted(&st, false));
        st.st_uid = 1001;
        st.st_mode = SFlag::S_IFDIR.bits() | 0o755;
        assert!(!t.dir_trusted(&st, false));
        st.st_uid = 0;
        st.st_mode = SFlag::S_IFDIR.bits() | 0o1777;
        assert!(t.dir_trusted(&st, false));
        st.st_uid = 1001;
        st.st_mode = SFlag::S_IFDIR.bits() | 0o700;
        assert!(!t.dir_trusted(&st, true));
        assert!(Trust { owner_uid: 0 }.owns(0));
        assert!(!Trust { owner_uid: 0 }.owns(1000));
    }

    /// A stat to fill in: the stat of `/`, its fields overwritten by the test.
    fn stat_of_root() -> FileStat {
        nix::sys::stat::stat("/").unwrap()
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn tmp() -> (tempfile::TempDir, OwnedFd) {
        let t = tempfile::tempdir().unwrap();
        let fd = nix::fcntl::open(t.path(), DIR_FLAGS, Mode::empty()).unwrap();
        (t, fd)
    }

    #[test]
    fn write_new_sets_mode_and_refuses_existing_and_symlinks() {
        let (t, fd) = tmp();
        write_new(&fd, "a", b"hi", 0, 0, 0o440).unwrap();
        let m = std::fs::metadata(t.path().join("a")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o440);
        assert_eq!(std::fs::read(t.path().join("a")).unwrap(), b"hi");
        assert_eq!(write_new(&fd, "a", b"x", 0, 0, 0o400), Err(Errno::EEXIST));
        std::os::unix::fs::symlink("/etc/passwd-nonexistent", t.path().join("l")).unwrap();
        assert!(write_new(&fd, "l", b"x", 0, 0, 0o400).is_err());
        assert!(!Path::new("/etc/passwd-nonexistent").exists());
    }

    #[test]
    fn mkdir_exact_ignores_umask() {
        let (t, fd) = tmp();
        mkdir_exact(&fd, "d", 0o751).unwrap();
        let m = std::fs::metadata(t.path().join("d")).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o751);
        assert_eq!(m.uid(), nix::unistd::geteuid().as_raw());
    }

    #[test]
    fn remove_tree_does_not_follow_symlinks() {
        let (t, fd) = tmp();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), b"k").unwrap();
        std::fs::create_dir_all(t.path().join("g/sub")).unwrap();
        std::fs::write(t.path().join("g/sub/f"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path(), t.path().join("g/link")).unwrap();
        remove_tree_at(&fd, "g").unwrap();
        assert!(!t.path().join("g").exists());
        assert!(outside.path().join("keep").exists());
    }

    #[test]
    fn open_regular_refuses_symlink_fifo_and_big() {
        let (t, fd) = tmp();
        std::fs::write(t.path().join("f"), b"12345").unwrap();
        assert!(open_regular_at(&fd, "f", 5).is_ok());
        assert_eq!(
            open_regular_at(&fd, "f", 4).unwrap_err(),
            OpenError::TooLarge
        );
        std::os::unix::fs::symlink("f", t.path().join("l")).unwrap();
        assert_eq!(
            open_regular_at(&fd, "l", 9).unwrap_err(),
            OpenError::Sys(Errno::ELOOP)
        );
        nix::unistd::mkfifo(&t.path().join("p"), Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(
            open_regular_at(&fd, "p", 9).unwrap_err(),
            OpenError::NotRegular
        );
    }

    #[test]
    fn replace_file_removes_leftover_temp_files() {
        let (t, fd) = tmp();
        std::fs::write(t.path().join(".s.json.tmp-dead"), b"old").unwrap();
        replace_file_at(&fd, "s.json", b"new", 0o644).unwrap();
        let names: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["s.json"]);
    }

    #[test]
    fn open_input_follows_links_but_checks_the_target() {
        let (t, _fd) = tmp();
        std::fs::write(t.path().join("f"), b"12345").unwrap();
        std::os::unix::fs::symlink(t.path().join("f"), t.path().join("l")).unwrap();
        assert!(open_input(&t.path().join("l"), 5).is_ok());
        assert!(open_input(&t.path().join("l"), 4).is_err());
        nix::unistd::mkfifo(&t.path().join("p"), Mode::from_bits_truncate(0o600)).unwrap();
        std::os::unix::fs::symlink(t.path().join("p"), t.path().join("lp")).unwrap();
        assert!(open_input(&t.path().join("lp"), 5).is_err());
        assert!(open_input(t.path(), 5).is_err());
    }

    #[test]
    fn walk_refuses_symlinked_component() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("real")).unwrap();
        std::os::unix::fs::symlink(t.path().join("real"), t.path().join("link")).unwrap();
        assert!(walk_dir(&t.path().join("real"), false).is_ok());
        assert!(matches!(
            walk_dir(&t.path().join("link"), false),
            Err(WalkError::NotDir(_))
        ));
    }
}
