//! Choosing the input and output types of a command from flags and file names (docs/cli.md#file-types).

use crate::format::Format;
use std::path::Path;

/// The input and output formats: flags first, else the file name's extension; with only
/// `--input-type`, the output type is the input type.
pub fn choose(
    path: &Path,
    input_type: Option<Format>,
    output_type: Option<Format>,
) -> (Format, Format) {
    let input = input_type.unwrap_or_else(|| Format::from_path(path));
    let output = match output_type {
        Some(t) => t,
        None if input_type.is_some() => input,
        None => Format::from_path(path),
    };
    (input, output)
}
