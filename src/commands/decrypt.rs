//! `hostseal decrypt`: open a sealed file and print (or write) the plaintext or one value.

use super::io::{is_git_tracked, read_input, write_atomic, write_stdout};
use crate::cli::DecryptArgs;
use crate::error::Error;
use crate::format::tree::{Map, Node, Scalar, Tree};
use crate::format::{age_file, EmitOptions, Format};
use crate::sops::{self, path};
use zeroize::Zeroizing;

/// Runs `hostseal decrypt`.
pub fn run(args: &DecryptArgs) -> Result<u8, Error> {
    let shown = args.file.display().to_string();
    if args.in_place && !args.force && is_git_tracked(&args.file) {
        return Err(Error::failure(
            "refusing to write plaintext over a git-tracked file (it would land in the work tree)",
        )
        .with_file(shown)
        .with_hint("use --output or stdout, or pass --force if you really mean it"));
    }
    let plain = open_file(args).map_err(|e| e.with_file(shown))?;
    match (&args.output, args.in_place) {
        (Some(out), _) => write_atomic(out, &plain)?,
        (None, true) => write_atomic(&args.file, &plain)?,
        (None, false) => write_stdout(&plain)?,
    }
    Ok(0)
}

fn open_file(args: &DecryptArgs) -> Result<Zeroizing<Vec<u8>>, Error> {
    let name_path = super::encrypt::name_path(&args.file, args.filename_override.as_deref())?;
    let (input, output) = super::types::choose(
        &name_path,
        args.input_type.as_deref(),
        args.output_type.as_deref(),
    )?;
    let sealed = read_input(&args.file)?;
    let ids = super::io::identities(&args.identities, args.identity_only)?;
    if input == Format::Age {
        return Ok(age_file::decrypt(&sealed, &ids)?.into_zeroizing());
    }
    let mut opened = sops::open(&sealed, input, &ids)?;
    drop(sealed);
    let emit = EmitOptions::default();
    match &args.extract {
        // The plaintext moves out of the tree rather than being copied (large binary files).
        None if output == Format::Binary => Ok(Zeroizing::new(crate::format::take_binary_payload(
            &mut opened.tree,
        )?)),
        None => Ok(Zeroizing::new(opened.emit(output, &emit)?)),
        Some(p) => extract(&opened.tree, &path::parse_extract(p)?, output, &emit),
    }
}

/// One value, as `sops decrypt --extract` prints it: strings raw, other scalars in their YAML
/// spelling with a newline, mappings in the output format.
fn extract(
    tree: &Tree,
    segs: &[path::PathSegment],
    output: Format,
    emit: &EmitOptions,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let node = path::lookup(tree, segs).ok_or_else(|| {
        Error::failure(format!("--extract: {} not found", path::display_path(segs)))
    })?;
    let bytes = match node {
        Node::Scalar(Scalar::Str(s)) => s.as_bytes().to_vec(),
        Node::Scalar(Scalar::Bytes(b)) => b.clone(),
        Node::Scalar(Scalar::Null) => b"null\n".to_vec(),
        Node::Scalar(Scalar::Bool(b)) => format!("{b}\n").into_bytes(),
        Node::Scalar(s) => {
            let mut v = sops::canonical_bytes(s).unwrap_or_default();
            v.push(b'\n');
            v
        }
        Node::Map(m) => {
            let t = Tree {
                docs: vec![m.clone()],
            };
            output.emit_plain(&t, emit)?
        }
        Node::Seq(_) | Node::Comment(_) => {
            let mut m = Map::default();
            m.push("value", node.clone());
            let t = Tree { docs: vec![m] };
            output.emit_plain(&t, emit)?
        }
    };
    Ok(Zeroizing::new(bytes))
}
