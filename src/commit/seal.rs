//! Sealing plaintext to its rule's recipients, as `encrypt` does without `--age`: used by
//! `check --encrypt` for staged files and by `edit` for files that do not exist yet.

use crate::age_file;
use crate::error::Error;
use crate::format::{EmitOptions, Format};
use crate::keys::recipient::Recipient;
use crate::rules::CreationRule;
use crate::sops::SealParams;
use std::path::Path;

/// Seals `plaintext` (typed by `name`'s extension) to `rule`'s recipients with its leaf rule.
/// Tunnel credentials are validated first unless `validate` is false.
pub fn seal_for_rule(
    name: &Path,
    plaintext: &[u8],
    rule: &CreationRule,
    emit: &EmitOptions,
    validate: bool,
) -> Result<Vec<u8>, Error> {
    let format = Format::from_path(name);
    if validate {
        crate::tunnel::validate_if_credentials(plaintext, format)?;
    }
    let groups = rule.recipients()?;
    if format == Format::Age {
        let all: Vec<Recipient> = groups.into_iter().flatten().collect();
        return age_file::encrypt(plaintext, &all, false);
    }
    let tree = format.parse_plain(plaintext)?;
    let params = SealParams {
        groups,
        threshold: rule.threshold,
        leaf_rule: rule.leaf_rule.clone().unwrap_or_default(),
        mac_only_encrypted: rule.mac_only_encrypted,
    };
    crate::sops::seal(&tree, format, &params, emit)
}
