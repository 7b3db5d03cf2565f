//! `userMode` installs (home-manager): a user installs their own secrets into their runtime
//! directory, as sops-nix's home-manager module does (see docs/manifest.md, "User mode
//! (home-manager)"). Everything here is what differs from a system install; the pipeline
//! itself ([`super::run`]) is shared.
//!
//! - `%r` in `secretsMountPoint`, `symlinkPath`, `statusFile`, `lockPath`, `restartListsDir`
//!   and each `path` is the runtime directory (`%%` is a literal `%`), as sops-nix replaces it.
//! - The runtime directory is `$XDG_RUNTIME_DIR`, else `/run/user/<uid>`. A user-mode run has
//!   no privilege boundary (it runs as the user, for the user), so the user's environment is
//!   theirs to set; the directory itself must still be owned by the caller, mode 0700, on a
//!   RAM file system, and reached through directories only root or the caller can change.
//! - Every path install writes must lie under it; owners must be absent or the caller; no
//!   chown to anyone else, no mount, no unit restarts (`restartVia` must be `none`).
//! - Inputs (sealed files, key files, template files) must be owned by the caller or root,
//!   not writable by group or others, with no symlink on the way ([`Trust`]).

use super::defaults::Defaults;
use super::fs;
use super::manifest::{RawManifest, RawSecret, RawTemplate, RawTemplates};
use super::mount::{self, MountOpts};
use super::plan::{Mode, Plan, Source};
use super::trust;
use super::validate::{self, shown};
use crate::error::Error;
use nix::errno::Errno;
use nix::sys::stat::{fchmod, fstat, FileStat, Mode as Perm, SFlag};
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// Whose files and directories a run may trust: root's and `owner_uid`'s. A system install
/// runs as root, so there `owner_uid` is 0 and only root is trusted; a user-mode install
/// trusts the calling user as well (they can change their own files anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trust {
    /// The one user besides root whose files are trusted.
    pub owner_uid: u32,
}

impl Trust {
    /// The trust of this process: root and the effective user.
    pub fn process() -> Trust {
        Trust {
            owner_uid: nix::unistd::geteuid().as_raw(),
        }
    }

    /// Whether `uid` is root or the trusted user.
    pub fn owns(&self, uid: u32) -> bool {
        uid == 0 || uid == self.owner_uid
    }

    /// Whether a directory on a walked path cannot be changed by anyone else: owned by a
    /// trusted user and not group/other-writable, or root's sticky directory (`/tmp`,
    /// `/nix/store`), in which only entries owned by a trusted user are then accepted
    /// (`parent_sticky`).
    pub fn dir_trusted(&self, st: &FileStat, parent_sticky: bool) -> bool {
        let owner_ok = self.owns(st.st_uid);
        let ok = (owner_ok && st.st_mode & 0o022 == 0) || fs::root_sticky(st);
        ok && (!parent_sticky || owner_ok)
    }

    /// Whether a file that is only read can be trusted: regular, owned by a trusted user, not
    /// group/other-writable.
    pub fn input_trusted(&self, st: &FileStat) -> bool {
        fs::kind(st) == SFlag::S_IFREG && self.owns(st.st_uid) && st.st_mode & 0o022 == 0
    }
}

/// The owner and group of what this process creates: root:root for a system install (which
/// runs as root), the caller's effective uid and gid in user mode.
pub fn self_ids() -> (u32, u32) {
    let uid = nix::unistd::geteuid().as_raw();
    if uid == 0 {
        (0, 0)
    } else {
        (uid, nix::unistd::getegid().as_raw())
    }
}

/// What a user-mode plan is confined to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserScope {
    /// The caller's uid: owner of everything installed.
    pub uid: u32,
    /// The caller's gid: group of everything installed.
    pub gid: u32,
    /// The runtime directory (`%r`); every written path is under it.
    pub runtime_dir: PathBuf,
}

/// Where `%r` points: `$XDG_RUNTIME_DIR` when set and not empty, else `/run/user/<uid>`.
pub fn runtime_dir(uid: u32, xdg_runtime_dir: Option<&str>) -> Result<PathBuf, Error> {
    let dir = match xdg_runtime_dir {
        Some(d) if !d.is_empty() => d.to_string(),
        _ => format!("/run/user/{uid}"),
    };
    validate::check_abs(&dir)
        .map_err(|m| Error::config(format!("userMode: the runtime directory {dir:?} {m}")))?;
    if dir == "/" {
        return Err(Error::config(
            "userMode: the runtime directory must not be /",
        ));
    }
    Ok(PathBuf::from(dir))
}

/// sops-nix's `%r` replacement: `%%` is a literal `%`, `%r` the runtime directory.
pub fn expand(s: &str, runtime_dir: &Path) -> String {
    let rd = runtime_dir.to_string_lossy();
    s.split("%%")
        .map(|part| part.replace("%r", &rd))
        .collect::<Vec<_>>()
        .join("%")
}

/// Whether a manifest file asks for user mode. Read before the root check, so it only looks
/// at `userMode`; an unreadable or invalid manifest is "no" (the root check then speaks).
pub fn requested(path: &Path) -> bool {
    #[derive(serde::Deserialize)]
    struct Peek {
        #[serde(rename = "userMode", default)]
        user_mode: Option<bool>,
    }
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| {
        f.take(crate::limits::MAX_INPUT as u64 + 1)
            .read_to_end(&mut bytes)
    });
    read.is_ok() && serde_json::from_slice::<Peek>(&bytes).is_ok_and(|p| p.user_mode == Some(true))
}

/// The caller as seen by this process (effective ids) and its runtime directory.
pub fn caller_scope() -> Result<UserScope, Error> {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let xdg = std::env::var("XDG_RUNTIME_DIR").ok();
    Ok(UserScope {
        uid,
        gid,
        runtime_dir: runtime_dir(uid, xdg.as_deref())?,
    })
}

/// Turns a `userMode: true` manifest into a plan for `scope`: `%r` expanded, user-mode
/// defaults applied, owners checked against the caller, then the system validation, then every
/// written path checked to be under the runtime directory. Every failure is exit 6.
pub fn plan(mut raw: RawManifest, d: &Defaults, scope: &UserScope) -> Result<Plan, Error> {
    let rd = &scope.runtime_dir;
    let field = |v: Option<String>, default: &str| expand(v.as_deref().unwrap_or(default), rd);
    raw.secrets_mount_point = Some(field(raw.secrets_mount_point.take(), "%r/secrets.d"));
    raw.symlink_path = Some(field(raw.symlink_path.take(), "%r/secrets"));
    raw.lock_path = Some(field(raw.lock_path.take(), "%r/hostseal/lock"));
    raw.restart_lists_dir = Some(field(raw.restart_lists_dir.take(), "%r/hostseal"));
    raw.status_file = raw.status_file.take().map(|s| expand(&s, rd));
    for (what, p) in [
        ("secretsMountPoint", &raw.secrets_mount_point),
        ("symlinkPath", &raw.symlink_path),
        ("lockPath", &raw.lock_path),
        ("restartListsDir", &raw.restart_lists_dir),
        ("statusFile", &raw.status_file),
    ] {
        if let Some(p) = p {
            outside(what, Path::new(p), rd)?;
        }
    }
    match raw.restart_via.as_deref() {
        None | Some("none") => raw.restart_via = Some("none".into()),
        Some(_) => {
            return Err(Error::config(
                "restartVia: user mode restarts no units; it must be \"none\" or absent",
            ))
        }
    }
    let nss = super::users::Nss::default();
    for (i, s) in raw.secrets.iter_mut().flatten().enumerate() {
        let what = format!("secret {}", shown(&s.name));
        let what = if s.name.is_empty() {
            format!("secret #{i}")
        } else {
            what
        };
        confine_secret(s, scope, &nss).map_err(|m| Error::config(format!("{what}: {m}")))?;
    }
    match raw.templates.as_mut() {
        Some(RawTemplates::Map(m)) => {
            for (name, t) in m.iter_mut() {
                confine_template(t, scope, &nss)
                    .map_err(|m| Error::config(format!("template {}: {m}", shown(name))))?;
            }
        }
        Some(RawTemplates::List(l)) => {
            for t in l.iter_mut() {
                let name = t.name.clone().unwrap_or_default();
                confine_template(t, scope, &nss)
                    .map_err(|m| Error::config(format!("template {}: {m}", shown(&name))))?;
            }
        }
        None => {}
    }
    raw.user_mode = None;
    let mut plan = validate::validate(raw, d, false)?;
    check_under(&plan, rd)?;
    plan.mode = Mode::User(scope.clone());
    Ok(plan)
}

/// Owner fields of one secret or template, as written.
struct Owners<'a> {
    owner: &'a mut Option<Option<String>>,
    uid: &'a mut Option<u32>,
    group: &'a mut Option<Option<String>>,
    gid: &'a mut Option<u32>,
}

fn confine_secret(
    s: &mut RawSecret,
    scope: &UserScope,
    nss: &super::users::Nss,
) -> Result<(), String> {
    if let Some(p) = s.path.as_mut() {
        *p = expand(p, &scope.runtime_dir);
    }
    let o = Owners {
        owner: &mut s.owner,
        uid: &mut s.uid,
        group: &mut s.group,
        gid: &mut s.gid,
    };
    confine_owners(o, scope, nss)
}

fn confine_template(
    t: &mut RawTemplate,
    scope: &UserScope,
    nss: &super::users::Nss,
) -> Result<(), String> {
    if let Some(p) = t.path.as_mut() {
        *p = expand(p, &scope.runtime_dir);
    }
    let o = Owners {
        owner: &mut t.owner,
        uid: &mut t.uid,
        group: &mut t.group,
        gid: &mut t.gid,
    };
    confine_owners(o, scope, nss)
}

/// Each of owner/uid/group/gid must be absent or name the caller (its uid, its gid); then
/// they are set to the caller's numbers, so nothing is ever given to anyone else.
fn confine_owners(
    o: Owners<'_>,
    scope: &UserScope,
    r: &dyn super::users::Resolver,
) -> Result<(), String> {
    let not_you = |f: &str| {
        format!(
            "{f}: user mode installs only for the caller (uid {}, gid {}); leave it out",
            scope.uid, scope.gid
        )
    };
    match o.owner.as_ref() {
        Some(Some(n)) if r.user(n).map(|u| u.0) != Some(scope.uid) => {
            return Err(not_you(&format!("owner {}", shown(n))))
        }
        Some(None) if o.uid.is_none_or(|u| u != scope.uid) => return Err(not_you("owner null")),
        _ => {}
    }
    if o.uid.is_some_and(|u| u != scope.uid) {
        return Err(not_you("uid"));
    }
    match o.group.as_ref() {
        Some(Some(n)) if r.group(n) != Some(scope.gid) => {
            return Err(not_you(&format!("group {}", shown(n))))
        }
        Some(None) if o.gid.is_none_or(|g| g != scope.gid) => return Err(not_you("group null")),
        _ => {}
    }
    if o.gid.is_some_and(|g| g != scope.gid) {
        return Err(not_you("gid"));
    }
    *o.owner = Some(None);
    *o.uid = Some(scope.uid);
    *o.group = Some(None);
    *o.gid = Some(scope.gid);
    Ok(())
}

/// Every path install writes must be strictly under the runtime directory.
fn check_under(plan: &Plan, rd: &Path) -> Result<(), Error> {
    let mut written: Vec<(String, &Path)> = vec![
        ("secretsMountPoint".into(), &plan.mount_point),
        ("symlinkPath".into(), &plan.symlink_path),
        ("statusFile".into(), &plan.status_file),
        ("lockPath".into(), &plan.lock_path),
        ("restartListsDir".into(), &plan.restart_lists_dir),
    ];
    for item in &plan.items {
        if let Some(p) = &item.custom_path {
            written.push((format!("{}: path", shown(&item.name)), p));
        }
        if item.credstore.is_some() {
            // /run/credstore is the system's: systemd reads it for system units only.
            return Err(Error::config(format!(
                "{}: credstore: systemd credentials are for system installs, not user mode",
                shown(&item.name)
            )));
        }
    }
    for (what, p) in written {
        outside(&what, p, rd)?;
    }
    Ok(())
}

fn outside(what: &str, p: &Path, rd: &Path) -> Result<(), Error> {
    if p.starts_with(rd) && p != rd {
        return Ok(());
    }
    Err(Error::config(format!(
        "{what}: {} is outside the runtime directory {} (user mode writes only under it)",
        p.display(),
        rd.display()
    ))
    .with_hint("use %r/… paths, as the home-manager module writes them"))
}

/// Checks done before a user-mode install changes anything: not as root; the runtime
/// directory is the caller's (owned by them, mode 0700, no symlink, trusted parents, on a RAM
/// file system unless `--no-mount --allow-disk`); every input trusted by [`Trust`].
pub fn before_install(plan: &Plan, scope: &UserScope, opts: MountOpts) -> Result<(), Error> {
    if nix::unistd::geteuid().is_root() {
        return Err(Error::failure(
            "userMode: refusing to run a user-mode (home-manager) install as root",
        )
        .with_hint("run it as the user it is for (the home-manager service does); system secrets belong in a manifest without userMode"));
    }
    check_runtime_dir(&scope.runtime_dir, scope.uid, opts)?;
    for p in inputs(plan) {
        check_input(&p).map_err(|m| {
            Error::failure(m)
                .with_file(p.display().to_string())
                .with_hint("inputs of a user-mode install must be owned by you or root, not writable by others, with no symlink on the way")
        })?;
    }
    Ok(())
}

fn check_runtime_dir(rd: &Path, uid: u32, opts: MountOpts) -> Result<(), Error> {
    let err = |m: String| {
        Error::failure(format!("userMode: runtime directory: {m}"))
            .with_file(rd.display().to_string())
            .with_hint("it must exist (systemd-logind makes /run/user/<uid>), be yours, mode 0700, on tmpfs; XDG_RUNTIME_DIR names another")
    };
    let fd = fs::walk_dir(rd, false).map_err(|e| err(e.message()))?;
    let st = fstat(&fd).map_err(|e| err(e.desc().to_lowercase()))?;
    if st.st_uid != uid {
        return Err(err(format!("owned by uid {}, not by you", st.st_uid)));
    }
    if st.st_mode & 0o077 != 0 {
        return Err(err(format!(
            "mode {:04o}: group or others have access",
            st.st_mode & 0o7777
        )));
    }
    if !(mount::is_ram_fs(&fd) || opts.no_mount && opts.allow_disk) {
        return Err(err(
            "not on tmpfs or ramfs (add --no-mount --allow-disk for tests)".into(),
        ));
    }
    Ok(())
}

/// The files a run reads besides the manifest.
fn inputs(plan: &Plan) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = super::identities::key_paths(plan);
    for item in &plan.items {
        match &item.source {
            Source::Sealed { sops_file, .. } => out.push(sops_file.clone()),
            Source::Template { file: Some(f), .. } => out.push(f.clone()),
            Source::Template { file: None, .. } => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Checks one input path under the install's one trust rule ([`super::trust`], which in user
/// mode trusts the caller besides root). A missing file passes: the pipeline reports it for its
/// secret as usual.
pub fn check_input(path: &Path) -> Result<(), String> {
    match trust::open_trusted_file(path, trust::Use::Input, u64::MAX) {
        Ok(_) | Err(trust::TrustError::Missing) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

fn desc(e: Errno) -> String {
    e.desc().to_lowercase()
}

/// Step 3 in user mode: no mount; the mount point is a directory of the caller's, 0700, made
/// if missing, on a RAM file system (the runtime directory's tmpfs) unless `--allow-disk`.
pub fn prepare_mount_point(
    mount_point: &Path,
    scope: &UserScope,
    opts: MountOpts,
) -> Result<OwnedFd, Error> {
    let err = |m: String| Error::failure(m).with_file(mount_point.display().to_string());
    let (parent, name) =
        fs::split_parent(mount_point).ok_or_else(|| err("not a directory path".into()))?;
    let pfd = fs::walk_dir(parent, true).map_err(|e| err(e.message()))?;
    let dir = fs::ensure_dir_at(&pfd, name, 0o700).map_err(|e| err(desc(e)))?;
    let st = fstat(&dir).map_err(|e| err(desc(e)))?;
    if st.st_uid != scope.uid {
        return Err(err(format!("owned by uid {}, not by you", st.st_uid)));
    }
    if !(mount::is_ram_fs(&dir) || opts.no_mount && opts.allow_disk) {
        return Err(err(
            "not on tmpfs or ramfs (add --no-mount --allow-disk for tests)".into(),
        ));
    }
    fchmod(&dir, Perm::from_bits_truncate(0o700)).map_err(|e| err(desc(e)))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::{defaults, manifest};

    fn scope() -> UserScope {
        UserScope {
            uid: 4242,
            gid: 4343,
            runtime_dir: PathBuf::from("/run/user/4242"),
        }
    }

    fn plan_of(json: &str) -> Result<Plan, Error> {
        let raw = manifest::parse(json.as_bytes()).map_err(Error::config)?;
        plan(raw, &defaults::load().unwrap(), &scope())
    }

    #[test]
    fn expands_like_sops_nix() {
        let rd = Path::new("/run/user/7");
        assert_eq!(expand("%r/secrets.d", rd), "/run/user/7/secrets.d");
        assert_eq!(expand("%r/a%%r", rd), "/run/user/7/a%r");
        assert_eq!(expand("/x/%%%r", rd), "/x/%/run/user/7");
    }

    #[test]
    fn runtime_dir_from_env_or_uid() {
        assert_eq!(runtime_dir(7, None).unwrap(), Path::new("/run/user/7"));
        assert_eq!(runtime_dir(7, Some("")).unwrap(), Path::new("/run/user/7"));
        assert_eq!(runtime_dir(7, Some("/rt")).unwrap(), Path::new("/rt"));
        for bad in ["rel", "/a/../b", "/"] {
            assert_eq!(
                runtime_dir(7, Some(bad)).unwrap_err().exit_code(),
                6,
                "{bad}"
            );
        }
    }

    #[test]
    fn sops_nix_home_manager_manifest() {
        let p = plan_of(
            r#"{"userMode":true,"secretsMountPoint":"%r/secrets.d","symlinkPath":"%r/secrets",
                "keepGenerations":1,"ageKeyFile":"/home/u/.config/sops/age/keys.txt",
                "secrets":[{"name":"a","sopsFile":"/nix/store/x-s.yaml","path":"%r/secrets/a",
                            "mode":"0400","key":"a","format":"yaml"}]}"#,
        )
        .unwrap();
        assert_eq!(p.mount_point, Path::new("/run/user/4242/secrets.d"));
        assert_eq!(p.symlink_path, Path::new("/run/user/4242/secrets"));
        assert_eq!(
            p.status_file,
            Path::new("/run/user/4242/secrets.d/status.json")
        );
        assert_eq!(p.lock_path, Path::new("/run/user/4242/hostseal/lock"));
        assert_eq!(p.restart_via, super::super::plan::RestartVia::None);
        assert_eq!(p.items[0].custom_path, None);
        assert_eq!(p.items[0].owner, super::super::plan::Principal::Id(4242));
        assert_eq!(p.items[0].group, super::super::plan::Principal::Id(4343));
        assert_eq!(p.mode, Mode::User(scope()));
    }

    #[test]
    fn credstore_refused_in_user_mode() {
        let e = plan_of(
            r#"{"userMode":true,"secrets":[{"name":"a","sopsFile":"/s","credstore":"plain"}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 6);
        assert!(e.message.contains("not user mode"), "{e}");
    }

    #[test]
    fn paths_outside_the_runtime_dir_refused() {
        for extra in [
            r#""secretsMountPoint":"/run/secrets.d""#,
            r#""symlinkPath":"/tmp/secrets""#,
            r#""statusFile":"/tmp/status.json""#,
            r#""lockPath":"/run/hostseal/lock""#,
            r#""restartListsDir":"/run/nixos""#,
            r#""secretsMountPoint":"%r""#,
            r#""secretsMountPoint":"/run/user/42420/x""#,
            r#""secrets":[{"name":"a","sopsFile":"/s","path":"/home/u/.config/a"}]"#,
            r#""secrets":[],"templates":{"t":{"content":"x","path":"/etc/t"}}"#,
        ] {
            let e = plan_of(&format!(r#"{{"userMode":true,{extra}}}"#)).unwrap_err();
            assert_eq!(e.exit_code(), 6, "{extra}");
            assert!(e.message.contains("runtime directory"), "{extra}: {e}");
        }
    }

    #[test]
    fn owners_other_than_the_caller_refused() {
        for extra in [
            r#","owner":"root""#,
            r#","owner":null"#,
            r#","owner":null,"uid":0"#,
            r#","uid":1"#,
            r#","group":"root""#,
            r#","gid":0"#,
            r#","group":null,"gid":5"#,
        ] {
            let j =
                format!(r#"{{"userMode":true,"secrets":[{{"name":"a","sopsFile":"/s"{extra}}}]}}"#);
            let e = plan_of(&j).unwrap_err();
            assert_eq!(e.exit_code(), 6, "{extra}");
            assert!(e.message.contains("only for the caller"), "{extra}: {e}");
        }
        let j = r#"{"userMode":true,"secrets":[{"name":"a","sopsFile":"/s","owner":null,"uid":4242,"gid":4343}]}"#;
        assert!(plan_of(j).is_ok());
    }

    #[test]
    fn restarts_refused_but_units_listed_are_fine() {
        let e =
            plan_of(r#"{"userMode":true,"restartVia":"systemctl","systemctl":"/bin/systemctl"}"#)
                .unwrap_err();
        assert_eq!(e.exit_code(), 6);
        let j = r#"{"userMode":true,"secrets":[{"name":"a","sopsFile":"/s","restartUnits":["x.service"]}]}"#;
        assert!(plan_of(j).is_ok());
    }

    #[test]
    fn trust_rules() {
        let t = Trust { owner_uid: 1000 };
        let mut st: FileStat = stat_of_root();
        st.st_mode = SFlag::S_IFDIR.bits() | 0o755;
        st.st_uid = 1000;
        assert!(t.dir_trusted(&st, false));
        st.st_mode = SFlag::S_IFDIR.bits() | 0o775;
        assert!(!t.dir_trusted(&st, false));
        st.st_uid = 1001;
        st.st_mode = SFlag::S_IFDIR.bits() | 0o755;
        assert!(!t.dir_trusted(&st, false));
        st.st_uid = 0;
        st.st_mode = SFlag::S_IFDIR.bits() | 0o1777;
        assert!(t.dir_trusted(&st, false));
        st.st_uid = 1001;
        st.st_mode = SFlag::S_IFDIR.bits() | 0o700;
        assert!(!t.dir_trusted(&st, true));
        st.st_mode = SFlag::S_IFREG.bits() | 0o644;
        st.st_uid = 1000;
        assert!(t.input_trusted(&st));
        st.st_mode = SFlag::S_IFREG.bits() | 0o666;
        assert!(!t.input_trusted(&st));
        assert!(Trust { owner_uid: 0 }.owns(0));
        assert!(!Trust { owner_uid: 0 }.owns(1000));
    }

    /// A stat to fill in: the stat of `/`, its fields overwritten by the test.
    fn stat_of_root() -> FileStat {
        nix::sys::stat::stat("/").unwrap()
    }

    #[test]
    fn inputs_checked_by_the_one_trust_rule() {
        use std::os::unix::fs::{chown, PermissionsExt};
        if !trust::test_support::is_root() {
            eprintln!("SKIPPED inputs_checked_by_the_one_trust_rule: needs root");
            return;
        }
        let t = trust::test_support::trusted_tmp();
        let f = t.path().join("s.yaml");
        std::fs::write(&f, b"x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(check_input(&f), Ok(()));
        assert_eq!(check_input(&t.path().join("missing")), Ok(()));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o646)).unwrap();
        assert!(check_input(&f).is_err());
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        chown(&f, Some(4242), None).unwrap();
        assert!(check_input(&f).is_err(), "another user's file");
    }
}
