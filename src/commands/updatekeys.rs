//! `hostseal updatekeys`: bring every file's key groups in line with its rule (docs/key-rotation.md#updatekeys).
//!
//! Plan from metadata alone (`+`/`-` per recipient, names from the rules' anchors), ask unless
//! `-y`, then open every planned file before writing any: only additions keep the data key,
//! any removal rotates it. The planning is [`crate::rotation::steps`]; the terminal side, shared
//! with `rotate` and `audit`, is [`super::rotation_ui`].

use super::io::write_stdout;
use super::rotation_ui::{confirm, fail_listed, finish, note_age_skipped, show_skipped};
use crate::cli::UpdatekeysArgs;
use crate::error::Error;
use crate::rotation::steps::{load_for_rewrite, plan_update, render_plan, Step};

/// Runs `hostseal updatekeys`.
pub fn run(args: &UpdatekeysArgs) -> Result<u8, Error> {
    let config = super::io::config_path(&args.rewrite.rules);
    let loaded = load_for_rewrite(&args.rewrite.paths, config.as_deref())?;
    let mut errors = loaded.errors;
    let mut skipped = loaded.skipped;
    let mut planned = Vec::new();
    let mut unchanged = 0usize;
    for f in loaded.files {
        match plan_update(f, args.include_age) {
            Ok(Step::Plan(p)) => planned.push(*p),
            Ok(Step::Same) => unchanged = unchanged.saturating_add(1),
            Ok(Step::Skip(s)) => skipped.push(s),
            Err(e) => errors.push(e),
        }
    }
    show_skipped(&skipped, args.verbose);
    note_age_skipped(&skipped, "use --include-age");
    if !errors.is_empty() {
        return Err(fail_listed(&errors, "nothing written"));
    }
    if planned.is_empty() {
        write_stdout(
            format!("nothing to do: {unchanged} file(s) already match their rules\n").as_bytes(),
        )?;
        return Ok(0);
    }
    write_stdout(render_plan(&planned).as_bytes())?;
    confirm(
        args.rewrite.yes,
        &format!("Update {} file(s)?", planned.len()),
    )?;
    let ids = super::io::identities(&args.rewrite.identity)?;
    finish(&planned, &ids, args.skip_unopenable, "updated")
}
