//! `hostseal edit`: open a sealed file (or start a new one), let the user edit the plaintext
//! on a RAM filesystem, and re-seal it. Unchanged text leaves the file untouched; unchanged
//! values keep their ciphertext (`Opened::reseal` reuses their IVs); a new file is sealed to
//! its rule's recipients. The plaintext is removed on every exit path (see
//! [`crate::commit::edit`]).

use crate::age_file;
use crate::cli::EditArgs;
use crate::commit::edit::Session;
use crate::commit::seal::seal_for_rule;
use crate::error::Error;
use crate::fileio::{read_input, write_atomic, Mode};
use crate::format::{EmitOptions, Format};
use crate::keys::recipient::Recipient;
use crate::rules::RulesFile;
use crate::sops::{self, Opened};
use std::io::{IsTerminal, Write};
use std::path::Path;
use zeroize::Zeroizing;

/// Runs `hostseal edit`.
pub fn run(args: &EditArgs) -> Result<u8, Error> {
    let shown = args.file.display().to_string();
    // First, before any other thread exists: every later thread inherits the signal mask.
    let mut session = Session::start()?;
    let result = edit(args, &mut session).map_err(|e| e.with_file(shown.clone()));
    drop(session);
    let msg = match &result {
        Ok(Outcome::Unchanged) => "unchanged, nothing written",
        Ok(Outcome::Written) => "sealed and written",
        Ok(Outcome::NotCreated) => "not created (nothing entered)",
        Err(_) => return result.map(|_| 0),
    };
    let _ = writeln!(std::io::stderr(), "hostseal: {shown}: {msg}");
    Ok(0)
}

enum Outcome {
    Unchanged,
    Written,
    NotCreated,
}

/// What is being edited: an opened sops file, an age file, or a new file.
enum Source {
    Sops(Box<Opened>),
    Age,
    New,
}

fn edit(args: &EditArgs, session: &mut Session) -> Result<Outcome, Error> {
    let file = &args.file;
    let format = Format::from_path(file);
    let config = super::encrypt::config_path(args.config.as_deref());
    let rules = RulesFile::locate(file, config.as_deref())?;
    let emit = rules.as_ref().map(|r| r.emit).unwrap_or_default();
    let exists = file.exists();
    let (source, plain) = if exists {
        open(file, format, (&args.identities, args.identity_only), &emit)?
    } else {
        if rules.as_ref().and_then(|r| r.rule_for(file)).is_none() {
            return Err(no_rule(&rules));
        }
        (Source::New, Zeroizing::new(template(format)))
    };
    if matches!(source, Source::Age) && rules.as_ref().and_then(|r| r.rule_for(file)).is_none() {
        return Err(no_rule(&rules)
            .with_hint("whole-file age files do not name their recipients: add a rule for it"));
    }
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "secret".into());
    let tmp = session.write_plain(&name, &plain)?;
    loop {
        session.run_editor(&tmp)?;
        let edited = read_input(&tmp)?;
        if edited.as_slice() == plain.as_slice() {
            return Ok(if exists {
                Outcome::Unchanged
            } else {
                Outcome::NotCreated
            });
        }
        match reseal(&source, file, format, &edited, &rules, &emit) {
            Ok(sealed) => {
                write_atomic(file, &sealed, Mode::KeepExisting)?;
                return Ok(Outcome::Written);
            }
            Err(e) if e.exit_code() == 5 && ask_again(&e) => continue,
            Err(e) => return Err(e.with_hint("your edit was discarded")),
        }
    }
}

fn no_rule(rules: &Option<RulesFile>) -> Error {
    let consulted = match rules {
        Some(r) => format!("no creation rule in {} matches it", r.path.display()),
        None => "no .sops.yaml found from its directory upward".to_string(),
    };
    Error::config(format!("no recipients: {consulted}"))
}

/// The starting text of a new file.
fn template(format: Format) -> Vec<u8> {
    match format {
        Format::Json => b"{\n}\n".to_vec(),
        _ => Vec::new(),
    }
}

fn open(
    file: &Path,
    format: Format,
    (identities, only): (&[std::path::PathBuf], bool),
    emit: &EmitOptions,
) -> Result<(Source, Zeroizing<Vec<u8>>), Error> {
    let sealed = read_input(file)?;
    let ids = super::io::identities(identities, only)?;
    if format == Format::Age {
        let plain = age_file::decrypt(&sealed, &ids)?.into_zeroizing();
        return Ok((Source::Age, plain));
    }
    let opened = sops::open_for_edit(&sealed, format, &ids)?;
    let plain = Zeroizing::new(opened.emit(format, emit)?);
    Ok((Source::Sops(Box::new(opened)), plain))
}

/// Seals the edited text: same data key and IVs of unchanged values for an existing sops file,
/// the rule's recipients for new and age files. Tunnel credentials are validated.
fn reseal(
    source: &Source,
    file: &Path,
    format: Format,
    edited: &[u8],
    rules: &Option<RulesFile>,
    emit: &EmitOptions,
) -> Result<Vec<u8>, Error> {
    let rule = rules.as_ref().and_then(|r| r.rule_for(file));
    match source {
        Source::Sops(opened) => {
            crate::tunnel::validate_if_credentials(edited, format)?;
            let tree = format.parse_plain(edited)?;
            opened.reseal(&tree, format, emit)
        }
        Source::Age => {
            crate::tunnel::validate_if_credentials(edited, format)?;
            let rule = rule.ok_or_else(|| no_rule(rules))?;
            let all: Vec<Recipient> = rule.recipients()?.into_iter().flatten().collect();
            age_file::encrypt(edited, &all, false)
        }
        Source::New => {
            let rule = rule.ok_or_else(|| no_rule(rules))?;
            seal_for_rule(file, edited, rule, emit, true)
        }
    }
}

/// On a terminal, offers to return to the editor after a parse or validation error.
fn ask_again(e: &Error) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "hostseal: {}", e.message);
    let _ = write!(
        err,
        "Press Enter to return to the editor, or Ctrl-C to discard the edit: "
    );
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).is_ok()
}
