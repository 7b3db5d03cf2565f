//! `hostseal decrypt`: open a sealed file and print (or write) the plaintext or one value.

use super::io::{deliver, is_git_tracked};
use crate::age_file;
use crate::cli::DecryptArgs;
use crate::error::Error;
use crate::fileio::read_input;
use crate::format::tree::{Map, Node, Scalar, Tree};
use crate::format::{EmitOptions, Format};
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
    deliver(args.output.as_deref(), args.in_place, &args.file, &plain)?;
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
        Some(p) => extract(&mut opened.tree, &path::parse_extract(p)?, output, &emit),
    }
}

/// One value, as `sops decrypt --extract` prints it: strings raw, other scalars in their YAML
/// spelling with a newline, mappings in the output format. The value moves out of the tree
/// (no copy), into bytes or a one-document tree that zeroize on drop.
fn extract(
    tree: &mut Tree,
    segs: &[path::PathSegment],
    output: Format,
    emit: &EmitOptions,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let node = path::take(tree, segs).ok_or_else(|| {
        Error::failure(format!("--extract: {} not found", path::display_path(segs)))
    })?;
    let line = |mut v: Vec<u8>| {
        v.push(b'\n');
        Ok(Zeroizing::new(v))
    };
    match node {
        Node::Scalar(Scalar::Str(s)) => Ok(Zeroizing::new(s.into_bytes())),
        Node::Scalar(Scalar::Bytes(b)) => Ok(Zeroizing::new(b)),
        Node::Scalar(Scalar::Null) => line(b"null".to_vec()),
        Node::Scalar(Scalar::Bool(b)) => line(b.to_string().into_bytes()),
        Node::Scalar(s) => line(sops::canonical_bytes(&s).unwrap_or_default()),
        Node::Map(m) => Ok(Zeroizing::new(
            output.emit_plain(&Tree::new(vec![m]), emit)?,
        )),
        node @ (Node::Seq(_) | Node::Comment(_)) => {
            let mut m = Map::default();
            m.push("value", node);
            Ok(Zeroizing::new(
                output.emit_plain(&Tree::new(vec![m]), emit)?,
            ))
        }
    }
}
