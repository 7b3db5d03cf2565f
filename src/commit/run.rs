//! The `check` use cases: judging given paths (no git needed: the NixOS module's
//! `lib.checkSealed` runs in a sandbox without `.git`), every tracked file, or the git index
//! (`--staged`, with secret-shape scanning and optional sealing of fully staged files).
//! Only files some rule matches are read (plus, with `--staged`, the added or modified blobs,
//! which are scanned for secret shapes).

use super::check::{is_exempt, judge, RuleSet, Subject, Verdict};
use super::git::Repo;
use super::{scan, seal, Problem};
use crate::error::Error;
use crate::keys::identity::IdentitySet;
use crate::rules::{RulesFile, FILE_NAME};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

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

/// Rules files found by walking up from a directory, cached per directory.
struct Lookup {
    config: Option<Rc<RulesFile>>,
    by_dir: HashMap<PathBuf, Option<Rc<RulesFile>>>,
}

impl Lookup {
    fn new(config: Option<&Path>) -> Result<Lookup, Error> {
        let config = match config {
            Some(c) => Some(Rc::new(RulesFile::load(c)?)),
            None => None,
        };
        Ok(Lookup {
            config,
            by_dir: HashMap::new(),
        })
    }

    fn for_file(&mut self, abs: &Path) -> Result<Option<Rc<RulesFile>>, Error> {
        if let Some(c) = &self.config {
            return Ok(Some(c.clone()));
        }
        let dir = abs.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Some(hit) = self.by_dir.get(&dir) {
            return Ok(hit.clone());
        }
        let found = RulesFile::locate(abs, None)?.map(Rc::new);
        self.by_dir.insert(dir, found.clone());
        Ok(found)
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
    let mut lookup = Lookup::new(opts.config.as_deref())?;
    let mut report = Report::default();
    for (shown, abs) in files {
        if is_exempt(&abs) {
            continue;
        }
        let rules = match lookup.for_file(&abs) {
            Ok(r) => r,
            Err(e) => {
                push_error(&mut report, &e, &shown);
                continue;
            }
        };
        let set = RuleSet {
            current: rules.as_deref(),
            previous: None,
        };
        if set.rule_for(&abs).is_none() {
            continue;
        }
        let bytes = match super::super::commands::io::read_input(&abs) {
            Ok(b) => zeroize::Zeroizing::new(b),
            Err(e) if e.message == "no such file or directory" => continue,
            Err(e) => {
                report.problems.push(Problem::new(&shown, e.message));
                continue;
            }
        };
        let subject = Subject {
            shown: &shown,
            abs: &abs,
            bytes: &bytes,
        };
        report.judged = report.judged.saturating_add(1);
        report.problems.extend(judge(&subject, set, ids).1);
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
    let blobs = repo.read_blobs(&oids)?;
    for (p, blob) in plan.iter().zip(blobs) {
        let partial = unstaged.contains(&p.entry.path);
        let Some(bytes) = blob.content.map(zeroize::Zeroizing::new) else {
            if p.rules
                .must_be_sealed(&repo.top.join(&p.entry.path))
                .is_some()
            {
                report.problems.push(Problem::new(
                    &p.entry.path,
                    "staged blob is larger than the 16 MiB limit",
                ));
            }
            continue;
        };
        staged_one(repo, p, &bytes, partial, opts, ids, &mut report);
    }
    Ok(report)
}

/// Judges (and with `--encrypt` seals) one staged blob, then scans it if it stayed plaintext.
fn staged_one(
    repo: &Repo,
    p: &Planned,
    bytes: &[u8],
    partial: bool,
    opts: &Options,
    ids: &IdentitySet,
    report: &mut Report,
) {
    let path = &p.entry.path;
    let abs = repo.top.join(path);
    let subject = Subject {
        shown: path,
        abs: &abs,
        bytes,
    };
    let (verdict, problems) = if p.rules.rule_for(&abs).is_some() {
        report.judged = report.judged.saturating_add(1);
        judge(&subject, p.rules, ids)
    } else {
        (Verdict::Unruled, Vec::new())
    };
    if verdict == Verdict::Plaintext && opts.encrypt {
        seal_staged(repo, p, &abs, bytes, partial, opts, report);
        return;
    }
    for mut problem in problems {
        if partial {
            problem
                .message
                .push_str(" [partially staged: judged as staged]");
        }
        report.problems.push(problem);
    }
    if p.scan
        && matches!(verdict, Verdict::Unruled | Verdict::PlainAllowed)
        && !is_sealed(&abs, bytes)
    {
        for f in scan::scan(bytes) {
            report.problems.push(
                Problem::new(
                    path,
                    format!("holds {} (line {}) outside a sealed file", f.what, f.line),
                )
                .hint(HINT_SHAPE),
            );
        }
    }
}

/// Whether bytes are a sealed file of their path's type (sops metadata, or whole-file age).
fn is_sealed(abs: &Path, bytes: &[u8]) -> bool {
    let format = crate::format::Format::from_path(abs);
    if super::check::is_age_file(bytes) {
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
        .and_then(|sealed| crate::commands::io::write_atomic(abs, &sealed))
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
}
