//! Step 1 of docs/manifest.md#what-install-does: the raw manifest becomes a [`Plan`], or an error that is exit 6 and
//! changes nothing. Messages name the secret and the field, never a value that could be secret.

use super::credentials::Check;
use super::credstore::{self, CredKey, Credstore, Roots};
use super::defaults::Defaults;
use super::manifest::{RawManifest, RawSecret, RawTemplate, RawTemplates};
use super::plan::{Item, OnFailure, Plan, Principal, RestartVia, Source};
use crate::error::Error;
use crate::format::Format;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Where the templates' files go inside a generation.
pub const RENDERED: &str = "rendered";

/// Turns a raw manifest into a plan. `nixos_action` is the value of `NIXOS_ACTION` (the only
/// environment variable install reads), which decides the default `restartVia`.
pub fn validate(raw: RawManifest, d: &Defaults, nixos_action: bool) -> Result<Plan, Error> {
    if raw.user_mode == Some(true) {
        return Err(Error::config(
            "userMode: home-manager installs are not supported in v1",
        ));
    }
    let mount_point = abs_path(
        "secretsMountPoint",
        raw.secrets_mount_point.as_deref(),
        &d.secrets_mount_point,
    )?;
    if mount_point == Path::new("/") {
        return Err(Error::config("secretsMountPoint: must not be /"));
    }
    let symlink_path = abs_path("symlinkPath", raw.symlink_path.as_deref(), &d.symlink_path)?;
    ensure_outside(&mount_point, &symlink_path, "symlinkPath")?;
    ensure_outside(&symlink_path, &mount_point, "secretsMountPoint")?;
    let status_default = format!("{}/status.json", mount_point.display());
    let status_file = abs_path("statusFile", raw.status_file.as_deref(), &status_default)?;
    let restart_lists_dir = abs_path(
        "restartListsDir",
        raw.restart_lists_dir.as_deref(),
        &d.restart_lists_dir,
    )?;
    let lock_path = abs_path("lockPath", raw.lock_path.as_deref(), &d.lock_path)?;
    for (what, p) in [
        ("statusFile", &status_file),
        ("restartListsDir", &restart_lists_dir),
        ("lockPath", &lock_path),
    ] {
        ensure_outside(&symlink_path, p, what)?;
    }
    let restart_via = restart_via(&raw, nixos_action)?;
    let ctx = Ctx {
        d,
        mount_point: &mount_point,
        symlink_path: &symlink_path,
    };
    let has_templates = raw.templates.as_ref().is_some_and(|t| !templates_empty(t));
    // A missing list (a typo such as "secret") would install an empty generation and remove
    // every secret: only an explicit `[]` means "no secrets".
    let secrets = raw.secrets.ok_or_else(|| {
        Error::config("secrets: missing (write \"secrets\": [] to install no secrets)")
    })?;
    let mut items = Vec::new();
    for (i, s) in secrets.into_iter().enumerate() {
        items.push(ctx.secret(i, s, has_templates)?);
    }
    for t in template_list(raw.templates) {
        items.push(ctx.template(t)?);
    }
    check_unique(&items)?;
    let placeholders = placeholders(&items, raw.placeholder_by_secret_name.unwrap_or_default());
    Ok(Plan {
        keep_generations: raw.keep_generations.unwrap_or(d.keep_generations),
        use_tmpfs: raw.use_tmpfs.unwrap_or(d.use_tmpfs),
        age_key_file: opt_path("ageKeyFile", raw.age_key_file.as_deref())?,
        age_ssh_key_paths: paths("ageSshKeyPaths", raw.age_ssh_key_paths)?,
        ssh_key_paths: paths("sshKeyPaths", raw.ssh_key_paths)?,
        gnupg_home: raw.gnupg_home.is_some_and(|g| !g.is_empty()),
        age_plugins: paths("agePlugins", raw.age_plugins)?,
        systemd_creds: credstore_binary(raw.systemd_creds.as_deref(), &items)?,
        credstore_roots: credstore_roots(
            raw.credstore_dir.as_deref(),
            raw.credstore_encrypted_dir.as_deref(),
            &mount_point,
            &symlink_path,
        )?,
        restart_via,
        restart_lists_dir,
        status_file,
        lock_path,
        strict: raw.strict.unwrap_or(d.strict),
        items,
        placeholders,
        mount_point,
        symlink_path,
        mode: super::plan::Mode::System,
    })
}

struct Ctx<'a> {
    d: &'a Defaults,
    mount_point: &'a Path,
    symlink_path: &'a Path,
}

impl Ctx<'_> {
    fn secret(&self, index: usize, s: RawSecret, has_templates: bool) -> Result<Item, Error> {
        let name = s.name;
        let what = |f: &str| format!("secret {}: {f}", shown(&name));
        check_name(&name).map_err(|m| Error::config(format!("secret #{index}: name {m}")))?;
        if has_templates && (name == RENDERED || name.starts_with("rendered/")) {
            return Err(Error::config(what(
                "name `rendered` is reserved for templates",
            )));
        }
        let first = name.split('/').next().unwrap_or_default();
        if s.credstore.is_none()
            && (first == credstore::PLAIN_DIR || first == credstore::ENCRYPTED_DIR)
        {
            // Those directories of a generation are what /run/credstore(.encrypted) point at:
            // a file there would be handed to systemd as a credential.
            return Err(Error::config(what(&format!(
                "name `{first}` is reserved for systemd credentials (credstore)"
            ))));
        }
        let format_name = s.format.unwrap_or_else(|| self.d.secret.format.clone());
        let format = Format::from_name(&format_name).ok_or_else(|| {
            Error::config(what(
                "format: unknown (yaml, json, dotenv, ini, binary, age)",
            ))
        })?;
        let sops_file = input_path(&what("sopsFile"), &s.sops_file)?;
        if s.entry.is_some() && !matches!(format, Format::Dotenv | Format::Ini) {
            return Err(Error::config(what("entry: only for dotenv and ini")));
        }
        let key = match format {
            Format::Yaml | Format::Json => s.key.unwrap_or_else(|| self.d.secret.key.clone()),
            _ => String::new(),
        };
        let on_failure =
            on_failure(s.on_failure.as_deref().unwrap_or(&self.d.secret.on_failure))
                .ok_or_else(|| Error::config(what("onFailure: must be \"keep\" or \"remove\"")))?;
        ids_in_range(&what, s.uid, s.gid)?;
        let (owner, group) = principals(s.owner, s.uid, s.group, s.gid, Some(&self.d.secret.owner));
        let credstore = credstore_kind(&name, s.credstore.as_deref(), s.credstore_key.as_deref())?;
        if credstore.is_some() && s.path.is_some() {
            return Err(Error::config(what(
                "path: a credstore secret has no custom path (systemd finds it by name)",
            )));
        }
        let check = match s.validate.as_deref() {
            None => None,
            Some(v) => Some(Check::from_name(v).ok_or_else(|| {
                Error::config(what(
                    "validate: must be \"cloudflared-credentials\", \"cloudflared-token\" or \"cloudflare-access-service-token\"",
                ))
            })?),
        };
        Ok(Item {
            check,
            custom_path: self.custom_path(&what("path"), s.path.as_deref(), &name)?,
            mode: match (
                credstore,
                mode(
                    &what("mode"),
                    s.mode.as_deref().unwrap_or(&self.d.secret.mode),
                )?,
            ) {
                (Some(_), _) => 0o400,
                (None, m) => m,
            },
            restart_units: units(&what("restartUnits"), s.restart_units)?,
            reload_units: units(&what("reloadUnits"), s.reload_units)?,
            source: Source::Sealed {
                sops_file,
                format,
                key,
                entry: s.entry,
            },
            rel: match credstore {
                Some(c) => format!("{}/{name}", c.dir()),
                None => name.clone(),
            },
            name,
            // A credential is root's alone: systemd reads it and hands it to the unit.
            owner: if credstore.is_some() {
                Principal::Id(0)
            } else {
                owner
            },
            group: if credstore.is_some() {
                Principal::Id(0)
            } else {
                group
            },
            on_failure,
            credstore,
        })
    }

    fn template(&self, t: (String, RawTemplate)) -> Result<Item, Error> {
        let (name, t) = t;
        let what = |f: &str| format!("template {}: {f}", shown(&name));
        check_name(&name).map_err(|m| Error::config(format!("template name {m}")))?;
        let rel = format!("{RENDERED}/{name}");
        let file = match t.file.as_deref() {
            Some(f) => Some(input_path(&what("file"), f)?),
            None => None,
        };
        ids_in_range(&what, t.uid, t.gid)?;
        // sops-nix: owner defaults to null (uid 0) for templates.
        let (owner, group) = principals(t.owner, t.uid, t.group, t.gid, None);
        Ok(Item {
            custom_path: self.custom_path(&what("path"), t.path.as_deref(), &rel)?,
            mode: mode(
                &what("mode"),
                t.mode.as_deref().unwrap_or(&self.d.secret.mode),
            )?,
            restart_units: units(&what("restartUnits"), t.restart_units)?,
            reload_units: units(&what("reloadUnits"), t.reload_units)?,
            source: Source::Template {
                content: t.content.unwrap_or_default(),
                file,
            },
            rel,
            name,
            owner,
            group,
            on_failure: OnFailure::Keep,
            check: None,
            credstore: None,
        })
    }

    /// A `path` equal to `symlinkPath/<rel>` is the default (no custom link); anything else under
    /// `symlinkPath` or under the mount point is refused.
    fn custom_path(
        &self,
        what: &str,
        path: Option<&str>,
        rel: &str,
    ) -> Result<Option<PathBuf>, Error> {
        let Some(p) = path else { return Ok(None) };
        let p = abs_path(what, Some(p), "")?;
        if p == self.symlink_path.join(rel) {
            return Ok(None);
        }
        ensure_outside(self.mount_point, &p, what)?;
        ensure_outside(self.symlink_path, &p, what)?;
        if p == Path::new("/") {
            return Err(Error::config(format!("{what}: must not be /")));
        }
        Ok(Some(p))
    }
}

/// A secret's `credstore` and `credstoreKey`: `plain` | `encrypted` (absent: an ordinary
/// file); the key only with `encrypted`, default `auto`. The name must be a credential name.
fn credstore_kind(
    name: &str,
    kind: Option<&str>,
    key: Option<&str>,
) -> Result<Option<Credstore>, Error> {
    let what = |f: &str| Error::config(format!("secret {}: {f}", shown(name)));
    let kind = match kind {
        None => {
            return match key {
                Some(_) => Err(what("credstoreKey: only with credstore = \"encrypted\"")),
                None => Ok(None),
            }
        }
        Some("plain") if key.is_some() => {
            return Err(what("credstoreKey: only with credstore = \"encrypted\""))
        }
        Some("plain") => Credstore::Plain,
        Some("encrypted") => {
            Credstore::Encrypted(CredKey::from_name(key.unwrap_or("auto")).ok_or_else(|| {
                what("credstoreKey: must be \"auto\", \"host\", \"tpm2\" or \"host+tpm2\"")
            })?)
        }
        Some(_) => return Err(what("credstore: must be \"plain\" or \"encrypted\"")),
    };
    if !credstore::valid_name(name) {
        return Err(what(
            "name: a credential name has no `/`, space or control character",
        ));
    }
    Ok(Some(kind))
}

/// `credstoreDir` / `credstoreEncryptedDir`: absolute, distinct, outside the mount point and
/// `symlinkPath` (they become symlinks into it), and not `/`.
fn credstore_roots(
    plain: Option<&str>,
    encrypted: Option<&str>,
    mount: &Path,
    link: &Path,
) -> Result<Roots, Error> {
    let plain = abs_path("credstoreDir", plain, credstore::DEFAULT_PLAIN_ROOT)?;
    let encrypted = abs_path(
        "credstoreEncryptedDir",
        encrypted,
        credstore::DEFAULT_ENCRYPTED_ROOT,
    )?;
    for (what, p) in [
        ("credstoreDir", &plain),
        ("credstoreEncryptedDir", &encrypted),
    ] {
        ensure_outside(mount, p, what)?;
        ensure_outside(link, p, what)?;
        if p == Path::new("/") || link.starts_with(p) || mount.starts_with(p) {
            return Err(Error::config(format!(
                "{what}: must not be / or hold secretsMountPoint or symlinkPath"
            )));
        }
    }
    if plain == encrypted {
        return Err(Error::config(
            "credstoreEncryptedDir: must differ from credstoreDir",
        ));
    }
    Ok(Roots { plain, encrypted })
}

/// `systemdCreds`: an absolute path, required when a secret is `encrypted`.
fn credstore_binary(value: Option<&str>, items: &[Item]) -> Result<Option<PathBuf>, Error> {
    let path = opt_path("systemdCreds", value)?;
    let needed = items
        .iter()
        .any(|i| matches!(i.credstore, Some(Credstore::Encrypted(_))));
    if needed && path.is_none() {
        return Err(Error::config(
            "systemdCreds: required (absolute path of systemd-creds) when a secret has credstore = \"encrypted\"",
        ));
    }
    Ok(path)
}

/// Names in messages: shown as JSON strings so control characters cannot forge log lines.
pub fn shown(name: &str) -> String {
    serde_json::to_string(name).unwrap_or_else(|_| "?".into())
}

/// Secret/template names: relative, `/`-separated, no empty/`.`/`..` component, no NUL or
/// newline, at most 255 bytes.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("is empty");
    }
    if name.len() > 255 {
        return Err("is longer than 255 bytes");
    }
    if name.starts_with('/') {
        return Err("must be relative");
    }
    if name.contains(['\0', '\n', '\r']) {
        return Err("contains NUL or a newline");
    }
    if name
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err("has an empty, `.` or `..` component");
    }
    Ok(())
}

/// Absolute, normalised (no `//`, `.`, `..`, trailing `/`), no NUL or newline.
pub fn check_abs(p: &str) -> Result<(), &'static str> {
    if !p.starts_with('/') {
        return Err("must be an absolute path");
    }
    if p.contains(['\0', '\n', '\r']) {
        return Err("contains NUL or a newline");
    }
    if p == "/" {
        return Ok(());
    }
    let rest = p.get(1..).unwrap_or_default();
    if rest
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err("is not normalised (empty, `.` or `..` component, or trailing /)");
    }
    Ok(())
}

fn abs_path(what: &str, value: Option<&str>, default: &str) -> Result<PathBuf, Error> {
    let v = value.unwrap_or(default);
    check_abs(v).map_err(|m| Error::config(format!("{what}: {m}")))?;
    Ok(PathBuf::from(v))
}

/// Files only read (sealed files, key files, template files, plugins): absolute, no NUL or
/// newline; they need not be normalised (nothing is ever written there).
fn input_path(what: &str, v: &str) -> Result<PathBuf, Error> {
    if !v.starts_with('/') || v.contains(['\0', '\n', '\r']) {
        return Err(Error::config(format!("{what}: must be an absolute path")));
    }
    Ok(PathBuf::from(v))
}

/// sops-nix writes `null` or `""` for an unset key file.
fn opt_path(what: &str, value: Option<&str>) -> Result<Option<PathBuf>, Error> {
    match value {
        None | Some("") => Ok(None),
        Some(v) => input_path(what, v).map(Some),
    }
}

fn paths(what: &str, list: Option<Vec<String>>) -> Result<Vec<PathBuf>, Error> {
    list.unwrap_or_default()
        .iter()
        .map(|p| input_path(what, p))
        .collect()
}

fn ensure_outside(dir: &Path, p: &Path, what: &str) -> Result<(), Error> {
    if p.starts_with(dir) {
        return Err(Error::config(format!(
            "{what}: must not be under {}",
            dir.display()
        )));
    }
    Ok(())
}

fn restart_via(raw: &RawManifest, nixos_action: bool) -> Result<RestartVia, Error> {
    let default = if nixos_action {
        "activation-lists"
    } else {
        "none"
    };
    match raw.restart_via.as_deref().unwrap_or(default) {
        "systemctl" => {
            let p = raw.systemctl.as_deref().ok_or_else(|| {
                Error::config(
                    "restartVia: \"systemctl\" needs the `systemctl` field (absolute path)",
                )
            })?;
            Ok(RestartVia::Systemctl(abs_path("systemctl", Some(p), "")?))
        }
        "activation-lists" => Ok(RestartVia::ActivationLists),
        "none" => Ok(RestartVia::None),
        _ => Err(Error::config(
            "restartVia: must be \"systemctl\", \"activation-lists\" or \"none\"",
        )),
    }
}

/// `uid`/`gid` 4294967295 is `(uid_t)-1`, which `fchown` reads as "leave unchanged": the file
/// would stay root's. Refused.
fn ids_in_range(
    what: &dyn Fn(&str) -> String,
    uid: Option<u32>,
    gid: Option<u32>,
) -> Result<(), Error> {
    for (field, v) in [("uid", uid), ("gid", gid)] {
        if v == Some(u32::MAX) {
            return Err(Error::config(what(&format!(
                "{field}: 4294967295 is not a valid id (chown reads it as \"unchanged\")"
            ))));
        }
    }
    Ok(())
}

/// sops-nix's owner/uid/group/gid rules: a name wins; an owner of `null` means the number
/// (default 0); a group that is absent or `null` (what the Nix module writes when no group is
/// set) is `gid` when that is non-zero, else the owner's primary group when the owner is a
/// name, else 0.
fn principals(
    owner: Option<Option<String>>,
    uid: Option<u32>,
    group: Option<Option<String>>,
    gid: Option<u32>,
    default_owner: Option<&str>,
) -> (Principal, Principal) {
    let owner = match owner {
        Some(Some(n)) => Principal::Name(n),
        Some(None) => Principal::Id(uid.unwrap_or(0)),
        None => match (uid, default_owner) {
            (Some(u), _) if u != 0 => Principal::Id(u),
            (_, Some(d)) => Principal::Name(d.to_string()),
            (u, None) => Principal::Id(u.unwrap_or(0)),
        },
    };
    let group = match group {
        Some(Some(n)) => Principal::Name(n),
        None | Some(None) => match (gid, &owner) {
            (Some(g), _) if g != 0 => Principal::Id(g),
            (_, Principal::Name(_)) => Principal::OwnersPrimary,
            (g, _) => Principal::Id(g.unwrap_or(0)),
        },
    };
    (owner, group)
}

/// Octal mode string (`"0400"`, `"400"`, `"0o400"`), at most 0o777.
pub fn mode(what: &str, s: &str) -> Result<u32, Error> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    let ok = !digits.is_empty()
        && digits.len() <= 4
        && digits.bytes().all(|b| (b'0'..=b'7').contains(&b));
    let m = if ok {
        u32::from_str_radix(digits, 8).ok()
    } else {
        None
    };
    match m {
        Some(m) if m <= 0o777 => Ok(m),
        _ => Err(Error::config(format!("{what}: not an octal mode ≤ 0777"))),
    }
}

fn on_failure(s: &str) -> Option<OnFailure> {
    match s {
        "keep" => Some(OnFailure::Keep),
        "remove" => Some(OnFailure::Remove),
        _ => None,
    }
}

fn units(what: &str, list: Option<Vec<String>>) -> Result<Vec<String>, Error> {
    let list = list.unwrap_or_default();
    for u in &list {
        if is_template_unit(u) {
            return Err(Error::config(format!(
                "{what}: {} is a template unit without an instance (e.g. name@instance.service)",
                shown(u)
            )));
        }
        if !valid_unit(u) {
            return Err(Error::config(format!(
                "{what}: {} is not a valid unit name",
                shown(u)
            )));
        }
    }
    Ok(list)
}

/// `name@.service`: a template, which systemctl cannot restart.
pub fn is_template_unit(u: &str) -> bool {
    u.rsplit_once('.')
        .is_some_and(|(prefix, _)| prefix.ends_with('@'))
}

/// systemd unit name grammar: `[A-Za-z0-9:_.\\@-]`, at most 255 bytes, a known type suffix, a
/// non-empty prefix, at most one `@`, not starting with `-` (never mistaken for an option).
pub fn valid_unit(u: &str) -> bool {
    const TYPES: [&str; 11] = [
        "service",
        "socket",
        "device",
        "mount",
        "automount",
        "swap",
        "target",
        "path",
        "timer",
        "slice",
        "scope",
    ];
    let Some((prefix, suffix)) = u.rsplit_once('.') else {
        return false;
    };
    u.len() <= 255
        && !prefix.is_empty()
        && !is_template_unit(u)
        && !u.starts_with('-')
        && !u.starts_with('@')
        && TYPES.contains(&suffix)
        && u.matches('@').count() <= 1
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_.\\@-".contains(&b))
}

fn templates_empty(t: &RawTemplates) -> bool {
    match t {
        RawTemplates::Map(m) => m.is_empty(),
        RawTemplates::List(l) => l.is_empty(),
    }
}

fn template_list(t: Option<RawTemplates>) -> Vec<(String, RawTemplate)> {
    match t {
        None => Vec::new(),
        Some(RawTemplates::Map(m)) => m
            .into_iter()
            .map(|(k, v)| (v.name.clone().unwrap_or(k), v))
            .collect(),
        Some(RawTemplates::List(l)) => l
            .into_iter()
            .map(|v| (v.name.clone().unwrap_or_default(), v))
            .collect(),
    }
}

/// Names unique, no name a directory prefix of another, custom paths unique.
fn check_unique(items: &[Item]) -> Result<(), Error> {
    let mut rels = BTreeSet::new();
    for i in items {
        if !rels.insert(i.rel.as_str()) {
            return Err(Error::config(format!(
                "name {} appears twice",
                shown(&i.rel)
            )));
        }
    }
    for i in items {
        let mut prefix = String::new();
        for comp in i.rel.split('/') {
            if !prefix.is_empty() && rels.contains(prefix.as_str()) {
                return Err(Error::config(format!(
                    "name {} is a directory prefix of {}",
                    shown(&prefix),
                    shown(&i.rel)
                )));
            }
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(comp);
        }
    }
    let mut paths = BTreeSet::new();
    for p in items.iter().filter_map(|i| i.custom_path.as_ref()) {
        if !paths.insert(p) {
            return Err(Error::config(format!("path {} appears twice", p.display())));
        }
    }
    for p in &paths {
        if paths.iter().any(|q| q != p && q.starts_with(p)) {
            return Err(Error::config(format!(
                "path {} is a directory prefix of another path",
                p.display()
            )));
        }
    }
    Ok(())
}

/// sops-nix's placeholder for a secret name: `<SOPS:` sha256 hex of the name `:PLACEHOLDER>`.
pub fn placeholder_for(name: &str) -> String {
    format!(
        "<SOPS:{}:PLACEHOLDER>",
        hex::encode(Sha256::digest(name.as_bytes()))
    )
}

fn placeholders(items: &[Item], given: BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for i in items.iter().filter(|i| !i.is_template()) {
        let p = given
            .get(&i.name)
            .cloned()
            .unwrap_or_else(|| placeholder_for(&i.name));
        out.insert(i.name.clone(), p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::{defaults, manifest};

    fn plan(json: &str) -> Result<Plan, Error> {
        let raw = manifest::parse(json.as_bytes()).map_err(Error::config)?;
        validate(raw, &defaults::load().unwrap(), false)
    }

    fn with_secret(extra: &str) -> String {
        format!(r#"{{"secrets":[{{"name":"a","sopsFile":"/s.yaml"{extra}}}]}}"#)
    }

    #[test]
    fn defaults_apply() {
        let p = plan(&with_secret("")).unwrap();
        assert_eq!(p.mount_point, Path::new("/run/secrets.d"));
        assert_eq!(p.status_file, Path::new("/run/secrets.d/status.json"));
        assert_eq!(p.restart_via, RestartVia::None);
        let s = &p.items[0];
        assert_eq!(s.mode, 0o400);
        assert_eq!(s.owner, Principal::Name("root".into()));
        assert_eq!(s.group, Principal::OwnersPrimary);
        assert_eq!(s.on_failure, OnFailure::Keep);
    }

    #[test]
    fn credstore_fields() {
        let p = plan(
            r#"{"systemdCreds":"/usr/bin/systemd-creds","secrets":[
            {"name":"a","sopsFile":"/s.yaml","credstore":"encrypted","owner":"nobody","mode":"0644"},
            {"name":"b","sopsFile":"/s.yaml","credstore":"encrypted","credstoreKey":"host+tpm2"},
            {"name":"c","sopsFile":"/s.yaml","credstore":"plain"}]}"#
        )
        .unwrap();
        let a = &p.items[0];
        assert_eq!(a.rel, "credstore.encrypted/a");
        assert_eq!(a.credstore, Some(Credstore::Encrypted(CredKey::Auto)));
        assert_eq!(
            (a.mode, &a.owner, &a.group),
            (0o400, &Principal::Id(0), &Principal::Id(0))
        );
        assert_eq!(
            p.items[1].credstore,
            Some(Credstore::Encrypted(CredKey::HostTpm2))
        );
        assert_eq!(p.items[2].rel, "credstore/c");
        assert_eq!(p.credstore_roots.plain, Path::new("/run/credstore"));
        assert_eq!(
            p.credstore_roots.encrypted,
            Path::new("/run/credstore.encrypted")
        );
        assert_eq!(
            p.systemd_creds.as_deref(),
            Some(Path::new("/usr/bin/systemd-creds"))
        );
        // Errors: exit 6, naming the field.
        for (json, field) in [
            (with_secret(r#","credstore":"encrypted""#), "systemdCreds"),
            (with_secret(r#","credstore":"sealed""#), "credstore"),
            (with_secret(r#","credstoreKey":"host""#), "credstoreKey"),
            (with_secret(r#","credstore":"plain","credstoreKey":"host""#), "credstoreKey"),
            (with_secret(r#","credstore":"plain","path":"/etc/x""#), "path"),
            (
                r#"{"systemdCreds":"/x","secrets":[{"name":"a","sopsFile":"/s","credstore":"encrypted","credstoreKey":"tpm"}]}"#.into(),
                "credstoreKey",
            ),
            (
                r#"{"secrets":[{"name":"d/e","sopsFile":"/s","credstore":"plain"}]}"#.into(),
                "credential name",
            ),
            (
                r#"{"systemdCreds":"bin/systemd-creds","secrets":[]}"#.into(),
                "systemdCreds",
            ),
            (
                r#"{"credstoreDir":"run/credstore","secrets":[]}"#.into(),
                "credstoreDir",
            ),
            (
                r#"{"credstoreDir":"/run/secrets/x","secrets":[]}"#.into(),
                "credstoreDir",
            ),
            (
                r#"{"credstoreEncryptedDir":"/run","secrets":[]}"#.into(),
                "credstoreEncryptedDir",
            ),
            (
                r#"{"credstoreEncryptedDir":"/run/credstore","secrets":[]}"#.into(),
                "credstoreEncryptedDir",
            ),
        ] {
            let e = plan(&json).unwrap_err();
            assert_eq!(e.exit_code(), 6, "{json}");
            assert!(e.message.contains(field), "{json}: {}", e.message);
        }
    }

    #[test]
    fn bad_fields_are_exit_6() {
        for extra in [
            r#","mode":"0800""#,
            r#","mode":"1777""#,
            r#","mode":"abc""#,
            r#","format":"toml""#,
            r#","path":"relative""#,
            r#","path":"/a/../b""#,
            r#","path":"/run/secrets.d/x""#,
            r#","path":"/run/secrets/other""#,
            r#","restartUnits":["bad unit.service"]"#,
            r#","restartUnits":["x.notatype"]"#,
            r#","onFailure":"explode""#,
            r#","entry":"K""#,
            r#","validate":"nope""#,
        ] {
            let e = plan(&with_secret(extra)).unwrap_err();
            assert_eq!(e.exit_code(), 6, "{extra}");
        }
    }

    #[test]
    fn names_are_checked() {
        for n in ["", "/abs", "a/../b", "a//b", ".", "a/./b", "x\ny", "a\u{0}"] {
            assert!(check_name(n).is_err(), "{n:?}");
        }
        assert!(check_name(&"x".repeat(256)).is_err());
        assert!(check_name("cloudflared/tunnel.json").is_ok());
    }

    #[test]
    fn prefix_and_duplicate_names_refused() {
        let j = r#"{"secrets":[{"name":"a","sopsFile":"/s"},{"name":"a/b","sopsFile":"/s"}]}"#;
        assert_eq!(plan(j).unwrap_err().exit_code(), 6);
        let j = r#"{"secrets":[{"name":"a","sopsFile":"/s"},{"name":"a","sopsFile":"/s"}]}"#;
        assert_eq!(plan(j).unwrap_err().exit_code(), 6);
        let j = r#"{"secrets":[{"name":"ab","sopsFile":"/s"},{"name":"a/b","sopsFile":"/s"}]}"#;
        assert!(plan(j).is_ok());
    }

    #[test]
    fn credstore_directories_reserved_for_credentials() {
        for name in ["credstore", "credstore/x", "credstore.encrypted/x"] {
            let j = format!(r#"{{"secrets":[{{"name":"{name}","sopsFile":"/s"}}]}}"#);
            let e = plan(&j).unwrap_err();
            assert_eq!(e.exit_code(), 6, "{name}");
            assert!(
                e.message.contains("reserved for systemd credentials"),
                "{e}"
            );
        }
        plan(r#"{"secrets":[{"name":"credstores/x","sopsFile":"/s"}]}"#).unwrap();
    }

    #[test]
    fn rendered_reserved_only_with_templates() {
        let j = r#"{"secrets":[{"name":"rendered","sopsFile":"/s"}]}"#;
        assert!(plan(j).is_ok());
        let j = r#"{"secrets":[{"name":"rendered","sopsFile":"/s"}],"templates":{"t":{"content":"x"}}}"#;
        assert_eq!(plan(j).unwrap_err().exit_code(), 6);
    }

    #[test]
    fn default_path_is_not_custom() {
        let p = plan(&with_secret(r#","path":"/run/secrets/a""#)).unwrap();
        assert_eq!(p.items[0].custom_path, None);
        let p = plan(&with_secret(r#","path":"/etc/x""#)).unwrap();
        assert_eq!(p.items[0].custom_path.as_deref(), Some(Path::new("/etc/x")));
    }

    #[test]
    fn numeric_owners() {
        let p = plan(&with_secret(
            r#","owner":null,"uid":1001,"group":null,"gid":1001"#,
        ))
        .unwrap();
        assert_eq!(p.items[0].owner, Principal::Id(1001));
        assert_eq!(p.items[0].group, Principal::Id(1001));
    }

    #[test]
    fn nothing_written_through_the_symlink() {
        for f in ["statusFile", "lockPath", "restartListsDir"] {
            let j = format!(r#"{{"secrets":[],"{f}":"/run/secrets/x"}}"#);
            assert_eq!(plan(&j).unwrap_err().exit_code(), 6, "{f}");
        }
    }

    #[test]
    fn user_mode_and_systemctl_rules() {
        assert_eq!(
            plan(r#"{"secrets":[],"userMode":true}"#)
                .unwrap_err()
                .exit_code(),
            6
        );
        assert_eq!(
            plan(r#"{"secrets":[],"restartVia":"systemctl"}"#)
                .unwrap_err()
                .exit_code(),
            6
        );
        assert_eq!(
            plan(r#"{"secrets":[],"restartVia":"systemctl","systemctl":"systemctl"}"#)
                .unwrap_err()
                .exit_code(),
            6
        );
        let p = plan(r#"{"secrets":[],"restartVia":"systemctl","systemctl":"/bin/systemctl"}"#)
            .unwrap();
        assert_eq!(
            p.restart_via,
            RestartVia::Systemctl("/bin/systemctl".into())
        );
    }

    #[test]
    fn placeholder_is_sha256_of_name() {
        assert_eq!(
            placeholder_for("test"),
            "<SOPS:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08:PLACEHOLDER>"
        );
    }

    #[test]
    fn units_grammar() {
        assert!(valid_unit("cloudflared-tunnel-abc.service"));
        assert!(valid_unit("getty@tty1.service"));
        assert!(!valid_unit("-x.service"));
        assert!(!valid_unit(".service"));
        assert!(!valid_unit("a b.service"));
        assert!(!valid_unit("a@.service"));
        assert!(is_template_unit("a@.service"));
        let e = plan(&with_secret(r#","restartUnits":["a@.service"]"#)).unwrap_err();
        assert!(
            e.message.contains("template unit without an instance"),
            "{}",
            e.message
        );
    }

    #[test]
    fn secrets_list_is_required_and_ids_in_range() {
        let e = plan(r#"{"secret":[]}"#).unwrap_err();
        assert_eq!(e.exit_code(), 6);
        assert!(e.message.contains("secrets: missing"), "{}", e.message);
        assert!(plan(r#"{"secrets":[]}"#).is_ok());
        for f in ["uid", "gid"] {
            let e = plan(&with_secret(&format!(r#","owner":null,"{f}":4294967295"#))).unwrap_err();
            assert!(e.message.contains("4294967295"), "{}", e.message);
        }
        assert!(plan(&with_secret(r#","owner":null,"uid":4294967294"#)).is_ok());
    }

    #[test]
    fn group_null_is_the_owners_primary_group() {
        let p = plan(&with_secret(r#","owner":"someone","group":null"#)).unwrap();
        assert_eq!(p.items[0].group, Principal::OwnersPrimary);
        let p = plan(&with_secret(r#","owner":"someone","group":null,"gid":7"#)).unwrap();
        assert_eq!(p.items[0].group, Principal::Id(7));
    }
}
