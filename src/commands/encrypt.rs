//! `hostseal encrypt`: seal a plaintext file to the recipients of its rule (or `--age`).

use super::io::deliver;
use crate::age_file;
use crate::cli::{EncryptArgs, LeafRuleArgs};
use crate::error::Error;
use crate::fileio::read_input;
use crate::format::metadata::LeafRule;
use crate::format::Format;
use crate::keys::recipient::{self, Recipient};
use crate::rules::RulesFile;
use crate::sops::{self, SealParams};
use std::path::{Path, PathBuf};

/// Runs `hostseal encrypt`.
pub fn run(args: &EncryptArgs) -> Result<u8, Error> {
    let shown = args.file.display().to_string();
    let sealed = seal_file(args).map_err(|e| e.with_file(shown))?;
    deliver(args.output.as_deref(), args.in_place, &args.file, &sealed)?;
    Ok(0)
}

fn seal_file(args: &EncryptArgs) -> Result<Vec<u8>, Error> {
    // The sealed file's own path decides its rule and type: `--filename-override`, else
    // `--output`, else the input.
    let name_path = name_path(
        &args.file,
        args.filename_override.as_deref().or(args.output.as_deref()),
    )?;
    let (input, output) = super::types::choose(
        &name_path,
        args.input_type.as_deref(),
        args.output_type.as_deref(),
    )?;
    let mut plaintext = read_input(&args.file)?;
    let config = config_path(args.config.as_deref());
    let rules = RulesFile::locate(&name_path, config.as_deref())?;
    let rule = rules.as_ref().and_then(|r| r.rule_for(&name_path));
    if let Some(why) = sops::already_sealed(&plaintext, input) {
        return Err(Error::failure(format!("already sealed ({why})")).with_hint(
            "to change its recipients run `hostseal updatekeys FILE`; to edit it `hostseal edit FILE`",
        ));
    }
    let (groups, threshold) = recipients(args, &rules, rule)?;
    if !args.no_validate {
        crate::tunnel::validate_if_credentials(&plaintext, input)?;
    }
    if input == Format::Age || output == Format::Age {
        let all: Vec<Recipient> = groups.into_iter().flatten().collect();
        return age_file::encrypt(&plaintext, &all, false);
    }
    // A binary file's bytes move into the tree (no copy); the tree is zeroized after sealing.
    let tree = if input == Format::Binary {
        crate::format::binary_tree(std::mem::take(&mut *plaintext))
    } else {
        input.parse_plain(&plaintext)
    }
    .map_err(Error::from)?;
    let leaf_rule = leaf_rule(&args.leaves)
        .or_else(|| rule.and_then(|r| r.leaf_rule.clone()))
        .unwrap_or_default();
    let params = SealParams {
        groups,
        threshold,
        leaf_rule,
        mac_only_encrypted: rule.is_some_and(|r| r.mac_only_encrypted),
    };
    let emit = rules.as_ref().map(|r| r.emit).unwrap_or_default();
    sops::seal(&tree, output, &params, &emit)
}

/// The path used for type detection and rule matching.
pub fn name_path(file: &Path, filename_override: Option<&Path>) -> Result<PathBuf, Error> {
    match filename_override {
        Some(p) => Ok(p.to_path_buf()),
        None if file == Path::new("-") => Err(Error::failure(
            "reading from stdin needs --filename-override to choose the type and rule",
        )),
        None => Ok(file.to_path_buf()),
    }
}

/// `--config`, else `$SOPS_CONFIG` (workstation commands only; never `install`).
pub fn config_path(flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("SOPS_CONFIG").map(PathBuf::from))
}

type Groups = (Vec<Vec<Recipient>>, Option<usize>);

fn recipients(
    args: &EncryptArgs,
    rules: &Option<RulesFile>,
    rule: Option<&crate::rules::CreationRule>,
) -> Result<Groups, Error> {
    if let Some(list) = &args.age {
        let rs = recipient::parse_list(list).map_err(|e| e.with_kind_config())?;
        if rs.is_empty() {
            return Err(Error::config("--age names no recipient"));
        }
        return Ok((vec![rs], None));
    }
    let Some(rule) = rule else {
        let consulted = match rules {
            Some(r) => format!("no creation rule in {} matches it", r.path.display()),
            None => "no .sops.yaml found from its directory upward".to_string(),
        };
        return Err(Error::config(format!("no recipients: {consulted}"))
            .with_hint("add a creation rule for this path, or pass --age"));
    };
    let groups = rule.recipients()?;
    Ok((groups, rule.threshold))
}

fn leaf_rule(a: &LeafRuleArgs) -> Option<LeafRule> {
    a.encrypted_regex
        .clone()
        .map(LeafRule::EncryptedRegex)
        .or_else(|| a.unencrypted_regex.clone().map(LeafRule::UnencryptedRegex))
        .or_else(|| a.encrypted_suffix.clone().map(LeafRule::EncryptedSuffix))
        .or_else(|| {
            a.unencrypted_suffix
                .clone()
                .map(LeafRule::UnencryptedSuffix)
        })
}
