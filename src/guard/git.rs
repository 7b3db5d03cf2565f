//! The git plumbing `check` needs, through the `git` binary (so `GIT_INDEX_FILE`, `GIT_DIR`
//! and every git configuration are honoured exactly as git itself does): the index entries,
//! what is staged, what is partially staged, blobs by object id (one `cat-file --batch`
//! process for all of them) and `git add`.

use crate::error::Error;
use crate::limits::MAX_INPUT;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A repository, addressed by its top-level directory.
pub struct Repo {
    /// The work tree's top-level directory (absolute).
    pub top: PathBuf,
}

/// One stage-0 regular file in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The blob's object id (hex).
    pub oid: String,
    /// The path relative to the top level, `/`-separated.
    pub path: String,
}

/// A blob read from the object store; `None` content when it is over the 16 MiB limit.
pub struct Blob {
    /// The content, or `None` when larger than [`MAX_INPUT`].
    pub content: Option<Vec<u8>>,
}

fn git_error(what: &str, stderr: &[u8]) -> Error {
    let first = String::from_utf8_lossy(stderr)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    Error::failure(format!("git {what} failed: {first}"))
}

impl Repo {
    /// The repository containing the current directory; `None` outside any git work tree.
    pub fn discover() -> Result<Option<Repo>, Error> {
        let out = Command::new("git")
            .args(["rev-parse", "--show-toplevel"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                Error::failure(format!("cannot run git: {}", crate::error::io_message(&e)))
            })?;
        if !out.status.success() {
            return Ok(None);
        }
        let text = out.stdout.strip_suffix(b"\n").unwrap_or(&out.stdout);
        Ok(Some(Repo {
            top: PathBuf::from(OsStr::from_bytes(text)),
        }))
    }

    /// A git command run at the top level.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new("git");
        c.current_dir(&self.top).stdin(Stdio::null());
        c
    }

    /// Runs git with `args`; stdout on success.
    pub fn run(&self, args: &[&str]) -> Result<Vec<u8>, Error> {
        let out = self.cmd().args(args).output().map_err(|e| {
            Error::failure(format!("cannot run git: {}", crate::error::io_message(&e)))
        })?;
        if !out.status.success() {
            return Err(git_error(args.first().copied().unwrap_or(""), &out.stderr));
        }
        Ok(out.stdout)
    }

    /// Whether HEAD names a commit (false on an unborn branch).
    pub fn has_head(&self) -> bool {
        self.cmd()
            .args(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The stage-0 regular files of the index (symlinks, submodules and conflicts skipped).
    pub fn index_entries(&self) -> Result<Vec<IndexEntry>, Error> {
        let out = self.run(&["ls-files", "-s", "-z", "--full-name"])?;
        Ok(split_z(&out)
            .filter_map(|rec| {
                // "<mode> <oid> <stage>\t<path>"
                let (meta, path) = rec.split_once('\t')?;
                let mut f = meta.split(' ');
                let (mode, oid, stage) = (f.next()?, f.next()?, f.next()?);
                let regular = mode == "100644" || mode == "100755";
                (regular && stage == "0").then(|| IndexEntry {
                    oid: oid.to_string(),
                    path: path.to_string(),
                })
            })
            .collect())
    }

    /// The regular files of HEAD's tree (empty on an unborn branch).
    pub fn head_entries(&self) -> Result<Vec<IndexEntry>, Error> {
        if !self.has_head() {
            return Ok(Vec::new());
        }
        let out = self.run(&["ls-tree", "-r", "-z", "--full-tree", "HEAD"])?;
        Ok(split_z(&out)
            .filter_map(|rec| {
                // "<mode> <type> <oid>\t<path>"
                let (meta, path) = rec.split_once('\t')?;
                let mut f = meta.split(' ');
                let (mode, kind, oid) = (f.next()?, f.next()?, f.next()?);
                (kind == "blob" && mode != "120000").then(|| IndexEntry {
                    oid: oid.to_string(),
                    path: path.to_string(),
                })
            })
            .collect())
    }

    /// Paths added, copied, modified or retyped in the index relative to HEAD (all of the
    /// index on an unborn branch). Renames count as additions at the new path; deletions are
    /// not listed.
    pub fn staged_changes(&self) -> Result<HashSet<String>, Error> {
        let mut args = vec![
            "diff",
            "--cached",
            "--name-only",
            "-z",
            "--no-renames",
            "--diff-filter=ACMT",
        ];
        if self.has_head() {
            args.push("HEAD");
        }
        let out = self.run(&args)?;
        Ok(split_z(&out).map(str::to_string).collect())
    }

    /// Paths whose work-tree content differs from the index (partially staged, or changed and
    /// not staged at all).
    pub fn unstaged_changes(&self) -> Result<HashSet<String>, Error> {
        let out = self.run(&["diff", "--name-only", "-z", "--no-renames"])?;
        Ok(split_z(&out).map(str::to_string).collect())
    }

    /// Every tracked path (for `check` without `--staged` and without paths).
    pub fn tracked(&self) -> Result<Vec<String>, Error> {
        let out = self.run(&["ls-files", "-z", "--full-name"])?;
        Ok(split_z(&out).map(str::to_string).collect())
    }

    /// Stages `path` (relative to the top level) as it is in the work tree.
    pub fn add(&self, path: &str) -> Result<(), Error> {
        self.run(&["add", "--", path]).map(|_| ())
    }

    /// Reads blobs by object id, in order, with one `git cat-file --batch` process.
    pub fn read_blobs(&self, oids: &[&str]) -> Result<Vec<Blob>, Error> {
        self.blobs(oids)?.collect()
    }

    /// Blobs by object id, in order, as they come from one `git cat-file --batch` process:
    /// one item per id, so a caller can hold a few at a time however many there are.
    pub fn blobs(&self, oids: &[&str]) -> Result<BlobStream, Error> {
        if oids.is_empty() {
            return Ok(BlobStream {
                proc: None,
                left: 0,
            });
        }
        let mut child = self
            .cmd()
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                Error::failure(format!("cannot run git: {}", crate::error::io_message(&e)))
            })?;
        let input: Vec<u8> = oids
            .iter()
            .flat_map(|o| format!("{o}\n").into_bytes())
            .collect();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let (Some(mut stdin), Some(stdout)) = (stdin, stdout) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::failure("git cat-file: no stdin or stdout"));
        };
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        Ok(BlobStream {
            proc: Some(CatFile {
                child,
                reader: Some(BufReader::new(stdout)),
                writer: Some(writer),
            }),
            left: oids.len(),
        })
    }
}

/// The blobs [`Repo::blobs`] asked for, in order; the `git` process is reaped when dropped.
pub struct BlobStream {
    proc: Option<CatFile>,
    left: usize,
}

/// A running `git cat-file --batch` and the thread feeding it the object ids.
struct CatFile {
    child: std::process::Child,
    reader: Option<BufReader<std::process::ChildStdout>>,
    writer: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Iterator for BlobStream {
    type Item = Result<Blob, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left = self.left.saturating_sub(1);
        let reader = self.proc.as_mut().and_then(|p| p.reader.as_mut())?;
        Some(read_one(reader))
    }
}

impl Drop for CatFile {
    fn drop(&mut self) {
        // Closing its stdout first stops git even mid-way (its writes then fail), which in
        // turn ends the writer thread.
        drop(self.reader.take());
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        let _ = self.child.wait();
    }
}

/// Reads one `<oid> <type> <size>\n<content>\n` record.
fn read_one(reader: &mut impl BufRead) -> Result<Blob, Error> {
    let bad = || Error::failure("git cat-file: unexpected output");
    let mut header = String::new();
    reader
        .read_line(&mut header)
        .map_err(|e| Error::failure(format!("git cat-file: {}", crate::error::io_message(&e))))?;
    let mut f = header.split_whitespace();
    let (_oid, kind) = (f.next().ok_or_else(bad)?, f.next().ok_or_else(bad)?);
    if kind == "missing" {
        return Err(bad());
    }
    let size: u64 = f.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let with_newline = size.checked_add(1).ok_or_else(bad)?;
    let io = |e: std::io::Error| {
        Error::failure(format!("git cat-file: {}", crate::error::io_message(&e)))
    };
    if size > MAX_INPUT as u64 {
        std::io::copy(&mut reader.take(with_newline), &mut std::io::sink()).map_err(io)?;
        return Ok(Blob { content: None });
    }
    let mut buf = Vec::new();
    reader
        .take(with_newline)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.pop() != Some(b'\n') || buf.len() as u64 != size {
        return Err(bad());
    }
    Ok(Blob { content: Some(buf) })
}

/// NUL-separated records (paths are taken as UTF-8; others are skipped lossily).
fn split_z(out: &[u8]) -> impl Iterator<Item = &str> {
    out.split(|b| *b == 0)
        .filter(|r| !r.is_empty())
        .filter_map(|r| std::str::from_utf8(r).ok())
}

/// The absolute path of a top-level-relative path.
pub fn abs(top: &Path, rel: &str) -> PathBuf {
    top.join(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_records_parse_and_oversize_is_skipped() {
        let data = b"abc blob 3\nxyz\nabd blob 0\n\n".to_vec();
        let mut r = BufReader::new(&data[..]);
        assert_eq!(read_one(&mut r).unwrap().content.unwrap(), b"xyz");
        assert_eq!(read_one(&mut r).unwrap().content.unwrap(), b"");
        assert!(read_one(&mut r).is_err());
        let lie = b"abc blob 99999999999999999999\n".to_vec();
        assert!(read_one(&mut BufReader::new(&lie[..])).is_err());
        let short = b"abc blob 10\nxy\n".to_vec();
        assert!(read_one(&mut BufReader::new(&short[..])).is_err());
    }
}
