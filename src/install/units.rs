//! Restarts (docs/manifest.md#what-install-does, steps 2, 9, 12): which units to restart or reload, persisted in a pending
//! file so a killed run's restarts happen on the next run, then executed through the manifest's
//! `systemctl` (absolute path that passes the trust rule, run by fd, cleared environment,
//! `--no-block` for every job that could wait on the installer) or appended to the activation
//! lists. A run whose restarts fail keeps the pending file, so the next run replays them.

use super::fs;
use super::plan::RestartVia;
use super::trust::TrustedExecutable;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{unlinkat, UnlinkatFlags};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::os::fd::AsFd;
use std::path::Path;
use std::process::Stdio;

/// Name of the pending-restarts file in the lock directory.
pub const PENDING: &str = "pending.json";

/// Units to restart and to reload.
#[derive(Serialize, Deserialize, Debug, Default, Clone, PartialEq, Eq)]
pub struct UnitSet {
    /// Restarted (`try-restart`).
    pub restart: BTreeSet<String>,
    /// Reloaded (`try-reload-or-restart`).
    pub reload: BTreeSet<String>,
}

impl UnitSet {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.restart.is_empty() && self.reload.is_empty()
    }
    /// Adds another set.
    pub fn merge(&mut self, other: UnitSet) {
        self.restart.extend(other.restart);
        self.reload.extend(other.reload);
    }
    /// A unit in both sets is restarted only.
    pub fn normalize(&mut self) {
        let r = &self.restart;
        self.reload.retain(|u| !r.contains(u));
    }
}

/// Writes the pending file atomically in the lock directory.
pub fn save_pending<Fd: AsFd>(lock_dir: Fd, units: &UnitSet) -> Result<(), String> {
    let bytes = serde_json::to_vec(units).map_err(|_| "cannot serialize".to_string())?;
    fs::replace_file_at(lock_dir, PENDING, &bytes, 0o600).map_err(|e| e.desc().to_lowercase())
}

/// Reads the pending file, if any (a damaged one is dropped: units are names, not secrets).
pub fn load_pending<Fd: AsFd>(lock_dir: Fd) -> Option<UnitSet> {
    let (fd, _) = fs::open_regular_at(lock_dir, PENDING, 1 << 20).ok()?;
    let bytes = fs::read_capped(&fd, 1 << 20).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Deletes the pending file.
pub fn clear_pending<Fd: AsFd>(lock_dir: Fd) {
    let _ = unlinkat(lock_dir, PENDING, UnlinkatFlags::NoRemoveDir);
}

/// One line per unit saying what this run does about it, for the install log: restarted or
/// reloaded through `systemctl`, or queued in the activation lists (NixOS restarts those after
/// activation), or left alone (`restartVia` none).
pub fn announce(via: &RestartVia, units: &UnitSet) -> Vec<String> {
    let each = |set: &BTreeSet<String>, reload: bool| -> Vec<String> {
        let (verb, list) = if reload {
            ("reload", "activation-reload-list")
        } else {
            ("restart", "activation-restart-list")
        };
        set.iter()
            .map(|u| match via {
                RestartVia::Systemctl(_) if reload => format!("reloading {u}"),
                RestartVia::Systemctl(_) => format!("restarting {u}"),
                RestartVia::ActivationLists => format!("queued {u} for {verb} ({list})"),
                RestartVia::None => format!("{u} needs a {verb} (restartVia none: left alone)"),
            })
            .collect()
    };
    let mut out = each(&units.restart, false);
    out.extend(each(&units.reload, true));
    out
}

/// Executes the restarts. Errors are returned as messages (logged; they do not fail secrets).
pub fn execute(via: &RestartVia, lists_dir: &Path, dry_run: bool, units: &UnitSet) -> Vec<String> {
    if units.is_empty() {
        return Vec::new();
    }
    match via {
        RestartVia::None => Vec::new(),
        RestartVia::ActivationLists => append_lists(lists_dir, dry_run, units),
        RestartVia::Systemctl(bin) if !dry_run => systemctl_all(bin, units),
        RestartVia::Systemctl(_) => Vec::new(),
    }
}

fn append_lists(dir: &Path, dry_run: bool, units: &UnitSet) -> Vec<String> {
    let prefix = if dry_run {
        "dry-activation"
    } else {
        "activation"
    };
    let dirfd = match fs::walk_dir(dir, true) {
        Ok(d) => d,
        Err(e) => return vec![format!("{}: {}", dir.display(), e.message())],
    };
    let mut errs = Vec::new();
    for (kind, set) in [("restart", &units.restart), ("reload", &units.reload)] {
        if set.is_empty() {
            continue;
        }
        let name = format!("{prefix}-{kind}-list");
        let text: String = set.iter().map(|u| format!("{u}\n")).collect();
        if let Err(e) = append(&dirfd, &name, text.as_bytes()) {
            errs.push(format!(
                "{}/{name}: {}",
                dir.display(),
                e.desc().to_lowercase()
            ));
        }
    }
    errs
}

fn append<Fd: AsFd>(dir: Fd, name: &str, bytes: &[u8]) -> Result<(), nix::errno::Errno> {
    let flags =
        OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(dir, name, flags, Mode::from_bits_truncate(0o644))?;
    fs::write_all(&fd, bytes)
}

fn systemctl_all(bin: &Path, units: &UnitSet) -> Vec<String> {
    let exe = match super::trust::check_trusted_executable(bin) {
        Ok(exe) => exe,
        Err(e) => {
            let hint = e
                .hint(bin)
                .map(|h| format!(" (hint: {h})"))
                .unwrap_or_default();
            return vec![format!("systemctl {}: {e}{hint}", bin.display())];
        }
    };
    let mut errs = Vec::new();
    for (u, reload) in units
        .restart
        .iter()
        .map(|u| (u, false))
        .chain(units.reload.iter().map(|u| (u, true)))
    {
        if let Err(e) = one_unit(&exe, u, reload) {
            errs.push(format!("{u}: {e}"));
        }
    }
    errs
}

/// Active → `try-restart` (`try-reload-or-restart` for reloads); failed (restart set) →
/// `reset-failed` then `start`; inactive → nothing. Jobs are queued with `--no-block`: a unit
/// ordered after the installer's own service would otherwise wait for the installer, which
/// waits for the job (a deadlock on hosts that install from a systemd unit).
fn one_unit(bin: &TrustedExecutable, unit: &str, reload: bool) -> Result<(), String> {
    let state = systemctl(bin, &["is-active"], unit, true)?;
    match state.trim() {
        "active" | "activating" | "reloading" => {
            let verb = if reload {
                "try-reload-or-restart"
            } else {
                "try-restart"
            };
            systemctl(bin, &["--no-block", verb], unit, false).map(drop)
        }
        "failed" if !reload => {
            systemctl(bin, &["reset-failed"], unit, false)?;
            systemctl(bin, &["--no-block", "start"], unit, false).map(drop)
        }
        _ => Ok(()),
    }
}

/// Runs `bin ARGS -- UNIT` with a cleared environment; returns stdout. `lenient`: a non-zero
/// exit is not an error (`is-active` exits 3 for inactive units).
fn systemctl(
    bin: &TrustedExecutable,
    args: &[&str],
    unit: &str,
    lenient: bool,
) -> Result<String, String> {
    let shown = bin.path.display();
    let out = bin
        .command()
        .args(args)
        .arg("--")
        .arg(unit)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {shown}: {}", crate::error::io_message(&e)))?;
    if !lenient && !out.status.success() {
        return Err(format!("{shown} {} failed", args.join(" ")));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(r: &[&str], l: &[&str]) -> UnitSet {
        UnitSet {
            restart: r.iter().map(|s| s.to_string()).collect(),
            reload: l.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn announce_names_each_unit_once() {
        let units = set(&["a.service"], &["b.service"]);
        let bin = RestartVia::Systemctl("/bin/systemctl".into());
        assert_eq!(
            announce(&bin, &units),
            ["restarting a.service", "reloading b.service"]
        );
        assert_eq!(
            announce(&RestartVia::ActivationLists, &units),
            [
                "queued a.service for restart (activation-restart-list)",
                "queued b.service for reload (activation-reload-list)"
            ]
        );
        assert_eq!(announce(&RestartVia::None, &units).len(), 2);
        assert!(announce(&bin, &UnitSet::default()).is_empty());
    }

    #[test]
    fn lists_mode_appends() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("nixos");
        assert!(execute(
            &RestartVia::ActivationLists,
            &d,
            false,
            &set(&["a.service"], &["b.service"])
        )
        .is_empty());
        assert!(execute(
            &RestartVia::ActivationLists,
            &d,
            false,
            &set(&["c.service"], &[])
        )
        .is_empty());
        assert!(execute(
            &RestartVia::ActivationLists,
            &d,
            true,
            &set(&["x.service"], &[])
        )
        .is_empty());
        let read = |n: &str| std::fs::read_to_string(d.join(n)).unwrap();
        assert_eq!(read("activation-restart-list"), "a.service\nc.service\n");
        assert_eq!(read("activation-reload-list"), "b.service\n");
        assert_eq!(read("dry-activation-restart-list"), "x.service\n");
    }

    #[test]
    fn systemctl_mode_by_state() {
        use std::os::unix::fs::PermissionsExt;
        if !crate::install::trust::test_support::is_root() {
            eprintln!("skipped: needs root (systemctl must be root-owned)");
            return;
        }
        let t = crate::install::trust::test_support::trusted_tmp();
        let log = t.path().join("log");
        let bin = t.path().join("systemctl");
        let script = format!(
            "#!/bin/sh\necho \"$*|$HOME$CARGO_MANIFEST_DIR\" >> {}\nif [ \"$1\" = is-active ]; then\n  case \"$3\" in\n    up*) echo active;;\n    bad*) echo failed; exit 3;;\n    *) echo inactive; exit 3;;\n  esac\nfi\n",
            log.display()
        );
        std::fs::write(&bin, script).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let via = RestartVia::Systemctl(bin);
        let errs = execute(
            &via,
            t.path(),
            false,
            &set(
                &["up.service", "bad.service", "off.service"],
                &["up2.service"],
            ),
        );
        assert!(errs.is_empty(), "{errs:?}");
        let log = std::fs::read_to_string(&log).unwrap();
        assert!(
            log.contains("--no-block try-restart -- up.service|\n"),
            "{log}"
        );
        assert!(log.contains("\nreset-failed -- bad.service|"), "{log}");
        assert!(log.contains("--no-block start -- bad.service|"), "{log}");
        assert!(
            log.contains("--no-block try-reload-or-restart -- up2.service|"),
            "{log}"
        );
        assert!(!log.contains("try-restart -- off.service"), "{log}");
    }

    #[test]
    fn pending_round_trip() {
        let t = tempfile::tempdir().unwrap();
        let d = nix::fcntl::open(t.path(), fs::DIR_FLAGS, Mode::empty()).unwrap();
        assert!(load_pending(&d).is_none());
        let s = set(&["a.service"], &[]);
        save_pending(&d, &s).unwrap();
        assert_eq!(load_pending(&d), Some(s));
        clear_pending(&d);
        assert!(load_pending(&d).is_none());
    }
}
