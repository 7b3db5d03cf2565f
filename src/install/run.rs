//! The install pipeline of docs/manifest.md#what-install-does, step by step, over a validated [`Plan`]. The opener (sops
//! core + identities) and the owner resolver are parameters so every step can be tested on a
//! temporary directory.

use super::extract::{Opener, SealedCache};
use super::failure::Failure;
use super::generation::{self, LinkSlot, Staging};
use super::log::Log;
use super::mount::{self, MountOpts};
use super::plan::{Item, Mode, OnFailure, Plan, Source};
use super::status::{self, ItemStatus, Reason, StaleSince, State, Status};
use super::templates;
use super::units::{self, UnitSet};
use super::users::{self, Resolver};
use super::validate::shown;
use super::{credstore, custom_paths, fs, lock, trust, user_mode};
use crate::error::{Error, Kind};
use crate::secret::SecretBytes;
use nix::sys::stat::FileStat;
use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Run-time options (from flags).
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Show what would change; write nothing but the dry-activation lists.
    pub dry_run: bool,
    /// Mount options.
    pub mount: MountOpts,
    /// How long to wait for the lock.
    pub lock_wait: std::time::Duration,
}

/// What a run did (for the caller's exit code and for tests).
#[derive(Debug)]
pub struct Report {
    /// The final status.
    pub status: Status,
    /// Units restarted or reloaded (or that would be, under `--dry-run`).
    pub units: UnitSet,
    /// What went wrong outside the secrets: the status file could not be written, restarts
    /// failed or could not be saved (they stay pending for the next run).
    pub problems: Vec<String>,
}

impl Report {
    /// 0; 7 when anything failed, was stale or was refused; else 1 when the status file or the
    /// restarts failed (see `docs/hardening.md`).
    pub fn exit_code(&self) -> u8 {
        if self.status.degraded() {
            Kind::InstallFailed.exit_code()
        } else if !self.problems.is_empty() {
            Kind::Failure.exit_code()
        } else {
            0
        }
    }
}

/// One item after decryption and owner resolution.
struct Produced {
    bytes: Result<SecretBytes, Failure>,
    ids: Result<(u32, u32), Failure>,
}

/// Steps 6–7 without writing: every item's bytes and numeric owner.
fn produce(plan: &Plan, opener: &dyn Opener, resolver: &dyn Resolver) -> Vec<Produced> {
    let mut cache = SealedCache::new(opener);
    let mut out: Vec<Produced> = Vec::with_capacity(plan.items.len());
    let mut values: BTreeMap<String, SecretBytes> = BTreeMap::new();
    for item in &plan.items {
        let bytes = match &item.source {
            Source::Sealed { .. } => cache.secret(&item.source).and_then(|b| match item.check {
                Some(c) => c.run(b.expose()).map(|()| b),
                None => Ok(b),
            }),
            Source::Template { content, file } => render(plan, content, file.as_deref(), &values),
        };
        if let (Ok(b), false) = (&bytes, item.is_template()) {
            values.insert(item.name.clone(), SecretBytes::new(b.expose().to_vec()));
        }
        let ids = users::resolve(resolver, &item.owner, &item.group).map_err(|u| {
            let (code, msg) = u.reason();
            Failure::new(code, msg).hint("create the user/group first, or give numeric uid/gid")
        });
        out.push(Produced { bytes, ids });
    }
    out
}

fn render(
    plan: &Plan,
    content: &str,
    file: Option<&Path>,
    values: &BTreeMap<String, SecretBytes>,
) -> Result<SecretBytes, Failure> {
    let text = match file {
        Some(f) => {
            let cap = crate::limits::MAX_INPUT as u64;
            trust::read_trusted_file(f, trust::Use::Input, cap)
                .map_err(|e| super::extract::trust_failure("template file", f, &e))?
                .to_vec()
        }
        None => content.as_bytes().to_vec(),
    };
    templates::render(&text, &plan.placeholders, values).map_err(
        |templates::RenderError::FailedInput(n)| {
            Failure::new(
                "failed-input",
                format!("its input secret {} failed", shown(&n)),
            )
        },
    )
}

/// Encrypted credentials: each plaintext becomes `systemd-creds` output (the previous
/// ciphertext when the plaintext did not change), so only ciphertext is ever written.
fn seal_credentials(plan: &Plan, produced: &mut [Produced], prev: Option<&OwnedFd>) {
    for (item, p) in plan.items.iter().zip(produced.iter_mut()) {
        let (Some(credstore::Credstore::Encrypted(key)), Ok(plain)) = (item.credstore, &p.bytes)
        else {
            continue;
        };
        let previous = prev_file(prev, &item.rel);
        let sealed = credstore::seal(
            plan.systemd_creds.as_deref(),
            &item.name,
            key,
            plain.expose(),
            previous.as_ref().map(|f| f.bytes.as_slice()),
        );
        p.bytes = sealed
            .map(SecretBytes::new)
            .map_err(|m| Failure::new("credential-encrypt-failed", m));
    }
}

/// The previous copy of an item: stat and bytes, if it was a regular file.
struct Prev {
    st: FileStat,
    bytes: zeroize::Zeroizing<Vec<u8>>,
}

fn prev_file(prev: Option<&OwnedFd>, rel: &str) -> Option<Prev> {
    let mut dir = fs::open_dir_at(prev?, ".").ok()?;
    let mut comps: Vec<&str> = rel.split('/').collect();
    let file = comps.pop()?;
    for c in comps {
        dir = fs::open_dir_at(&dir, c).ok()?;
    }
    let cap = crate::limits::MAX_INPUT as u64;
    let (fd, st) = fs::open_regular_at(&dir, file, cap).ok()?;
    let bytes = fs::read_capped(&fd, cap).ok()?;
    Some(Prev {
        st,
        bytes: zeroize::Zeroizing::new(bytes),
    })
}

/// The decision for one item before anything is written.
enum Decision {
    /// Write these bytes with this owner.
    Write {
        bytes: SecretBytes,
        uid: u32,
        gid: u32,
        stale: bool,
    },
    /// Leave it absent.
    Absent,
}

struct Outcome {
    decision: Decision,
    failure: Option<Failure>,
}

/// Step 8: a failed item keeps its previous bytes (a new file, new owner/mode) when allowed.
fn decide(item: &Item, p: Produced, prev: Option<&Prev>) -> Outcome {
    match (p.bytes, p.ids) {
        (Ok(bytes), Ok((uid, gid))) => Outcome {
            decision: Decision::Write {
                bytes,
                uid,
                gid,
                stale: false,
            },
            failure: None,
        },
        (Err(f), Ok((uid, gid))) if item.on_failure == OnFailure::Keep && prev.is_some() => {
            let bytes = SecretBytes::new(prev.map(|p| p.bytes.to_vec()).unwrap_or_default());
            Outcome {
                decision: Decision::Write {
                    bytes,
                    uid,
                    gid,
                    stale: true,
                },
                failure: Some(f),
            }
        }
        (Err(f), _) | (Ok(_), Err(f)) => Outcome {
            decision: Decision::Absent,
            failure: Some(f),
        },
    }
}

/// Whether an item's installed copy differs from the previous generation's.
fn changed(prev: Option<&Prev>, bytes: &[u8], uid: u32, gid: u32, mode: u32) -> bool {
    match prev {
        None => true,
        Some(p) => {
            p.bytes.as_slice() != bytes
                || p.st.st_uid != uid
                || p.st.st_gid != gid
                || super::platform::mode_bits(&p.st) & 0o7777 != mode
        }
    }
}

/// Everything decided for one run, before the switch.
struct Decided {
    outcomes: Vec<Outcome>,
    units: UnitSet,
    /// Per item: `None` unchanged, `Some(true)` added, `Some(false)` changed.
    changed: Vec<Option<bool>>,
}

fn decide_all(
    plan: &Plan,
    produced: Vec<Produced>,
    prev: Option<&OwnedFd>,
    first_install: bool,
) -> Decided {
    let mut units = UnitSet::default();
    let mut outcomes = Vec::new();
    let mut changed_flags = Vec::new();
    for (item, p) in plan.items.iter().zip(produced) {
        let pf = prev_file(prev, &item.rel);
        let o = decide(item, p, pf.as_ref());
        let ch = match &o.decision {
            Decision::Write {
                bytes, uid, gid, ..
            } => changed(pf.as_ref(), bytes.expose(), *uid, *gid, item.mode),
            Decision::Absent => pf.is_some(),
        };
        if ch && !first_install && matches!(o.decision, Decision::Write { .. }) {
            units.restart.extend(item.restart_units.iter().cloned());
            units.reload.extend(item.reload_units.iter().cloned());
        }
        changed_flags.push(ch.then_some(pf.is_none()));
        outcomes.push(o);
    }
    units.normalize();
    Decided {
        outcomes,
        units,
        changed: changed_flags,
    }
}

/// Logs one line per added/changed/failed item and per removed secret.
fn log_changes(plan: &Plan, d: &Decided, prev_status: Option<&Status>, dry: bool, log: Log) {
    let would = if dry { "would be " } else { "" };
    for ((item, o), ch) in plan.items.iter().zip(&d.outcomes).zip(&d.changed) {
        if let Some(f) = &o.failure {
            let hint = f
                .hint
                .as_deref()
                .map(|h| format!(" (hint: {h})"))
                .unwrap_or_default();
            log.install(&format!(
                "failed {}: {} [{}]{hint}",
                shown(&item.rel),
                f.message,
                f.code
            ));
            if matches!(o.decision, Decision::Write { .. }) {
                log.install(&format!(
                    "{} keeps its previous copy, marked stale; it will be absent after a reboot",
                    shown(&item.rel)
                ));
            }
        } else if let Some(added) = ch {
            let what = if *added { "added" } else { "changed" };
            log.install(&format!("{would}{what} {}", shown(&item.rel)));
        }
    }
    for old in removed(plan, prev_status) {
        log.install(&format!(
            "{would}removed {} (its units are unknown)",
            shown(&old.name)
        ));
    }
}

fn removed<'a>(plan: &Plan, prev_status: Option<&'a Status>) -> Vec<&'a ItemStatus> {
    let Some(s) = prev_status else {
        return Vec::new();
    };
    s.items
        .iter()
        .filter(|o| !plan.items.iter().any(|i| i.rel == o.name))
        .collect()
}

/// `--dry-run`: steps 1, 4–8, nothing written except the dry-activation lists.
pub fn dry_run(plan: &Plan, opener: &dyn Opener, resolver: &dyn Resolver, log: Log) -> Report {
    let mount_dir = fs::walk_dir(&plan.mount_point, false).ok();
    let slot = link_slot_readonly(&plan.symlink_path);
    let prev = mount_dir
        .as_ref()
        .and_then(|m| generation::previous(m, &plan.mount_point, &slot));
    let prev_status = status::read(&plan.status_file).ok();
    let first = !matches!(slot, LinkSlot::Symlink(_));
    let mut produced = produce(plan, opener, resolver);
    seal_credentials(plan, &mut produced, prev.as_ref().map(|p| &p.1));
    let d = decide_all(plan, produced, prev.as_ref().map(|p| &p.1), first);
    log_changes(plan, &d, prev_status.as_ref(), true, log);
    for u in &d.units.restart {
        log.install(&format!("would restart {u}"));
    }
    for u in &d.units.reload {
        log.install(&format!("would reload {u}"));
    }
    for e in units::execute(&plan.restart_via, &plan.restart_lists_dir, true, &d.units) {
        log.install(&format!("restart lists: {e}"));
    }
    let now = status::now_rfc3339();
    let items = item_statuses(
        plan,
        &d,
        prev_status.as_ref(),
        prev.as_ref().map_or(0, |p| p.0),
        &now,
        &BTreeMap::new(),
    );
    Report {
        status: Status {
            version: status::SCHEMA,
            generation: prev.map(|p| p.0),
            started: now.clone(),
            finished: Some(now),
            in_progress: false,
            items,
        },
        units: d.units,
        problems: Vec::new(),
    }
}

fn link_slot_readonly(link: &Path) -> LinkSlot {
    let Some((parent, name)) = fs::split_parent(link) else {
        return LinkSlot::Absent;
    };
    match fs::walk_dir(parent, false) {
        Ok(d) => generation::inspect_link(&d, name).unwrap_or(LinkSlot::Absent),
        Err(_) => LinkSlot::Absent,
    }
}

/// The status entries of this run.
fn item_statuses(
    plan: &Plan,
    d: &Decided,
    prev_status: Option<&Status>,
    n: u64,
    now: &str,
    link_states: &BTreeMap<String, Failure>,
) -> Vec<ItemStatus> {
    let mut out = Vec::new();
    for (item, o) in plan.items.iter().zip(&d.outcomes) {
        let path = item.custom_path.as_ref().map(|p| p.display().to_string());
        let mut st = ItemStatus {
            name: item.rel.clone(),
            state: State::Ok,
            reason: None,
            stale_since: None,
            path,
        };
        if let Some(f) = &o.failure {
            st.reason = Some(Reason {
                code: f.code.into(),
                message: f.message.clone(),
            });
            st.state = State::Failed;
            if matches!(o.decision, Decision::Write { stale: true, .. }) {
                st.state = State::Stale;
                let inherited = prev_status
                    .and_then(|s| s.item(&item.rel))
                    .and_then(|i| i.stale_since.clone());
                st.stale_since = Some(inherited.unwrap_or(StaleSince {
                    generation: n,
                    time: now.to_string(),
                }));
            }
        } else if let Some(f) = link_states.get(&item.rel) {
            st.state = if f.code == "replaced-file" {
                State::ReplacedFile
            } else {
                State::Failed
            };
            st.reason = Some(Reason {
                code: f.code.into(),
                message: f.message.clone(),
            });
        }
        out.push(st);
    }
    out
}

/// What steps 2–5 established, used by the later steps.
struct Ctx<'p> {
    plan: &'p Plan,
    /// Where progress lines go.
    log: Log<'p>,
    lock: lock::Lock,
    link_dir: OwnedFd,
    link_name: &'p str,
    slot: LinkSlot,
    mount_dir: OwnedFd,
    prev: Option<(u64, OwnedFd)>,
    prev_status: Option<Status>,
    started: String,
    /// Restarts left pending by an earlier run that failed again now: kept pending.
    carried: UnitSet,
    /// Problems outside the secrets so far (see [`Report::problems`]).
    problems: std::cell::RefCell<Vec<String>>,
}

impl<'p> Ctx<'p> {
    /// Steps 2, 3 and 5: lock (and pending restarts), link check, mount, previous generation,
    /// status `in_progress`.
    fn prepare(plan: &'p Plan, opts: &Options, log: Log<'p>) -> Result<Ctx<'p>, Error> {
        let lock = lock::acquire(&plan.lock_path, opts.lock_wait)?;
        let (carried, mut problems) = finish_pending(plan, &lock.dir, log);
        let (link_dir, link_name) = link_parent(&plan.symlink_path)?;
        let slot = generation::inspect_link(&link_dir, link_name)
            .map_err(|m| Error::failure(m).with_file(plan.symlink_path.display().to_string()))?;
        let mount_dir = match &plan.mode {
            Mode::System => mount::prepare(&plan.mount_point, opts.mount)?,
            Mode::User(scope) => {
                user_mode::prepare_mount_point(&plan.mount_point, scope, opts.mount)?
            }
        };
        generation::clean_staging(&mount_dir).map_err(|e| sys_err(&plan.mount_point, e))?;
        let prev = generation::previous(&mount_dir, &plan.mount_point, &slot);
        let ctx = Ctx {
            plan,
            log,
            lock,
            link_dir,
            link_name,
            slot,
            mount_dir,
            prev,
            prev_status: status::read(&plan.status_file).ok(),
            started: status::now_rfc3339(),
            carried,
            problems: std::cell::RefCell::new(Vec::new()),
        };
        let st = in_progress(ctx.prev_status.as_ref(), &ctx.started, ctx.prev_n());
        problems.extend(write_status(plan, &st, log));
        ctx.problems.borrow_mut().extend(problems);
        Ok(ctx)
    }

    /// The final status written, and the report of this run.
    fn finish(&self, st: Status, units: UnitSet) -> Report {
        let mut problems = self.problems.take();
        problems.extend(write_status(self.plan, &st, self.log));
        Report {
            status: st,
            units,
            problems,
        }
    }

    fn prev_n(&self) -> Option<u64> {
        self.prev.as_ref().map(|p| p.0)
    }

    fn statuses(&self, d: &Decided, n: u64, links: &BTreeMap<String, Failure>) -> Vec<ItemStatus> {
        item_statuses(
            self.plan,
            d,
            self.prev_status.as_ref(),
            n,
            &self.started,
            links,
        )
    }

    /// `strict` with a failure: no switch, the staging directory goes, the status says why.
    fn abort(&self, staging: Staging, mut d: Decided, n: u64) -> Result<Report, Error> {
        staging
            .discard(&self.mount_dir)
            .map_err(|e| sys_err(&self.plan.mount_point, e))?;
        self.log.install("strict: aborted, nothing switched");
        for o in d.outcomes.iter_mut().filter(|o| o.failure.is_some()) {
            o.decision = Decision::Absent;
        }
        let st = final_status(
            self.prev_n(),
            &self.started,
            self.statuses(&d, n, &BTreeMap::new()),
        );
        Ok(self.finish(st, UnitSet::default()))
    }

    /// Steps 9–14: pending restarts saved, rename, link switch, custom paths, restarts, prune,
    /// status.
    fn switch(&self, staging: Staging, d: Decided, n: u64) -> Result<Report, Error> {
        let plan = self.plan;
        let mut pending = d.units.clone();
        pending.merge(self.carried.clone());
        if let Err(e) = units::save_pending(&self.lock.dir, &pending) {
            let m = format!("cannot save pending restarts: {e}");
            self.log.install(&m);
            self.problems.borrow_mut().push(m);
        }
        staging
            .commit(&self.mount_dir, n)
            .map_err(|e| sys_err(&plan.mount_point, e))?;
        let target = plan.mount_point.join(n.to_string());
        generation::switch_link(&self.link_dir, self.link_name, &target, &self.slot)
            .map_err(|e| sys_err(&plan.symlink_path, e))?;
        let mut links = custom_links(plan, &d, self.prev_status.as_ref(), self.log);
        links.extend(credstore_links(plan, &d, self.log));
        for line in units::announce(&plan.restart_via, &d.units) {
            self.log.install(&line);
        }
        let errs = units::execute(&plan.restart_via, &plan.restart_lists_dir, false, &d.units);
        if errs.is_empty() {
            if self.carried.is_empty() {
                units::clear_pending(&self.lock.dir);
            } else if let Err(e) = units::save_pending(&self.lock.dir, &self.carried) {
                self.log
                    .install(&format!("cannot save pending restarts: {e}"));
            }
        } else {
            self.restart_failed(errs);
        }
        prune(plan, &self.mount_dir, n, self.log);
        let st = final_status(Some(n), &self.started, self.statuses(&d, n, &links));
        Ok(self.finish(st, d.units))
    }

    /// Restarts failed: logged, kept pending, and the run exits non-zero.
    fn restart_failed(&self, errs: Vec<String>) {
        for e in &errs {
            self.log.install(&format!("restart: {e}"));
        }
        self.log
            .install("the restarts stay pending and are replayed by the next run");
        self.problems.borrow_mut().extend(errs);
    }
}

/// The whole install (steps 2–14) for a validated plan.
pub fn install(
    plan: &Plan,
    opts: &Options,
    opener: &dyn Opener,
    resolver: &dyn Resolver,
    log: Log,
) -> Result<Report, Error> {
    let ctx = Ctx::prepare(plan, opts, log)?;
    let n = generation::next_number(&ctx.mount_dir, ctx.prev_n())
        .map_err(|e| sys_err(&plan.mount_point, e))?;
    let first = !matches!(ctx.slot, LinkSlot::Symlink(_));
    let mut produced = produce(plan, opener, resolver);
    seal_credentials(plan, &mut produced, ctx.prev.as_ref().map(|p| &p.1));
    let mut d = decide_all(plan, produced, ctx.prev.as_ref().map(|p| &p.1), first);
    let staging = Staging::create(&ctx.mount_dir).map_err(|e| sys_err(&plan.mount_point, e))?;
    build(&staging, plan, &mut d, ctx.log);
    log_changes(plan, &d, ctx.prev_status.as_ref(), false, ctx.log);
    if plan.strict && d.outcomes.iter().any(|o| o.failure.is_some()) {
        return ctx.abort(staging, d, n);
    }
    ctx.switch(staging, d, n)
}

fn sys_err(path: &Path, e: nix::errno::Errno) -> Error {
    Error::failure(e.desc().to_lowercase()).with_file(path.display().to_string())
}

fn link_parent(link: &Path) -> Result<(OwnedFd, &str), Error> {
    let err = |m: String| Error::failure(m).with_file(link.display().to_string());
    let (parent, name) = fs::split_parent(link).ok_or_else(|| err("not a file path".into()))?;
    let dir = fs::walk_dir(parent, true).map_err(|e| err(e.message()))?;
    Ok((dir, name))
}

/// Step 2's tail: restarts planned by a killed or failed run happen now. When they fail again
/// the pending file stays and they are returned, with the errors, to stay pending.
fn finish_pending(plan: &Plan, lock_dir: &OwnedFd, log: Log) -> (UnitSet, Vec<String>) {
    let Some(p) = units::load_pending(lock_dir) else {
        return (UnitSet::default(), Vec::new());
    };
    log.install("executing restarts left pending by an interrupted or failed run");
    for line in units::announce(&plan.restart_via, &p) {
        log.install(&line);
    }
    let errs = units::execute(&plan.restart_via, &plan.restart_lists_dir, false, &p);
    if errs.is_empty() {
        units::clear_pending(lock_dir);
        return (UnitSet::default(), Vec::new());
    }
    for e in &errs {
        log.install(&format!("restart: {e}"));
    }
    log.install("the restarts stay pending and are replayed by the next run");
    (p, errs)
}

fn in_progress(prev: Option<&Status>, started: &str, generation: Option<u64>) -> Status {
    Status {
        version: status::SCHEMA,
        generation,
        started: started.to_string(),
        finished: None,
        in_progress: true,
        items: prev.map(|s| s.items.clone()).unwrap_or_default(),
    }
}

fn final_status(generation: Option<u64>, started: &str, items: Vec<ItemStatus>) -> Status {
    Status {
        version: status::SCHEMA,
        generation,
        started: started.to_string(),
        finished: Some(status::now_rfc3339()),
        in_progress: false,
        items,
    }
}

/// Writes the status file; a failure is logged and returned (the run then exits non-zero).
fn write_status(plan: &Plan, st: &Status, log: Log) -> Option<String> {
    let e = status::write(&plan.status_file, st).err()?;
    let m = format!(
        "cannot write the status file {}: {e}",
        plan.status_file.display()
    );
    log.install(&m);
    Some(m)
}

/// Step 7: writes every decided item into the staging directory; a failed write fails it.
/// Credential directories are made first, `0700` (only root, i.e. systemd, looks inside).
fn build(staging: &Staging, plan: &Plan, d: &mut Decided, log: Log) {
    for dir in [credstore::PLAIN_DIR, credstore::ENCRYPTED_DIR] {
        if plan
            .items
            .iter()
            .any(|i| i.credstore.map(|c| c.dir()) == Some(dir))
        {
            if let Err(e) = fs::mkdir_exact(&staging.dir, dir, 0o700) {
                log.install(&format!("cannot make {dir}: {}", e.desc().to_lowercase()));
            }
        }
    }
    for (item, o) in plan.items.iter().zip(d.outcomes.iter_mut()) {
        let Decision::Write {
            bytes, uid, gid, ..
        } = &o.decision
        else {
            continue;
        };
        if let Err(e) = staging.write(&item.rel, bytes.expose(), *uid, *gid, item.mode) {
            o.failure = Some(Failure::new(
                "write-failed",
                format!("cannot write: {}", e.desc().to_lowercase()),
            ));
            o.decision = Decision::Absent;
        }
    }
}

/// Step 11: custom paths, and removal of links of secrets no longer in the manifest.
fn custom_links(
    plan: &Plan,
    d: &Decided,
    prev_status: Option<&Status>,
    log: Log,
) -> BTreeMap<String, Failure> {
    let mut out = BTreeMap::new();
    for (item, o) in plan.items.iter().zip(&d.outcomes) {
        let (Some(path), Decision::Write { uid, gid, .. }) = (&item.custom_path, &o.decision)
        else {
            continue;
        };
        let target = plan.symlink_path.join(&item.rel);
        match custom_paths::link(path, &target, *uid, *gid) {
            Ok(custom_paths::Linked::Linked) => {}
            Ok(custom_paths::Linked::ReplacedFile) => {
                log.install(&format!(
                    "{}: replaced a regular file by the symlink of {}",
                    path.display(),
                    shown(&item.rel)
                ));
                out.insert(
                    item.rel.clone(),
                    Failure::new(
                        "replaced-file",
                        format!("{} was a regular file", path.display()),
                    ),
                );
            }
            Err(m) => {
                log.install(&format!(
                    "failed {}: custom path {}: {m}",
                    shown(&item.rel),
                    path.display()
                ));
                out.insert(
                    item.rel.clone(),
                    Failure::new(
                        "path-refused",
                        format!("custom path {}: {m}", path.display()),
                    ),
                );
            }
        }
    }
    for old in removed(plan, prev_status) {
        if let Some(p) = &old.path {
            let p = PathBuf::from(p);
            if custom_paths::unlink_if_ours(&p, &plan.symlink_path.join(&old.name)) {
                log.install(&format!("removed the symlink {}", p.display()));
            }
        }
    }
    out
}

/// After the switch: `credstoreDir` / `credstoreEncryptedDir` point into the current
/// generation through `symlinkPath` when a credential of their kind is installed, and an old
/// link of ours goes when none is left. A link that cannot be made fails its credentials.
fn credstore_links(plan: &Plan, d: &Decided, log: Log) -> BTreeMap<String, Failure> {
    let mut out = BTreeMap::new();
    let roots = &plan.credstore_roots;
    for (dir, root) in [
        (credstore::PLAIN_DIR, &roots.plain),
        (credstore::ENCRYPTED_DIR, &roots.encrypted),
    ] {
        let target = plan.symlink_path.join(dir);
        let ours: Vec<&Item> = plan
            .items
            .iter()
            .zip(&d.outcomes)
            .filter(|(i, o)| {
                i.credstore.map(|c| c.dir()) == Some(dir)
                    && matches!(o.decision, Decision::Write { .. })
            })
            .map(|(i, _)| i)
            .collect();
        if ours.is_empty() {
            if credstore::unlink_root(root, &target) {
                log.install(&format!("removed the symlink {}", root.display()));
            }
            continue;
        }
        if let Err(m) = credstore::link_root(root, &target) {
            log.install(&format!("credential directory {}: {m}", root.display()));
            for i in ours {
                out.insert(
                    i.rel.clone(),
                    Failure::new(
                        "path-refused",
                        format!("credential directory {}: {m}", root.display()),
                    ),
                );
            }
        }
    }
    out
}

/// Step 13.
fn prune(plan: &Plan, mount_dir: &impl AsFd, n: u64, log: Log) {
    match generation::prune(mount_dir, n, plan.keep_generations) {
        Ok(r) if !r.is_empty() => log.install(&format!("pruned {} old generation(s)", r.len())),
        Ok(_) => {}
        Err(e) => log.install(&format!("pruning: {}", e.desc().to_lowercase())),
    }
}

#[cfg(test)]
mod tests;
