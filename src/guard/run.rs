//! The `check` use cases: judging given paths (no git needed: the NixOS module's
//! `lib.checkSealed` runs in a sandbox without `.git`), every tracked file, or the git index
//! (`--staged`, with secret-shape scanning and optional sealing of fully staged files).
//! Only files some rule matches are read (plus, with `--staged`, the added or modified blobs,
//! which are scanned for secret shapes).
//!
//! Scale: each file or blob is read once and parsed once; rules files are looked up
//! once per directory; blobs come from one `git cat-file` process, in chunks of
//! [`CHUNK`] so memory stays bounded. Judging (parsing, X25519, the MAC) runs on every core;
//! the problems are gathered in path order, so the report does not depend on scheduling.

use super::check::{is_exempt, judge, RuleSet, Subject, Verdict};
use super::git::{Blob, Repo};
use super::{scan, Problem};
use crate::error::Error;
use crate::keys::identity::IdentitySet;
use crate::rules::{NearestRules, RulesFile, FILE_NAME};
use crate::seal;
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

/// How many staged blobs are held (and judged in parallel) at once.
pub const CHUNK: usize = 256;

/// What `check` was asked to do.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Judge the index instead of the work tree.
    pub staged: bool,
    /// Seal fully staged plaintext files instead of reporting them (implies `staged`).
    pub encrypt: bool,
    /// Skip validation of tunnel credentials when sealing.
    pub no_validate: bool,
    /// `--config` / `$SOPS_CONFIG`: one rules file for every path.
    pub config: Option<PathBuf>,
}

/// What `check` found and did.
#[derive(Debug, Default)]
pub struct Report {
    /// Every problem, one per line.
    pub problems: Vec<Problem>,
    /// Files sealed and staged by `--encrypt`.
    pub sealed: Vec<String>,
    /// How many files were judged.
    pub judged: usize,
}

/// Hint for an admin's age identity or cloudflared's cert.pem found by shape: unlike a tunnel
/// credential, no rule makes committing them right.
pub const HINT_NEVER_COMMIT: &str = "never commit this: unstage it (`git rm --cached FILE`) and keep it outside the repository (an admin age key in ~/.config/sops/age/keys.txt, cert.pem in ~/.cloudflared/); if it was ever pushed, replace the key";
/// Hint for secrets found by shape.
pub const HINT_SHAPE: &str = "unstage it (`git rm --cached FILE`), move the secret into a file a creation rule matches, and seal that";
/// Hint for partially staged files under `--encrypt`.
pub const HINT_PARTIAL: &str =
    "stage the whole file (`git add FILE`) or stash the unstaged part, then commit again";

/// Runs `check` with `paths` (empty: the index with `staged`, else every tracked file).
pub fn check(paths: &[PathBuf], opts: &Options, ids: &IdentitySet) -> Result<Report, Error> {
    if opts.staged || opts.encrypt {
        let repo = Repo::discover()?.ok_or_else(|| {
            Error::failure("--staged needs a git repository (none found from here)")
        })?;
        return staged(&repo, opts, ids);
    }
    if !paths.is_empty() {
        return check_paths(paths, opts, ids);
    }
    let repo = Repo::discover()?.ok_or_else(|| {
        Error::failure("not in a git repository: name the files or directories to check")
            .with_hint("for a source tree without git, run `hostseal check .`")
    })?;
    let files: Vec<(String, PathBuf)> = repo
        .tracked()?
        .into_iter()
        .map(|p| {
            let abs = repo.top.join(&p);
            (p, abs)
        })
        .collect();
    judge_files(files, opts, ids)
}

/// Rules files found by walking up from a directory, cached per directory; each rules file
/// is loaded once however many directories share it (a broken one too: it is read once, and
/// its error is reported once).
struct Lookup {
    config: Option<Arc<RulesFile>>,
    nearest: NearestRules,
}

impl Lookup {
    fn new(config: Option<&Path>) -> Result<Lookup, Error> {
        let config = match config {
            Some(c) => Some(Arc::new(RulesFile::load(c)?)),
            None => None,
        };
        Ok(Lookup {
            config,
            nearest: NearestRules::default(),
        })
    }

    fn for_file(&mut self, abs: &Path) -> Result<Option<Arc<RulesFile>>, Error> {
        match &self.config {
            Some(c) => Ok(Some(c.clone())),
            None => self.nearest.for_file(abs),
        }
    }
}

/// Expands the given paths: files as given, directories walked (skipping `.git`, symlinks
/// and our temporary files), in a stable order.
fn expand(paths: &[PathBuf]) -> Result<Vec<(String, PathBuf)>, Error> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::symlink_metadata(p).map_err(|e| Error::io(p, &e))?;
        if meta.is_dir() {
            walk_dir(p, &mut out)?;
        } else if meta.is_file() {
            out.push((p.display().to_string(), crate::rules::absolute(p)));
        }
    }
    Ok(out)
}

fn walk_dir(root: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), Error> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, &e))?
            .filter_map(Result::ok)
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries.into_iter().rev() {
            let path = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() && e.file_name() != ".git" {
                stack.push(path);
            } else if ft.is_file() {
                let shown = path
                    .strip_prefix(".")
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                out.push((shown, crate::rules::absolute(&path)));
            }
        }
    }
    out.sort();
    Ok(())
}

fn check_paths(paths: &[PathBuf], opts: &Options, ids: &IdentitySet) -> Result<Report, Error> {
    judge_files(expand(paths)?, opts, ids)
}

/// Judges work-tree files; only those a rule matches are read.
fn judge_files(
    files: Vec<(String, PathBuf)>,
    opts: &Options,
    ids: &IdentitySet,
) -> Result<Report, Error> {
    /// One file after the (sequential, cached) rules lookup.
    enum Todo {
        /// Its rules file could not be loaded.
        NoRules(Error, String),
        /// A rule matches: read and judge it.
        Judge(String, PathBuf, Arc<RulesFile>),
    }
    /// What reading and judging one file gave.
    enum Judged {
        /// It vanished meanwhile.
        Gone,
        /// It could not be read.
        Unreadable(Problem),
        /// Its problems (maybe none).
        Problems(Vec<Problem>),
    }
    let mut lookup = Lookup::new(opts.config.as_deref())?;
    let mut todo = Vec::new();
    for (shown, abs) in files {
        if is_exempt(&abs) {
            continue;
        }
        match lookup.for_file(&abs) {
            Ok(Some(rules)) if rules.rule_for(&abs).is_some() => {
                todo.push(Todo::Judge(shown, abs, rules));
            }
            Ok(_) => {}
            Err(e) => todo.push(Todo::NoRules(e, shown)),
        }
    }
    let judged: Vec<Option<Judged>> = todo
        .par_iter()
        .map(|t| {
            let Todo::Judge(shown, abs, rules) = t else {
                return None;
            };
            let bytes = match crate::fileio::read_input(abs) {
                Ok(b) => b,
                Err(e) if e.message == "no such file or directory" => return Some(Judged::Gone),
                Err(e) => return Some(Judged::Unreadable(Problem::new(shown, e.message))),
            };
            let subject = Subject {
                shown,
                abs,
                bytes: &bytes,
            };
            let set = RuleSet {
                current: Some(rules),
                previous: None,
            };
            Some(Judged::Problems(judge(&subject, set, ids).1))
        })
        .collect();
    let mut report = Report::default();
    for (t, j) in todo.iter().zip(judged) {
        match (t, j) {
            (Todo::NoRules(e, shown), _) => push_error(&mut report, e, shown),
            (_, Some(Judged::Unreadable(p))) => report.problems.push(p),
            (_, Some(Judged::Problems(p))) => {
                report.judged = report.judged.saturating_add(1);
                report.problems.extend(p);
            }
            (_, Some(Judged::Gone) | None) => {}
        }
    }
    Ok(report)
}

fn push_error(report: &mut Report, e: &Error, shown: &str) {
    let file = e.file.clone().unwrap_or_else(|| shown.to_string());
    if !report
        .problems
        .iter()
        .any(|p| p.path == file && p.message == e.message)
    {
        report.problems.push(Problem::new(file, e.message.clone()));
    }
}

/// Rules files of one tree (the index or HEAD), by the directory they sit in.
#[derive(Default)]
struct TreeRules {
    by_dir: HashMap<String, RulesFile>,
}

impl TreeRules {
    /// Loads every `.sops.yaml` among `entries`; a broken one is a problem.
    fn load(
        repo: &Repo,
        entries: &[super::git::IndexEntry],
        problems: &mut Vec<Problem>,
        label: &str,
    ) -> Result<TreeRules, Error> {
        let files: Vec<_> = entries
            .iter()
            .filter(|e| e.path == FILE_NAME || e.path.ends_with(&format!("/{FILE_NAME}")))
            .collect();
        let oids: Vec<&str> = files.iter().map(|e| e.oid.as_str()).collect();
        let blobs = repo.read_blobs(&oids)?;
        let mut out = TreeRules::default();
        for (entry, blob) in files.into_iter().zip(blobs) {
            let text = blob
                .content
                .map(|c| String::from_utf8_lossy(&c).into_owned())
                .unwrap_or_default();
            match RulesFile::parse(&text, &repo.top.join(&entry.path)) {
                Ok(rf) => {
                    let dir = entry
                        .path
                        .rsplit_once('/')
                        .map(|(d, _)| d.to_string())
                        .unwrap_or_default();
                    out.by_dir.insert(dir, rf);
                }
                Err(e) => {
                    problems.push(Problem::new(format!("{} ({label})", entry.path), e.message))
                }
            }
        }
        Ok(out)
    }

    /// The nearest rules file for a top-level-relative path.
    fn nearest(&self, path: &str) -> Option<&RulesFile> {
        let mut dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        loop {
            if let Some(rf) = self.by_dir.get(dir) {
                return Some(rf);
            }
            if dir.is_empty() {
                return None;
            }
            dir = dir.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        }
    }
}

/// One index entry's plan: judge it (a rule matches), scan it (staged change), or both.
struct Planned<'a> {
    entry: &'a super::git::IndexEntry,
    rules: RuleSet<'a>,
    scan: bool,
}

/// `check --staged` (and `--encrypt`): index blobs only.
fn staged(repo: &Repo, opts: &Options, ids: &IdentitySet) -> Result<Report, Error> {
    let mut report = Report::default();
    let entries = repo.index_entries()?;
    let config = match &opts.config {
        Some(c) => Some(RulesFile::load(c)?),
        None => None,
    };
    let index_rules = TreeRules::load(repo, &entries, &mut report.problems, "staged")?;
    let head_rules = if config.is_some() {
        TreeRules::default()
    } else {
        TreeRules::load(repo, &repo.head_entries()?, &mut report.problems, "HEAD")?
    };
    let changed = repo.staged_changes()?;
    let unstaged = repo.unstaged_changes()?;
    let plan: Vec<Planned> = entries
        .iter()
        .filter_map(|entry| {
            let rules = match &config {
                Some(c) => RuleSet {
                    current: Some(c),
                    previous: None,
                },
                None => RuleSet {
                    current: index_rules.nearest(&entry.path),
                    previous: head_rules.nearest(&entry.path),
                },
            };
            let abs = repo.top.join(&entry.path);
            let ruled = !is_exempt(&abs) && rules.rule_for(&abs).is_some();
            let scan = changed.contains(&entry.path) && !is_exempt(&abs);
            (ruled || scan).then_some(Planned { entry, rules, scan })
        })
        .collect();
    let oids: Vec<&str> = plan.iter().map(|p| p.entry.oid.as_str()).collect();
    let mut blobs = repo.blobs(&oids)?;
    for chunk in plan.chunks(CHUNK) {
        let read = blobs
            .by_ref()
            .take(chunk.len())
            .collect::<Result<Vec<Blob>, Error>>()?;
        let judged: Vec<StagedJudged> = chunk
            .par_iter()
            .zip(read)
            .map(|(p, blob)| judge_staged(repo, p, blob, opts, ids))
            .collect();
        for (p, j) in chunk.iter().zip(judged) {
            let partial = unstaged.contains(&p.entry.path);
            staged_one(repo, p, j, partial, opts, &mut report);
        }
    }
    Ok(report)
}

/// What judging one staged blob gave (the part of `check --staged` that runs in parallel).
enum StagedJudged {
    /// Over the size limit: a problem if it must be sealed.
    TooLarge(Option<Problem>),
    /// Plaintext that `--encrypt` is to seal: its bytes.
    Seal(Zeroizing<Vec<u8>>),
    /// Judged (when `judged`) and scanned: the rule's problems, then the shapes found.
    Done {
        judged: bool,
        problems: Vec<Problem>,
        shapes: Vec<Problem>,
    },
}

/// Judges one staged blob, then scans it if it stayed plaintext. Pure: writes nothing.
fn judge_staged(
    repo: &Repo,
    p: &Planned,
    blob: Blob,
    opts: &Options,
    ids: &IdentitySet,
) -> StagedJudged {
    let path = &p.entry.path;
    let abs = repo.top.join(path);
    let Some(bytes) = blob.content.map(Zeroizing::new) else {
        let too_large = p
            .rules
            .must_be_sealed(&abs)
            .is_some()
            .then(|| Problem::new(path, "staged blob is larger than the 16 MiB limit"));
        return StagedJudged::TooLarge(too_large);
    };
    let subject = Subject {
        shown: path,
        abs: &abs,
        bytes: &bytes,
    };
    let judged = p.rules.rule_for(&abs).is_some();
    let (verdict, problems) = if judged {
        judge(&subject, p.rules, ids)
    } else {
        (Verdict::Unruled, Vec::new())
    };
    if verdict == Verdict::Plaintext && opts.encrypt {
        return StagedJudged::Seal(bytes);
    }
    let mut shapes = Vec::new();
    if p.scan && verdict != Verdict::Plaintext {
        let sealed = verdict == Verdict::Sealed || is_sealed(&abs, &bytes);
        let (found, where_) = if sealed {
            (scan::scan_sealed(&bytes), "in clear inside a sealed file")
        } else {
            (scan::scan(&bytes), "outside a sealed file")
        };
        for f in found {
            shapes.push(
                Problem::new(path, format!("holds {} (line {}) {where_}", f.what, f.line)).hint(
                    if f.never_commit() {
                        HINT_NEVER_COMMIT
                    } else {
                        HINT_SHAPE
                    },
                ),
            );
        }
    }
    StagedJudged::Done {
        judged,
        problems,
        shapes,
    }
}

/// Records what judging one staged blob found (in index order), and with `--encrypt` seals it.
fn staged_one(
    repo: &Repo,
    p: &Planned,
    j: StagedJudged,
    partial: bool,
    opts: &Options,
    report: &mut Report,
) {
    match j {
        StagedJudged::TooLarge(problem) => report.problems.extend(problem),
        StagedJudged::Seal(bytes) => {
            report.judged = report.judged.saturating_add(1);
            let abs = repo.top.join(&p.entry.path);
            seal_staged(repo, p, &abs, &bytes, partial, opts, report);
        }
        StagedJudged::Done {
            judged,
            problems,
            shapes,
        } => {
            if judged {
                report.judged = report.judged.saturating_add(1);
            }
            for mut problem in problems {
                if partial {
                    problem
                        .message
                        .push_str(" [partially staged: judged as staged]");
                }
                report.problems.push(problem);
            }
            report.problems.extend(shapes);
        }
    }
}

/// Whether bytes are a sealed file of their path's type (sops metadata, or whole-file age).
fn is_sealed(abs: &Path, bytes: &[u8]) -> bool {
    let format = crate::format::Format::from_path(abs);
    if crate::age_file::is_age_file(bytes) {
        return true;
    }
    let try_parse = |f: crate::format::Format| {
        f.parse_sealed(bytes)
            .is_ok_and(|t| crate::sops::is_sealed(&t))
    };
    match format {
        crate::format::Format::Age => false,
        f => try_parse(f),
    }
}

/// `--encrypt`: seals a fully staged plaintext blob, writes it to the work tree and stages it.
fn seal_staged(
    repo: &Repo,
    p: &Planned,
    abs: &Path,
    bytes: &[u8],
    partial: bool,
    opts: &Options,
    report: &mut Report,
) {
    let path = &p.entry.path;
    if partial {
        report.problems.push(
            Problem::new(
                path,
                "not sealed, and partially staged: --encrypt seals only fully staged files",
            )
            .hint(HINT_PARTIAL),
        );
        return;
    }
    let Some(rule) = p.rules.rule_for(abs) else {
        return;
    };
    let emit = p.rules.current.map(|r| r.emit).unwrap_or_default();
    let result = seal::seal_for_rule(abs, bytes, rule, &emit, !opts.no_validate)
        .and_then(|sealed| {
            crate::fileio::write_atomic(abs, &sealed, crate::fileio::Mode::KeepExisting)
        })
        .and_then(|()| repo.add(path));
    match result {
        Ok(()) => report.sealed.push(path.clone()),
        Err(e) => report.problems.push(Problem::new(
            path,
            format!("not sealed: --encrypt failed: {}", e.message),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rules_file_walks_up() {
        let parse = |dir: &str| {
            RulesFile::parse(
                "creation_rules: []\n",
                &Path::new("/r").join(dir).join(FILE_NAME),
            )
            .unwrap()
        };
        let mut t = TreeRules::default();
        t.by_dir.insert(String::new(), parse(""));
        t.by_dir.insert("a/b".into(), parse("a/b"));
        assert_eq!(t.nearest("a/b/c/x.json").unwrap().dir, Path::new("/r/a/b"));
        assert_eq!(t.nearest("a/x.json").unwrap().dir, Path::new("/r"));
        assert_eq!(t.nearest("x.json").unwrap().dir, Path::new("/r"));
        assert!(TreeRules::default().nearest("x.json").is_none());
    }

    #[test]
    fn one_rules_file_is_loaded_once_for_every_directory_below_it() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(FILE_NAME), "creation_rules: []\n").unwrap();
        std::fs::create_dir_all(d.path().join("a/b")).unwrap();
        std::fs::create_dir_all(d.path().join("c")).unwrap();
        std::fs::write(d.path().join("c").join(FILE_NAME), ": broken").unwrap();
        let mut lookup = Lookup::new(None).unwrap();
        let top = lookup.for_file(&d.path().join("x.json")).unwrap().unwrap();
        for f in ["a/x.json", "a/b/x.json", "a/b/y.json"] {
            let r = lookup.for_file(&d.path().join(f)).unwrap().unwrap();
            assert!(Arc::ptr_eq(&top, &r), "{f}");
        }
        assert_eq!(lookup.nearest.loaded_count(), 1);
        // A broken one is read once; every file below it gets its error.
        std::fs::create_dir_all(d.path().join("c/d")).unwrap();
        let e1 = lookup.for_file(&d.path().join("c/x.json")).unwrap_err();
        let e2 = lookup.for_file(&d.path().join("c/d/x.json")).unwrap_err();
        assert_eq!((e1.file, e1.message), (e2.file, e2.message));
        assert_eq!(lookup.nearest.loaded_count(), 2);
    }
}
