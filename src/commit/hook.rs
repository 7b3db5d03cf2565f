//! The pre-commit hook `hostseal hook install` writes: a small POSIX shell script that runs
//! `hostseal check --staged` (or `--staged --encrypt`). It is placed where git looks for
//! hooks (`git rev-parse --git-path hooks`, so `core.hooksPath` and linked worktrees work),
//! and a hook hostseal did not write is never replaced without `--force`.

use super::git::Repo;
use crate::error::Error;
use crate::fileio::{write_atomic, Mode};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The line that marks a hook as hostseal's (and so safe to overwrite).
pub const MARKER: &str = "# hostseal pre-commit hook";

/// The hook script for the binary at `exe`; falls back to `hostseal` on `$PATH` when that
/// binary is gone (e.g. a garbage-collected Nix store path).
pub fn script(exe: &Path, encrypt: bool) -> String {
    let args = if encrypt {
        "check --staged --encrypt"
    } else {
        "check --staged"
    };
    format!(
        "#!/bin/sh\n{MARKER} (written by `hostseal hook install`; re-run it to update).\n\
         # Refuses commits that stage plaintext secrets; see `hostseal check --help`.\n\
         hostseal_bin={}\n\
         [ -x \"$hostseal_bin\" ] || hostseal_bin=hostseal\n\
         exec \"$hostseal_bin\" {args}\n",
        shell_quote(&exe.display().to_string())
    )
}

/// Single-quotes a string for POSIX sh.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Where git looks for hooks in this repository (absolute).
pub fn hooks_dir(repo: &Repo) -> Result<PathBuf, Error> {
    let out = repo.run(&["rev-parse", "--git-path", "hooks"])?;
    let text = out.strip_suffix(b"\n").unwrap_or(&out);
    let p = PathBuf::from(std::ffi::OsStr::from_bytes(text));
    Ok(if p.is_absolute() { p } else { repo.top.join(p) })
}

/// Writes the hook into `dir`; refuses to replace a hook without [`MARKER`] unless `force`.
/// Returns the hook's path.
pub fn install(dir: &Path, exe: &Path, encrypt: bool, force: bool) -> Result<PathBuf, Error> {
    let path = dir.join("pre-commit");
    match std::fs::read(&path) {
        Ok(old) if !force && !contains(&old, MARKER.as_bytes()) => {
            return Err(Error::failure("a pre-commit hook hostseal did not write is already there")
                .with_file(path.display().to_string())
                .with_hint("move it aside, call `hostseal check --staged` from it, or pass --force to replace it"));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&path, &e)),
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, &e))?;
    write_atomic(&path, script(exe, encrypt).as_bytes(), Mode::Exactly(0o755))?;
    Ok(path)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn script_quotes_the_path_and_picks_the_mode() {
        let s = script(Path::new("/opt/it's/hostseal"), true);
        assert!(s.starts_with("#!/bin/sh\n"));
        assert!(s.contains(r"hostseal_bin='/opt/it'\''s/hostseal'"), "{s}");
        assert!(s.contains("check --staged --encrypt"));
        assert!(!script(Path::new("/x"), false).contains("--encrypt"));
    }

    #[test]
    fn refuses_foreign_hooks_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let hook = dir.path().join("pre-commit");
        std::fs::write(&hook, "#!/bin/sh\nmake lint\n").unwrap();
        let err = install(dir.path(), Path::new("/x"), false, false).unwrap_err();
        assert!(err.message.contains("did not write"));
        assert_eq!(
            std::fs::read_to_string(&hook).unwrap(),
            "#!/bin/sh\nmake lint\n"
        );
        install(dir.path(), Path::new("/x"), false, true).unwrap();
        // Ours now: replaced without --force.
        install(dir.path(), Path::new("/x"), true, false).unwrap();
        let text = std::fs::read_to_string(&hook).unwrap();
        assert!(text.contains("--encrypt"));
        let mode = std::fs::metadata(&hook).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
    }
}
