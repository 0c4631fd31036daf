//! Exact durations in whole nanoseconds, as traces write them.
//!
//! `250ms`, `1.5s`, `1m30s`: an integer or decimal followed by a unit, units
//! chained from the largest to the smallest. Decimals are parsed as integers,
//! never through floating point, so `0.1s` is exactly 100 000 000 ns.

/// The units a duration may use, with their length in nanoseconds, largest first.
pub const UNITS: [(&str, u64); 6] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// Why a duration did not parse, and where in its text (byte offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    /// Byte offset of the fault within the duration's text.
    pub offset: usize,
    /// What was wrong and what was expected.
    pub message: String,
}

fn err(offset: usize, message: impl Into<String>) -> DurationError {
    DurationError {
        offset,
        message: message.into(),
    }
}

/// Parses a duration such as `250ms`, `1.5s` or `1m30s` to whole nanoseconds.
///
/// Fails, naming what was expected, on a missing number or unit, an unknown
/// unit, units out of order, a value that is not a whole number of
/// nanoseconds, or a value too large for 64 bits of nanoseconds.
pub fn parse_duration(text: &str) -> Result<u64, DurationError> {
    if let Some(ns) = parse_integers(text.as_bytes()) {
        return Ok(ns);
    }
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return Err(err(0, "expected a duration such as `250ms` or `1.5s`"));
    }
    let mut pos = 0;
    let mut total: u64 = 0;
    let mut last_unit: Option<usize> = None;
    while pos < bytes.len() {
        let start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        let int_part = &text[start..pos];
        let mut frac_part = "";
        if pos < bytes.len() && bytes[pos] == b'.' {
            pos += 1;
            let fstart = pos;
            while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                pos += 1;
            }
            frac_part = &text[fstart..pos];
            if frac_part.is_empty() {
                return Err(err(pos, format!("expected digits after `.` in `{text}`")));
            }
        }
        if int_part.is_empty() {
            return Err(err(
                start,
                format!("expected a number in duration `{text}` (such as `250ms` or `1.5s`)"),
            ));
        }
        let ustart = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() {
            pos += 1;
        }
        let unit = &text[ustart..pos];
        if unit.is_empty() {
            if pos < bytes.len() {
                return Err(err(
                    pos,
                    format!(
                        "unexpected character in duration `{text}`; expected a unit (ns, us, ms, s, m, h)"
                    ),
                ));
            }
            return Err(err(
                ustart,
                format!(
                    "duration `{text}` has no unit; expected one of ns, us, ms, s, m, h (as in `{text}s`)"
                ),
            ));
        }
        let Some(index) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(err(
                ustart,
                format!(
                    "unknown unit `{unit}` in duration `{text}`; expected one of ns, us, ms, s, m, h"
                ),
            ));
        };
        if let Some(last) = last_unit {
            if index <= last {
                return Err(err(
                    ustart,
                    format!(
                        "unit `{unit}` out of order in duration `{text}`; chain units from the largest to the smallest, each once (as in `1m30s`)"
                    ),
                ));
            }
        }
        last_unit = Some(index);
        let scale = UNITS[index].1;
        let too_large = || err(start, format!("duration `{text}` is too large"));
        let int: u64 = int_part.parse().map_err(|_| too_large())?;
        let mut value = int.checked_mul(scale).ok_or_else(too_large)?;
        if !frac_part.is_empty() {
            // fraction * scale / 10^digits must be a whole number of nanoseconds.
            let digits = frac_part.trim_end_matches('0');
            if digits.len() > 18 {
                return Err(err(
                    start,
                    format!(
                        "`{}` is not a whole number of nanoseconds",
                        &text[start..pos]
                    ),
                ));
            }
            if !digits.is_empty() {
                let frac: u128 = digits.parse().map_err(|_| too_large())?;
                let denom = 10u128.pow(digits.len() as u32);
                let num = frac * u128::from(scale);
                if num % denom != 0 {
                    return Err(err(
                        start,
                        format!(
                            "`{}` is not a whole number of nanoseconds",
                            &text[start..pos]
                        ),
                    ));
                }
                let add = u64::try_from(num / denom).map_err(|_| too_large())?;
                value = value.checked_add(add).ok_or_else(too_large)?;
            }
        }
        total = total.checked_add(value).ok_or_else(too_large)?;
    }
    Ok(total)
}

/// Powers of ten up to 10^9.
const POW10: [u64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// For each of [`UNITS`], its length as a power of ten of nanoseconds, if it is one.
const DECIMALS: [Option<u32>; 6] = [None, None, Some(9), Some(6), Some(3), Some(0)];

/// The common case, fast: segments with units in order (`250ms`, `1m30s`,
/// `1.5s`), fractions of at most 9 digits. `None` for anything else, which the full parser then handles
/// (and reports); whatever this accepts, the full parser accepts with the same value.
pub(crate) fn parse_integers(bytes: &[u8]) -> Option<u64> {
    match parse_prefix(bytes)? {
        (ns, len) if len == bytes.len() => Some(ns),
        _ => None,
    }
}

/// The duration [`parse_integers`] accepts at the start of `bytes`, and its
/// length: it stops before the first byte that cannot continue it, so a
/// caller reading words from a line scans each byte once.
pub(crate) fn parse_prefix(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut i = 0;
    let mut total: u64 = 0;
    let mut last: Option<usize> = None;
    loop {
        let start = i;
        let (value, end) = digits(bytes, i);
        i = end;
        // 18 digits cannot overflow 64 bits; longer numbers are left to the full parser.
        if i == start || i - start > 18 {
            return None;
        }
        // An optional fraction, up to 9 digits: (digits, count).
        let mut fraction: Option<(u64, u32)> = None;
        if bytes.get(i) == Some(&b'.') {
            let (digits, end) = digits(bytes, i + 1);
            let count = end - (i + 1);
            i = end;
            if count == 0 || count > 9 {
                return None;
            }
            fraction = Some((digits, count as u32));
        }
        let (index, len) = match (bytes.get(i), bytes.get(i + 1)) {
            (Some(b'h'), _) => (0, 1),
            (Some(b'm'), Some(b's')) => (3, 2),
            (Some(b'm'), _) => (1, 1),
            (Some(b's'), _) => (2, 1),
            (Some(b'u'), Some(b's')) => (4, 2),
            (Some(b'n'), Some(b's')) => (5, 2),
            _ => return None,
        };
        i += len;
        if last.is_some_and(|l| index <= l) {
            return None;
        }
        last = Some(index);
        let scale = UNITS[index].1;
        total = total.checked_add(value.checked_mul(scale)?)?;
        if let Some((digits, count)) = fraction {
            total = total.checked_add(fraction_ns(digits, count, index)?)?;
        }
        match bytes.get(i) {
            Some(b) if b.is_ascii_digit() => {}
            // A letter or a dot would continue the word as something else
            // (`5msx`, `5s.`); the full parser says what.
            Some(b) if b.is_ascii_alphabetic() || *b == b'.' => return None,
            _ => return Some((total, i)),
        }
    }
}

/// The decimal digits from `i` as a number (wrapping past 19 digits) and where they end.
fn digits(bytes: &[u8], mut i: usize) -> (u64, usize) {
    let mut value = 0u64;
    while i < bytes.len() {
        let d = bytes[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        value = value.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    (value, i)
}

/// `0.digits` (`count` digits) of unit `UNITS[index]`, in whole nanoseconds.
fn fraction_ns(digits: u64, count: u32, index: usize) -> Option<u64> {
    // Units that are powers of ten need no division when the fraction has
    // no more digits than the unit has decimals (`0.009443s`, `48.695ms`):
    // this runs twice per trace line.
    if let Some(decimals) = DECIMALS[index] {
        if count <= decimals {
            // digits < 10^9 and the factor <= 10^9: no overflow.
            return Some(digits * POW10[(decimals - count) as usize]);
        }
    }
    // u64 when the product fits (every unit up to `s`): 128-bit division
    // is a library call.
    let scale = UNITS[index].1;
    let denominator = 10u64.pow(count);
    match digits.checked_mul(scale) {
        Some(scaled) if scaled % denominator == 0 => Some(scaled / denominator),
        Some(_) => None,
        None => {
            let scaled = u128::from(digits) * u128::from(scale);
            if scaled % u128::from(denominator) != 0 {
                return None;
            }
            u64::try_from(scaled / u128::from(denominator)).ok()
        }
    }
}

/// Writes nanoseconds in the trace syntax, exactly (`1m30s`, `250ms`, `0s`).
pub fn format_duration(mut ns: u64) -> String {
    if ns == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, scale) in UNITS {
        if ns >= scale {
            out.push_str(&format!("{}{unit}", ns / scale));
            ns %= scale;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_duration("7ns"), Ok(7));
        assert_eq!(parse_duration("7us"), Ok(7_000));
        assert_eq!(parse_duration("7ms"), Ok(7_000_000));
        assert_eq!(parse_duration("7s"), Ok(7_000_000_000));
        assert_eq!(parse_duration("2m"), Ok(120_000_000_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000_000_000));
    }

    #[test]
    fn parses_decimals_exactly() {
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("0.1s"), Ok(100_000_000));
        assert_eq!(parse_duration("0.000000001s"), Ok(1));
        assert_eq!(parse_duration("1.2500ms"), Ok(1_250_000));
        assert_eq!(parse_duration("2.0ns"), Ok(2));
    }

    #[test]
    fn parses_chained_units() {
        assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("1h2m3s4ms5us6ns"), Ok(3_723_004_005_006));
    }

    #[test]
    fn rejects_fractions_of_a_nanosecond() {
        let e = parse_duration("1.5ns").unwrap_err();
        assert!(
            e.message.contains("whole number of nanoseconds"),
            "{}",
            e.message
        );
        assert!(parse_duration("0.0000000001s").is_err());
    }

    #[test]
    fn rejects_bad_units() {
        let e = parse_duration("5sec").unwrap_err();
        assert_eq!(e.offset, 1);
        assert!(e.message.contains("unknown unit `sec`"), "{}", e.message);
        let e = parse_duration("5").unwrap_err();
        assert!(e.message.contains("has no unit"), "{}", e.message);
    }

    #[test]
    fn rejects_units_out_of_order() {
        let e = parse_duration("30s1m").unwrap_err();
        assert!(e.message.contains("out of order"), "{}", e.message);
        assert!(parse_duration("1s1s").is_err());
    }

    #[test]
    fn rejects_malformed_numbers() {
        assert!(parse_duration("").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("1.s").is_err());
        assert!(parse_duration(".5s").is_err());
        assert!(parse_duration("1,5s").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1 s").is_err());
    }

    #[test]
    fn rejects_overflow() {
        assert!(parse_duration("99999999999999999999h").is_err());
        assert!(parse_duration("6000000h").is_err());
        assert!(parse_duration("18446744073709551615ns").is_ok());
        assert!(parse_duration("18446744073709551616ns").is_err());
    }

    #[test]
    fn fast_path_agrees_with_the_full_parser() {
        for text in [
            "5m",
            "5ms",
            "5msx",
            "1m30s",
            "30s1m",
            "1h1h",
            "0ns",
            "18446744073709551615ns",
            "18446744073709551616ns",
            "7",
            "m",
            "1.5s",
            "2us3ns",
        ] {
            if let Some(fast) = parse_integers(text.as_bytes()) {
                assert_eq!(Ok(fast), parse_duration(text), "{text}");
            }
        }
        assert_eq!(parse_integers(b"1m30s"), Some(90_000_000_000));
        assert_eq!(parse_integers(b"1.5s"), Some(1_500_000_000));
        assert_eq!(parse_integers(b"1.5ns"), None);
    }

    #[test]
    fn formats_round_trip() {
        for ns in [0, 1, 999, 1_500_000_000, 90_000_000_000, 3_723_004_005_006] {
            assert_eq!(parse_duration(&format_duration(ns)), Ok(ns));
        }
        assert_eq!(format_duration(90_000_000_000), "1m30s");
    }
}
