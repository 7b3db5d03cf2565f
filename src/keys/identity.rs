//! Identities: what can open a wrapped data key or a whole-file age file.
//!
//! An [`IdentitySet`] holds age X25519 identities and native ssh identities (ed25519, rsa), in
//! the order they were found, each labelled with where it came from. An OpenSSH ed25519 key
//! yields two identities: the native `ssh-ed25519` one and its ssh-to-age X25519 derivation
//! (derived in memory only), so files sealed either way open.
//!
//! Loading is strict and never interactive: passphrase-protected keys are errors, never
//! prompts. Plugin identities (`AGE-PLUGIN-<NAME>-1…`) are kept as text; whether and where
//! their plugin program runs is the set's [`PluginHost`] (none by default; `PATH` for
//! [`discover`]; the manifest's paths in `install`). Parse errors name a line number, never
//! line content. The functions on [`IdentitySet`] read no environment variable; only
//! [`discover`] (workstation commands) consults [`WorkstationEnv`].

use crate::error::{Error, Kind};
use crate::keys::plugin::{self, fixed::FixedPlugin, tty::TtyCallbacks, PluginHost};
use crate::keys::{armor, ssh_to_age};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Largest key file (or `$SOPS_AGE_KEY` value) we read.
pub const MAX_KEY_FILE: usize = 64 * 1024;

/// One identity of a set.
enum Id {
    /// An age X25519 identity (from a file or derived from an ssh ed25519 key).
    X25519(age::x25519::Identity),
    /// A native, unencrypted ssh identity (ed25519 or rsa).
    Ssh(age::ssh::Identity),
}

/// An identity with the label of where it came from.
struct Entry {
    label: String,
    id: Id,
}

/// A plugin identity with the label of where it came from.
struct PluginEntry {
    label: String,
    id: age::plugin::Identity,
}

impl Entry {
    /// The identity as age's trait object.
    fn as_age(&self) -> &dyn age::Identity {
        match &self.id {
            Id::X25519(i) => i,
            Id::Ssh(i) => i,
        }
    }
}

/// The identities collected for one command, in discovery order, with where each came from.
#[derive(Default)]
pub struct IdentitySet {
    entries: Vec<Entry>,
    plugins: Vec<PluginEntry>,
    plugin_host: PluginHost,
    sources: Vec<String>,
    notes: Vec<String>,
}

impl fmt::Debug for IdentitySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentitySet")
            .field("identities", &self.labels())
            .finish()
    }
}

impl IdentitySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads one key file: age identities or an OpenSSH private key.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let mut set = Self::new();
        set.add_file(path)?;
        Ok(set)
    }

    /// A set from key text (age identities or an OpenSSH private key) labelled `source`.
    pub fn parse_text(text: &str, source: &str) -> Result<Self, Error> {
        let mut set = Self::new();
        set.add_bytes(text.as_bytes(), source)?;
        Ok(set)
    }

    /// Reads a key file (regular file, ≤ 64 KiB, opened non-blocking, never prompting) and
    /// adds its identities; returns how many were added.
    pub fn add_file(&mut self, path: &Path) -> Result<usize, Error> {
        let bytes = read_key_file(path)?;
        self.add_bytes(&bytes, &path.display().to_string())
    }

    /// Adds the identities in `bytes`, auto-detecting an age identity file or an OpenSSH
    /// private key (ed25519 → native + derived, rsa → native). Reads no file and no
    /// environment. Returns how many identities were added; on error nothing is added.
    pub fn add_bytes(&mut self, bytes: &[u8], source: &str) -> Result<usize, Error> {
        let (found, plugins) = parse_key_bytes(bytes, source).map_err(|e| e.with_file(source))?;
        let n = found.len().saturating_add(plugins.len());
        self.entries.extend(found);
        self.plugins.extend(plugins);
        self.sources.push(source.to_string());
        Ok(n)
    }

    /// Chooses where the programs of plugin identities come from (none until this is called).
    pub fn set_plugin_host(&mut self, host: PluginHost) {
        self.plugin_host = host;
    }

    /// Adds one X25519 identity (e.g. a freshly generated one, or one built by a caller).
    pub fn push_x25519(&mut self, identity: age::x25519::Identity, label: &str) {
        self.entries.push(Entry {
            label: label.to_string(),
            id: Id::X25519(identity),
        });
        self.sources.push(label.to_string());
    }

    /// Tries every identity on one armored age file; `Ok(None)` when none fits.
    /// Errors: malformed armor or header → [`Kind::Malformed`], header MAC or payload
    /// authentication failure → [`Kind::Integrity`].
    pub fn unwrap(&self, armored: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        let binary = armor::decode(armored.as_bytes())?;
        self.open_binary(&binary)
    }

    /// Tries every identity on a binary age file; `Ok(None)` when none fits. Same errors as
    /// [`IdentitySet::unwrap`].
    pub fn open_binary(&self, binary: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        use age::DecryptError as D;
        let decryptor = age::Decryptor::new_buffered(binary).map_err(header_error)?;
        let plugins = self.plugin_identities();
        let natives = self.entries.iter().map(Entry::as_age);
        let all = natives.chain(
            plugins
                .usable
                .iter()
                .map(|b| b.as_ref() as &dyn age::Identity),
        );
        let reader = match decryptor.decrypt(all) {
            Ok(reader) => reader,
            Err(D::NoMatchingKeys) => match plugins.unusable {
                Some(e) => return Err(e),
                None => return Ok(None),
            },
            Err(e) => return Err(plugins.explain(e)),
        };
        // The plaintext is never longer than the ciphertext: reserve once, never reallocate
        // (a reallocation would leave an unzeroized copy behind).
        let limit = u64::try_from(binary.len()).unwrap_or(u64::MAX);
        let mut out = Zeroizing::new(Vec::with_capacity(binary.len()));
        reader.take(limit).read_to_end(&mut out).map_err(|_| {
            Error::integrity("age payload authentication failed (corrupted or altered)")
        })?;
        Ok(Some(out))
    }

    /// The plugin identities as age identities, grouped per plugin (natives are tried first,
    /// so a plugin runs only when no file key opened without it).
    fn plugin_identities(&self) -> PluginIdentities {
        let mut out = PluginIdentities::default();
        let mut names: Vec<&str> = self.plugins.iter().map(|p| p.id.plugin()).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let ids: Vec<&PluginEntry> = self
                .plugins
                .iter()
                .filter(|p| p.id.plugin() == name)
                .collect();
            match &self.plugin_host {
                PluginHost::Refused => {
                    out.unusable.get_or_insert_with(|| {
                        Error::failure(format!(
                            "plugin identity ({}) cannot be used here",
                            ids.first().map(|p| p.label.as_str()).unwrap_or(name)
                        ))
                    });
                }
                PluginHost::Path => {
                    let plain: Vec<age::plugin::Identity> =
                        ids.iter().map(|p| p.id.clone()).collect();
                    match age::plugin::IdentityPluginV1::new(name, &plain, out.tty.clone()) {
                        Ok(p) => out.usable.push(Box::new(plugin::Serialised(p))),
                        Err(_) => {
                            out.unusable
                                .get_or_insert_with(|| plugin::missing_on_path(name));
                        }
                    }
                }
                PluginHost::Fixed(paths) => match paths.get(name) {
                    Some(binary) => {
                        let lines = ids.iter().map(|p| p.id.to_string()).collect();
                        out.usable
                            .push(Box::new(FixedPlugin::new(name, binary, lines)));
                    }
                    None => {
                        out.unusable.get_or_insert_with(|| {
                            Error::failure(format!(
                                "no binary for plugin \"{name}\" (the manifest's agePlugins names none)"
                            ))
                        });
                    }
                },
            }
        }
        out
    }

    /// The sources identities were loaded from, in order, for error messages.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// A label per identity, e.g. `~/.ssh/id_ed25519 (ssh-ed25519)`.
    pub fn labels(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|e| e.label.clone())
            .chain(self.plugins.iter().map(|p| p.label.clone()))
            .collect()
    }

    /// Warnings collected while discovering (e.g. a default ssh key skipped because it has a
    /// passphrase), for the CLI to print.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// How many identities the set holds.
    pub fn len(&self) -> usize {
        self.entries.len().saturating_add(self.plugins.len())
    }

    /// Whether no identity was found at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.plugins.is_empty()
    }
}

/// The plugin side of one decryption: what can run, and why the rest cannot.
#[derive(Default)]
struct PluginIdentities {
    usable: Vec<Box<dyn age::Identity>>,
    /// The first plugin that cannot run (missing binary, plugins refused), reported when no
    /// identity opened the file.
    unusable: Option<Error>,
    tty: TtyCallbacks,
}

impl PluginIdentities {
    /// Our error for an age decryption error, with the plugin's own words and, when a plugin
    /// asked a question without a terminal, a hint saying so.
    fn explain(&self, e: age::DecryptError) -> Error {
        let error = match e {
            age::DecryptError::Plugin(_) => Error::failure(format!(
                "plugin: {}",
                plugin::printable(&e.to_string()).trim()
            )),
            age::DecryptError::Io(io) if plugin_failure(&io).is_some() => {
                Error::failure(plugin_failure(&io).unwrap_or_default())
            }
            e => return header_error(e),
        };
        if self.tty.lacked_terminal() {
            error.with_hint(
                "the plugin asks for input (PIN, touch, confirmation) and there is no terminal",
            )
        } else {
            error
        }
    }
}

/// The message of a plugin run in `install` that gave no file key.
fn plugin_failure(e: &std::io::Error) -> Option<String> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<plugin::fixed::PluginFailure>())
        .map(ToString::to_string)
}

/// Maps an age error from header parsing or key unwrapping to our kinds.
fn header_error(e: age::DecryptError) -> Error {
    use age::DecryptError as D;
    match e {
        D::InvalidMac => Error::integrity("age header MAC mismatch (corrupted or altered)"),
        D::DecryptionFailed => {
            Error::integrity("an age recipient stanza matched an identity but did not decrypt")
        }
        D::InvalidHeader | D::Io(_) => Error::malformed("invalid age header"),
        D::UnknownFormat => Error::malformed("unknown age format version"),
        D::KeyDecryptionFailed => Error::failure("could not decrypt an encrypted key"),
        _ => Error::failure("age decryption failed"),
    }
}

/// Opens and reads a key file: regular file, at most [`MAX_KEY_FILE`] bytes, opened
/// `O_NONBLOCK|O_CLOEXEC` so a FIFO cannot hang us. Errors name the path.
pub fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits() | nix::fcntl::OFlag::O_CLOEXEC.bits())
        .open(path)
        .map_err(|e| Error::io(path, &e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, &e))?;
    if !meta.is_file() {
        return Err(Error::failure("not a regular file").with_file(path.display().to_string()));
    }
    if meta.len() > MAX_KEY_FILE as u64 {
        return Err(too_large().with_file(path.display().to_string()));
    }
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE + 1));
    file.take(MAX_KEY_FILE as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, &e))?;
    if buf.len() > MAX_KEY_FILE {
        return Err(too_large().with_file(path.display().to_string()));
    }
    Ok(buf)
}

/// The error for an oversized key file.
fn too_large() -> Error {
    Error::failure("key file larger than 64 KiB")
}

/// What kind of key material a buffer holds.
enum KeyText<'a> {
    /// OpenSSH (`BEGIN OPENSSH PRIVATE KEY`) or PEM RSA private key.
    SshPrivate(&'a str),
    /// Lines of age identities.
    AgeIdentities(&'a str),
}

/// Recognises the key material, refusing what we do not support.
fn classify(bytes: &[u8]) -> Result<KeyText<'_>, Error> {
    if bytes.len() > MAX_KEY_FILE {
        return Err(too_large());
    }
    if bytes.starts_with(b"age-encryption.org/") || armor::is_armored(bytes) {
        return Err(Error::failure(
            "passphrase-encrypted identity files are not supported (hostseal never prompts)",
        ));
    }
    let text =
        std::str::from_utf8(bytes).map_err(|_| Error::failure("key file is not UTF-8 text"))?;
    let start = text.trim_start();
    if start.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
        || start.starts_with("-----BEGIN RSA PRIVATE KEY-----")
    {
        return Ok(KeyText::SshPrivate(start));
    }
    if start.starts_with("-----BEGIN") {
        return Err(Error::failure(
            "unsupported private key format (expected an OpenSSH key or age identities)",
        ));
    }
    if start.starts_with("ssh-") {
        return Err(Error::failure(
            "this is a public key; an identity must be a private key",
        ));
    }
    Ok(KeyText::AgeIdentities(text))
}

/// Parses key material into identities (native, plugin) labelled after `source`.
fn parse_key_bytes(bytes: &[u8], source: &str) -> Result<(Vec<Entry>, Vec<PluginEntry>), Error> {
    match classify(bytes)? {
        KeyText::SshPrivate(text) => Ok((parse_ssh_private(text, source)?, Vec::new())),
        KeyText::AgeIdentities(text) => parse_age_identities(text, source),
    }
}

/// Parses an age identity file: one identity per line, `#` comments and blank lines skipped,
/// CRLF accepted, leading blank space an error. The whole source fails on any bad line.
fn parse_age_identities(text: &str, source: &str) -> Result<(Vec<Entry>, Vec<PluginEntry>), Error> {
    let mut out = Vec::new();
    let mut plugins = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let n = i.saturating_add(1);
        let line = raw.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            return Err(line_error(n, "leading blank space"));
        }
        match parse_age_identity_line(line).map_err(|what| line_error(n, what))? {
            Line::X25519(id) => out.push(Entry {
                label: source.to_string(),
                id: Id::X25519(id),
            }),
            Line::Plugin(id) => plugins.push(PluginEntry {
                label: format!("{source} (plugin {})", id.plugin()),
                id,
            }),
        }
    }
    if out.is_empty() && plugins.is_empty() {
        return Err(Error::failure("no age identity found"));
    }
    Ok((out, plugins))
}

/// The `age1…` recipient of the first identity in an age identity file (for `pubkey`).
pub(crate) fn first_age_recipient(text: &str, source: &str) -> Result<String, Error> {
    let (entries, plugins) = parse_age_identities(text, source).map_err(|e| e.with_file(source))?;
    let first = entries.iter().find_map(|e| match &e.id {
        Id::X25519(i) => Some(i.to_public().to_string()),
        Id::Ssh(_) => None,
    });
    match (first, plugins.first()) {
        (Some(r), _) => Ok(r),
        (None, Some(p)) => Err(Error::failure(format!(
            "a plugin identity's recipient is known to its plugin only (ask age-plugin-{})",
            p.id.plugin()
        ))
        .with_file(source)),
        (None, None) => Err(Error::failure("no age identity found").with_file(source)),
    }
}

/// One parsed identity line.
enum Line {
    X25519(age::x25519::Identity),
    Plugin(age::plugin::Identity),
}

/// One identity line; the error says what is wrong without quoting the line.
fn parse_age_identity_line(line: &str) -> Result<Line, &'static str> {
    if line.starts_with("AGE-PLUGIN-") {
        return line
            .parse::<age::plugin::Identity>()
            .map(Line::Plugin)
            .map_err(|_| "invalid plugin identity (AGE-PLUGIN-<NAME>-1…: bad bech32 encoding)");
    }
    if line.starts_with("AGE-SECRET-KEY-PQ-1") {
        return Err("post-quantum identities are not supported in this build");
    }
    if !line.starts_with("AGE-SECRET-KEY-1") {
        return Err("not an age identity (expected AGE-SECRET-KEY-1…)");
    }
    line.parse::<age::x25519::Identity>()
        .map(Line::X25519)
        .map_err(|_| "invalid age identity (bad bech32 encoding or length)")
}

/// An error about line `n` of an identity source.
fn line_error(n: usize, what: &str) -> Error {
    Error::failure(format!("line {n}: {what}"))
}

/// Parses an OpenSSH (or PEM RSA) private key: ed25519 gives the native identity and the
/// ssh-to-age derived one; rsa gives the native one.
fn parse_ssh_private(text: &str, source: &str) -> Result<Vec<Entry>, Error> {
    use age::ssh::{Identity as S, UnsupportedKey};
    // age's reader wants LF line ends.
    let normalized = Zeroizing::new(text.replace("\r\n", "\n"));
    let parsed = S::from_buffer(normalized.as_bytes(), None)
        .map_err(|_| Error::malformed("not a valid ssh private key"))?;
    let native = match parsed {
        S::Unencrypted(_) => parsed,
        S::Encrypted(_)
        | S::Unsupported(UnsupportedKey::EncryptedPem)
        | S::Unsupported(UnsupportedKey::EncryptedSsh(_)) => {
            return Err(ssh_to_age::passphrase_error())
        }
        S::Unsupported(UnsupportedKey::Hardware(t) | UnsupportedKey::Type(t)) => {
            return Err(unsupported_ssh_type(&t))
        }
    };
    // age keeps the key's type to itself: read the OpenSSH framing again for the seed.
    let derived = if normalized.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----") {
        derive_if_ed25519(&normalized)?
    } else {
        None
    };
    let kind = if derived.is_some() {
        "ssh-ed25519"
    } else {
        "ssh-rsa"
    };
    let mut out = vec![Entry {
        label: format!("{source} ({kind})"),
        id: Id::Ssh(native),
    }];
    if let Some(id) = derived {
        out.push(Entry {
            label: format!("{source} (ssh-to-age)"),
            id: Id::X25519(id),
        });
    }
    Ok(out)
}

/// For an unencrypted OpenSSH ed25519 key, its ssh-to-age X25519 identity; `None` for rsa.
fn derive_if_ed25519(openssh: &str) -> Result<Option<age::x25519::Identity>, Error> {
    let key = ssh_key::PrivateKey::from_openssh(openssh)
        .map_err(|_| Error::malformed("not a valid ssh private key"))?;
    let Some(pair) = key.key_data().ed25519() else {
        return Ok(None);
    };
    let seed = Zeroizing::new(pair.private.to_bytes());
    let text = ssh_to_age::identity_from_ed25519_seed(&seed)?;
    text.parse::<age::x25519::Identity>()
        .map(Some)
        .map_err(|_| Error::failure("internal: derived identity does not parse"))
}

/// The error for an ssh key type age cannot use; the type word is shown only if it looks
/// like one.
fn unsupported_ssh_type(t: &str) -> Error {
    let safe = t.len() <= 64
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-@.".contains(&b));
    if safe {
        Error::failure(format!(
            "unsupported ssh key type \"{t}\" (age supports ssh-ed25519 and ssh-rsa)"
        ))
    } else {
        Error::failure("unsupported ssh key type (age supports ssh-ed25519 and ssh-rsa)")
    }
}

/// The environment of a workstation command, read once, so discovery is testable and
/// `install` (which never calls [`discover`]) cannot depend on it.
#[derive(Default)]
pub struct WorkstationEnv {
    /// `$SOPS_AGE_KEY`: identities inline.
    pub sops_age_key: Option<Zeroizing<String>>,
    /// `$SOPS_AGE_KEY_FILE`.
    pub sops_age_key_file: Option<PathBuf>,
    /// `$SOPS_AGE_SSH_PRIVATE_KEY_FILE`.
    pub sops_age_ssh_private_key_file: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME`.
    pub xdg_config_home: Option<PathBuf>,
    /// `$HOME`.
    pub home: Option<PathBuf>,
    /// Whether we run on macOS (changes the default keys.txt location).
    pub is_macos: bool,
}

impl fmt::Debug for WorkstationEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkstationEnv")
            .field(
                "sops_age_key",
                &self.sops_age_key.as_ref().map(|_| "<redacted>"),
            )
            .field("sops_age_key_file", &self.sops_age_key_file)
            .field(
                "sops_age_ssh_private_key_file",
                &self.sops_age_ssh_private_key_file,
            )
            .field("xdg_config_home", &self.xdg_config_home)
            .field("home", &self.home)
            .field("is_macos", &self.is_macos)
            .finish()
    }
}

/// A non-empty environment variable as a path.
fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl WorkstationEnv {
    /// Reads the variables of this process (empty values count as unset).
    pub fn from_process() -> Self {
        let sops_age_key = std::env::var_os("SOPS_AGE_KEY")
            .filter(|v| !v.is_empty())
            .map(|v| Zeroizing::new(v.to_string_lossy().into_owned()));
        WorkstationEnv {
            sops_age_key,
            sops_age_key_file: env_path("SOPS_AGE_KEY_FILE"),
            sops_age_ssh_private_key_file: env_path("SOPS_AGE_SSH_PRIVATE_KEY_FILE"),
            xdg_config_home: env_path("XDG_CONFIG_HOME"),
            home: env_path("HOME"),
            is_macos: cfg!(target_os = "macos"),
        }
    }

    /// The default age keys file: `$XDG_CONFIG_HOME/sops/age/keys.txt`, else
    /// `~/.config/sops/age/keys.txt` (macOS: `~/Library/Application Support/sops/age/keys.txt`).
    pub fn default_keys_file(&self) -> Option<PathBuf> {
        let base = match (&self.xdg_config_home, &self.home) {
            (Some(xdg), _) => xdg.clone(),
            (None, Some(home)) if self.is_macos => home.join("Library/Application Support"),
            (None, Some(home)) => home.join(".config"),
            (None, None) => return None,
        };
        Some(base.join("sops/age/keys.txt"))
    }
}

/// Collects the workstation identities in the order of docs/cli.md#identities: each `explicit` file, `$SOPS_AGE_KEY`,
/// `$SOPS_AGE_KEY_FILE`, `$SOPS_AGE_SSH_PRIVATE_KEY_FILE`, the default keys.txt,
/// `~/.ssh/id_ed25519`, `~/.ssh/id_rsa`. Files named explicitly or by a variable must exist;
/// missing default files are skipped silently; a default ssh key with a passphrase (or of an
/// unsupported type) is skipped with a note.
pub fn discover(explicit: &[PathBuf], env: &WorkstationEnv) -> Result<IdentitySet, Error> {
    let mut set = IdentitySet::new();
    set.set_plugin_host(PluginHost::Path);
    for path in explicit {
        set.add_file(path)?;
    }
    if let Some(text) = &env.sops_age_key {
        set.add_bytes(text.as_bytes(), "$SOPS_AGE_KEY")?;
    }
    if let Some(path) = &env.sops_age_key_file {
        set.add_file(path)?;
    }
    if let Some(path) = &env.sops_age_ssh_private_key_file {
        set.add_file(path)?;
    }
    if let Some(path) = env.default_keys_file() {
        add_default(&mut set, &path, false)?;
    }
    if let Some(home) = &env.home {
        add_default(&mut set, &home.join(".ssh/id_ed25519"), true)?;
        add_default(&mut set, &home.join(".ssh/id_rsa"), true)?;
    }
    Ok(set)
}

/// Adds a default-location key file if it exists. For ssh keys (`lenient`), keys we cannot
/// use without a prompt, or of an unsupported type, become notes instead of errors.
fn add_default(set: &mut IdentitySet, path: &Path, lenient: bool) -> Result<(), Error> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        _ => {}
    }
    match set.add_file(path) {
        Ok(_) => Ok(()),
        Err(e) if lenient && e.kind == Kind::Failure => {
            set.notes
                .push(format!("{}: skipped: {}", path.display(), e.message));
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    /// TEST-ONLY identity (generated for these tests, protects nothing).
    fn test_identity() -> (String, String) {
        let id = age::x25519::Identity::generate();
        let secret = id.to_string().expose_secret().to_string();
        (secret, id.to_public().to_string())
    }

    #[test]
    fn identity_file_rules() {
        let (a, _) = test_identity();
        let (b, _) = test_identity();
        let text = format!("# created: now\r\n\r\n{a}\r\n# comment\n{b}  \n\n");
        let set = IdentitySet::parse_text(&text, "keys.txt").unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.sources(), ["keys.txt".to_string()]);
    }

    #[test]
    fn leading_space_is_an_error_naming_the_line_only() {
        let (a, _) = test_identity();
        let text = format!("# one\n\n  {a}\n");
        let err = IdentitySet::parse_text(&text, "keys.txt").unwrap_err();
        assert!(err.message.contains("line 3"), "{}", err.message);
        assert!(!err.message.contains("AGE-SECRET"));
        assert!(!format!("{err} {err:?}").contains(&a[20..]));
        assert_eq!(err.file.as_deref(), Some("keys.txt"));
    }

    #[test]
    fn bad_lines_and_plugins_are_errors_without_content() {
        let (a, _) = test_identity();
        // The last character replaced by a different one (a fixed `X` broke nothing when the
        // random key already ended in `X`: a flaky test, 1 run in 32).
        let last = if a.ends_with('X') { 'Y' } else { 'X' };
        let broken = format!("{a}\n{}{last}\n", &a[..a.len() - 1]);
        let err = IdentitySet::parse_text(&broken, "k").unwrap_err();
        assert!(err.message.starts_with("line 2:"), "{}", err.message);
        assert!(!format!("{err:?}").contains(&a[16..30]));
        let err = IdentitySet::parse_text("AGE-PLUGIN-YUBIKEY-1QQQ\n", "k").unwrap_err();
        assert!(
            err.message.contains("invalid plugin identity"),
            "{}",
            err.message
        );
        assert!(IdentitySet::parse_text("# only comments\n", "k").is_err());
        assert!(IdentitySet::parse_text("hello\n", "k").is_err());
        assert!(IdentitySet::parse_text("ssh-ed25519 AAAA\n", "k").is_err());
    }

    /// A TEST-ONLY identity of tests/age-plugin-hstest (plain mode).
    const PLUGIN_ID: &str =
        "AGE-PLUGIN-HSTEST-1QZL7R3SCD4EF6LSG34LQD2L6NYYUC9KJDRWV4WV4L0WKP2UU5L3FK0KEVVS";

    #[test]
    fn plugin_identities_run_only_where_the_host_allows() {
        let (a, public) = test_identity();
        let text = format!("{PLUGIN_ID}\n{a}\n");
        let mut set = IdentitySet::parse_text(&text, "k").unwrap();
        assert_eq!(set.len(), 2);
        assert!(set.labels().contains(&"k (plugin hstest)".to_string()));
        // A native identity that fits: no plugin needed, whatever the host.
        let r = crate::keys::recipient::Recipient::parse(&public).unwrap();
        let armored = r.wrap(&[3u8; 32]).unwrap();
        assert!(set.unwrap(&armored).unwrap().is_some());
        // Nothing fits natively: a bare set refuses to run the plugin, saying so.
        let (_, stranger) = test_identity();
        let other = crate::keys::recipient::Recipient::parse(&stranger)
            .unwrap()
            .wrap(&[3u8; 32])
            .unwrap();
        let err = set.unwrap(&other).unwrap_err();
        assert!(
            err.message.contains("cannot be used here"),
            "{}",
            err.message
        );
        // install's host without a binary for the plugin: named in the error.
        set.set_plugin_host(PluginHost::Fixed(Default::default()));
        let err = set.unwrap(&other).unwrap_err();
        assert!(
            err.message.contains("no binary for plugin \"hstest\""),
            "{}",
            err.message
        );
        assert!(first_age_recipient(PLUGIN_ID, "k")
            .unwrap_err()
            .message
            .contains("plugin"));
    }

    #[test]
    fn failed_source_adds_nothing() {
        let (a, _) = test_identity();
        let mut set = IdentitySet::new();
        assert!(set
            .add_bytes(format!("{a}\nbad\n").as_bytes(), "k")
            .is_err());
        assert!(set.is_empty());
        assert!(set.sources().is_empty());
    }

    #[test]
    fn unwrap_round_trip_and_none_for_strangers() {
        let (secret, public) = test_identity();
        let set = IdentitySet::parse_text(&secret, "k").unwrap();
        let r = crate::keys::recipient::Recipient::parse(&public).unwrap();
        let armored = r.wrap(&[9u8; 32]).unwrap();
        assert_eq!(&set.unwrap(&armored).unwrap().unwrap()[..], &[9u8; 32]);
        let (other, _) = test_identity();
        let stranger = IdentitySet::parse_text(&other, "o").unwrap();
        assert!(stranger.unwrap(&armored).unwrap().is_none());
        assert!(IdentitySet::new().unwrap(&armored).unwrap().is_none());
    }

    #[test]
    fn unwrap_error_kinds() {
        let (secret, public) = test_identity();
        let set = IdentitySet::parse_text(&secret, "k").unwrap();
        let r = crate::keys::recipient::Recipient::parse(&public).unwrap();
        let armored = r.wrap(&[9u8; 32]).unwrap();
        assert_eq!(set.unwrap("garbage").unwrap_err().kind, Kind::Malformed);
        // Flip a payload byte: payload authentication fails.
        let mut bin = armor::decode(armored.as_bytes()).unwrap();
        let last = bin.len() - 1;
        bin[last] ^= 1;
        let tampered = armor::encode(&bin);
        assert_eq!(set.unwrap(&tampered).unwrap_err().kind, Kind::Integrity);
        // Change the header MAC: integrity failure.
        let mut bin = armor::decode(armored.as_bytes()).unwrap();
        let pos = bin.windows(4).position(|w| w == b"--- ").unwrap() + 5;
        bin[pos] = if bin[pos] == b'A' { b'B' } else { b'A' };
        let tampered = armor::encode(&bin);
        assert_eq!(set.unwrap(&tampered).unwrap_err().kind, Kind::Integrity);
        // Not an age header at all.
        let junk = armor::encode(b"hello world, this is not an age file at all, no sir");
        assert_eq!(set.unwrap(&junk).unwrap_err().kind, Kind::Malformed);
    }

    #[test]
    fn debug_shows_no_secret() {
        let (secret, _) = test_identity();
        let set = IdentitySet::parse_text(&secret, "k").unwrap();
        let dbg = format!("{set:?}");
        assert!(!dbg.contains("AGE-SECRET"));
        let env = WorkstationEnv {
            sops_age_key: Some(Zeroizing::new(secret.clone())),
            ..Default::default()
        };
        assert!(!format!("{env:?}").contains("AGE-SECRET"));
    }

    #[test]
    fn default_keys_file_locations() {
        let mut env = WorkstationEnv {
            home: Some("/h".into()),
            ..Default::default()
        };
        assert_eq!(
            env.default_keys_file().unwrap(),
            Path::new("/h/.config/sops/age/keys.txt")
        );
        env.is_macos = true;
        assert_eq!(
            env.default_keys_file().unwrap(),
            Path::new("/h/Library/Application Support/sops/age/keys.txt")
        );
        env.xdg_config_home = Some("/x".into());
        assert_eq!(
            env.default_keys_file().unwrap(),
            Path::new("/x/sops/age/keys.txt")
        );
    }

    #[test]
    fn discover_order_missing_defaults_and_explicit_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (a, _) = test_identity();
        let (b, _) = test_identity();
        let (c, _) = test_identity();
        let explicit = dir.path().join("explicit.txt");
        std::fs::write(&explicit, &a).unwrap();
        let keys = dir.path().join("xdg/sops/age/keys.txt");
        std::fs::create_dir_all(keys.parent().unwrap()).unwrap();
        std::fs::write(&keys, &c).unwrap();
        let env = WorkstationEnv {
            sops_age_key: Some(Zeroizing::new(b)),
            xdg_config_home: Some(dir.path().join("xdg")),
            home: Some(dir.path().join("nohome")),
            ..Default::default()
        };
        let set = discover(std::slice::from_ref(&explicit), &env).unwrap();
        assert_eq!(
            set.sources(),
            [
                explicit.display().to_string(),
                "$SOPS_AGE_KEY".to_string(),
                keys.display().to_string()
            ]
        );
        let missing = dir.path().join("missing.txt");
        let err = discover(std::slice::from_ref(&missing), &env).unwrap_err();
        assert_eq!(
            err.file.as_deref(),
            Some(missing.display().to_string().as_str())
        );
        let env2 = WorkstationEnv {
            sops_age_key_file: Some(missing),
            ..Default::default()
        };
        assert!(discover(&[], &env2).is_err());
        assert!(discover(&[], &WorkstationEnv::default())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn key_files_must_be_small_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_key_file(dir.path()).is_err(), "a directory");
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'#'; MAX_KEY_FILE + 1]).unwrap();
        assert!(read_key_file(&big).is_err());
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let err = read_key_file(&fifo).unwrap_err(); // must not hang
        assert!(err.message.contains("regular"));
    }
}
