//! YAML timestamps: recognising them (the YAML 1.1 timestamp forms that go-yaml v3 resolves for
//! unquoted scalars) and printing their canonical sops spelling (Go RFC 3339 with nanoseconds,
//! trailing zeros cut). sops stores such values with `type:time`, so both the MAC bytes and the
//! decrypted output depend on this exact spelling.
//!
//! Also the one strict RFC 3339 parser (Go's `time.RFC3339` as `time.Parse` reads it, with
//! range checks), for `type:time` values and the metadata's `lastmodified`.

/// A parsed timestamp: calendar fields as written plus the UTC offset in seconds.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    /// Offset east of UTC in seconds (0 for `Z`, for no zone, and for date-only values).
    offset: i32,
}

/// YAML timestamp text → canonical sops spelling (Go `time.RFC3339Nano`), or `None` when the
/// text is not a timestamp go-yaml would resolve. `2024-01-02` → `2024-01-02T00:00:00Z`,
/// `2001-12-14t21:59:43.10-05:00` → `2001-12-14T21:59:43.1-05:00`.
pub fn canonical(text: &str) -> Option<String> {
    parse(text).map(|s| render(&s))
}

/// Whether go-yaml would read this unquoted text as a timestamp (so a string spelled like this
/// must be quoted on output).
pub fn is_timestamp(text: &str) -> bool {
    parse(text).is_some()
}

/// RFC 3339 text (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm)`, fields range-checked) → the canonical
/// sops spelling of a `time` value: fraction with trailing zeros cut, `Z` for a zero offset.
/// `None` if the text is not strict RFC 3339.
pub fn rfc3339_canonical(text: &str) -> Option<String> {
    parse_rfc3339(text).map(|s| render(&s))
}

/// RFC 3339 text → Go's `time.RFC3339` rendering of it: as [`rfc3339_canonical`] without the
/// fraction. The MAC's additional data is derived from `lastmodified` this way.
pub fn rfc3339_seconds(text: &str) -> Option<String> {
    parse_rfc3339(text).map(|s| render(&Stamp { nanos: 0, ..s }))
}

fn parse_rfc3339(text: &str) -> Option<Stamp> {
    let mut cur = Cursor {
        b: text.as_bytes(),
        pos: 0,
    };
    let year = cur.digits(4, 4)?;
    cur.expect(b'-')?;
    let month = cur.digits(2, 2)?;
    cur.expect(b'-')?;
    let day = cur.digits(2, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if !matches!(cur.next()?, b'T' | b't') {
        return None;
    }
    let hour = cur.digits(2, 2)?;
    cur.expect(b':')?;
    let minute = cur.digits(2, 2)?;
    cur.expect(b':')?;
    let second = cur.digits(2, 2)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let nanos = if cur.peek() == Some(b'.') {
        cur.fraction()?
    } else {
        0
    };
    let offset = if cur.peek() == Some(b'z') {
        cur.pos += 1;
        0
    } else {
        cur.zone()?
    };
    cur.done().then_some(Stamp {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanos,
        offset,
    })
}

fn parse(text: &str) -> Option<Stamp> {
    let b = text.as_bytes();
    // go-yaml only tries timestamps that start with exactly four digits and a dash.
    let year_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if year_len != 4 || b.get(4) != Some(&b'-') {
        return None;
    }
    let mut cur = Cursor { b, pos: 0 };
    let year = cur.digits(4, 4)?;
    cur.expect(b'-')?;
    let month = cur.digits(1, 2)?;
    cur.expect(b'-')?;
    let day = cur.digits(1, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut stamp = Stamp {
        year,
        month,
        day,
        hour: 0,
        minute: 0,
        second: 0,
        nanos: 0,
        offset: 0,
    };
    if cur.done() {
        return Some(stamp);
    }
    let sep = cur.next()?;
    let zoned = match sep {
        b'T' | b't' => true,
        b' ' => false,
        _ => return None,
    };
    stamp.hour = cur.digits(1, 2)?;
    cur.expect(b':')?;
    stamp.minute = cur.digits(1, 2)?;
    cur.expect(b':')?;
    stamp.second = cur.digits(1, 2)?;
    if stamp.hour > 23 || stamp.minute > 59 || stamp.second > 59 {
        return None;
    }
    if cur.peek() == Some(b'.') || cur.peek() == Some(b',') {
        stamp.nanos = cur.fraction()?;
    }
    if zoned {
        stamp.offset = cur.zone()?;
    }
    cur.done().then_some(stamp)
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn done(&self) -> bool {
        self.pos >= self.b.len()
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }
    fn expect(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }
    /// Between `min` and `max` decimal digits (greedy), as Go's `getnum` reads them.
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let mut n = 0u32;
        let mut count = 0;
        while count < max {
            match self.peek() {
                Some(c) if c.is_ascii_digit() => {
                    n = n * 10 + u32::from(c - b'0');
                    count += 1;
                    self.pos += 1;
                }
                _ => break,
            }
        }
        (count >= min).then_some(n)
    }
    /// `.ddd…`: up to nine digits count, further digits are read and ignored (as Go does).
    fn fraction(&mut self) -> Option<u32> {
        self.pos += 1;
        let mut nanos = 0u32;
        let mut count = 0;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            if count < 9 {
                nanos = nanos * 10 + u32::from(c - b'0');
            }
            count += 1;
            self.pos += 1;
        }
        if count == 0 {
            return None;
        }
        for _ in count..9 {
            nanos *= 10;
        }
        Some(nanos)
    }
    /// `Z` or `±hh:mm`.
    fn zone(&mut self) -> Option<i32> {
        let sign = match self.next()? {
            b'Z' => return Some(0),
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let h = self.digits(2, 2)?;
        self.expect(b':')?;
        let m = self.digits(2, 2)?;
        // Go allows offsets up to 24 hours and 60 minutes.
        if h > 24 || m > 60 {
            return None;
        }
        let secs = i32::try_from(h * 3600 + m * 60).ok()?;
        Some(sign * secs)
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

fn render(s: &Stamp) -> String {
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        s.year, s.month, s.day, s.hour, s.minute, s.second
    );
    if s.nanos > 0 {
        let frac = format!("{:09}", s.nanos);
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    if s.offset == 0 {
        out.push('Z');
    } else {
        let sign = if s.offset < 0 { '-' } else { '+' };
        let abs = s.offset.unsigned_abs();
        out.push_str(&format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_renders_as_go_does() {
        type Render = fn(&str) -> Option<String>;
        let cases: [(Render, &str, &str); 5] = [
            (
                rfc3339_canonical,
                "2001-12-14T21:59:43.10-05:00",
                "2001-12-14T21:59:43.1-05:00",
            ),
            (
                rfc3339_canonical,
                "2024-01-02T00:00:00.000Z",
                "2024-01-02T00:00:00Z",
            ),
            (
                rfc3339_canonical,
                "2024-01-02t00:00:00+00:00",
                "2024-01-02T00:00:00Z",
            ),
            (
                rfc3339_seconds,
                "2026-11-23T14:48:02.999Z",
                "2026-11-23T14:48:02Z",
            ),
            (
                rfc3339_seconds,
                "2026-11-23T15:48:02+01:00",
                "2026-11-23T15:48:02+01:00",
            ),
        ];
        for (render, input, want) in cases {
            assert_eq!(render(input).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn rfc3339_is_strict() {
        for bad in [
            "",
            "2026-11-23 14:48:02Z",
            "2026-11-23T14:48:02",
            "2026-1-23T14:48:02Z",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T14:60:00Z",
            "2026-11-23T14:48:60Z",
            "2026-11-23T14:48:02.Z",
            "2026-11-23T14:48:02+0100",
            "2026-11-23T14:48:02Zjunk",
            "2024-01-02",
        ] {
            assert_eq!(rfc3339_canonical(bad), None, "{bad}");
        }
    }

    #[test]
    fn canonical_spellings() {
        for (input, want) in [
            ("2024-01-02", "2024-01-02T00:00:00Z"),
            (
                "2001-12-14t21:59:43.10-05:00",
                "2001-12-14T21:59:43.1-05:00",
            ),
            ("2001-12-14 21:59:43.10", "2001-12-14T21:59:43.1Z"),
            ("2024-1-2T3:4:5Z", "2024-01-02T03:04:05Z"),
            ("2026-11-23T14:48:02+00:00", "2026-11-23T14:48:02Z"),
            (
                "2026-11-23T14:48:02.123456789123Z",
                "2026-11-23T14:48:02.123456789Z",
            ),
        ] {
            assert_eq!(canonical(input).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn not_timestamps() {
        for t in [
            "2024-13-01",
            "2023-02-29",
            "24-01-02",
            "2024-01-02T10:00",
            "2024-01-02T10:00:00+0500",
            "2024-01-02x",
            "2024-01-02 10:00:00Z",
            "3.11.0",
            "",
            "12345-01-01",
        ] {
            assert!(canonical(t).is_none(), "{t}");
        }
        assert!(is_timestamp("2024-02-29"));
    }
}
