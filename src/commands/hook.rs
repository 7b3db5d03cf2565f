//! `hostseal hook install`: write the pre-commit hook where git looks for it.

use crate::cli::HookCommand;
use crate::error::Error;
use crate::guard::git::Repo;
use crate::guard::hook;
use std::io::Write;

/// Runs `hostseal hook …`.
pub fn run(cmd: &HookCommand) -> Result<u8, Error> {
    let HookCommand::Install { encrypt, force } = cmd;
    let repo = Repo::discover()?.ok_or_else(|| Error::failure("not in a git repository"))?;
    let dir = hook::hooks_dir(&repo)?;
    let exe = std::env::current_exe().map_err(|e| {
        Error::failure(format!(
            "cannot find my own binary: {}",
            crate::error::io_message(&e)
        ))
    })?;
    let path = hook::install(&dir, &exe, *encrypt, *force)?;
    let _ = writeln!(std::io::stderr(), "hostseal: installed {}", path.display());
    if *encrypt {
        let _ = writeln!(
            std::io::stderr(),
            "hostseal: the hook seals fully staged plaintext files; never use --encrypt under the pre-commit framework"
        );
    }
    Ok(0)
}
