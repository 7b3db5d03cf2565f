//! The shared pipeline of `updatekeys` and `rotate`: load every candidate (bytes, kind, rules
//! file), then — once a plan is made and confirmed — open each planned file, build its new
//! bytes, and write them all beside their originals before renaming any into place.
//!
//! Nothing here prints: problems come back as lists of errors for the command to show.
//!
//! Scale: each candidate is opened and read once (the plan and the rewrite use the
//! same bytes); reading and parsing, and opening and rewriting, run on every core, with the
//! results gathered in walk order so that output and errors do not depend on scheduling.

use super::apply;
use super::plan::Target;
use super::rewrite::{self, LeafChoice};
use super::sealed::{classify, Classified, FileKind};
use super::walk::{Candidate, Skipped, Walk};
use crate::error::Error;
use crate::keys::identity::IdentitySet;
use crate::limits::MAX_INPUT;
use crate::rules::{NearestRules, RulesFile};
use rayon::prelude::*;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// A candidate file recognised as sealed, with the rules file that governs it.
pub struct Loaded {
    /// The path as the user sees it.
    pub path: PathBuf,
    /// Named on the command line.
    pub explicit: bool,
    /// The file's bytes as read (the plan is made from these).
    pub bytes: Vec<u8>,
    /// Its kind and metadata.
    pub class: Classified,
    /// The nearest rules file (or `--config`), if any; shared by every file it governs.
    pub rules: Option<Arc<RulesFile>>,
}

/// Everything the walk found, sorted out.
#[derive(Default)]
pub struct LoadResult {
    /// Sealed files.
    pub files: Vec<Loaded>,
    /// Files left out and why (shown with `-v`).
    pub skipped: Vec<Skipped>,
    /// Problems: a named file that is not sealed, damaged metadata, a bad rules file, ….
    pub errors: Vec<Error>,
}

/// Reads and classifies every candidate of `walk`. `config` is `--config`/`$SOPS_CONFIG`.
pub fn load(walk: Walk, config: Option<&Path>) -> LoadResult {
    load_with(walk, config, &|p: &Path| File::open(p))
}

/// How [`load_with`] opens a file (tests pass one that counts).
type Opener<'a> = &'a (dyn Fn(&Path) -> std::io::Result<File> + Sync);

/// A candidate's bytes and kind when it is a sealed file, `None` when it is not.
type ReadSealed = Result<Option<(Vec<u8>, Classified)>, Error>;

/// [`load`] with the function that opens a file (tests count the opens through it).
fn load_with(walk: Walk, config: Option<&Path>, open: Opener) -> LoadResult {
    let mut out = LoadResult {
        skipped: walk.skipped,
        ..LoadResult::default()
    };
    // The per-file work (read, parse the metadata) in parallel; the rest in walk order, as a
    // sequential run would do it, so the lists come out the same.
    let read: Vec<(Candidate, ReadSealed)> = walk
        .files
        .into_par_iter()
        .map(|c| {
            let r = read_sealed(&c.path, open);
            (c, r)
        })
        .collect();
    let mut rules = RulesCache::new(config);
    for (c, r) in read {
        let shown = c.path.display().to_string();
        match r {
            Ok(Some((bytes, class))) => match rules.get(&c.path) {
                Ok(rf) => out.files.push(Loaded {
                    path: c.path,
                    explicit: c.explicit,
                    bytes,
                    class,
                    rules: rf,
                }),
                Err(e) => out.errors.push(e),
            },
            Ok(None) if c.explicit => out.errors.push(
                Error::malformed("not a sealed file (no sops metadata, not an age file)")
                    .with_file(shown),
            ),
            Ok(None) => out.skipped.push(Skipped {
                path: c.path,
                reason: "not a sealed file".into(),
            }),
            Err(e) => out.errors.push(e.with_file(shown)),
        }
    }
    out
}

/// Reads a file if it can be a sealed file; `None` when it is not one (or is over the size
/// limit, which no sealed file can be). The file is opened once: its first bytes rule out most
/// files that cannot be sealed (a directory walk meets build outputs, images, archives)
/// before the rest is read from the same handle.
fn read_sealed(path: &Path, open: Opener) -> ReadSealed {
    let mut f = open(path).map_err(|e| Error::io(path, &e))?;
    let len = f.metadata().map_err(|e| Error::io(path, &e))?.len();
    if len > MAX_INPUT as u64 {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    (&mut f)
        .take(super::sealed::PREFIX_LEN as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, &e))?;
    if !super::sealed::may_be_sealed(path, &bytes) {
        return Ok(None);
    }
    f.read_to_end(&mut bytes).map_err(|e| Error::io(path, &e))?;
    Ok(classify(path, &bytes)?.map(|c| (bytes, c)))
}

/// Rules files by directory (every file of a directory has the same nearest rules file), each
/// rules file loaded once however many directories share it (a broken one too: its error is
/// given again for every file it governs, as when it was loaded for each).
struct RulesCache<'a> {
    config: Option<&'a Path>,
    fixed: Option<Option<Arc<RulesFile>>>,
    nearest: NearestRules,
}

impl<'a> RulesCache<'a> {
    fn new(config: Option<&'a Path>) -> Self {
        RulesCache {
            config,
            fixed: None,
            nearest: NearestRules::default(),
        }
    }

    fn get(&mut self, file: &Path) -> Result<Option<Arc<RulesFile>>, Error> {
        if let Some(c) = self.config {
            if self.fixed.is_none() {
                self.fixed = Some(Some(Arc::new(RulesFile::load(c)?)));
            }
            return Ok(self.fixed.clone().flatten());
        }
        self.nearest.for_file(file)
    }
}

/// How a planned file is rewritten.
#[derive(Debug, Clone)]
pub enum Action {
    /// Keep the data key, wrap it to the new groups.
    Rewrap,
    /// New data key, every value re-encrypted; optionally the rule's leaf rule.
    Reencrypt(LeafChoice),
    /// Whole-file age: decrypt and encrypt to the target's recipients.
    Age,
}

/// One file to rewrite.
pub struct Planned {
    /// The file.
    pub file: Loaded,
    /// What it should be sealed to.
    pub target: Target,
    /// How.
    pub action: Action,
    /// The plan lines shown to the user (`+ name`, `- name`, …).
    pub lines: Vec<String>,
}

impl Planned {
    /// The new bytes of this file.
    pub fn produce(&self, ids: &IdentitySet) -> Result<Vec<u8>, Error> {
        let emit = self.file.rules.as_ref().map(|r| r.emit).unwrap_or_default();
        let bytes = &self.file.bytes;
        match (self.file.class.kind, &self.action) {
            (FileKind::Age { armored }, _) => rewrite::age_file(bytes, armored, &self.target, ids),
            (FileKind::Sops(_), Action::Age) => {
                Err(Error::failure("internal: age action on a sops file"))
            }
            (FileKind::Sops(f), Action::Rewrap) => {
                rewrite::rewrap(bytes, f, &self.target, ids, &emit)
            }
            (FileKind::Sops(f), Action::Reencrypt(leaf)) => {
                rewrite::reencrypt(bytes, f, &self.target, leaf.clone(), ids, &emit)
            }
        }
    }
}

/// Why a run stopped.
pub enum ExecError {
    /// These files cannot be opened (or rewritten); nothing was written.
    Unopenable(Vec<Error>),
    /// Writing a new file beside its original failed; nothing was written.
    NothingWritten(Error),
    /// A rename failed (or a file changed meanwhile); the other files were renamed.
    Rename(Error),
}

/// What a run did.
#[derive(Default)]
pub struct Outcome {
    /// Files replaced.
    pub written: Vec<PathBuf>,
    /// Files skipped because no identity opened them (`--skip-unopenable`), with why.
    pub unopened: Vec<Error>,
}

/// Opens and rewrites every planned file, then writes them: all beside their originals first,
/// then each renamed into place. If a file cannot be opened, nothing is written and every such
/// file is returned — unless `skip_unopenable`, which leaves those files out.
/// `progress(done, total)` is called as each file starts being opened and rewritten.
///
/// Each file is opened, rewritten and written beside its original by one worker, on every
/// core at once (so one file's fsync overlaps another's X25519 work, and the new bytes are
/// dropped as soon as they are on disk). Once a file is known to be unopenable, workers stop
/// writing (the others are still opened, to list every such file), and every temporary file
/// written is removed again. The renames stay sequential, in plan order.
pub fn execute(
    planned: &[Planned],
    ids: &IdentitySet,
    skip_unopenable: bool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Outcome, ExecError> {
    // Temporary files of an interrupted run go first: ours are written next to them.
    apply::remove_stale_temps(planned.iter().map(|p| p.file.path.as_path()));
    let total = planned.len();
    let started = AtomicUsize::new(0);
    let stop_writing = AtomicBool::new(false);
    let results: Vec<Step> = planned
        .par_iter()
        .map(|p| {
            progress(started.fetch_add(1, Ordering::Relaxed), total);
            let bytes = match p.produce(ids) {
                Ok(b) => b,
                Err(e) => {
                    if !skip_unopenable {
                        stop_writing.store(true, Ordering::Relaxed);
                    }
                    return Step::Unopenable(e.with_file(p.file.path.display().to_string()));
                }
            };
            if stop_writing.load(Ordering::Relaxed) {
                return Step::NotWritten;
            }
            // A write failure does not stop the others: the one reported is the first in plan
            // order, as in a sequential run, whichever worker met it first.
            match apply::stage(&p.file.path, &p.file.bytes, &bytes) {
                Ok(s) => Step::Staged(s),
                Err(e) => Step::WriteFailed(e),
            }
        })
        .collect();
    let mut outcome = Outcome::default();
    let mut staged = Vec::with_capacity(results.len());
    let mut write_error = None;
    for r in results {
        match r {
            Step::Staged(s) => staged.push(s),
            Step::Unopenable(e) => outcome.unopened.push(e),
            Step::WriteFailed(e) => {
                write_error.get_or_insert(e);
            }
            Step::NotWritten => {}
        }
    }
    // Dropping `staged` removes every temporary file: nothing is written.
    if !outcome.unopened.is_empty() && !skip_unopenable {
        return Err(ExecError::Unopenable(outcome.unopened));
    }
    if let Some(e) = write_error {
        return Err(ExecError::NothingWritten(e));
    }
    outcome.written = apply::commit_all(staged).map_err(ExecError::Rename)?;
    Ok(outcome)
}

/// What became of one planned file in [`execute`]'s parallel pass.
enum Step {
    /// Its new bytes are written beside it.
    Staged(apply::Staged),
    /// No identity opens it (or it cannot be rewritten).
    Unopenable(Error),
    /// Writing its new bytes failed.
    WriteFailed(Error),
    /// Rewritten, but not written: another file stopped the run.
    NotWritten,
}

/// The error to exit with after listing `errors`: the highest exit code wins.
pub fn summary(errors: &[Error], what: &str) -> Error {
    let kind = errors
        .iter()
        .map(|e| e.kind)
        .max_by_key(|k| k.exit_code())
        .unwrap_or(crate::error::Kind::Failure);
    Error::new(kind, what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::metadata::LeafRule;
    use crate::format::{EmitOptions, Format};
    use crate::keys::recipient::Recipient;
    use crate::sops::SealParams;
    use std::sync::Mutex;

    fn sealed(format: Format, plain: &[u8], to: &Recipient) -> Vec<u8> {
        let tree = format.parse_plain(plain).unwrap();
        let params = SealParams {
            groups: vec![vec![to.clone()]],
            threshold: None,
            leaf_rule: LeafRule::default(),
            mac_only_encrypted: false,
        };
        crate::sops::seal(&tree, format, &params, &EmitOptions::default()).unwrap()
    }

    /// Every candidate is opened exactly once (the plan and the rewrite use those bytes), and
    /// what comes back is in walk order whatever the threads did.
    #[test]
    fn each_candidate_is_opened_once_and_results_keep_walk_order() {
        let (_, public) = crate::keys::generate();
        let to = Recipient::parse(&public).unwrap();
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::write(
            root.join(".sops.yaml"),
            format!("creation_rules:\n  - age: {public}\n"),
        )
        .unwrap();
        let json = sealed(Format::Json, br#"{"a": "b"}"#, &to);
        let yaml = sealed(Format::Yaml, b"a: b\n", &to);
        let age = crate::age_file::encrypt(b"x", std::slice::from_ref(&to), true).unwrap();
        let mut want_sealed = Vec::new();
        for i in 0..300usize {
            let dir = root.join(format!("d{}", i / 40));
            std::fs::create_dir_all(&dir).unwrap();
            let (name, bytes): (String, &[u8]) = match i % 6 {
                0 => (format!("f{i:03}.json"), &json),
                1 => (format!("f{i:03}.yaml"), &yaml),
                2 => (format!("f{i:03}.age"), &age),
                3 => (format!("f{i:03}.json"), b"{\"plain\": 1}"),
                4 => (format!("f{i:03}.png"), b"\x89PNG\r\n\x1a\n not sealed"),
                _ => (format!("f{i:03}.yaml"), b"plain: yaml\n"),
            };
            std::fs::write(dir.join(&name), bytes).unwrap();
            if i % 6 < 3 {
                want_sealed.push(dir.join(name));
            }
        }
        want_sealed.sort();
        let walk = super::super::walk::collect(&[root.to_path_buf()]).unwrap();
        let candidates: Vec<PathBuf> = walk.files.iter().map(|c| c.path.clone()).collect();
        assert_eq!(candidates.len(), 300);
        let opened: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
        let counting = |p: &Path| {
            opened.lock().unwrap().push(p.to_path_buf());
            File::open(p)
        };
        let result = load_with(walk, None, &counting);
        let mut opened = opened.into_inner().unwrap();
        opened.sort();
        let mut once = candidates.clone();
        once.sort();
        assert_eq!(opened, once, "every candidate opened exactly once");
        assert!(result.errors.is_empty());
        let got: Vec<PathBuf> = result.files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(got, want_sealed, "sealed files in walk order");
        let skipped: Vec<&PathBuf> = result.skipped.iter().map(|s| &s.path).collect();
        let mut sorted = skipped.clone();
        sorted.sort();
        assert_eq!(skipped, sorted, "skipped files in walk order");
        assert_eq!(skipped.len(), 150);
        assert!(result.files.iter().all(|f| f
            .rules
            .as_ref()
            .is_some_and(|r| Arc::ptr_eq(r, result.files[0].rules.as_ref().unwrap()))));
    }
}
