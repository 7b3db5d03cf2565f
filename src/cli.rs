//! The command line (docs/cli.md): clap definitions, one struct per subcommand, with the flag
//! groups several share flattened in. Flag names follow sops. [`crate::commands::dispatch`] runs
//! a parsed one.

use crate::format::Format;
use crate::install::activate::CheckMode;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// hostseal: seal secrets to the keys of the machines that need them (sops format).
#[derive(Parser, Debug)]
#[command(name = "hostseal", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Seal a plaintext file to the recipients its rule (or --age) names.
    Encrypt(EncryptArgs),
    /// Open a sealed file and print (or write) the plaintext.
    Decrypt(DecryptArgs),
    /// Open a sealed file in $VISUAL/$EDITOR on a RAM filesystem and re-seal it.
    Edit(EditArgs),
    /// Bring files' recipients in line with the rules.
    Updatekeys(UpdatekeysArgs),
    /// Draw new data keys and re-encrypt every value.
    Rotate(RotateArgs),
    /// The commit-time guard: refuse plaintext secrets and stale recipients.
    Check(CheckArgs),
    /// Git hook management.
    #[command(subcommand)]
    Hook(HookCommand),
    /// Write a new age identity (0600) and print its recipient.
    Keygen(KeygenArgs),
    /// Print the age recipient of an identity file or an ssh ed25519 key.
    Pubkey(PubkeyArgs),
    /// Convert between Cloudflare tunnel credentials and tunnel tokens.
    #[command(subcommand)]
    Tunnel(TunnelCommand),
    /// Install secrets on this host from a manifest (root, at activation).
    Install(InstallArgs),
    /// Show an install status file.
    Status(StatusArgs),
    /// List sealed files' recipients and whether they match the rules.
    Audit(AuditArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions(CompletionsArgs),
    /// Write one man page per command into a directory (for packagers; docs/install.md).
    #[command(hide = true)]
    Man(ManArgs),
}

/// Options choosing which leaves are encrypted (at most one).
#[derive(Args, Debug, Default, Clone)]
#[group(id = "leaf_rule", multiple = false)]
pub struct LeafRuleArgs {
    /// Encrypt only values under keys matching this regex.
    #[arg(long, value_name = "RE")]
    pub encrypted_regex: Option<String>,
    /// Leave values under keys matching this regex in clear text.
    #[arg(long, value_name = "RE")]
    pub unencrypted_regex: Option<String>,
    /// Encrypt only values under keys ending with this suffix.
    #[arg(long, value_name = "S")]
    pub encrypted_suffix: Option<String>,
    /// Leave values under keys ending with this suffix in clear text (default `_unencrypted`).
    #[arg(long, value_name = "S")]
    pub unencrypted_suffix: Option<String>,
}

/// `--identity`/`--identity-only`: the identities that open sealed files (`decrypt`, `edit`,
/// `updatekeys`, `rotate`).
#[derive(Args, Debug, Default, Clone)]
pub struct IdentityArgs {
    /// Identity files (age identities or OpenSSH private keys); repeatable.
    #[arg(long = "identity", value_name = "F")]
    pub identities: Vec<PathBuf>,
    /// Use only the `--identity` files: not `$SOPS_AGE_KEY*`, keys.txt or `~/.ssh` (to test
    /// that one key alone opens a file).
    #[arg(long, requires = "identities")]
    pub identity_only: bool,
}

/// `--config`: the rules file, for every command that reads rules.
#[derive(Args, Debug, Default, Clone)]
pub struct ConfigArg {
    /// The rules file (default: nearest .sops.yaml from each file's directory, or $SOPS_CONFIG).
    #[arg(long, value_name = "F")]
    pub config: Option<PathBuf>,
}

/// `--input-type`/`--output-type`/`--filename-override`: how `encrypt` and `decrypt` choose
/// the file types (and `encrypt` its rule).
#[derive(Args, Debug, Default, Clone)]
pub struct TypeArgs {
    /// Input type.
    #[arg(long, value_name = "T", value_parser = file_type())]
    pub input_type: Option<Format>,
    /// Output type.
    #[arg(long, value_name = "T", value_parser = file_type())]
    pub output_type: Option<Format>,
    /// Path used for type detection and (encrypt) rule matching (needed with `-`).
    #[arg(long, value_name = "PATH")]
    pub filename_override: Option<PathBuf>,
}

/// `--input-type`/`--output-type`: one of [`Format::NAMES`], parsed into a [`Format`] (clap
/// lists the names in `--help` and refuses any other as a usage error).
fn file_type() -> impl TypedValueParser<Value = Format> {
    PossibleValuesParser::new(Format::NAMES)
        .try_map(|name: String| Format::from_name(&name).ok_or("not a file type"))
}

/// `hostseal encrypt`.
#[derive(Args, Debug)]
pub struct EncryptArgs {
    /// Write the sealed file over the input.
    #[arg(short = 'i', long = "in-place", conflicts_with = "output")]
    pub in_place: bool,
    /// Write the sealed file here instead of stdout.
    #[arg(long, value_name = "F")]
    pub output: Option<PathBuf>,
    /// Recipients (comma-separated), instead of the rule's.
    #[arg(long, value_name = "R1,R2")]
    pub age: Option<String>,
    /// Where the rules are.
    #[command(flatten)]
    pub rules: ConfigArg,
    /// The file types and the name that chooses them.
    #[command(flatten)]
    pub types: TypeArgs,
    /// Which leaves are encrypted.
    #[command(flatten)]
    pub leaves: LeafRuleArgs,
    /// Skip validation of recognised secret shapes (tunnel credentials).
    #[arg(long)]
    pub no_validate: bool,
    /// The plaintext file, or `-` for stdin.
    pub file: PathBuf,
}

/// `hostseal decrypt`.
#[derive(Args, Debug)]
pub struct DecryptArgs {
    /// Write the plaintext over the sealed file (refused for git-tracked files without --force).
    #[arg(short = 'i', long = "in-place", conflicts_with = "output")]
    pub in_place: bool,
    /// With -i: allow writing plaintext over a git-tracked file.
    #[arg(long, requires = "in_place")]
    pub force: bool,
    /// Write the plaintext here instead of stdout.
    #[arg(long, value_name = "F")]
    pub output: Option<PathBuf>,
    /// Which identities open the files.
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// Print one value, e.g. `'["tunnel"]["TunnelSecret"]'`.
    #[arg(long, value_name = "PATH")]
    pub extract: Option<String>,
    /// The file types and the name that chooses them.
    #[command(flatten)]
    pub types: TypeArgs,
    /// The sealed file, or `-` for stdin.
    pub file: PathBuf,
}

/// `hostseal edit`.
#[derive(Args, Debug)]
pub struct EditArgs {
    /// Which identities open the files.
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// Where the rules are.
    #[command(flatten)]
    pub rules: ConfigArg,
    /// The sealed file (created when missing).
    pub file: PathBuf,
}

/// What `updatekeys` and `rotate` share: the confirmation, the rules, the identities that
/// open the files, and the files.
#[derive(Args, Debug)]
pub struct RewriteArgs {
    /// Do not ask.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Where the rules are.
    #[command(flatten)]
    pub rules: ConfigArg,
    /// Which identities open the files.
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// Files or directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// `hostseal updatekeys`.
#[derive(Args, Debug)]
pub struct UpdatekeysArgs {
    /// The flags `updatekeys` and `rotate` share.
    #[command(flatten)]
    pub rewrite: RewriteArgs,
    /// Also rewrite whole-file age files.
    #[arg(long)]
    pub include_age: bool,
    /// Skip files no identity can open instead of refusing to write anything.
    #[arg(long)]
    pub skip_unopenable: bool,
    /// List skipped files.
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// `hostseal rotate`.
#[derive(Args, Debug)]
pub struct RotateArgs {
    /// The flags `updatekeys` and `rotate` share.
    #[command(flatten)]
    pub rewrite: RewriteArgs,
}

/// `hostseal check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Judge the blobs staged in the git index.
    #[arg(long)]
    pub staged: bool,
    /// Seal fully staged plaintext files instead of reporting them.
    #[arg(long)]
    pub encrypt: bool,
    /// With --encrypt: skip validation of recognised secret shapes (tunnel credentials).
    #[arg(long, requires = "encrypt")]
    pub no_validate: bool,
    /// Where the rules are.
    #[command(flatten)]
    pub rules: ConfigArg,
    /// Files or directories (default: every tracked file).
    pub paths: Vec<PathBuf>,
}

/// `hostseal hook …`.
#[derive(Subcommand, Debug)]
pub enum HookCommand {
    /// Write the pre-commit hook.
    Install {
        /// The hook seals fully staged plaintext files.
        #[arg(long)]
        encrypt: bool,
        /// Overwrite a hook hostseal did not write.
        #[arg(long)]
        force: bool,
    },
}

/// `hostseal keygen`.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Write the identity here (created new, 0600; missing parent directories are created
    /// 0700) instead of stdout. sops and hostseal look for it in
    /// `$XDG_CONFIG_HOME/sops/age/keys.txt`, by default `~/.config/sops/age/keys.txt`
    /// (macOS: `~/Library/Application Support/sops/age/keys.txt`).
    #[arg(short = 'o', long = "output", value_name = "F")]
    pub output: Option<PathBuf>,
}

/// `hostseal pubkey`.
#[derive(Args, Debug)]
pub struct PubkeyArgs {
    /// What to print for each key (default `age`).
    #[arg(long, value_name = "FORMAT", value_enum)]
    pub format: Option<PubkeyFormat>,
    /// Same as `--format ssh`.
    #[arg(long, conflicts_with = "format")]
    pub ssh: bool,
    /// An age identity file, an OpenSSH ed25519 key (public or private), or `ssh-keyscan` /
    /// known_hosts lines (`host ssh-ed25519 AAAA…`; `#` lines are skipped, of several keys
    /// each ed25519 key is printed, one per line); `-` or nothing for stdin.
    pub file: Option<PathBuf>,
}

/// What `hostseal pubkey` prints for a key.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PubkeyFormat {
    /// The `age1…` recipient, for `.sops.yaml` (ssh keys: the ssh-to-age derivation).
    Age,
    /// The native `ssh-ed25519 AAAA… [comment]` line.
    Ssh,
    /// Base64 of the `ssh-ed25519 AAAA… [comment]` line plus a newline: NixOS
    /// `nix.buildMachines.*.publicHostKey`, the same as `base64 -w0 KEY.pub` (the comment is
    /// kept when the input has one; ssh-keyscan lines have none).
    #[value(name = "publicHostKey", alias = "public-host-key")]
    PublicHostKey,
}

/// `hostseal tunnel …`.
#[derive(Subcommand, Debug)]
pub enum TunnelCommand {
    /// Credentials JSON → tunnel token.
    Token {
        /// The credentials JSON file.
        file: PathBuf,
    },
    /// Tunnel token → credentials JSON.
    Credentials {
        /// The token, or `-` to read it from stdin (an argument shows in the process list).
        token: String,
    },
}

/// `hostseal audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Where the rules are.
    #[command(flatten)]
    pub rules: ConfigArg,
    /// List the files this recipient can open.
    #[arg(long, value_name = "R")]
    pub recipient: Option<String>,
    /// With --recipient: fail (exit 1) unless the recipient can open every file (used by the
    /// NixOS module's `age.hostRecipient` build check).
    #[arg(long, requires = "recipient")]
    pub require: bool,
    /// With --require: whole-file age files (which do not name their recipients) pass.
    #[arg(long, requires = "require")]
    pub allow_unverifiable: bool,
    /// Files or directories.
    pub paths: Vec<PathBuf>,
}

/// `hostseal install` arguments (docs/cli.md).
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

/// `hostseal completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `hostseal man` (hidden: a packaging step, not a user command).
#[derive(Args, Debug)]
pub struct ManArgs {
    /// Directory to write the pages into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_file_type_name_parses_and_others_are_usage_errors() {
        for name in Format::NAMES {
            let cli = Cli::try_parse_from(["hostseal", "decrypt", "--input-type", name, "f"]);
            let Ok(Cli {
                command: Command::Decrypt(a),
            }) = cli
            else {
                panic!("{name} refused");
            };
            assert_eq!(a.types.input_type, Format::from_name(name));
            assert!(a.types.input_type.is_some());
        }
        let err = Cli::try_parse_from(["hostseal", "encrypt", "--output-type", "xml", "f"])
            .err()
            .map(|e| e.kind());
        assert_eq!(err, Some(clap::error::ErrorKind::InvalidValue));
    }

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
