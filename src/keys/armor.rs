//! The age ASCII armor, written exactly as Go age writes it (sops stores each wrapped data key
//! this way) and read as tolerantly as Go age reads it.
//!
//! We write and read it ourselves rather than through the `age` crate's armor wrapper so that
//! the output is canonical by construction and so that reading tolerates what sops tolerates
//! (leading blank space, CRLF, no final newline) while rejecting re-wrapped lines, and never
//! panics.

use crate::error::Error;
use base64::prelude::{Engine, BASE64_STANDARD};

/// First line of an armored age file.
pub const BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
/// Last line of an armored age file.
pub const END: &str = "-----END AGE ENCRYPTED FILE-----";
/// Base64 characters per armor line.
const COLUMNS: usize = 64;

/// Armors a binary age file: BEGIN line, base64 in 64-column lines, END line, final newline.
pub fn encode(binary: &[u8]) -> String {
    let b64 = BASE64_STANDARD.encode(binary);
    let mut out = String::with_capacity(b64.len() + b64.len() / COLUMNS + BEGIN.len() + 40);
    out.push_str(BEGIN);
    out.push('\n');
    // Base64 output is ASCII, so slicing at any index is a char boundary.
    let mut rest = b64.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(COLUMNS));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str(END);
    out.push('\n');
    out
}

/// Whether `input` (after leading blank space) starts with the armor BEGIN marker.
pub fn is_armored(input: &[u8]) -> bool {
    input.trim_ascii_start().starts_with(BEGIN.as_bytes())
}

/// Removes the armor: the binary age file inside. Errors are [`Kind::Malformed`] and name a
/// line number only.
///
/// [`Kind::Malformed`]: crate::error::Kind::Malformed
pub fn decode(input: &[u8]) -> Result<Vec<u8>, Error> {
    let text = std::str::from_utf8(input.trim_ascii_start())
        .map_err(|_| Error::malformed("age armor is not ASCII text"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    if lines.next() != Some(BEGIN) {
        return Err(Error::malformed("invalid age armor: bad BEGIN line"));
    }
    let mut b64 = String::with_capacity(text.len());
    let mut short_seen = false;
    let mut ended = false;
    let mut line_no = 1usize;
    for line in lines.by_ref() {
        line_no = line_no.saturating_add(1);
        if line == END {
            ended = true;
            break;
        }
        check_line(line, short_seen, line_no)?;
        short_seen = line.len() < COLUMNS;
        b64.push_str(line);
    }
    if !ended {
        return Err(Error::malformed("invalid age armor: no END line"));
    }
    if lines.any(|l| !l.trim_ascii().is_empty()) {
        return Err(Error::malformed(
            "invalid age armor: text after the END line",
        ));
    }
    // An armor around zero bytes is valid armor (the C2SP test kit's `armor_empty`); the
    // callers then refuse the empty age file inside.
    BASE64_STANDARD
        .decode(b64.as_bytes())
        .map_err(|_| Error::malformed("invalid age armor: bad base64"))
}

/// One base64 line of the armor: at most 64 columns, only the last may be short.
fn check_line(line: &str, short_seen: bool, line_no: usize) -> Result<(), Error> {
    if short_seen {
        return Err(Error::malformed(format!(
            "invalid age armor: line {line_no} follows a short line"
        )));
    }
    if line.is_empty() || line.len() > COLUMNS {
        return Err(Error::malformed(format!(
            "invalid age armor: line {line_no} is not wrapped at 64 columns"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips_any_bytes(data in proptest::collection::vec(any::<u8>(), 1..600)) {
            let armored = encode(&data);
            prop_assert_eq!(decode(armored.as_bytes()).unwrap(), data);
        }

        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut input = format!("{BEGIN}\n").into_bytes();
            input.extend_from_slice(&data);
            let _ = decode(&input);
            let _ = decode(&data);
        }
    }

    #[test]
    fn encode_wraps_at_64_and_ends_with_newline() {
        let data: Vec<u8> = (0..=200u8).collect();
        let armored = encode(&data);
        let lines: Vec<&str> = armored.lines().collect();
        assert_eq!(lines.first(), Some(&BEGIN));
        assert_eq!(lines.last(), Some(&END));
        assert!(armored.ends_with("-----\n"));
        let body = &lines[1..lines.len() - 1];
        for l in &body[..body.len() - 1] {
            assert_eq!(l.len(), 64);
        }
        assert!(body[body.len() - 1].len() <= 64);
        assert_eq!(decode(armored.as_bytes()).unwrap(), data);
    }

    #[test]
    fn exact_multiple_of_64_has_no_empty_line() {
        let data = vec![7u8; 96]; // 128 base64 chars = two full lines
        let armored = encode(&data);
        assert!(!armored.contains("\n\n"));
        assert_eq!(decode(armored.as_bytes()).unwrap(), data);
    }

    #[test]
    fn decode_tolerates_crlf_leading_space_and_no_final_newline() {
        let data = vec![1u8; 100];
        let armored = encode(&data);
        let crlf = armored.replace('\n', "\r\n");
        assert_eq!(decode(crlf.as_bytes()).unwrap(), data);
        let spaced = format!("\n  \t{armored}");
        assert_eq!(decode(spaced.as_bytes()).unwrap(), data);
        let trimmed = armored.trim_end();
        assert_eq!(decode(trimmed.as_bytes()).unwrap(), data);
    }

    #[test]
    fn decode_rejects_rewrapped_and_garbage() {
        let data = vec![2u8; 100];
        let armored = encode(&data);
        let b64 = BASE64_STANDARD.encode(&data);
        let rewrapped = format!("{BEGIN}\n{}\n{}\n{END}\n", &b64[..40], &b64[40..]);
        assert!(decode(rewrapped.as_bytes()).is_err());
        assert!(decode(format!("{armored}junk").as_bytes()).is_err());
        assert!(decode(b"hello").is_err());
        assert_eq!(decode(format!("{BEGIN}\n{END}\n").as_bytes()).unwrap(), b"");
        assert!(decode(format!("{BEGIN}\nAAAA\n").as_bytes()).is_err());
        assert!(decode(format!("{BEGIN}\n!!!!\n{END}\n").as_bytes()).is_err());
    }
}
