//! `hostseal keygen` and `hostseal pubkey`.

use super::io::write_stdout;
use crate::cli::{KeygenArgs, PubkeyArgs, PubkeyFormat};
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

/// Creates `path` (never replacing a file) with mode 0600; missing parent directories are
/// created 0700, as `~/.config/sops/age/` usually is missing on a new machine.
fn write_new_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| Error::io(parent, &e))?;
    }
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

/// Runs `hostseal pubkey`: for each key of the input, its `age1…` recipient, or with
/// `--format ssh` its native `ssh-ed25519 …` line, or with `--format publicHostKey` the base64
/// of that line as NixOS `nix.buildMachines.*.publicHostKey` wants it; one line per key.
pub fn pubkey(args: &PubkeyArgs) -> Result<u8, Error> {
    let path = args.file.as_deref().unwrap_or(Path::new("-"));
    let shown = path.display().to_string();
    let bytes = read_input(path)?;
    let keys = crate::keys::public_keys_of(&bytes).map_err(|mut e| {
        e.file = Some(shown.clone());
        e
    })?;
    let format = match (args.format, args.ssh) {
        (Some(f), _) => f,
        (None, true) => PubkeyFormat::Ssh,
        (None, false) => PubkeyFormat::Age,
    };
    let mut out = String::new();
    for key in keys {
        let line = match format {
            PubkeyFormat::Age => key.age,
            PubkeyFormat::Ssh => ssh_line(key.ssh, format, &shown)?,
            PubkeyFormat::PublicHostKey => public_host_key(&ssh_line(key.ssh, format, &shown)?),
        };
        out.push_str(&line);
        out.push('\n');
    }
    write_stdout(out.as_bytes())?;
    Ok(0)
}

/// The ssh line of a key, or the error for an age identity asked for an ssh form.
fn ssh_line(ssh: Option<String>, format: PubkeyFormat, shown: &str) -> Result<String, Error> {
    ssh.ok_or_else(|| {
        let name = if format == PubkeyFormat::Ssh {
            "ssh"
        } else {
            "publicHostKey"
        };
        Error::failure(format!(
            "not an ssh key: --format {name} needs an OpenSSH ed25519 key"
        ))
        .with_file(shown)
    })
}

/// `base64 -w0` of `line` and a newline: what `base64 -w0 /etc/ssh/ssh_host_ed25519_key.pub`
/// prints, which nixpkgs documents for `publicHostKey` (Nix decodes it into a known_hosts
/// entry).
pub fn public_host_key(line: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{}\n", line.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_host_key_is_base64_of_the_line_and_a_newline() {
        // `printf 'ssh-ed25519 AAAA x\n' | base64 -w0`
        assert_eq!(
            public_host_key("ssh-ed25519 AAAA x"),
            "c3NoLWVkMjU1MTkgQUFBQSB4Cg=="
        );
    }
}
