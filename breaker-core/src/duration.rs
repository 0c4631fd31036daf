//! The duration syntax shared by the attribute, traces and config files:
//! an integer or decimal followed by a unit (`ns`, `us`, `ms`, `s`, `m`, `h`),
//! units chained largest first or in any order (`1m30s`, `1.5s`, `250ms`).

use std::fmt;
use std::time::Duration;

/// Why a duration could not be read, and where (a byte offset into the text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurationError {
    /// Byte offset of the mistake in the text that was parsed.
    pub offset: usize,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DurationError {}

const UNITS: [(&str, u64); 6] = [
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses `30s`, `250ms`, `1.5s`, `2m`, `1m30s` exactly, to the nanosecond.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(breaker_core::parse_duration("1m30s"), Ok(Duration::from_secs(90)));
/// assert_eq!(breaker_core::parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
/// assert!(breaker_core::parse_duration("30").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    parse_nanos(text).map(Duration::from_nanos)
}

/// [`parse_duration`] in whole nanoseconds.
pub(crate) fn parse_nanos(text: &str) -> Result<u64, DurationError> {
    let err = |offset: usize, message: String| DurationError { offset, message };
    if text.is_empty() {
        return Err(err(
            0,
            "expected a duration such as `30s`, `250ms` or `1m30s`".into(),
        ));
    }
    let bytes = text.as_bytes();
    let mut total: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        let number = &text[start..i];
        if number.is_empty() {
            return Err(err(
                start,
                format!(
                    "expected a number in duration `{text}` (units follow numbers: `30s`, `1m30s`)"
                ),
            ));
        }
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &text[unit_start..i];
        if unit.is_empty() {
            return Err(err(
                unit_start,
                format!(
                    "missing unit after `{number}` in duration `{text}`: expected one of ns, us, ms, s, m, h"
                ),
            ));
        }
        let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(err(
                unit_start,
                format!(
                    "unknown unit `{unit}` in duration `{text}`: expected one of ns, us, ms, s, m, h"
                ),
            ));
        };
        let Some(scaled) = parse_decimal(number, scale) else {
            return Err(err(
                start,
                format!("`{number}{unit}` is not a whole number of nanoseconds or is too large"),
            ));
        };
        total = total
            .checked_add(scaled)
            .ok_or_else(|| err(start, format!("duration `{text}` is too large")))?;
    }
    Ok(total)
}

/// Parses a non-negative decimal `number` and multiplies it by `scale`,
/// exactly: `None` when the digits are malformed, the product overflows, or it
/// is not a whole number.
pub(crate) fn parse_decimal(number: &str, scale: u64) -> Option<u64> {
    let (int, frac) = match number.split_once('.') {
        Some((int, frac)) => (int, frac),
        None => (number, ""),
    };
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || number.ends_with('.')
    {
        return None;
    }
    let int_value: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut value = int_value.checked_mul(scale as u128)?;
    let mut denominator: u128 = 1;
    let mut frac_value: u128 = 0;
    for digit in frac.bytes() {
        denominator = denominator.checked_mul(10)?;
        frac_value = frac_value * 10 + u128::from(digit - b'0');
    }
    let frac_scaled = frac_value.checked_mul(scale as u128)?;
    if frac_scaled % denominator != 0 {
        return None;
    }
    value = value.checked_add(frac_scaled / denominator)?;
    u64::try_from(value).ok()
}

/// Writes a duration in the same syntax, chaining units largest first:
/// `1m30s`, `250ms`, `1s500ms`, `0s`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(breaker_core::format_duration(Duration::from_secs(90)), "1m30s");
/// assert_eq!(breaker_core::format_duration(Duration::from_millis(1500)), "1s500ms");
/// ```
pub fn format_duration(d: Duration) -> String {
    let mut nanos = crate::clock::saturating_nanos(d);
    if nanos == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for &(unit, scale) in UNITS.iter().rev() {
        let count = nanos / scale;
        if count > 0 {
            out.push_str(&count.to_string());
            out.push_str(unit);
            nanos -= count * scale;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_chains() {
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
            ("0s", 0),
        ] {
            assert_eq!(parse_nanos(text), Ok(nanos), "{text}");
        }
    }

    #[test]
    fn rejects_malformed_durations_with_offsets() {
        assert_eq!(parse_nanos("30").unwrap_err().offset, 2);
        assert_eq!(parse_nanos("30sec").unwrap_err().offset, 2);
        assert_eq!(parse_nanos("s").unwrap_err().offset, 0);
        assert!(parse_nanos("1.5ns").is_err());
        assert!(parse_nanos("1..5s").is_err());
        assert!(parse_nanos("5.s").is_err());
        assert!(parse_nanos("").is_err());
        assert!(parse_nanos("99999999999999999999h").is_err());
        assert!(parse_nanos("-1s").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for nanos in [1, 999, 1_500_000_000, 90_000_000_000, 3_723_000_000_123] {
            let text = format_duration(Duration::from_nanos(nanos));
            assert_eq!(parse_nanos(&text), Ok(nanos), "{text}");
        }
    }
}
