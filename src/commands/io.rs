//! Terminal-side output for the commands: stdout that treats a closed pipe as success, and the
//! git check before writing plaintext. File reads and atomic writes live in [`crate::fileio`].

use crate::error::Error;
use crate::keys::identity::{discover, IdentitySet, WorkstationEnv};
use std::io::Write;
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

/// Writes `bytes` to stdout; a closed pipe (`| head`) is not an error.
pub fn write_stdout(bytes: &[u8]) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("<stdout>", &e)),
    }
}

/// Delivers a command's result: to `--output`, over the input with `-i`, else to stdout.
pub fn deliver(
    output: Option<&Path>,
    in_place: bool,
    input: &Path,
    bytes: &[u8],
) -> Result<(), Error> {
    use crate::fileio::{write_atomic, Mode};
    match (output, in_place) {
        (Some(out), _) => write_atomic(out, bytes, Mode::KeepExisting),
        (None, true) => write_atomic(input, bytes, Mode::KeepExisting),
        (None, false) => write_stdout(bytes),
    }
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
