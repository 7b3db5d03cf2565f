//! `--check-mode manifest|sopsfile` (docs/manifest.md#what-install-does, step 1): validation for the Nix build, which loads
//! no keys and resolves no owners (the build sandbox has no users) unless asked to.

use super::extract;
use super::failure::Failure;
use super::fs;
use super::log::Log;
use super::plan::{Plan, Source};
use super::users::{self, Resolver};
use super::validate::shown;
use crate::error::{Error, Kind};

/// Parses each sealed file (without decrypting) and checks each `key` exists; with a resolver,
/// also resolves owners and groups. Every problem goes to `log`; the highest exit code wins.
pub fn sopsfile(plan: &Plan, resolver: Option<&dyn Resolver>, log: Log) -> Result<(), Error> {
    let mut worst: Option<Kind> = None;
    let mut count = 0usize;
    for item in &plan.items {
        let mut problems = Vec::new();
        if let Source::Sealed {
            sops_file,
            format,
            key,
            ..
        } = &item.source
        {
            if let Err(f) = check_file(sops_file, *format, key) {
                problems.push(f);
            }
        }
        if let Some(r) = resolver {
            if let Err(u) = users::resolve(r, &item.owner, &item.group) {
                let (code, msg) = u.reason();
                problems.push(Failure::new(code, msg));
            }
        }
        for f in problems {
            let kind = match f.code {
                "malformed" => Kind::Malformed,
                "key-absent" | "bad-key" | "unknown-owner" | "unknown-group" => Kind::Config,
                _ => Kind::Failure,
            };
            log.problem(&shown(&item.rel), &f.message);
            count = count.saturating_add(1);
            if worst.is_none_or(|w| w < kind) {
                worst = Some(kind);
            }
        }
    }
    match worst {
        None => Ok(()),
        Some(kind) => Err(Error::new(
            kind,
            format!("{count} problem(s) found by --check-mode sopsfile"),
        )),
    }
}

fn check_file(
    path: &std::path::Path,
    format: crate::format::Format,
    key: &str,
) -> Result<(), Failure> {
    let cap = crate::limits::MAX_INPUT as u64;
    let (fd, _) = fs::open_input(path, cap)
        .map_err(|m| Failure::new("unreadable", format!("sealed file {}: {m}", path.display())))?;
    let bytes = fs::read_capped(&fd, cap).map_err(|e| {
        Failure::new(
            "unreadable",
            format!("sealed file {}: {}", path.display(), e.message()),
        )
    })?;
    extract::check_sealed(&bytes, format, key).map_err(|f| Failure {
        message: format!("sealed file {}: {}", path.display(), f.message),
        ..f
    })
}
