//! Step 2 of docs/manifest.md#what-install-does: one install at a time. An exclusive `flock` on `lockPath` (directory 0700
//! root, file 0600 root, opened `O_NOFOLLOW`), waited for at most a bounded time.

use super::fs;
use crate::error::Error;
use nix::fcntl::{openat, Flock, FlockArg, OFlag};
use nix::sys::stat::{fchmod, fstat, Mode, SFlag};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long to wait for another install (docs/manifest.md#what-install-does, step 2: 120 s).
pub const WAIT: Duration = Duration::from_secs(120);

/// The held lock; released on drop.
pub struct Lock {
    _flock: Flock<OwnedFd>,
    /// The lock's directory, where the pending-restarts file lives.
    pub dir: OwnedFd,
}

/// Takes the lock at `path`, waiting at most `wait`.
pub fn acquire(path: &Path, wait: Duration) -> Result<Lock, Error> {
    let err = |m: String| Error::failure(m).with_file(path.display().to_string());
    let (parent, name) = fs::split_parent(path).ok_or_else(|| err("not a file path".into()))?;
    let (grand, dir_name) = fs::split_parent(parent)
        .ok_or_else(|| err("the lock must not be directly under /".into()))?;
    let gfd = fs::walk_dir(grand, true).map_err(|e| err(e.message()))?;
    let dir = fs::ensure_dir_at(&gfd, dir_name, 0o700).map_err(|e| err(e.desc().to_lowercase()))?;
    let st = fstat(&dir).map_err(|e| err(e.desc().to_lowercase()))?;
    let me = super::fs::self_ids().0;
    if st.st_uid != me || st.st_mode & 0o022 != 0 {
        return Err(err(
            "lock directory must be owned by root (by you in user mode) and not group/other-writable".into(),
        ));
    }
    let flags = OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDWR;
    let fd = openat(&dir, name, flags, Mode::from_bits_truncate(0o600))
        .map_err(|e| err(e.desc().to_lowercase()))?;
    let st = fstat(&fd).map_err(|e| err(e.desc().to_lowercase()))?;
    if fs::kind(&st) != SFlag::S_IFREG || st.st_uid != me {
        return Err(err(
            "lock file must be a regular file owned by root (by you in user mode)".into(),
        ));
    }
    fchmod(&fd, Mode::from_bits_truncate(0o600)).map_err(|e| err(e.desc().to_lowercase()))?;
    let flock = wait_for(fd, wait).map_err(|m| {
        err(m).with_hint("another `hostseal install` holds the lock; wait for it or stop it")
    })?;
    Ok(Lock { _flock: flock, dir })
}

fn wait_for(mut fd: OwnedFd, wait: Duration) -> Result<Flock<OwnedFd>, String> {
    let start = Instant::now();
    loop {
        match Flock::lock(fd, FlockArg::LockExclusiveNonblock) {
            Ok(l) => return Ok(l),
            Err((back, nix::errno::Errno::EWOULDBLOCK)) | Err((back, nix::errno::Errno::EINTR)) => {
                if start.elapsed() >= wait {
                    return Err(format!("still locked after {} s", wait.as_secs()));
                }
                fd = back;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err((_, e)) => return Err(e.desc().to_lowercase()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_times_out_then_succeeds_after_release() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("l/lock");
        let first = acquire(&p, WAIT).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = |q: &Path| std::fs::metadata(q).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&t.path().join("l")), 0o700);
        assert_eq!(mode(&p), 0o600);
        let e = acquire(&p, Duration::from_millis(100)).err().unwrap();
        assert_eq!(e.exit_code(), 1);
        assert!(e.hint.is_some());
        drop(first);
        assert!(acquire(&p, Duration::from_millis(100)).is_ok());
    }

    #[test]
    fn symlinked_lock_file_refused() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("l")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", t.path().join("l/lock")).unwrap();
        assert!(acquire(&t.path().join("l/lock"), WAIT).is_err());
    }
}
