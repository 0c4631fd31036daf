//! The duration grammar: an integer or decimal followed by a unit (`ns`,
//! `us`, `ms`, `s`, `m`, `h`), segments chained (`1m30s`), read exactly to
//! the nanosecond, never through floating point; and the same syntax written
//! back, largest unit first.
//!
//! Three readers use it and differ in a few documented points, each a
//! [`Grammar`]: the attribute reads Rust literals (`1_000ms`), operators'
//! text is lenient (`.5s`, units in any order), traces are canonical (units
//! largest first, each once). A mistake comes back as a [`DurationError`], a
//! value: each reader words it for its own audience.

use std::borrow::Cow;

/// The units, largest first, with their length in nanoseconds.
pub const UNITS: [(&str, u64); 6] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// Which variant of the grammar a reader accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grammar {
    /// `_` between digits, as in Rust literals (`1_000ms`).
    pub separators: bool,
    /// A fraction without its integer part (`.5s`).
    pub bare_fraction: bool,
    /// The canonical form only: each number `digits[.digits]`, units from
    /// the largest to the smallest, each at most once.
    pub canonical: bool,
}

impl Grammar {
    /// The attribute's values, which reach the macro as Rust literals.
    pub const ATTRIBUTE: Grammar = Grammar {
        separators: true,
        bare_fraction: false,
        canonical: false,
    };
    /// Text typed by people: `Config`'s text form, operators' overrides.
    pub const TEXT: Grammar = Grammar {
        separators: false,
        bare_fraction: true,
        canonical: false,
    };
    /// Traces, which a machine writes and reads back: one spelling a value.
    pub const TRACE: Grammar = Grammar {
        separators: false,
        bare_fraction: false,
        canonical: true,
    };
}

/// What was wrong with a duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The text is empty.
    Empty,
    /// A segment has no number before its unit (`s`, `-1s`).
    MissingNumber,
    /// A `.` with no digits after it (canonical grammar only).
    DigitsAfterDot,
    /// A number has no unit after it (`30`), or a character that is neither
    /// follows it (`5,s`).
    MissingUnit,
    /// The letters after a number are not a unit (`5sec`).
    UnknownUnit,
    /// A unit is not smaller than the one before it (canonical grammar only).
    OutOfOrder,
    /// A number is malformed (`1..5s`, `5.`), or its value in the unit is not
    /// a whole number of nanoseconds (`1.5ns`).
    NotWhole,
    /// One segment alone is more than 64 bits of nanoseconds.
    SegmentTooLarge,
    /// The segments together are more than 64 bits of nanoseconds.
    TooLarge,
}

/// A duration that could not be read: what was wrong, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurationError {
    /// What was wrong.
    pub fault: Fault,
    /// Byte offset of the mistake in the text.
    pub offset: usize,
    /// The number of the segment at fault, as read (without `_`).
    pub number: String,
    /// The unit of the segment at fault, as written.
    pub unit: String,
}

/// Reads `text` (`1m30s`, `1.5s`, `250ms`) as whole nanoseconds.
///
/// ```
/// use breaker_vocab::duration::{parse, Grammar};
/// assert_eq!(parse("1m30s", Grammar::TEXT), Ok(90_000_000_000));
/// assert_eq!(parse("1_000ms", Grammar::ATTRIBUTE), Ok(1_000_000_000));
/// assert!(parse("30s1m", Grammar::TRACE).is_err());
/// ```
pub fn parse(text: &str, grammar: Grammar) -> Result<u64, DurationError> {
    if grammar.canonical {
        if let Some(nanos) = parse_canonical(text.as_bytes()) {
            return Ok(nanos);
        }
    }
    let fail = |fault, offset, number: &str, unit: &str| DurationError {
        fault,
        offset,
        number: number.to_owned(),
        unit: unit.to_owned(),
    };
    if text.is_empty() {
        return Err(fail(Fault::Empty, 0, "", ""));
    }
    let bytes = text.as_bytes();
    let mut total: u64 = 0;
    let mut last: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        if grammar.canonical {
            i = skip_digits(bytes, i);
            let int_end = i;
            if bytes.get(i) == Some(&b'.') {
                i = skip_digits(bytes, i + 1);
                if i == int_end + 1 {
                    return Err(fail(Fault::DigitsAfterDot, i, &text[start..i], ""));
                }
            }
            if int_end == start {
                return Err(fail(Fault::MissingNumber, start, "", ""));
            }
        } else {
            while i < bytes.len()
                && (bytes[i].is_ascii_digit()
                    || bytes[i] == b'.'
                    || (grammar.separators && bytes[i] == b'_'))
            {
                i += 1;
            }
        }
        let number: Cow<str> = match &text[start..i] {
            raw if grammar.separators && raw.contains('_') => raw.replace('_', "").into(),
            raw => raw.into(),
        };
        if number.is_empty() {
            return Err(fail(Fault::MissingNumber, start, "", ""));
        }
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &text[unit_start..i];
        if unit.is_empty() {
            return Err(fail(Fault::MissingUnit, unit_start, &number, ""));
        }
        let Some(index) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(fail(Fault::UnknownUnit, unit_start, &number, unit));
        };
        if grammar.canonical && last.is_some_and(|l| index <= l) {
            return Err(fail(Fault::OutOfOrder, unit_start, &number, unit));
        }
        last = Some(index);
        let scaled = scale(&number, UNITS[index].1, grammar.bare_fraction)
            .map_err(|fault| fail(fault, start, &number, unit))?;
        total = total
            .checked_add(scaled)
            .ok_or_else(|| fail(Fault::TooLarge, start, &number, unit))?;
    }
    Ok(total)
}

/// `number * scale` for a non-negative decimal `number` (`12`, `1.5`),
/// exactly: `None` when the digits are malformed, the product is not a whole
/// number, or it is more than 64 bits.
///
/// ```
/// assert_eq!(breaker_vocab::duration::decimal("33.33", 100), Some(3333));
/// assert_eq!(breaker_vocab::duration::decimal("33.333", 100), None);
/// ```
pub fn decimal(number: &str, scale: u64) -> Option<u64> {
    self::scale(number, scale, false).ok()
}

/// [`decimal`], also reading a fraction without its integer part (`.5`).
pub fn decimal_lenient(number: &str, scale: u64) -> Option<u64> {
    self::scale(number, scale, true).ok()
}

/// `number * scale`, or [`Fault::NotWhole`] for malformed digits or a
/// fraction of the unit, [`Fault::SegmentTooLarge`] past 64 bits.
fn scale(number: &str, scale: u64, bare_fraction: bool) -> Result<u64, Fault> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && (frac.is_empty() || !bare_fraction))
        || number.ends_with('.')
        || !digits(int)
        || !digits(frac)
    {
        return Err(Fault::NotWhole);
    }
    let whole = match int {
        "" => 0,
        int => int.parse::<u128>().map_err(|_| Fault::SegmentTooLarge)?,
    }
    .checked_mul(u128::from(scale))
    .filter(|v| *v <= u128::from(u64::MAX))
    .ok_or(Fault::SegmentTooLarge)?;
    // Trailing zeros change nothing; past 19 significant digits no unit
    // (at most 2^13 * 5^11 * 9 ns) makes a whole number of nanoseconds.
    let frac = frac.trim_end_matches('0');
    if frac.len() > 19 {
        return Err(Fault::NotWhole);
    }
    let mut part: u128 = 0;
    if !frac.is_empty() {
        let denominator = 10u128.pow(frac.len() as u32);
        let numerator = frac.parse::<u128>().map_err(|_| Fault::NotWhole)? * u128::from(scale);
        if numerator % denominator != 0 {
            return Err(Fault::NotWhole);
        }
        part = numerator / denominator;
    }
    u64::try_from(whole + part).map_err(|_| Fault::SegmentTooLarge)
}

fn skip_digits(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    i
}

/// Writes whole nanoseconds in the same syntax, largest unit first: `1m30s`,
/// `250ms`, `1s500ms`, `0s`. Every grammar reads it back to the same value.
///
/// ```
/// assert_eq!(breaker_vocab::duration::format(90_000_000_000), "1m30s");
/// ```
pub fn format(mut nanos: u64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, scale) in UNITS {
        if nanos >= scale {
            out.push_str(&(nanos / scale).to_string());
            out.push_str(unit);
            nanos %= scale;
        }
    }
    out
}

/// The whole of `bytes` as a canonical duration, by the fast path of
/// [`parse_prefix`]; `None` for anything it leaves to [`parse`].
#[inline]
pub fn parse_canonical(bytes: &[u8]) -> Option<u64> {
    match parse_prefix(bytes)? {
        (ns, len) if len == bytes.len() => Some(ns),
        _ => None,
    }
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

/// The common case of the canonical grammar, fast: segments with units in
/// order (`250ms`, `1m30s`, `1.5s`), fractions of at most 9 digits, at the
/// start of `bytes`, and its length. It stops before the first byte that
/// cannot continue it, so a caller reading words from a line scans each
/// byte once. `None` for anything else, which [`parse`] then handles (and
/// reports); whatever this accepts, [`parse`] with [`Grammar::TRACE`]
/// accepts with the same value.
#[inline]
pub fn parse_prefix(bytes: &[u8]) -> Option<(u64, usize)> {
    match one_segment(bytes) {
        Some(found) => Some(found),
        None => segments(bytes),
    }
}

/// [`parse_prefix`] for the one shape a trace writes on nearly every line,
/// twice (`0.019673s`, `23.186ms`): one segment of at most 9 integer
/// digits in a unit of a power of ten of nanoseconds, its fraction no finer
/// than a nanosecond. Such a value cannot overflow, and needs neither the
/// chain's bookkeeping nor a division; the general loop cost 190
/// instructions a duration, half of the reading thread. `None` when the
/// text is anything else, for [`segments`] to decide.
#[inline(always)]
fn one_segment(bytes: &[u8]) -> Option<(u64, usize)> {
    let (int, mut i) = digits(bytes, 0);
    if i == 0 || i > 9 {
        return None;
    }
    let mut fraction = (0, 0);
    if bytes.get(i) == Some(&b'.') {
        let (value, end) = digits(bytes, i + 1);
        if end == i + 1 {
            return None;
        }
        fraction = (value, end - (i + 1));
        i = end;
    }
    let (decimals, len) = match (bytes.get(i), bytes.get(i + 1)) {
        (Some(b's'), _) => (9, 1),
        (Some(b'm'), Some(b's')) => (6, 2),
        (Some(b'u'), Some(b's')) => (3, 2),
        (Some(b'n'), Some(b's')) => (0, 2),
        _ => return None,
    };
    let (digits, count) = fraction;
    if count > decimals {
        return None;
    }
    i += len;
    if bytes
        .get(i)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'.')
    {
        return None;
    }
    // int < 10^9 and both factors <= 10^9: no overflow.
    Some((int * POW10[decimals] + digits * POW10[decimals - count], i))
}

/// [`parse_prefix`]'s general case: any chain of segments.
#[inline(never)]
fn segments(bytes: &[u8]) -> Option<(u64, usize)> {
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
///
/// Eight bytes at a time where eight are left: a trace line's two numbers
/// (`0.019673s`, `23.186ms`) were half of all the reading thread did, one
/// byte, a compare and a multiply at a time. Always inlined: left to the
/// optimizer, the second duration of a line called it out of line.
#[inline(always)]
fn digits(bytes: &[u8], i: usize) -> (u64, usize) {
    let Some(word) = bytes.get(i..i + 8) else {
        return digits_bytewise(bytes, i, 0);
    };
    let word = u64::from_le_bytes([
        word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
    ]);
    let value = word.wrapping_sub(0x3030_3030_3030_3030);
    // A byte's top bit set here: below `0` (its borrow only reaches the
    // bytes after it, which are not read), or above `9`.
    let other = (value | word.wrapping_add(0x4646_4646_4646_4646)) & 0x8080_8080_8080_8080;
    let count = (other.trailing_zeros() / 8) as usize;
    if count == 8 {
        return digits_bytewise(bytes, i + 8, eight_digits(value));
    }
    if count == 0 {
        return (0, i);
    }
    // The digits to the top bytes, zeros (leading) below them.
    (eight_digits(value << (8 * (8 - count))), i + count)
}

/// Eight digit values, the first in the low byte, as one number.
#[inline]
fn eight_digits(value: u64) -> u64 {
    let value = (value.wrapping_mul(10) + (value >> 8)) & 0x00ff_00ff_00ff_00ff;
    let value = (value.wrapping_mul(100) + (value >> 16)) & 0x0000_ffff_0000_ffff;
    (value.wrapping_mul(10_000) + (value >> 32)) & 0xffff_ffff
}

/// [`digits`] one byte at a time, after `value` read before `i`.
#[inline]
fn digits_bytewise(bytes: &[u8], mut i: usize, mut value: u64) -> (u64, usize) {
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
#[inline]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(text: &str, grammar: Grammar) -> (Fault, usize) {
        let e = parse(text, grammar).unwrap_err();
        (e.fault, e.offset)
    }

    #[test]
    fn every_grammar_reads_every_unit_and_chain() {
        for grammar in [Grammar::ATTRIBUTE, Grammar::TEXT, Grammar::TRACE] {
            for (text, nanos) in [
                ("7ns", 7),
                ("3us", 3_000),
                ("250ms", 250_000_000),
                ("30s", 30_000_000_000),
                ("2m", 120_000_000_000),
                ("1h", 3_600_000_000_000),
                ("1m30s", 90_000_000_000),
                ("1.5s", 1_500_000_000),
                ("0.25ms", 250_000),
                ("1.2500ms", 1_250_000),
                ("0s", 0),
                ("1h2m3s4ms5us6ns", 3_723_004_005_006),
                ("18446744073709551615ns", u64::MAX),
            ] {
                assert_eq!(parse(text, grammar), Ok(nanos), "{text} {grammar:?}");
            }
        }
    }

    #[test]
    fn the_grammars_differ_where_documented() {
        assert_eq!(parse("1_000ms", Grammar::ATTRIBUTE), Ok(1_000_000_000));
        assert_eq!(fault("1_000ms", Grammar::TEXT), (Fault::MissingUnit, 1));
        assert_eq!(parse(".5s", Grammar::TEXT), Ok(500_000_000));
        assert_eq!(fault(".5s", Grammar::ATTRIBUTE), (Fault::NotWhole, 0));
        assert_eq!(fault(".5s", Grammar::TRACE), (Fault::MissingNumber, 0));
        assert_eq!(parse("30s1m", Grammar::TEXT), Ok(90_000_000_000));
        assert_eq!(fault("30s1m", Grammar::TRACE), (Fault::OutOfOrder, 4));
        assert_eq!(fault("1s1s", Grammar::TRACE), (Fault::OutOfOrder, 3));
    }

    #[test]
    fn mistakes_are_named_and_placed() {
        let text = Grammar::TEXT;
        assert_eq!(fault("", text), (Fault::Empty, 0));
        assert_eq!(fault("30", text), (Fault::MissingUnit, 2));
        assert_eq!(fault("30sec", text), (Fault::UnknownUnit, 2));
        assert_eq!(fault("s", text), (Fault::MissingNumber, 0));
        assert_eq!(fault("-1s", text), (Fault::MissingNumber, 0));
        assert_eq!(fault("1.5ns", text), (Fault::NotWhole, 0));
        assert_eq!(fault("1..5s", text), (Fault::NotWhole, 0));
        assert_eq!(fault("5.s", text), (Fault::NotWhole, 0));
        assert_eq!(
            fault("99999999999999999999h", text).0,
            Fault::SegmentTooLarge
        );
        assert_eq!(fault("18446744073709551615ns1ns", text).0, Fault::TooLarge);
        let trace = Grammar::TRACE;
        assert_eq!(fault("1..5s", trace), (Fault::DigitsAfterDot, 2));
        assert_eq!(fault("1.5.5s", trace), (Fault::MissingUnit, 3));
        assert_eq!(fault("0.0000000001s", trace).0, Fault::NotWhole);
        assert_eq!(
            fault("18446744073709551616ns", trace).0,
            Fault::SegmentTooLarge
        );
    }

    #[test]
    fn digits_read_eight_at_a_time_as_one_at_a_time() {
        // Every length up to 20 digits, every position of the end in the
        // word, every kind of byte after them, every digit in every place.
        let ends: [&[u8]; 6] = [b"", b"s", b".", b" ", b"/", b"\xff"];
        let mut texts: Vec<Vec<u8>> = Vec::new();
        for len in 0..=20 {
            for first in 0..10u8 {
                for end in ends {
                    let mut text: Vec<u8> = (0..len).map(|k| b'0' + (first + 7 * k) % 10).collect();
                    text.extend_from_slice(end);
                    text.extend_from_slice(b"12345678");
                    texts.push(text);
                }
            }
        }
        for text in texts {
            for at in 0..text.len() {
                for cut in at..=text.len() {
                    let bytes = &text[..cut];
                    assert_eq!(
                        digits(bytes, at),
                        digits_bytewise(bytes, at, 0),
                        "{:?} from {at}",
                        String::from_utf8_lossy(bytes)
                    );
                }
            }
        }
    }

    #[test]
    fn the_fast_path_agrees_with_the_full_parser() {
        for text in [
            "5m",
            "5ms",
            "5msx",
            "1m30s",
            "30s1m",
            "1h1h",
            "0ns",
            "7",
            "m",
            "1.5s",
            "2us3ns",
            "18446744073709551615ns",
            "18446744073709551616ns",
        ] {
            if let Some(fast) = parse_canonical(text.as_bytes()) {
                let full = parse(
                    text,
                    Grammar {
                        canonical: false,
                        ..Grammar::TRACE
                    },
                );
                assert_eq!(Ok(fast), full, "{text}");
            }
        }
        assert_eq!(parse_canonical(b"1.5ns"), None);
        assert_eq!(parse_prefix(b"250ms rest"), Some((250_000_000, 5)));
    }

    #[test]
    fn one_segment_agrees_with_the_general_loop() {
        // Every integer and fraction length around the 8-byte loads and the
        // 9-digit limits, every unit and a few that are not, every kind of
        // byte after, with and without bytes beyond for the loads to read.
        let units = ["h", "m", "s", "ms", "us", "ns", "x", ""];
        let afters = ["", " ", "\n", "5ms", "3ns", "x", ".", "s", "/"];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut digit = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            b'0' + (seed >> 60) as u8 % 10
        };
        let mut taken = 0;
        for int in 0..=12 {
            for frac in [
                None,
                Some(0),
                Some(1),
                Some(2),
                Some(3),
                Some(6),
                Some(7),
                Some(8),
                Some(9),
                Some(10),
            ] {
                for unit in units {
                    for after in afters {
                        for padded in [false, true] {
                            let mut text: Vec<u8> = (0..int).map(|_| digit()).collect();
                            if let Some(n) = frac {
                                text.push(b'.');
                                text.extend((0..n).map(|_| digit()));
                            }
                            text.extend_from_slice(unit.as_bytes());
                            text.extend_from_slice(after.as_bytes());
                            if padded {
                                text.extend_from_slice(b" dep ok 12.5ms\n");
                            }
                            let general = segments(&text);
                            assert_eq!(
                                parse_prefix(&text),
                                general,
                                "{:?}",
                                String::from_utf8_lossy(&text)
                            );
                            if let Some(fast) = one_segment(&text) {
                                assert_eq!(
                                    Some(fast),
                                    general,
                                    "{:?}",
                                    String::from_utf8_lossy(&text)
                                );
                                taken += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(taken > 1_000, "the fast path was taken {taken} times");
    }

    #[test]
    fn formats_round_trip() {
        for nanos in [
            0,
            1,
            999,
            1_500_000_000,
            90_000_000_000,
            3_723_004_005_006,
            u64::MAX,
        ] {
            let text = format(nanos);
            for grammar in [Grammar::ATTRIBUTE, Grammar::TEXT, Grammar::TRACE] {
                assert_eq!(parse(&text, grammar), Ok(nanos), "{text}");
            }
        }
        assert_eq!(format(1_500_000_000), "1s500ms");
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal("1.5", 1_000_000), Some(1_500_000));
        assert_eq!(decimal("100", 100), Some(10_000));
        assert_eq!(decimal(".5", 100), None);
        assert_eq!(decimal_lenient(".5", 100), Some(50));
        assert_eq!(decimal("5.", 100), None);
        assert_eq!(decimal("1.0000001", 1_000_000), None);
        assert_eq!(decimal("x", 1), None);
    }
}
