//! The two entry points below the command line: one `install` run from a manifest path and its
//! options ([`Request`]), and reading the status file for `status`. What they have to say goes
//! to a [`Log`]; `commands/install.rs` parses the arguments and prints.

use super::identities::{self, HostOpener};
use super::log::Log;
use super::mount::MountOpts;
use super::plan::Mode;
use super::run::{self, Options};
use super::users::{IgnorePasswd, Nss, Resolver};
use super::{check, defaults, manifest, status, trust, unknown_fields, user_mode, validate};
use crate::error::Error;
use std::io::Read;
use std::path::{Path, PathBuf};

/// `--check-mode`: install, or validate only.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckMode {
    /// Install.
    Off,
    /// Validate the manifest's structure only.
    Manifest,
    /// Also parse each sealed file and check each `key`, without decrypting.
    Sopsfile,
}

/// What one `hostseal install` run is asked to do (its command-line flags).
#[derive(Debug, Clone)]
pub struct Request {
    /// `--check-mode`: validate only.
    pub check_mode: CheckMode,
    /// `--resolve-owners`: with `CheckMode::Manifest`, also resolve owners and groups.
    pub resolve_owners: bool,
    /// `--ignore-passwd`: owners and groups by name are root:root.
    pub ignore_passwd: bool,
    /// `--dry-run`: show what would change.
    pub dry_run: bool,
    /// `--no-mount`: do not mount a RAM filesystem.
    pub no_mount: bool,
    /// `--allow-disk`: with `no_mount`, allow a mount point on a disk filesystem.
    pub allow_disk: bool,
    /// The manifest JSON.
    pub manifest: PathBuf,
}

/// Runs `install`; returns the exit code (0, or 7 when some secrets failed).
pub fn run_install(args: &Request, log: Log) -> Result<u8, Error> {
    // Before anything else: a non-root run would fail later on a key file, a chown or the
    // mount, with a message that does not say why. Check modes need no privileges.
    // A user-mode manifest (home-manager) is installed by its user: see user_mode.rs.
    if args.check_mode == CheckMode::Off
        && !nix::unistd::geteuid().is_root()
        && !user_mode::requested(&args.manifest)
    {
        return Err(Error::failure(
            "install must run as root (it reads the host's keys, sets owners, mounts a RAM filesystem)",
        )
        .with_hint("run it as root (sudo); `--check-mode sopsfile` validates a manifest without root"));
    }
    // docs/manifest.md#what-install-does, step 0: the only environment variable install reads.
    let action = std::env::var("NIXOS_ACTION").ok();
    // A real run trusts the manifest as it trusts every other input (docs/hardening.md): who
    // can write it decides what root installs where. Check modes only parse (the Nix build
    // sandbox has nothing root-owned).
    let trusted = args.check_mode == CheckMode::Off;
    let plan = load_plan(&args.manifest, action.is_some(), trusted, log)?;
    let nss = Nss::default();
    let resolver: &dyn Resolver = if args.ignore_passwd {
        &IgnorePasswd
    } else {
        &nss
    };
    match args.check_mode {
        CheckMode::Manifest => return check_owners(&plan, args.resolve_owners.then_some(resolver)),
        CheckMode::Sopsfile => return check::sopsfile(&plan, Some(resolver), log).map(|()| 0),
        CheckMode::Off => {}
    }
    let mount_opts = MountOpts {
        use_tmpfs: plan.use_tmpfs,
        no_mount: args.no_mount,
        allow_disk: args.allow_disk,
    };
    if let Mode::User(scope) = &plan.mode {
        // Before any key or sealed file is read.
        user_mode::before_install(&plan, scope, mount_opts)?;
    }
    if plan.gnupg_home {
        log.install(
            "gnupgHome is ignored: PGP is not supported (files only PGP can open will fail)",
        );
    }
    let (keys, warnings) = identities::read_all(&identities::key_paths(&plan));
    let (opener, more) = HostOpener::new(&keys, &plan.age_plugins);
    drop(keys);
    for w in warnings.iter().chain(&more) {
        log.install(&format!("key file {w}"));
    }
    if opener.count == 0 && plan.secrets().next().is_some() {
        log.install("no usable identity: every secret will fail");
    }
    let opts = Options {
        dry_run: args.dry_run || action.as_deref() == Some("dry-activate"),
        mount: mount_opts,
        lock_wait: super::lock::WAIT,
    };
    let report = if opts.dry_run {
        run::dry_run(&plan, &opener, resolver, log)
    } else {
        run::install(&plan, &opts, &opener, resolver, log)?
    };
    Ok(report.exit_code())
}

fn check_owners(plan: &super::plan::Plan, resolver: Option<&dyn Resolver>) -> Result<u8, Error> {
    let Some(r) = resolver else { return Ok(0) };
    for item in &plan.items {
        if let Err(u) = super::users::resolve(r, &item.owner, &item.group) {
            let msg = format!("{}: {}", validate::shown(&item.rel), u.reason().1);
            return Err(Error::config(msg));
        }
    }
    Ok(0)
}

/// Reads (≤ 16 MiB), parses and validates the manifest; every failure is exit 6 except I/O.
/// With `trusted`, the manifest is read under the trust rule (as root reads every input at
/// activation); without, as any file (check modes, which only parse).
pub fn load_plan(
    path: &Path,
    nixos_action: bool,
    trusted: bool,
    log: Log,
) -> Result<super::plan::Plan, Error> {
    let file = path.display().to_string();
    let bytes = if trusted {
        read_trusted_manifest(path)?
    } else {
        read_manifest(path)?
    };
    if bytes.len() > crate::limits::MAX_INPUT {
        return Err(Error::config("manifest is larger than 16 MiB").with_file(file));
    }
    let raw = manifest::parse(&bytes).map_err(|m| Error::config(m).with_file(file.clone()))?;
    for u in unknown_fields::find(&bytes) {
        log.warning(&file, &u.message());
    }
    let d = defaults::load()?;
    if raw.user_mode == Some(true) {
        let scope = user_mode::caller_scope().map_err(|e| e.with_file(file.clone()))?;
        return user_mode::plan(raw, &d, &scope).map_err(|e| e.with_file(file));
    }
    validate::validate(raw, &d, nixos_action).map_err(|e| e.with_file(file))
}

fn read_manifest(path: &Path) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(crate::limits::MAX_INPUT as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(|e| Error::io(path, &e))?;
    Ok(bytes)
}

fn read_trusted_manifest(path: &Path) -> Result<Vec<u8>, Error> {
    let cap = crate::limits::MAX_INPUT as u64;
    // A relative path is taken from the working directory, lexically (no link followed): the
    // rule then walks it from `/`.
    let abs = std::path::absolute(path).map_err(|e| Error::io(path, &e))?;
    match trust::read_trusted_file(&abs, trust::Use::Input, cap) {
        // Moved out, not copied: a manifest holds no secret, so nothing needs zeroizing.
        Ok(mut bytes) => Ok(std::mem::take(&mut *bytes)),
        Err(trust::TrustError::Missing) => Err(Error::io(
            path,
            &std::io::Error::from(std::io::ErrorKind::NotFound),
        )),
        Err(trust::TrustError::TooLarge(_)) => {
            Err(Error::config("manifest is larger than 16 MiB")
                .with_file(path.display().to_string()))
        }
        Err(e) => {
            let err = Error::failure(format!("manifest not trusted: {e}"))
                .with_file(path.display().to_string());
            Err(match e.hint(path) {
                Some(h) => err.with_hint(h),
                None => err,
            })
        }
    }
}

/// Reads the status file for `status`: `status_file`, else the default one (an error hints
/// where else it may be).
pub fn read_status(status_file: Option<&Path>) -> Result<status::Status, Error> {
    let default = defaults::load()?;
    let path = status_file
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(format!("{}/status.json", default.secrets_mount_point)));
    let abs = if path.is_absolute() {
        path.clone()
    } else {
        std::env::current_dir()
            .map_err(|e| Error::io(&path, &e))?
            .join(&path)
    };
    let st = status::read(&abs).map_err(|m| {
        let e = Error::failure(m).with_file(path.display().to_string());
        if status_file.is_some() {
            return e;
        }
        e.with_hint(format!(
            "no install has written the default status file, or the manifest sets another \
             secretsMountPoint or statusFile: pass it, `hostseal status <secretsMountPoint>/status.json` \
             (default {})",
            default.secrets_mount_point
        ))
    })?;
    Ok(st)
}
