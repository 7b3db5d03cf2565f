//! File I/O for sealed and plaintext files, shared by the commands, the commit guard and key
//! rotation: bounded reads into a buffer that never leaves a copy behind when it grows, and one
//! atomic writer (a private temporary file in the same directory, fsynced, renamed over the
//! target, then the directory fsynced) so a crash leaves either the old file or the new one.

use crate::error::Error;
use crate::limits::MAX_INPUT;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Reads `path` (or stdin for `-`), refusing more than 16 MiB.
pub fn read_input(path: &Path) -> Result<Zeroizing<Vec<u8>>, Error> {
    let name = path.display().to_string();
    let res = if path == Path::new("-") {
        read_zeroizing(std::io::stdin().lock(), MAX_INPUT, 0)
    } else {
        let f = std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
        let meta = f.metadata().map_err(|e| Error::io(path, &e))?;
        if meta.is_dir() {
            return Err(Error::failure("is a directory").with_file(name));
        }
        let hint = usize::try_from(meta.len()).unwrap_or(MAX_INPUT);
        read_zeroizing(f, MAX_INPUT, hint)
    };
    let buf = res.map_err(|e| Error::io(path, &e))?;
    if buf.len() > MAX_INPUT {
        return Err(Error::malformed("input is larger than the 16 MiB limit").with_file(name));
    }
    Ok(buf)
}

/// Reads `reader` to its end or to one byte past `limit` (so the caller can tell "too large"
/// from "exactly the limit"). Every buffer it outgrows is zeroized before it is freed, unlike
/// `read_to_end`, whose reallocations leave copies of the bytes read so far in freed memory.
/// `size_hint` (a file's length) sizes the first buffer so a regular file needs no growth.
pub fn read_zeroizing(
    reader: impl Read,
    limit: usize,
    size_hint: usize,
) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let cap = limit.saturating_add(1);
    let mut reader = reader.take(cap as u64);
    let mut buf = Zeroizing::new(Vec::with_capacity(size_hint.saturating_add(1).min(cap)));
    let mut chunk = Zeroizing::new([0u8; 8192]);
    loop {
        let n = match reader.read(&mut chunk[..]) {
            Ok(0) => return Ok(buf),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.len() + n > buf.capacity() {
            let grown = (buf.capacity().saturating_mul(2))
                .max(buf.len() + n)
                .max(8192)
                .min(cap);
            let mut bigger = Zeroizing::new(Vec::with_capacity(grown));
            bigger.extend_from_slice(&buf);
            // The old buffer is zeroized (whole capacity) as it drops here.
            buf = bigger;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The directory a path lives in (`.` for a bare name).
pub fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// The permission bits a replacement file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Those of the file it replaces; owner-only (0600) for a new file.
    KeepExisting,
    /// These bits, whatever was there.
    Exactly(u32),
}

/// A new file written and fsynced beside its target (`.<name>.hostseal-tmp-<random>`), not
/// yet renamed into place. Dropped without [`Staged::commit`], the temporary file is removed.
pub struct Staged {
    tmp: tempfile::NamedTempFile,
    dest: PathBuf,
}

impl Staged {
    /// The file this will replace.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Renames the new file over the target and fsyncs the directory.
    pub fn commit(self) -> Result<(), Error> {
        let dir = dir_of(&self.dest).to_path_buf();
        self.rename_only()?;
        sync_dir(&dir)
    }

    /// Renames the new file over the target without fsyncing the directory, for callers that
    /// rename many files and then call [`sync_dir`] once per directory.
    pub fn rename_only(self) -> Result<(), Error> {
        let Staged { tmp, dest } = self;
        tmp.persist(&dest).map_err(|e| Error::io(&dest, &e.error))?;
        Ok(())
    }
}

/// Writes `bytes` to a temporary file beside `dest` with the permission bits `mode` says, and
/// fsyncs it.
pub fn stage(dest: &Path, bytes: &[u8], mode: Mode) -> Result<Staged, Error> {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.hostseal-tmp-"))
        .tempfile_in(dir_of(dest))
        .map_err(|e| Error::io(dest, &e))?;
    let perms = match mode {
        Mode::KeepExisting => std::fs::metadata(dest).ok().map(|m| m.permissions()),
        Mode::Exactly(bits) => Some(std::fs::Permissions::from_mode(bits)),
    };
    if let Some(perms) = perms {
        tmp.as_file()
            .set_permissions(perms)
            .map_err(|e| Error::io(dest, &e))?;
    }
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io(dest, &e))?;
    Ok(Staged {
        tmp,
        dest: dest.to_path_buf(),
    })
}

/// Replaces (or creates) `path` with `bytes` atomically and durably: [`stage`] then
/// [`Staged::commit`].
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Mode) -> Result<(), Error> {
    stage(path, bytes, mode)?.commit()
}

/// Fsyncs a directory, so the renames in it survive a crash.
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(dir, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out its bytes a few at a time, as a pipe does.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(out.len()).min(3);
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn reads_everything_through_many_growths() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let got = read_zeroizing(Trickle(&data), MAX_INPUT, 0).unwrap();
        assert_eq!(&got[..], &data[..]);
    }

    #[test]
    fn stops_one_byte_past_the_limit() {
        let data = [7u8; 50];
        assert_eq!(read_zeroizing(&data[..], 10, 0).unwrap().len(), 11);
        assert_eq!(read_zeroizing(&data[..], 50, 50).unwrap().len(), 50);
    }

    #[test]
    fn atomic_write_keeps_or_sets_the_mode_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.yaml");
        write_atomic(&f, b"one", Mode::KeepExisting).unwrap();
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&f, b"two", Mode::KeepExisting).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"two");
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o640
        );
        write_atomic(&f, b"three", Mode::Exactly(0o755)).unwrap();
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_dropped_stage_leaves_the_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.yaml");
        std::fs::write(&f, b"old").unwrap();
        let staged = stage(&f, b"new", Mode::KeepExisting).unwrap();
        assert_eq!(staged.dest(), f);
        drop(staged);
        assert_eq!(std::fs::read(&f).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
