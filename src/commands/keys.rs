//! `hostseal keygen` and `hostseal pubkey`.

use super::io::write_stdout;
use crate::cli::{KeygenArgs, PubkeyArgs};
use crate::error::Error;
use crate::fileio::read_input;
use std::io::Write;
use std::path::Path;

/// Runs `hostseal keygen`: a new age identity, written `create_new` with mode 0600 (or to
/// stdout, as `age-keygen` does); the recipient is printed.
pub fn keygen(args: &KeygenArgs) -> Result<u8, Error> {
    let (secret, recipient) = crate::keys::generate();
    let created = crate::format::metadata::now_lastmodified();
    let text = zeroize::Zeroizing::new(format!(
        "# created: {created}\n# public key: {recipient}\n{}\n",
        secret.as_str()
    ));
    match &args.output {
        Some(path) => {
            write_new_private(path, text.as_bytes())?;
            write_stdout(format!("{recipient}\n").as_bytes())?;
        }
        None => write_stdout(text.as_bytes())?,
    }
    Ok(0)
}

fn write_new_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)
        .map_err(|e| Error::io(path, &e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(path, &e))
}

/// Runs `hostseal pubkey`: the `age1…` recipient of an identity file or ssh ed25519 key, or
/// with `--ssh` its native `ssh-ed25519 …` form.
pub fn pubkey(args: &PubkeyArgs) -> Result<u8, Error> {
    let path = args.file.as_deref().unwrap_or(Path::new("-"));
    let shown = path.display().to_string();
    let bytes = read_input(path)?;
    let keys = crate::keys::public_of(&bytes).map_err(|mut e| {
        e.file = Some(shown.clone());
        e
    })?;
    let line = if args.ssh {
        keys.ssh.ok_or_else(|| {
            Error::failure("not an ssh key: --ssh needs an OpenSSH ed25519 key").with_file(shown)
        })?
    } else {
        keys.age
    };
    write_stdout(format!("{line}\n").as_bytes())?;
    Ok(0)
}
