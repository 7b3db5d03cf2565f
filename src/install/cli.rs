//! Command-line arguments of `install` and `status`, and their entry points.

use super::identities::{self, HostOpener};
use super::mount::MountOpts;
use super::plan::Mode;
use super::run::{self, Options};
use super::users::{IgnorePasswd, Nss, Resolver};
use super::{check, defaults, manifest, status, unknown_fields, user_mode, validate};
use crate::error::Error;
use std::io::Read;
use std::path::{Path, PathBuf};

/// `--check-mode`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckMode {
    /// Install.
    Off,
    /// Validate the manifest's structure only.
    Manifest,
    /// Also parse each sealed file and check each `key`, without decrypting.
    Sopsfile,
}

/// `hostseal install` arguments (docs/cli.md#install).
#[derive(clap::Args, Debug)]
pub struct InstallArgs {
    /// Validate only (needs no root): `manifest` checks the structure; `sopsfile` is the
    /// host-side check: it also parses each sealed file (each `key` must exist) and resolves
    /// each owner and group by name, so a misspelled owner fails here. The Nix build runs it
    /// with --ignore-passwd (its sandbox has no users; the module checks names at evaluation).
    #[arg(long, value_name = "MODE", value_enum, default_value = "off")]
    pub check_mode: CheckMode,
    /// With `--check-mode manifest`, also resolve owners and groups (`sopsfile` always does).
    #[arg(long)]
    pub resolve_owners: bool,
    /// Ignore owners/groups by name: root:root except explicit numbers (with
    /// `--check-mode sopsfile`: do not resolve names).
    #[arg(long)]
    pub ignore_passwd: bool,
    /// Show what would change; write nothing but the dry-activation lists.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not mount a RAM filesystem (tests, containers).
    #[arg(long)]
    pub no_mount: bool,
    /// With --no-mount: allow a mount point on a disk filesystem.
    #[arg(long, requires = "no_mount")]
    pub allow_disk: bool,
    /// The manifest JSON.
    pub manifest: PathBuf,
}

/// Runs `install`; returns the exit code (0, or 7 when some secrets failed).
pub fn run_install(args: &InstallArgs) -> Result<u8, Error> {
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
    let plan = load_plan(&args.manifest, action.is_some())?;
    let nss = Nss::default();
    let resolver: &dyn Resolver = if args.ignore_passwd {
        &IgnorePasswd
    } else {
        &nss
    };
    match args.check_mode {
        CheckMode::Manifest => return check_owners(&plan, args.resolve_owners.then_some(resolver)),
        CheckMode::Sopsfile => return check::sopsfile(&plan, Some(resolver)).map(|()| 0),
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
        run::log("gnupgHome is ignored: PGP is not supported (files only PGP can open will fail)");
    }
    let (keys, warnings) = identities::read_all(&identities::key_paths(&plan));
    let (opener, more) = HostOpener::new(&keys, &plan.age_plugins);
    drop(keys);
    for w in warnings.iter().chain(&more) {
        run::log(&format!("key file {w}"));
    }
    if opener.count == 0 && plan.secrets().next().is_some() {
        run::log("no usable identity: every secret will fail");
    }
    let opts = Options {
        dry_run: args.dry_run || action.as_deref() == Some("dry-activate"),
        mount: mount_opts,
        lock_wait: super::lock::WAIT,
    };
    let report = if opts.dry_run {
        run::dry_run(&plan, &opener, resolver)
    } else {
        run::install(&plan, &opts, &opener, resolver)?
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
pub fn load_plan(path: &Path, nixos_action: bool) -> Result<super::plan::Plan, Error> {
    let file = path.display().to_string();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(crate::limits::MAX_INPUT as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(|e| Error::io(path, &e))?;
    if bytes.len() > crate::limits::MAX_INPUT {
        return Err(Error::config("manifest is larger than 16 MiB").with_file(file));
    }
    let raw = manifest::parse(&bytes).map_err(|m| Error::config(m).with_file(file.clone()))?;
    for u in unknown_fields::find(&bytes) {
        eprintln!("hostseal: warning: {file}: {}", u.message());
    }
    let d = defaults::load()?;
    if raw.user_mode == Some(true) {
        let scope = user_mode::caller_scope().map_err(|e| e.with_file(file.clone()))?;
        return user_mode::plan(raw, &d, &scope).map_err(|e| e.with_file(file));
    }
    validate::validate(raw, &d, nixos_action).map_err(|e| e.with_file(file))
}

/// `hostseal status` arguments.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Print the status file as JSON.
    #[arg(long)]
    pub json: bool,
    /// The status file (default `/run/secrets.d/status.json`; a manifest with another
    /// `secretsMountPoint` or `statusFile` writes it there). Readable without root.
    pub status_file: Option<PathBuf>,
}

/// Runs `status`; returns the exit code (0, or 7 when the last install was degraded).
pub fn run_status(args: &StatusArgs) -> Result<u8, Error> {
    let default = defaults::load()?;
    let path = args
        .status_file
        .clone()
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
        if args.status_file.is_some() {
            return e;
        }
        e.with_hint(format!(
            "no install has written the default status file, or the manifest sets another \
             secretsMountPoint or statusFile: pass it, `hostseal status <secretsMountPoint>/status.json` \
             (default {})",
            default.secrets_mount_point
        ))
    })?;
    if args.json {
        let text = serde_json::to_string_pretty(&st).map_err(|_| Error::failure("cannot print"))?;
        println!("{text}");
    } else {
        print!("{}", status::render(&st));
    }
    Ok(if st.degraded() || st.in_progress {
        7
    } else {
        0
    })
}
