//! Writing the new files: each is written beside its original (`.<name>.hostseal-tmp-<rand>`,
//! fsynced, with the original's permission bits), and only when every one is written are they
//! renamed into place, one by one. A crash leaves each file either old or new, and valid; the
//! temporary files it leaves are removed by the next run ([`remove_stale_temps`]).

use super::walk::is_temp_name;
use crate::error::Error;
use crate::fileio::{self, dir_of, Mode};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A new file written beside its original, not yet renamed into place.
pub struct Staged {
    file: fileio::Staged,
    original: [u8; 32],
}

impl Staged {
    /// The file this will replace.
    pub fn dest(&self) -> &Path {
        self.file.dest()
    }
}

/// Writes `bytes` beside `dest`; `original` are the bytes the plan was made from (the rename
/// is refused if the file changed meanwhile).
pub fn stage(dest: &Path, original: &[u8], bytes: &[u8]) -> Result<Staged, Error> {
    Ok(Staged {
        file: fileio::stage(dest, bytes, Mode::KeepExisting)?,
        original: Sha256::digest(original).into(),
    })
}

/// How many replaced files [`commit_all`] holds open before closing them together.
const CLOSE_BATCH: usize = 128;

/// Renames every staged file into place, in order. A file that changed since it was read is
/// left alone (its temporary file removed) and reported; the others still go in. Returns the
/// files replaced, or the first error after trying every file.
///
/// The file a rename replaces is freed with its last reference. Inside `rename(2)` that costs
/// milliseconds a file on ext4, one file after another (most of `updatekeys`' time over
/// thousands of files); so the handle that read the file for the change check is
/// kept across its rename, and the replaced files are freed by closing a batch of handles on
/// every core. The renames themselves stay one by one, in order.
pub fn commit_all(staged: Vec<Staged>) -> Result<Vec<PathBuf>, Error> {
    let mut done = Vec::new();
    let mut first_error = None;
    let mut dirs = BTreeSet::new();
    let mut replaced = Vec::with_capacity(CLOSE_BATCH);
    for s in staged {
        let dest = s.dest().to_path_buf();
        match commit_one(s) {
            Ok(old) => {
                dirs.insert(dir_of(&dest).to_path_buf());
                done.push(dest);
                replaced.push(old);
                if replaced.len() >= CLOSE_BATCH {
                    close_all(&mut replaced);
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    close_all(&mut replaced);
    for d in dirs {
        // Make the renames durable; failure here loses nothing already visible.
        let _ = fileio::sync_dir(&d);
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(done),
    }
}

/// Closes the handles of replaced files on every core (see [`commit_all`]).
fn close_all(files: &mut Vec<File>) {
    files.par_drain(..).for_each(drop);
}

/// Renames one staged file over its original unless the original changed since it was read;
/// returns the handle to the replaced file (freed when closed).
fn commit_one(s: Staged) -> Result<File, Error> {
    let dest = s.dest();
    let mut old = File::open(dest).map_err(|e| Error::io(dest, &e))?;
    let mut current = Vec::new();
    old.read_to_end(&mut current)
        .map_err(|e| Error::io(dest, &e))?;
    let digest: [u8; 32] = Sha256::digest(&current).into();
    if digest != s.original {
        return Err(
            Error::failure("changed while hostseal was working; left as it is")
                .with_file(dest.display().to_string())
                .with_hint("run the command again"),
        );
    }
    s.file.rename_only()?;
    Ok(old)
}

/// Removes the temporary files an interrupted run left (`.<name>.hostseal-tmp-*`) in the
/// directories of `files`. Returns how many were removed.
pub fn remove_stale_temps<'a>(files: impl Iterator<Item = &'a Path>) -> usize {
    let dirs: BTreeSet<PathBuf> = files.map(|f| dir_of(f).to_path_buf()).collect();
    let mut removed = 0usize;
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in rd.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
            if is_file && is_temp_name(&name) && std::fs::remove_file(entry.path()).is_ok() {
                removed = removed.saturating_add(1);
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn stage_then_commit_replaces_and_keeps_mode() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.json");
        std::fs::write(&f, b"old").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        let s = stage(&f, b"old", b"new").unwrap();
        assert_eq!(
            std::fs::read(&f).unwrap(),
            b"old",
            "nothing visible before commit"
        );
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 2);
        let done = commit_all(vec![s]).unwrap();
        assert_eq!(done, vec![f.clone()]);
        assert_eq!(std::fs::read(&f).unwrap(), b"new");
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn dropped_stage_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.json");
        std::fs::write(&f, b"old").unwrap();
        drop(stage(&f, b"old", b"new").unwrap());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        assert_eq!(std::fs::read(&f).unwrap(), b"old");
    }

    #[test]
    fn changed_file_is_left_alone_others_go_in() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.json");
        let b = d.path().join("b.json");
        std::fs::write(&a, b"old").unwrap();
        std::fs::write(&b, b"old").unwrap();
        let sa = stage(&a, b"old", b"new").unwrap();
        let sb = stage(&b, b"old", b"new").unwrap();
        std::fs::write(&a, b"edited").unwrap();
        let e = commit_all(vec![sa, sb]).unwrap_err();
        assert!(e.file.unwrap().ends_with("a.json"));
        assert_eq!(std::fs::read(&a).unwrap(), b"edited");
        assert_eq!(std::fs::read(&b).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 2);
    }

    #[test]
    fn stale_temps_are_removed() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.json");
        std::fs::write(&f, b"x").unwrap();
        std::fs::write(d.path().join(".a.json.hostseal-tmp-abc"), b"y").unwrap();
        std::fs::write(d.path().join(".keep"), b"z").unwrap();
        assert_eq!(remove_stale_temps(std::iter::once(f.as_path())), 1);
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 2);
    }
}
