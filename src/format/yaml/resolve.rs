//! Plain-scalar typing as go-yaml v3 does it for sops: YAML 1.2 core schema plus timestamps,
//! legacy `0777` octals and `_` digit separators. Used both to read plain scalars and to decide
//! whether a string must be quoted on output (it must when it would read back as another type).

use crate::format::timestamp;
use crate::format::tree::Scalar;

/// What a plain scalar resolves to.
#[derive(Debug, PartialEq)]
pub(crate) enum Resolved {
    /// A leaf of the tree.
    Leaf(Scalar),
    /// An integer in `i64::MAX+1 ..= u64::MAX`: go-yaml yields a uint64, which sops rejects.
    Uint64,
    /// The merge key `<<`.
    Merge,
}

/// Resolves unquoted, untagged text.
pub(crate) fn plain(text: &str) -> Resolved {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Leaf(Scalar::Null),
        "true" | "True" | "TRUE" => return Resolved::Leaf(Scalar::Bool(true)),
        "false" | "False" | "FALSE" => return Resolved::Leaf(Scalar::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Leaf(Scalar::Float(f64::INFINITY))
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Leaf(Scalar::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Leaf(Scalar::Float(f64::NAN)),
        "<<" => return Resolved::Merge,
        _ => {}
    }
    let first = text.as_bytes().first().copied().unwrap_or(b' ');
    if !(first.is_ascii_digit() || first == b'+' || first == b'-' || first == b'.') {
        return Resolved::Leaf(Scalar::Str(text.to_string()));
    }
    if let Some(t) = timestamp::canonical(text) {
        return Resolved::Leaf(Scalar::Time(t));
    }
    number(text).unwrap_or_else(|| Resolved::Leaf(Scalar::Str(text.to_string())))
}

/// Integer or float, after go-yaml's `_` removal; `None` for text that stays a string.
fn number(text: &str) -> Option<Resolved> {
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    match go_parse_int(&plain) {
        Some(IntValue::Signed(i)) => return Some(Resolved::Leaf(Scalar::Int(i))),
        Some(IntValue::Unsigned) => return Some(Resolved::Uint64),
        None => {}
    }
    if is_yaml_float(&plain) {
        if let Ok(f) = plain.parse::<f64>() {
            return Some(Resolved::Leaf(Scalar::Float(f)));
        }
    }
    None
}

enum IntValue {
    Signed(i64),
    /// Fits u64 but not i64.
    Unsigned,
}

/// Go's `strconv.ParseInt(s, 0, 64)` then `ParseUint(s, 0, 64)` (base prefixes `0x`, `0o`,
/// `0b`, and a leading `0` for octal).
fn go_parse_int(s: &str) -> Option<IntValue> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    let lower = body.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits) = match lower.as_deref() {
        Some("0x") => (16, body.get(2..)?),
        Some("0o") => (8, body.get(2..)?),
        Some("0b") => (2, body.get(2..)?),
        _ if body.len() > 1 && body.starts_with('0') => (8, body.get(1..)?),
        _ => (10, body),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        let v = i128::from(magnitude).checked_neg()?;
        return i64::try_from(v).ok().map(IntValue::Signed);
    }
    match i64::try_from(magnitude) {
        Ok(v) => Some(IntValue::Signed(v)),
        // A leading `+` is rejected by Go's ParseUint.
        Err(_) if !s.starts_with('+') => Some(IntValue::Unsigned),
        Err(_) => None,
    }
}

/// go-yaml's `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Whether a string must be double-quoted so that it reads back as a string: it would resolve
/// to another type, or it is a YAML 1.1 bool (`yes`, `on`, `n`, …) or base-60 float (`1:20`).
pub(crate) fn needs_type_quotes(s: &str) -> bool {
    !matches!(plain(s), Resolved::Leaf(Scalar::Str(_))) || is_old_bool(s) || is_base60_float(s)
}

fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// go-yaml's `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        let a = b.get(i).copied();
        let c = b.get(i + 1).copied();
        match (a, c) {
            (Some(x @ b'0'..=b'5'), Some(y)) if y.is_ascii_digit() && x.is_ascii_digit() => i += 2,
            (Some(x), _) if x.is_ascii_digit() => i += 1,
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(s: &str) -> Scalar {
        match plain(s) {
            Resolved::Leaf(l) => l,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn ints_as_go_yaml() {
        assert_eq!(leaf("0x1F"), Scalar::Int(31));
        assert_eq!(leaf("0o17"), Scalar::Int(15));
        assert_eq!(leaf("0777"), Scalar::Int(511));
        assert_eq!(leaf("1_000"), Scalar::Int(1000));
        assert_eq!(leaf("-5"), Scalar::Int(-5));
        assert_eq!(leaf("+7"), Scalar::Int(7));
        assert_eq!(leaf("0b101"), Scalar::Int(5));
        assert_eq!(leaf("-9223372036854775808"), Scalar::Int(i64::MIN));
        assert_eq!(plain("9223372036854775808"), Resolved::Uint64);
        assert_eq!(
            leaf("18446744073709551616"),
            Scalar::Float(1.8446744073709552e19)
        );
        assert_eq!(leaf("08"), Scalar::Float(8.0));
    }

    #[test]
    fn other_types() {
        assert_eq!(leaf("1.0e+3"), Scalar::Float(1000.0));
        assert_eq!(leaf(".5"), Scalar::Float(0.5));
        assert_eq!(leaf("-.inf"), Scalar::Float(f64::NEG_INFINITY));
        assert_eq!(leaf("yes"), Scalar::Str("yes".into()));
        assert_eq!(leaf("on"), Scalar::Str("on".into()));
        assert_eq!(leaf("3.11.0"), Scalar::Str("3.11.0".into()));
        assert_eq!(leaf("1e"), Scalar::Str("1e".into()));
        assert_eq!(leaf("~"), Scalar::Null);
        assert_eq!(leaf("FALSE"), Scalar::Bool(false));
        assert_eq!(
            leaf("2024-01-02"),
            Scalar::Time("2024-01-02T00:00:00Z".into())
        );
    }

    #[test]
    fn quoting_decisions() {
        for s in [
            "yes",
            "n",
            "123",
            "true",
            "",
            "1:20",
            "2024-01-02",
            "null",
            "1e3",
            ".nan",
        ] {
            assert!(needs_type_quotes(s), "{s}");
        }
        for s in ["hello", "3.11.0", "-lead", "1:60x", "nope"] {
            assert!(!needs_type_quotes(s), "{s}");
        }
    }
}
