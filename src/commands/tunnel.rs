//! `hostseal tunnel token|credentials`: convert between the credentials JSON that
//! `cloudflared tunnel create` writes and the tunnel token `cloudflared tunnel run --token`
//! takes, so either can be sealed and the other derived when needed.

use super::io::write_stdout;
use crate::cli::TunnelCommand;
use crate::error::Error;
use crate::fileio::read_input;
use std::path::Path;
use zeroize::Zeroizing;

/// Runs `hostseal tunnel …`. `credentials -` reads the token from stdin (a token on the
/// command line is visible to other users in the process list).
pub fn run(cmd: &TunnelCommand) -> Result<u8, Error> {
    let out = match cmd {
        TunnelCommand::Token { file } => {
            let creds = read_input(file)?;
            let token = crate::tunnel::credentials_to_token(&creds)
                .map_err(|e| e.with_file(file.display().to_string()))?;
            Zeroizing::new(token + "\n")
        }
        TunnelCommand::Credentials { token } => {
            let token = if token == "-" {
                let bytes = read_input(Path::new("-"))?;
                Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned())
            } else {
                Zeroizing::new(token.clone())
            };
            Zeroizing::new(crate::tunnel::token_to_credentials(&token)? + "\n")
        }
    };
    write_stdout(out.as_bytes())?;
    Ok(0)
}
