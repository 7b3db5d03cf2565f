//! One module per subcommand: each reads its inputs, calls the library, and writes its output.
//! They are the only code (with `main`) that prints: the library returns what to print or takes
//! a sink for it (`install::log::Log`).

pub mod audit;
pub mod check;
pub mod decrypt;
pub mod edit;
pub mod encrypt;
pub mod generate;
pub mod hook;
pub mod install;
pub mod io;
pub mod keys;
pub mod rotate;
pub mod rotation_ui;
pub mod tunnel;
pub mod types;
pub mod updatekeys;

use crate::cli::{Cli, Command};
use crate::error::Error;

/// Runs a parsed command line; returns the exit code for success paths (0, or 7 for a
/// partial install), or the error to report.
pub fn dispatch(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Encrypt(a) => encrypt::run(&a),
        Command::Decrypt(a) => decrypt::run(&a),
        Command::Keygen(a) => keys::keygen(&a),
        Command::Pubkey(a) => keys::pubkey(&a),
        Command::Install(a) => install::run_install(a),
        Command::Status(a) => install::run_status(&a),
        Command::Edit(a) => edit::run(&a),
        Command::Updatekeys(a) => updatekeys::run(&a),
        Command::Rotate(a) => rotate::run(&a),
        Command::Check(a) => check::run(&a),
        Command::Hook(a) => hook::run(&a),
        Command::Tunnel(a) => tunnel::run(&a),
        Command::Audit(a) => audit::run(&a),
        Command::Completions(a) => generate::completions(&a),
        Command::Man(a) => generate::man_pages(&a),
    }
}
