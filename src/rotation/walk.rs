//! From the paths on the command line to the candidate files: directories recurse (sorted, so
//! output is stable), skipping `.git`, symlinks, the rules file and our own temporary files.
//! Whether a candidate is a sealed file is decided later, from its bytes ([`super::sealed`]).

use crate::error::Error;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One file to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The path as the user will see it (the given path, or joined below a given directory).
    pub path: PathBuf,
    /// Named on the command line (not found by recursion): problems with it are errors.
    pub explicit: bool,
}

/// A path left out, and why (listed with `-v`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The path.
    pub path: PathBuf,
    /// Why it was left out.
    pub reason: String,
}

/// The result of walking the command-line paths.
#[derive(Debug, Default)]
pub struct Walk {
    /// Candidate files, in command-line order, each directory's files sorted.
    pub files: Vec<Candidate>,
    /// Paths left out.
    pub skipped: Vec<Skipped>,
}

/// Whether a file name is one of our temporary files (`.<name>.hostseal-tmp-<rand>`).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(".hostseal-tmp-")
}

/// Walks `paths`. A path that does not exist is an error (exit 1); a symlink given directly is
/// skipped too (renaming over it would replace the link with a file).
pub fn collect(paths: &[PathBuf]) -> Result<Walk, Error> {
    let mut walk = Walk::default();
    let mut seen = BTreeSet::new();
    for p in paths {
        let meta = std::fs::symlink_metadata(p).map_err(|e| Error::io(p, &e))?;
        if meta.file_type().is_symlink() {
            walk.skip(p, "symlink");
        } else if meta.is_dir() {
            walk_dir(p, &mut walk, &mut seen)?;
        } else if meta.is_file() {
            walk.add(p.clone(), true, &mut seen);
        } else {
            walk.skip(p, "not a regular file");
        }
    }
    Ok(walk)
}

impl Walk {
    fn skip(&mut self, path: &Path, reason: &str) {
        self.skipped.push(Skipped {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        });
    }

    fn add(&mut self, path: PathBuf, explicit: bool, seen: &mut BTreeSet<PathBuf>) {
        if seen.insert(crate::rules::absolute(&path)) {
            self.files.push(Candidate { path, explicit });
        }
    }
}

/// Depth-first over one directory tree, without following symlinks (so no loops). Entry types
/// come from the directory listing (no `stat` per file on file systems that record them), and
/// absolute paths (for the duplicate check) are the root's joined with the names below it
/// (no `getcwd` per file).
fn walk_dir(root: &Path, walk: &mut Walk, seen: &mut BTreeSet<PathBuf>) -> Result<(), Error> {
    let mut stack = vec![(root.to_path_buf(), crate::rules::absolute(root))];
    while let Some((dir, abs_dir)) = stack.pop() {
        let mut entries = read_sorted(&dir)?;
        let mut subdirs = Vec::new();
        for (name, path, file_type) in entries.drain(..) {
            let Some(ft) = file_type else {
                walk.skip(&path, "vanished");
                continue;
            };
            let abs = abs_dir.join(&name);
            if ft.is_symlink() {
                walk.skip(&path, "symlink");
            } else if ft.is_dir() {
                if name == ".git" {
                    continue;
                }
                subdirs.push((path, abs));
            } else if !ft.is_file() {
                walk.skip(&path, "not a regular file");
            } else if is_temp_name(&name) || name == crate::rules::FILE_NAME {
                continue;
            } else if seen.insert(abs) {
                walk.files.push(Candidate {
                    path,
                    explicit: false,
                });
            }
        }
        // Reverse so the stack pops them in sorted order.
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(())
}

/// One directory entry: its name, its path, and its type (`None` when it vanished).
type Entry = (String, PathBuf, Option<std::fs::FileType>);

/// The entries of a directory, sorted by name.
fn read_sorted(dir: &Path) -> Result<Vec<Entry>, Error> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, &e))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(dir, &e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Below `.`, show `a/b` rather than `./a/b`.
        let path = if dir == Path::new(".") {
            PathBuf::from(&name)
        } else {
            entry.path()
        };
        // Without the type in the listing, std asks lstat: no symlink is followed either way.
        let file_type = entry.file_type().ok();
        out.push((name, path, file_type));
    }
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names() {
        assert!(is_temp_name(".a.json.hostseal-tmp-XyZ12"));
        assert!(!is_temp_name("a.json"));
        assert!(!is_temp_name("a.hostseal-tmp-x"));
    }

    #[test]
    fn recursion_skips_git_symlinks_temps_and_rules() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join(".git/objects")).unwrap();
        std::fs::write(root.join(".git/objects/x.json"), "{}").unwrap();
        std::fs::create_dir_all(root.join("b/c")).unwrap();
        std::fs::write(root.join("b/c/z.json"), "{}").unwrap();
        std::fs::write(root.join("b/a.json"), "{}").unwrap();
        std::fs::write(root.join("a.env"), "").unwrap();
        std::fs::write(root.join(".sops.yaml"), "").unwrap();
        std::fs::write(root.join(".a.env.hostseal-tmp-123"), "").unwrap();
        std::os::unix::fs::symlink(root.join("a.env"), root.join("link.env")).unwrap();
        let w = collect(&[root.to_path_buf(), root.join("a.env")]).unwrap();
        let got: Vec<_> = w
            .files
            .iter()
            .map(|c| c.path.strip_prefix(root).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            got,
            vec![
                PathBuf::from("a.env"),
                PathBuf::from("b/a.json"),
                PathBuf::from("b/c/z.json")
            ]
        );
        assert!(w.files.iter().all(|c| !c.explicit));
        assert_eq!(w.skipped.len(), 1);
        assert_eq!(w.skipped[0].reason, "symlink");
    }

    #[test]
    fn missing_path_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        assert!(collect(&[d.path().join("nope")]).is_err());
    }

    #[test]
    fn explicit_file_and_explicit_symlink() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x.json");
        std::fs::write(&f, "{}").unwrap();
        let l = d.path().join("l.json");
        std::os::unix::fs::symlink(&f, &l).unwrap();
        let w = collect(&[f.clone(), l]).unwrap();
        assert_eq!(
            w.files,
            vec![Candidate {
                path: f,
                explicit: true
            }]
        );
        assert_eq!(w.skipped.len(), 1);
    }
}
