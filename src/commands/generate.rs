//! `hostseal completions SHELL` and `hostseal man --out-dir DIR`: shell completion scripts and
//! man pages generated from the clap definitions, so they never drift from `--help`. Packagers
//! install both (the flake's package does; see docs/install.md).

use super::io::write_stdout;
use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::error::Error;
use clap::CommandFactory;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Prints the completion script for the requested shell on stdout.
pub fn completions(args: &CompletionsArgs) -> Result<u8, Error> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "hostseal", &mut script);
    write_stdout(&script)?;
    Ok(0)
}

/// Writes `hostseal.1` and one `hostseal-<command>[-<sub>].1` per visible command into the
/// directory (created if missing), and prints the names of the files written.
pub fn man_pages(args: &ManArgs) -> Result<u8, Error> {
    let dir = &args.out_dir;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, &e))?;
    let mut written = String::new();
    for (name, page) in pages()? {
        let path = dir.join(format!("{name}.1"));
        write_page(&path, &page)?;
        written.push_str(&format!("{}\n", path.display()));
    }
    write_stdout(written.as_bytes())?;
    Ok(0)
}

/// Every man page as (file stem, roff text): the root command first, then each visible
/// subcommand depth-first (`hostseal-hook-install`).
pub fn pages() -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut root = Cli::command();
    // Gives every subcommand its display name (`hostseal-encrypt`) and bin name
    // (`hostseal encrypt`), which the pages' titles and synopses use.
    root.build();
    let mut out = Vec::new();
    collect(&root, &mut out)?;
    Ok(out)
}

fn collect(cmd: &clap::Command, out: &mut Vec<(String, Vec<u8>)>) -> Result<(), Error> {
    let name = cmd
        .get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .source(format!("hostseal {}", env!("CARGO_PKG_VERSION")))
        .manual("hostseal manual")
        .render(&mut page)
        .map_err(|e| Error::failure(format!("man page {name}: {e}")))?;
    out.push((name, page));
    for sub in cmd.get_subcommands() {
        if !sub.is_hide_set() && sub.get_name() != "help" {
            collect(sub, out)?;
        }
    }
    Ok(())
}

/// Man pages are public documentation: 0644 whatever the process umask (077 in `main`).
fn write_page(path: &Path, page: &[u8]) -> Result<(), Error> {
    std::fs::write(path, page).map_err(|e| Error::io(path, &e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::io(path, &e))
}
