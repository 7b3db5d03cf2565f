//! The one trust rule for every file root reads at activation (sealed files, template files,
//! identity files, the `systemctl` binary, age plugins, …): whoever can change such a file, or
//! any directory on its path, decides what root installs or runs. See `docs/hardening.md` and
//! SECURITY.md.
//!
//! A path is trusted when it resolves, fd-relative from `/`, through:
//!
//! * directories that are owned by root and not group/other-writable (a sticky world-writable
//!   directory such as `/tmp` is refused); the one exception is `/nix/store` itself (root-owned,
//!   group-writable for the build users, sticky), whose entries must still pass the rule;
//! * symlinks only when the link is owned by root and sits in a directory that passed the rule,
//!   so only root could have made it; its target is then resolved by this same rule (absolute
//!   targets from `/`, relative ones from the link's directory), at most [`MAX_LINKS`] links.
//!   This keeps NixOS setups working that link `/etc/ssh` keys from persistent storage, and
//!   `/run/current-system/sw/bin/systemctl`;
//! * a final file that is regular, owned by root, not group/other-writable and within the size
//!   limit; identity files must also not be group/other-readable (hint: `chmod 0400`), and
//!   executables must have an execute bit.
//!
//! Every component is opened with `openat2(RESOLVE_NO_SYMLINKS)` where the kernel has it, and
//! `openat(O_NOFOLLOW)` otherwise; a symlink is never followed by the kernel, only by this walk
//! after the checks above.

use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag, AT_FDCWD};
use nix::sys::stat::{fstat, fstatat, FileStat, Mode, SFlag};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Most symlinks followed while resolving one path.
pub const MAX_LINKS: usize = 32;

/// What the file will be used for: decides the extra checks on the final file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Read (sealed files, template files): root-owned and not group/other-writable.
    Input,
    /// A private key: also not readable by group/other.
    Identity,
}

/// Why a path is not trusted. Messages name path components the manifest gave, never content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// Nothing there.
    #[error("no such file")]
    Missing,
    /// A directory on the way could be changed by a user other than root.
    #[error("directory {0} is not owned by root or is writable by group/other")]
    UntrustedDir(String),
    /// A symlink on the way was not made by root in a trusted directory.
    #[error("{0} is a symlink not owned by root")]
    UntrustedLink(String),
    /// A non-directory where a directory was needed.
    #[error("{0} is not a directory")]
    NotDir(String),
    /// Too many symlinks.
    #[error("more than {MAX_LINKS} symlinks")]
    TooManyLinks,
    /// The final file is not owned by root (or, in user mode, by the caller).
    #[error("{}", if nix::unistd::geteuid().is_root() { "is not owned by root" } else { "is not owned by root or you" })]
    NotRootOwned,
    /// The final file is group/other-writable.
    #[error("is writable by group/other")]
    Writable,
    /// An identity file readable by group/other.
    #[error("is readable by group/other (a private key must be 0400 or 0600)")]
    Readable,
    /// Not a regular file.
    #[error("is not a regular file")]
    NotRegular,
    /// An executable with no execute bit.
    #[error("is not executable")]
    NotExecutable,
    /// Over the size limit.
    #[error("is larger than the {0}-byte limit")]
    TooLarge(u64),
    /// Not an absolute UTF-8 path.
    #[error("is not an absolute path")]
    NotAbsolute,
    /// A system call failed.
    #[error("{}", .0.desc().to_lowercase())]
    Sys(Errno),
}

impl TrustError {
    /// What to do about it, naming the path when that helps.
    pub fn hint(&self, path: &Path) -> Option<String> {
        let p = path.display();
        match self {
            TrustError::Readable => Some(format!("chmod 0400 {p}")),
            TrustError::NotRootOwned | TrustError::Writable => Some(format!(
                "anyone who can write it decides what root does: chown root {p} && chmod go-w {p}"
            )),
            TrustError::UntrustedDir(d) => Some(format!(
                "move the file to a directory only root can write, or chown root {d} && chmod go-w {d}"
            )),
            TrustError::UntrustedLink(_) => {
                Some("only symlinks owned by root in root-owned directories are followed".into())
            }
            _ => None,
        }
    }

    /// Whether this is a refusal by the rule (as opposed to a missing file or I/O error).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, TrustError::Missing | TrustError::Sys(_))
    }
}

/// A file that passed the rule, opened for reading.
#[derive(Debug)]
pub struct TrustedFile {
    /// The open file (read-only, `O_NONBLOCK`, close-on-exec).
    pub fd: OwnedFd,
    /// Its `fstat`.
    pub stat: FileStat,
}

/// Opens `path` for reading under the trust rule; the file must be at most `cap` bytes.
pub fn open_trusted_file(path: &Path, usage: Use, cap: u64) -> Result<TrustedFile, TrustError> {
    let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let (fd, stat) = resolve(path, flags)?;
    check_file(&stat, cap)?;
    if usage == Use::Identity && stat.st_mode & 0o044 != 0 {
        return Err(TrustError::Readable);
    }
    Ok(TrustedFile { fd, stat })
}

/// Opens and reads a whole trusted file (at most `cap` bytes, checked again while reading).
pub fn read_trusted_file(
    path: &Path,
    usage: Use,
    cap: u64,
) -> Result<zeroize::Zeroizing<Vec<u8>>, TrustError> {
    let f = open_trusted_file(path, usage, cap)?;
    super::fs::read_capped(&f.fd, cap)
        .map(zeroize::Zeroizing::new)
        .map_err(|e| match e {
            super::fs::OpenError::TooLarge => TrustError::TooLarge(cap),
            super::fs::OpenError::Sys(e) => TrustError::Sys(e),
            super::fs::OpenError::NotRegular => TrustError::NotRegular,
        })
}

/// An executable that passed the rule, held open (`O_PATH`) so that what runs is the inode
/// that was checked: run it through [`TrustedExecutable::command`].
#[derive(Debug)]
pub struct TrustedExecutable {
    fd: OwnedFd,
    /// The path the manifest named (for messages).
    pub path: PathBuf,
    /// Its `fstat`.
    pub stat: FileStat,
}

impl TrustedExecutable {
    /// `/proc/self/fd/N`: executing it runs the checked inode, whatever happens to the path.
    pub fn exec_path(&self) -> PathBuf {
        super::platform::fd_path(self.fd.as_raw_fd())
    }

    /// A command running the checked inode, `argv[0]` set to the path's file name, with an
    /// empty environment (activation never passes its environment on).
    pub fn command(&self) -> Command {
        use std::os::unix::process::CommandExt;
        let mut c = Command::new(self.exec_path());
        if let Some(name) = self.path.file_name() {
            c.arg0(name);
        }
        c.env_clear();
        c
    }
}

/// Checks `path` under the trust rule as an executable and holds it open for running. The fd
/// is `O_PATH` without close-on-exec, so that a script's interpreter can open
/// `/proc/self/fd/N` in the child; it is closed when this value is dropped.
pub fn check_trusted_executable(path: &Path) -> Result<TrustedExecutable, TrustError> {
    let (fd, stat) = resolve(path, super::platform::EXEC_OPEN_FLAGS)?;
    check_file(&stat, u64::MAX)?;
    if stat.st_mode & 0o111 == 0 {
        return Err(TrustError::NotExecutable);
    }
    Ok(TrustedExecutable {
        fd,
        path: path.to_path_buf(),
        stat,
    })
}

/// Opens the directory `path` under the trust rule (every directory on the way and the final
/// one root-owned and not group/other-writable; symlinks as for files).
pub fn open_trusted_dir(path: &Path) -> Result<OwnedFd, TrustError> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let (fd, st) = resolve_inner(path, flags, true)?;
    if !dir_ok(&st, false) {
        return Err(TrustError::UntrustedDir(path.display().to_string()));
    }
    Ok(fd)
}

/// Whose files and directories are trusted: root's, and in a user-mode install (which never
/// runs as root) the caller's own, who can change them anyway ([`super::fs::Trust`]). For a
/// system install, which runs as root, this is root alone.
fn trusted_owner(uid: u32) -> bool {
    super::fs::Trust::process().owns(uid)
}

fn check_file(st: &FileStat, cap: u64) -> Result<(), TrustError> {
    if super::fs::kind(st) != SFlag::S_IFREG {
        return Err(TrustError::NotRegular);
    }
    if !trusted_owner(st.st_uid) {
        return Err(TrustError::NotRootOwned);
    }
    if st.st_mode & 0o022 != 0 {
        return Err(TrustError::Writable);
    }
    if u64::try_from(st.st_size).unwrap_or(u64::MAX) > cap {
        return Err(TrustError::TooLarge(cap));
    }
    Ok(())
}

/// A directory on the way: root-owned and not group/other-writable; `/nix/store` (root-owned,
/// writable by the build users' group, sticky) is accepted as it is.
fn dir_ok(st: &FileStat, is_nix_store: bool) -> bool {
    if !trusted_owner(st.st_uid) {
        return false;
    }
    st.st_mode & 0o022 == 0 || (is_nix_store && st.st_mode & 0o1000 != 0)
}

fn resolve(path: &Path, flags: OFlag) -> Result<(OwnedFd, FileStat), TrustError> {
    resolve_inner(path, flags, false)
}

/// One opened, checked directory of the walk, and its path (for messages).
struct Step {
    fd: OwnedFd,
    path: PathBuf,
}

/// Resolves `path` from `/` under the rule and opens its final component with `flags` (plus
/// `O_NOFOLLOW`). Returns the fd and its stat; the final file's own checks are the caller's.
fn resolve_inner(
    path: &Path,
    flags: OFlag,
    final_is_dir: bool,
) -> Result<(OwnedFd, FileStat), TrustError> {
    let text = path.to_str().ok_or(TrustError::NotAbsolute)?;
    if !text.starts_with('/') {
        return Err(TrustError::NotAbsolute);
    }
    let mut stack = vec![root()?];
    let mut todo: Vec<String> = components(text);
    todo.reverse();
    let mut links = 0usize;
    if todo.is_empty() && final_is_dir {
        let top = stack.pop().ok_or(TrustError::Missing)?;
        let st = fstat(&top.fd).map_err(TrustError::Sys)?;
        return Ok((top.fd, st));
    }
    while let Some(comp) = todo.pop() {
        if comp == ".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let here = stack.last().ok_or(TrustError::Missing)?;
        let shown = here.path.join(&comp);
        let st = match fstatat(&here.fd, comp.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => return Err(TrustError::Missing),
            Err(e) => return Err(TrustError::Sys(e)),
        };
        if super::fs::kind(&st) == SFlag::S_IFLNK {
            if !trusted_owner(st.st_uid) {
                return Err(TrustError::UntrustedLink(shown.display().to_string()));
            }
            links = links.saturating_add(1);
            if links > MAX_LINKS {
                return Err(TrustError::TooManyLinks);
            }
            let target = readlinkat(&here.fd, comp.as_str()).map_err(TrustError::Sys)?;
            let target = target.to_str().ok_or(TrustError::NotAbsolute)?.to_string();
            if target.starts_with('/') {
                stack.truncate(0);
                stack.push(root()?);
            }
            let mut more = components(&target);
            more.reverse();
            todo.extend(more);
            continue;
        }
        let last = todo.is_empty();
        if last {
            // Never open a device or FIFO at all (opening some has effects).
            let kind = super::fs::kind(&st);
            if !final_is_dir && kind != SFlag::S_IFREG {
                return Err(TrustError::NotRegular);
            }
            if final_is_dir && kind != SFlag::S_IFDIR {
                return Err(TrustError::NotDir(shown.display().to_string()));
            }
            let fd = open_one(&here.fd, &comp, flags)?;
            let st = fstat(&fd).map_err(TrustError::Sys)?;
            return Ok((fd, st));
        }
        if super::fs::kind(&st) != SFlag::S_IFDIR {
            return Err(TrustError::NotDir(shown.display().to_string()));
        }
        let dir_flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let fd = open_one(&here.fd, &comp, dir_flags)?;
        let st = fstat(&fd).map_err(TrustError::Sys)?;
        if !dir_ok(&st, shown == Path::new("/nix/store")) {
            return Err(TrustError::UntrustedDir(shown.display().to_string()));
        }
        stack.push(Step { fd, path: shown });
    }
    // The path ended in `/`, `.` or `..`: the directory reached is the final component.
    let top = stack.pop().ok_or(TrustError::Missing)?;
    if !final_is_dir {
        return Err(TrustError::NotRegular);
    }
    let st = fstat(&top.fd).map_err(TrustError::Sys)?;
    Ok((top.fd, st))
}

fn root() -> Result<Step, TrustError> {
    let fd = openat(
        AT_FDCWD,
        "/",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(TrustError::Sys)?;
    let st = fstat(&fd).map_err(TrustError::Sys)?;
    if !dir_ok(&st, false) {
        return Err(TrustError::UntrustedDir("/".into()));
    }
    Ok(Step {
        fd,
        path: PathBuf::from("/"),
    })
}

fn components(p: &str) -> Vec<String> {
    p.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
        .collect()
}

/// Opens one component of `dir` without following a symlink: `openat2(RESOLVE_NO_SYMLINKS |
/// RESOLVE_BENEATH)` where the kernel has it, `openat(O_NOFOLLOW)` otherwise.
fn open_one<Fd: AsFd>(dir: Fd, comp: &str, flags: OFlag) -> Result<OwnedFd, TrustError> {
    let r = super::platform::open_no_symlinks(dir.as_fd(), comp, flags);
    r.map_err(|e| match e {
        Errno::ENOENT => TrustError::Missing,
        Errno::ELOOP => TrustError::UntrustedLink(comp.to_string()),
        Errno::ENOTDIR => TrustError::NotDir(comp.to_string()),
        e => TrustError::Sys(e),
    })
}

/// Helpers for unit tests of code that reads through the trust rule.
#[cfg(test)]
pub(crate) mod test_support {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    /// Whether the tests run as root (files they make are then root-owned).
    pub fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    /// A 0755 directory the rule trusts: as root under `/run/hostseal-tests` (root-owned, 0755,
    /// whatever directory the checkout sits in — a clone under `/tmp` would not pass), else
    /// under `target/` (those tests skip when not root anyway).
    pub fn trusted_tmp() -> tempfile::TempDir {
        let base = if is_root() {
            Path::new("/run/hostseal-tests").to_path_buf()
        } else {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/trust-tests")
        };
        std::fs::create_dir_all(&base).unwrap();
        let t = tempfile::tempdir_in(&base).unwrap();
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        t
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{is_root, trusted_tmp};
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn chmod(p: &Path, m: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    }

    #[test]
    fn trusted_file_link_and_refusals() {
        if !is_root() {
            eprintln!("skipped: needs root (files must be root-owned)");
            return;
        }
        let t = trusted_tmp();
        let f = t.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        chmod(&f, 0o444);
        assert!(open_trusted_file(&f, Use::Input, 10).is_ok());
        assert_eq!(
            open_trusted_file(&f, Use::Identity, 10).unwrap_err(),
            TrustError::Readable
        );
        assert_eq!(
            open_trusted_file(&f, Use::Input, 0).unwrap_err(),
            TrustError::TooLarge(0)
        );
        // A root-made link in a trusted directory, absolute and relative.
        symlink(&f, t.path().join("abs")).unwrap();
        symlink("f", t.path().join("rel")).unwrap();
        symlink("../x/../", t.path().join("dots")).unwrap();
        assert!(open_trusted_file(&t.path().join("abs"), Use::Input, 10).is_ok());
        assert!(open_trusted_file(&t.path().join("rel"), Use::Input, 10).is_ok());
        assert!(open_trusted_file(&t.path().join("dots/f"), Use::Input, 10).is_err());
        // Group-writable file, then group-writable directory.
        chmod(&f, 0o664);
        assert_eq!(
            open_trusted_file(&f, Use::Input, 10).unwrap_err(),
            TrustError::Writable
        );
        chmod(&f, 0o444);
        chmod(t.path(), 0o775);
        assert!(matches!(
            open_trusted_file(&f, Use::Input, 10).unwrap_err(),
            TrustError::UntrustedDir(_)
        ));
        chmod(t.path(), 0o755);
        // /tmp is sticky and world-writable.
        let tmp = tempfile::NamedTempFile::new_in("/tmp").unwrap();
        assert!(matches!(
            open_trusted_file(tmp.path(), Use::Input, 10).unwrap_err(),
            TrustError::UntrustedDir(_)
        ));
        // A directory, a FIFO and a device are not files (and are never opened).
        assert_eq!(
            open_trusted_file(t.path(), Use::Input, 10).unwrap_err(),
            TrustError::NotRegular
        );
        nix::unistd::mkfifo(&t.path().join("p"), Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(
            open_trusted_file(&t.path().join("p"), Use::Input, 10).unwrap_err(),
            TrustError::NotRegular
        );
        assert_eq!(
            open_trusted_file(Path::new("/dev/null"), Use::Input, 10).unwrap_err(),
            TrustError::NotRegular
        );
    }

    #[test]
    fn nix_store_paths_pass_though_the_store_is_group_writable() {
        let store = Path::new("/nix/store");
        let sticky_group_writable =
            std::fs::metadata(store).is_ok_and(|m| m.permissions().mode() & 0o1020 == 0o1020);
        if !is_root() || !sticky_group_writable {
            eprintln!("skipped: needs root and a multi-user /nix/store (root, 1775)");
            return;
        }
        let entry = store.join(format!("{}-hostseal-trust-test", std::process::id()));
        std::fs::create_dir(&entry).unwrap();
        let f = entry.join("sealed.yaml");
        std::fs::write(&f, b"x").unwrap();
        chmod(&f, 0o444);
        chmod(&entry, 0o555);
        let r = open_trusted_file(&f, Use::Input, 10);
        chmod(&entry, 0o755);
        std::fs::remove_dir_all(&entry).unwrap();
        assert!(r.is_ok(), "{r:?}");
        // The exception is for /nix/store itself, not for other directories like it.
        let t = trusted_tmp();
        std::fs::create_dir(t.path().join("store")).unwrap();
        chmod(&t.path().join("store"), 0o1775);
        std::fs::write(t.path().join("store/f"), b"x").unwrap();
        assert!(matches!(
            open_trusted_file(&t.path().join("store/f"), Use::Input, 10),
            Err(TrustError::UntrustedDir(_))
        ));
    }

    #[test]
    fn executable_runs_the_checked_inode() {
        if !is_root() {
            eprintln!("skipped: needs root (files must be root-owned)");
            return;
        }
        let t = trusted_tmp();
        let bin = t.path().join("tool");
        std::fs::write(&bin, "#!/bin/sh\necho \"ran $0 $1\"\n").unwrap();
        chmod(&bin, 0o644);
        assert_eq!(
            check_trusted_executable(&bin).unwrap_err(),
            TrustError::NotExecutable
        );
        chmod(&bin, 0o755);
        let exe = check_trusted_executable(&bin).unwrap();
        let out = exe.command().arg("x").output().unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).ends_with(" x\n"));
        chmod(&bin, 0o775);
        assert_eq!(
            check_trusted_executable(&bin).unwrap_err(),
            TrustError::Writable
        );
    }
}
