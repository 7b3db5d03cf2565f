//! The shared pipeline of `updatekeys` and `rotate`: load every candidate (bytes, kind, rules
//! file), then — once a plan is made and confirmed — open each planned file, build its new
//! bytes, and write them all beside their originals before renaming any into place.
//!
//! Nothing here prints: problems come back as lists of errors for the command to show.

use super::apply;
use super::plan::Target;
use super::rewrite::{self, LeafChoice};
use super::sealed::{classify, Classified, FileKind};
use super::walk::{Skipped, Walk};
use crate::error::Error;
use crate::keys::identity::IdentitySet;
use crate::limits::MAX_INPUT;
use crate::rules::RulesFile;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

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
    /// The nearest rules file (or `--config`), if any.
    pub rules: Option<Rc<RulesFile>>,
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
    let mut out = LoadResult {
        skipped: walk.skipped,
        ..LoadResult::default()
    };
    let mut rules = RulesCache::new(config);
    for c in walk.files {
        let shown = c.path.display().to_string();
        match read_sealed(&c.path) {
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
/// limit, which no sealed file can be).
fn read_sealed(path: &Path) -> Result<Option<(Vec<u8>, Classified)>, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, &e))?;
    if meta.len() > MAX_INPUT as u64 {
        return Ok(None);
    }
    if !super::sealed::may_be_sealed(path, &read_prefix(path)?) {
        return Ok(None);
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
    Ok(classify(path, &bytes)?.map(|c| (bytes, c)))
}

/// The first bytes of a file, enough to rule out most files without reading them whole
/// (a directory walk meets build outputs, images, archives).
fn read_prefix(path: &Path) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
    let mut buf = Vec::with_capacity(super::sealed::PREFIX_LEN);
    f.take(super::sealed::PREFIX_LEN as u64)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, &e))?;
    Ok(buf)
}

/// Rules files by directory (every file of a directory has the same nearest rules file).
struct RulesCache<'a> {
    config: Option<&'a Path>,
    fixed: Option<Option<Rc<RulesFile>>>,
    by_dir: HashMap<PathBuf, Option<Rc<RulesFile>>>,
}

impl<'a> RulesCache<'a> {
    fn new(config: Option<&'a Path>) -> Self {
        RulesCache {
            config,
            fixed: None,
            by_dir: HashMap::new(),
        }
    }

    fn get(&mut self, file: &Path) -> Result<Option<Rc<RulesFile>>, Error> {
        if let Some(c) = self.config {
            if self.fixed.is_none() {
                self.fixed = Some(Some(Rc::new(RulesFile::load(c)?)));
            }
            return Ok(self.fixed.clone().flatten());
        }
        let dir = crate::rules::absolute(file)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        if let Some(r) = self.by_dir.get(&dir) {
            return Ok(r.clone());
        }
        let r = RulesFile::locate(file, None)?.map(Rc::new);
        self.by_dir.insert(dir, r.clone());
        Ok(r)
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
/// `progress(done, total)` is called after each file is opened and rewritten in memory.
pub fn execute(
    planned: &[Planned],
    ids: &IdentitySet,
    skip_unopenable: bool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Outcome, ExecError> {
    let mut outcome = Outcome::default();
    let mut ready = Vec::new();
    let mut failures = Vec::new();
    for (i, p) in planned.iter().enumerate() {
        progress(i, planned.len());
        match p.produce(ids) {
            Ok(bytes) => ready.push((p, bytes)),
            Err(e) => failures.push(e.with_file(p.file.path.display().to_string())),
        }
    }
    if !failures.is_empty() {
        if !skip_unopenable {
            return Err(ExecError::Unopenable(failures));
        }
        outcome.unopened = failures;
    }
    apply::remove_stale_temps(ready.iter().map(|(p, _)| p.file.path.as_path()));
    let mut staged = Vec::with_capacity(ready.len());
    for (p, bytes) in &ready {
        match apply::stage(&p.file.path, &p.file.bytes, bytes) {
            Ok(s) => staged.push(s),
            // Dropping `staged` removes every temporary file: nothing is written.
            Err(e) => return Err(ExecError::NothingWritten(e)),
        }
    }
    drop(ready);
    outcome.written = apply::commit_all(staged).map_err(ExecError::Rename)?;
    Ok(outcome)
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
