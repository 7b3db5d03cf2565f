//! The status file (docs/manifest.md#what-install-does, step 14): what the last install did, per secret and template. It
//! holds names, states and fixed reason codes only — never hashes, sizes or anything derived
//! from secret or sealed content — and is written atomically, 0644 root:root.

use super::fs;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Schema version of the status file.
pub const SCHEMA: u32 = 1;

/// The whole status file.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct Status {
    /// Schema version ([`SCHEMA`]).
    pub version: u32,
    /// The generation the symlink points at after this run (`None` before the first switch).
    pub generation: Option<u64>,
    /// Start of the run (RFC 3339, UTC).
    pub started: String,
    /// End of the run, when finished.
    pub finished: Option<String>,
    /// True while a run is in progress (or was killed).
    pub in_progress: bool,
    /// Per secret and template.
    pub items: Vec<ItemStatus>,
}

/// The state of one secret or template.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ItemStatus {
    /// Its name (templates: `rendered/<name>`).
    pub name: String,
    /// `ok`, `failed`, `stale` or `replaced-file`.
    pub state: State,
    /// Why it is not `ok`.
    pub reason: Option<Reason>,
    /// Since when its copy is stale (inherited run to run).
    pub stale_since: Option<StaleSince>,
    /// Its custom symlink path, if any (to remove the link once the secret is gone).
    #[serde(default)]
    pub path: Option<String>,
}

/// The state of an item.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Installed from this run's sealed bytes.
    Ok,
    /// Not installed.
    Failed,
    /// The previous copy was carried over.
    Stale,
    /// Installed, but a regular file at its custom path was replaced by the symlink.
    ReplacedFile,
}

/// A fixed reason code plus a message naming no secret content.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// Fixed code, e.g. `no-key`, `unknown-owner`, `key-absent`.
    pub code: String,
    /// One line for humans.
    pub message: String,
}

/// When an item first went stale.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct StaleSince {
    /// The first generation that carried the old copy.
    pub generation: u64,
    /// When (RFC 3339, UTC).
    pub time: String,
}

impl Status {
    /// Whether anything failed, went stale or was refused (exit 7). A regular file replaced
    /// by a custom-path symlink is reported but is not a failure.
    pub fn degraded(&self) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i.state, State::Failed | State::Stale))
    }
    /// The status of `name`, if listed.
    pub fn item(&self, name: &str) -> Option<&ItemStatus> {
        self.items.iter().find(|i| i.name == name)
    }
}

/// Reads a status file (no symlink followed at the last component, capped at 16 MiB).
pub fn read(path: &Path) -> Result<Status, String> {
    let (fd, _) = fs::open_regular(path, crate::limits::MAX_INPUT as u64)?;
    let bytes = fs::read_capped(&fd, crate::limits::MAX_INPUT as u64).map_err(|e| e.message())?;
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("not a status file ({}:{})", e.line(), e.column()))
}

/// Writes the status file atomically (temp + rename), 0644 root:root. Only a hostseal status
/// file (or nothing) is ever replaced: a `statusFile` naming any other file is refused.
pub fn write(path: &Path, status: &Status) -> Result<(), String> {
    let (parent, name) = fs::split_parent(path).ok_or_else(|| "not a file path".to_string())?;
    let dir = fs::walk_dir(parent, true).map_err(|e| e.message())?;
    ensure_replaceable(&dir, name)?;
    let mut bytes =
        serde_json::to_vec_pretty(status).map_err(|_| "cannot serialize".to_string())?;
    bytes.push(b'\n');
    fs::replace_file_at(&dir, name, &bytes, 0o644).map_err(|e| e.desc().to_lowercase())
}

/// Whether `dir/name` is absent or a hostseal status file (a regular file that parses as one).
fn ensure_replaceable(dir: &std::os::fd::OwnedFd, name: &str) -> Result<(), String> {
    const NOT_OURS: &str = "exists and is not a hostseal status file; refusing to replace it";
    if fs::lstat_at(dir, name)
        .map_err(|e| e.desc().to_lowercase())?
        .is_none()
    {
        return Ok(());
    }
    let cap = crate::limits::MAX_INPUT as u64;
    let (fd, _) = fs::open_regular_at(dir, name, cap).map_err(|_| NOT_OURS.to_string())?;
    let bytes = fs::read_capped(&fd, cap).map_err(|_| NOT_OURS.to_string())?;
    match serde_json::from_slice::<Status>(&bytes) {
        Ok(s) if s.version == SCHEMA => Ok(()),
        _ => Err(NOT_OURS.to_string()),
    }
}

/// Renders a status for humans: one line per item that is not ok, then a summary.
pub fn render(s: &Status) -> String {
    let mut out = String::new();
    let gen = s.generation.map_or("none".to_string(), |g| g.to_string());
    let state = if s.in_progress {
        " (in progress or interrupted)"
    } else {
        ""
    };
    out.push_str(&format!("generation {gen}, started {}{state}\n", s.started));
    for i in &s.items {
        let st = serde_json::to_value(i.state).ok();
        let st = st.as_ref().and_then(|v| v.as_str()).unwrap_or("?");
        out.push_str(&format!(
            "{st:<13} {}",
            crate::install::validate::shown(&i.name)
        ));
        if let Some(r) = &i.reason {
            out.push_str(&format!(": {} ({})", r.message, r.code));
        }
        if let Some(ss) = &i.stale_since {
            out.push_str(&format!(
                " [stale since generation {} at {}]",
                ss.generation, ss.time
            ));
        }
        out.push('\n');
    }
    let bad = s.items.iter().filter(|i| i.state != State::Ok).count();
    out.push_str(&format!("{} items, {bad} not ok\n", s.items.len()));
    out
}

/// The current time as RFC 3339 UTC with seconds (`2026-11-23T15:41:32Z`).
pub fn now_rfc3339() -> String {
    crate::format::metadata::now_lastmodified()
}

/// Seconds since the epoch as RFC 3339 UTC (the same formatter as sops's `lastmodified`).
pub fn rfc3339(secs: u64) -> String {
    crate::format::metadata::format_utc(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_values() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn write_read_round_trip_0644() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("status.json");
        let s = Status {
            version: SCHEMA,
            generation: Some(3),
            started: now_rfc3339(),
            finished: None,
            in_progress: false,
            items: vec![ItemStatus {
                name: "a".into(),
                state: State::Stale,
                reason: Some(Reason {
                    code: "no-key".into(),
                    message: "m".into(),
                }),
                stale_since: Some(StaleSince {
                    generation: 2,
                    time: "t".into(),
                }),
                path: None,
            }],
        };
        write(&p, &s).unwrap();
        write(&p, &s).unwrap();
        assert_eq!(read(&p).unwrap(), s);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert!(s.degraded());
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("\"stale\""));
        assert!(render(&s).contains("stale since generation 2"));
    }

    #[test]
    fn never_replaces_a_file_that_is_not_a_status_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("shadow");
        std::fs::write(&p, b"root:$6$x:1::::::\n").unwrap();
        let e = write(&p, &Status::default()).unwrap_err();
        assert!(e.contains("not a hostseal status file"), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), b"root:$6$x:1::::::\n");
        std::os::unix::fs::symlink("/etc/hostname", t.path().join("l")).unwrap();
        assert!(write(&t.path().join("l"), &Status::default()).is_err());
    }
}
