//! The `hostseal` binary: harden the process, parse the command line, call the library, render
//! the error (`hostseal: <file>: <what>` + `hint:`) and map it to the exit code (docs/cli.md#exit-codes).

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    harden();
    let cli = hostseal::cli::Cli::parse();
    match hostseal::commands::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "hostseal: {e}");
            if let Some(hint) = &e.hint {
                let _ = writeln!(err, "hint: {hint}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// Umask 077 (nothing we create is readable by others by accident), no core dumps, and not
/// dumpable (no ptrace by same-uid processes, no /proc/self/mem reads): plaintext and keys live
/// in this process's memory.
fn harden() {
    use nix::sys::resource::{setrlimit, Resource};
    use nix::sys::stat::{umask, Mode};
    umask(Mode::from_bits_truncate(0o077));
    let _ = setrlimit(Resource::RLIMIT_CORE, 0, 0);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = nix::sys::prctl::set_dumpable(false);
}
