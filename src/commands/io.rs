//! Reading inputs and writing outputs for the commands: bounded reads (no parser sees more than
//! 16 MiB), stdout that treats a closed pipe as success, and atomic replacement of files
//! (temporary file in the same directory, then rename) so a crash never leaves half a file.

use crate::error::Error;
use crate::keys::identity::{discover, IdentitySet, WorkstationEnv};
use crate::limits::MAX_INPUT;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The identities of a workstation command: the `--identity` files, then, unless
/// `--identity-only`, those of the environment and the default locations (see
/// [`discover`]). With `only`, nothing of the environment or the home directory is read.
pub fn identities(explicit: &[PathBuf], only: bool) -> Result<IdentitySet, Error> {
    let env = if only {
        WorkstationEnv::default()
    } else {
        WorkstationEnv::from_process()
    };
    discover(explicit, &env)
}

/// Reads `path` (or stdin for `-`), refusing more than 16 MiB.
pub fn read_input(path: &Path) -> Result<Vec<u8>, Error> {
    let name = path.display().to_string();
    let mut buf = Vec::new();
    let limit = (MAX_INPUT as u64) + 1;
    let res = if path == Path::new("-") {
        std::io::stdin().lock().take(limit).read_to_end(&mut buf)
    } else {
        let f = std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
        if f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(Error::failure("is a directory").with_file(name));
        }
        f.take(limit).read_to_end(&mut buf)
    };
    res.map_err(|e| Error::io(path, &e))?;
    if buf.len() > MAX_INPUT {
        return Err(Error::malformed("input is larger than the 16 MiB limit").with_file(name));
    }
    Ok(buf)
}

/// Writes `bytes` to stdout; a closed pipe (`| head`) is not an error.
pub fn write_stdout(bytes: &[u8]) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("<stdout>", &e)),
    }
}

/// Replaces (or creates) `path` with `bytes` atomically: a private temporary file beside it,
/// fsynced, then renamed over. Keeps the permission bits of a file it replaces.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.hostseal-tmp-"))
        .tempfile_in(dir)
        .map_err(|e| Error::io(path, &e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io(path, &e))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = tmp.as_file().set_permissions(meta.permissions());
    }
    tmp.persist(path).map_err(|e| Error::io(path, &e.error))?;
    Ok(())
}

/// Whether git tracks `path` (used to refuse writing plaintext over a tracked file).
pub fn is_git_tracked(path: &Path) -> bool {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Some(name) = path.file_name() else {
        return false;
    };
    std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["ls-files", "--error-unmatch", "--"])
        .arg(name)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
