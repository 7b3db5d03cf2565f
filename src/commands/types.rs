//! Choosing the input and output types of a command from flags and file names (docs/cli.md#file-types).

use crate::error::Error;
use crate::format::Format;
use std::path::Path;

/// The input and output formats: flags first, else the file name's extension.
pub fn choose(
    path: &Path,
    input_type: Option<&str>,
    output_type: Option<&str>,
) -> Result<(Format, Format), Error> {
    let parse = |t: &str| {
        Format::from_name(t).ok_or_else(|| {
            Error::failure(format!(
                "unknown type `{t}` (expected yaml, json, dotenv, ini, binary or age)"
            ))
        })
    };
    let input = match input_type {
        Some(t) => parse(t)?,
        None => Format::from_path(path),
    };
    let output = match output_type {
        Some(t) => parse(t)?,
        None if input_type.is_some() => input,
        None => Format::from_path(path),
    };
    Ok((input, output))
}
