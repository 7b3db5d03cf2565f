//! The validated install plan: every default applied, every path checked. Built only by
//! [`super::validate`]; everything after step 1 of docs/manifest.md#what-install-does works on this, never on raw JSON.

use crate::format::Format;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How units are restarted (docs/manifest.md#top-level-fields, `restartVia`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestartVia {
    /// Run the manifest's `systemctl` (absolute path, cleared environment).
    Systemctl(PathBuf),
    /// Append to `<restartListsDir>/activation-{restart,reload}-list`.
    ActivationLists,
    /// Do nothing.
    None,
}

/// Who owns a file: a name resolved through NSS at build time, or a number applied as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Resolved by name (NSS).
    Name(String),
    /// Applied as a number, existing or not.
    Id(u32),
    /// The owner's primary group (group only; the default).
    OwnersPrimary,
}

/// What to do with the previous copy when a secret fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Carry the previous bytes over, marked stale.
    Keep,
    /// Leave the secret absent.
    Remove,
}

/// Where a secret's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A sealed file and what to take from it.
    Sealed {
        /// The sealed file.
        sops_file: PathBuf,
        /// Its format.
        format: Format,
        /// Key path (yaml/json only; empty = the whole file).
        key: String,
        /// One dotenv/INI entry.
        entry: Option<String>,
    },
    /// A template: its text (inline) or the file holding it.
    Template {
        /// Inline content.
        content: String,
        /// A file with the content (wins over `content`).
        file: Option<PathBuf>,
    },
}

/// One file to install (a secret, or a template under `rendered/`).
#[derive(Debug, Clone)]
pub struct Item {
    /// The name as the user wrote it (for logs and the status file).
    pub name: String,
    /// Path relative to the generation directory (`rendered/<name>` for templates).
    pub rel: String,
    /// Where its bytes come from.
    pub source: Source,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub owner: Principal,
    /// Group.
    pub group: Principal,
    /// A custom symlink path, if not the default `symlinkPath/<rel>`.
    pub custom_path: Option<PathBuf>,
    /// Units to restart on change.
    pub restart_units: Vec<String>,
    /// Units to reload on change.
    pub reload_units: Vec<String>,
    /// What happens to the previous copy on failure.
    pub on_failure: OnFailure,
    /// A check of the bytes before they are installed.
    pub check: Option<super::credentials::Check>,
    /// Delivered as a systemd credential (`rel` is then `credstore(.encrypted)/<name>`).
    pub credstore: Option<super::credstore::Credstore>,
}

impl Item {
    /// Whether this item is a template.
    pub fn is_template(&self) -> bool {
        matches!(self.source, Source::Template { .. })
    }
}

/// Who the install is for: the host (as root), or one user (`userMode`, home-manager).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    /// A system install, run as root.
    #[default]
    System,
    /// A user-mode install: confined to the caller and their runtime directory.
    User(UserScope),
}

/// The whole validated manifest.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Where generations live.
    pub mount_point: PathBuf,
    /// The symlink to the current generation.
    pub symlink_path: PathBuf,
    /// Generations kept (0 = all).
    pub keep_generations: u64,
    /// tmpfs instead of ramfs.
    pub use_tmpfs: bool,
    /// age identity file.
    pub age_key_file: Option<PathBuf>,
    /// ssh keys used as age identities.
    pub age_ssh_key_paths: Vec<PathBuf>,
    /// RSA keys (sops-nix's PGP list) used as native ssh-rsa identities.
    pub ssh_key_paths: Vec<PathBuf>,
    /// Whether `gnupgHome` was set (warned about, not used).
    pub gnupg_home: bool,
    /// Allowed age plugin binaries.
    pub age_plugins: Vec<PathBuf>,
    /// `systemd-creds`, for encrypted credentials.
    pub systemd_creds: Option<PathBuf>,
    /// The directories systemd searches for credentials, linked into the generation.
    pub credstore_roots: super::credstore::Roots,
    /// How units are restarted.
    pub restart_via: RestartVia,
    /// Where activation lists live.
    pub restart_lists_dir: PathBuf,
    /// The status file.
    pub status_file: PathBuf,
    /// The lock file.
    pub lock_path: PathBuf,
    /// Abort on any failure.
    pub strict: bool,
    /// Secrets then templates, in manifest order.
    pub items: Vec<Item>,
    /// Placeholder string per secret name.
    pub placeholders: BTreeMap<String, String>,
    /// System or user mode.
    pub mode: Mode,
}

impl Plan {
    /// The secrets (not templates).
    pub fn secrets(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|i| !i.is_template())
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
