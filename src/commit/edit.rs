//! The unsafe-looking parts of `edit`, made safe: a private directory on a RAM filesystem
//! (plaintext never reaches a disk or swap-backed page cache of a real file system), the
//! editor run as `$VISUAL`/`$EDITOR` (with arguments, through `sh` as git does), and signal
//! handling without `unsafe` code: SIGINT, SIGTERM and SIGHUP are blocked in every thread and
//! received by one waiting thread (`sigwait`), which stops the editor and removes the
//! plaintext. The standard library clears the signal mask in the child before it `exec`s the
//! editor, so the editor sees signals normally.

use crate::error::Error;
use nix::sys::signal::{kill, SigSet, Signal};
use nix::unistd::Pid;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long the editor gets to exit after SIGTERM before it is killed.
const GRACE: Duration = Duration::from_secs(3);

/// The signals that end an edit session.
fn session_signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGHUP);
    set
}

#[derive(Default)]
struct Shared {
    /// The plaintext directory, while it exists.
    dir: Option<PathBuf>,
    /// The editor's pid, while it runs.
    child: Option<u32>,
    /// The signal that arrived, if any.
    signal: Option<Signal>,
}

/// An edit session: owns the plaintext directory (removed on drop) and the signal watcher.
/// Create it before any other thread is started, so every thread inherits the signal mask.
pub struct Session {
    shared: Arc<Mutex<Shared>>,
    dir: Option<PathBuf>,
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes a plaintext directory: overwrites its regular files with zeros (best effort), then
/// removes it recursively.
pub fn remove_plaintext(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_file() {
                if let Ok(mut f) = OpenOptions::new().write(true).open(e.path()) {
                    let len = usize::try_from(meta.len())
                        .unwrap_or(0)
                        .min(crate::limits::MAX_INPUT);
                    let _ = f.write_all(&vec![0u8; len]).and_then(|()| f.sync_all());
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

impl Session {
    /// Blocks the session signals in this thread and starts the thread that waits for them.
    pub fn start() -> Result<Session, Error> {
        let set = session_signals();
        set.thread_block()
            .map_err(|e| Error::failure(format!("cannot block signals: {e}")))?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let watcher = shared.clone();
        std::thread::Builder::new()
            .name("hostseal-signals".into())
            .spawn(move || watch(&set, &watcher))
            .map_err(|e| Error::failure(format!("cannot start the signal thread: {e}")))?;
        Ok(Session { shared, dir: None })
    }

    /// Creates the private plaintext directory (0700) on a RAM filesystem, named after this
    /// process, after sweeping the caller's stale ones (see [`sweep_stale`]).
    pub fn make_dir(&mut self) -> Result<PathBuf, Error> {
        let base = ram_base()?;
        for (path, pid) in sweep_stale(&base) {
            eprintln!(
                "hostseal: warning: removed {}, the plaintext of an edit whose process ({pid}) was killed",
                path.display()
            );
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{}-", std::process::id()))
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(&base)
            .map_err(|e| Error::io(&base, &e))?
            .keep();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(&dir, &e))?;
        lock(&self.shared).dir = Some(dir.clone());
        self.dir = Some(dir.clone());
        Ok(dir)
    }

    /// Writes `bytes` to a new file `name` (0600) in the session directory.
    pub fn write_plain(&mut self, name: &str, bytes: &[u8]) -> Result<PathBuf, Error> {
        let dir = match &self.dir {
            Some(d) => d.clone(),
            None => self.make_dir()?,
        };
        let path = dir.join(name);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io(&path, &e))?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| Error::io(&path, &e))?;
        Ok(path)
    }

    /// Runs the editor on `file` and waits for it. A signal during the edit stops the editor
    /// and makes this an error; a failing editor is an error too.
    pub fn run_editor(&self, file: &Path) -> Result<(), Error> {
        let editor = editor_command();
        let mut child = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("exec {editor} \"$@\""))
            .arg(&editor)
            .arg(file)
            .spawn()
            .map_err(|e| {
                Error::failure(format!(
                    "cannot run the editor: {}",
                    crate::error::io_message(&e)
                ))
            })?;
        lock(&self.shared).child = Some(child.id());
        let status = child.wait();
        let signal = {
            let mut st = lock(&self.shared);
            st.child = None;
            st.signal
        };
        if let Some(sig) = signal {
            return Err(Error::failure(format!(
                "interrupted by {}: nothing written, plaintext removed",
                sig.as_str()
            )));
        }
        match status {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(Error::failure(format!(
                "the editor failed ({s}): nothing written, plaintext removed"
            ))),
            Err(e) => Err(Error::failure(format!(
                "waiting for the editor: {}",
                crate::error::io_message(&e)
            ))),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Removed under the lock: a signal now waits for the removal before exiting.
        let mut st = lock(&self.shared);
        if let Some(d) = st.dir.take() {
            remove_plaintext(&d);
        }
    }
}

/// The signal thread: on a signal, stop the editor if one runs (the main thread then cleans
/// up and reports); otherwise remove the plaintext and exit at once (128 + signal number).
fn watch(set: &SigSet, shared: &Mutex<Shared>) {
    while let Ok(sig) = set.wait() {
        let mut st = lock(shared);
        st.signal = Some(sig);
        match st.child {
            Some(pid) => {
                let pid = Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
                let _ = kill(pid, Signal::SIGTERM);
                drop(st);
                std::thread::sleep(GRACE);
                if lock(shared).child.is_some() {
                    let _ = kill(pid, Signal::SIGKILL);
                }
            }
            None => {
                if let Some(d) = st.dir.take() {
                    remove_plaintext(&d);
                }
                std::process::exit(128 + sig as i32);
            }
        }
    }
}

/// `$VISUAL`, else `$EDITOR`, else `vi`; a shell word list (arguments allowed).
pub fn editor_command() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".to_string())
}

/// Whether `path` is on tmpfs or ramfs.
#[cfg(target_os = "linux")]
pub fn is_ram_fs(path: &Path) -> bool {
    const RAMFS_MAGIC: u64 = 0x8584_58f6;
    match nix::sys::statfs::statfs(path) {
        Ok(st) => {
            let t = st.filesystem_type();
            t == nix::sys::statfs::TMPFS_MAGIC || (t.0 as u64 & 0xffff_ffff) == RAMFS_MAGIC
        }
        Err(_) => false,
    }
}

/// Whether `path` is on tmpfs or ramfs (not determinable here: never).
#[cfg(not(target_os = "linux"))]
pub fn is_ram_fs(_path: &Path) -> bool {
    false
}

/// The name every edit directory starts with, followed by its process id and `-`.
const PREFIX: &str = "hostseal-edit-";

/// Removes the edit directories in `base` that a killed `edit` left behind (SIGKILL cannot be
/// caught): only directories (not symlinks) owned by the calling user, whose name carries the
/// id of a process that no longer runs `hostseal`. Returns what was removed.
pub fn sweep_stale(base: &Path) -> Vec<(PathBuf, u32)> {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid().as_raw();
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(base) else {
        return removed;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let path = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != me || runs_hostseal(pid) {
            continue;
        }
        remove_plaintext(&path);
        if !path.exists() {
            removed.push((path, pid));
        }
    }
    removed
}

/// Whether process `pid` exists and is a `hostseal` (a reused pid running something else is
/// not the edit that made the directory).
fn runs_hostseal(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|comm| comm.trim_end().starts_with("hostseal"))
}

/// Where the plaintext directory goes: `$XDG_RUNTIME_DIR` or `/dev/shm` if on a RAM
/// filesystem; on macOS `$TMPDIR` with a warning; otherwise an error.
pub fn ram_base() -> Result<PathBuf, Error> {
    let candidates = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .chain(std::iter::once(PathBuf::from("/dev/shm")));
    for c in candidates {
        if c.is_dir() && is_ram_fs(&c) {
            return Ok(c);
        }
    }
    if cfg!(target_os = "macos") {
        let _ = writeln!(
            std::io::stderr(),
            "hostseal: warning: macOS has no RAM filesystem for the plaintext; using a 0700 directory under $TMPDIR"
        );
        return Ok(std::env::temp_dir());
    }
    Err(Error::failure(
        "no RAM filesystem for the plaintext: neither $XDG_RUNTIME_DIR nor /dev/shm is tmpfs/ramfs",
    )
    .with_hint("mount a tmpfs on /dev/shm, or set XDG_RUNTIME_DIR to a tmpfs directory"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_base_is_a_ram_fs_and_disks_are_not() {
        if !is_ram_fs(Path::new("/dev/shm")) {
            return;
        }
        assert!(is_ram_fs(&ram_base().unwrap()));
        assert!(!is_ram_fs(Path::new("/proc/self")) || !is_ram_fs(Path::new("/")));
    }

    #[test]
    fn sweep_removes_only_dead_processes_own_directories() {
        let base = tempfile::tempdir().unwrap();
        let dead = base.path().join("hostseal-edit-999999999-abc");
        let alive = base
            .path()
            .join(format!("hostseal-edit-{}-abc", std::process::id()));
        let other = base.path().join("hostseal-edit-x");
        for d in [&dead, &alive, &other] {
            std::fs::create_dir(d).unwrap();
            std::fs::write(d.join("plain"), b"secret").unwrap();
        }
        std::os::unix::fs::symlink(&other, base.path().join("hostseal-edit-999999998-l")).unwrap();
        let removed = sweep_stale(base.path());
        assert_eq!(removed, [(dead.clone(), 999_999_999)]);
        assert!(!dead.exists());
        assert!(alive.join("plain").exists() && other.join("plain").exists());
    }

    #[test]
    fn remove_plaintext_removes_everything() {
        let dir = tempfile::tempdir().unwrap().keep();
        std::fs::write(dir.join("a"), b"secret").unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/b"), b"x").unwrap();
        remove_plaintext(&dir);
        assert!(!dir.exists());
    }
}
