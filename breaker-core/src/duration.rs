//! Durations as operators and `Config`'s text form write them: an integer or
//! decimal followed by a unit (`ns`, `us`, `ms`, `s`, `m`, `h`), units
//! chained largest first or in any order (`1m30s`, `1.5s`, `250ms`). The
//! grammar is breaker-vocab's ([`Grammar::TEXT`]); this module words its
//! mistakes and speaks [`Duration`].

use std::fmt;
use std::time::Duration;

use breaker_vocab::duration::{self, Fault, Grammar};

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

/// [`parse_duration`] in whole nanoseconds: breaker-vocab's grammar for text
/// typed by people, its mistakes worded for operators.
pub(crate) fn parse_nanos(text: &str) -> Result<u64, DurationError> {
    duration::parse(text, Grammar::TEXT).map_err(|e| {
        let message = match e.fault {
            Fault::Empty => "expected a duration such as `30s`, `250ms` or `1m30s`".into(),
            Fault::MissingNumber => format!(
                "expected a number in duration `{text}` (units follow numbers: `30s`, `1m30s`)"
            ),
            Fault::MissingUnit => format!(
                "missing unit after `{}` in duration `{text}`: expected one of ns, us, ms, s, m, h",
                e.number
            ),
            Fault::UnknownUnit => format!(
                "unknown unit `{}` in duration `{text}`: expected one of ns, us, ms, s, m, h",
                e.unit
            ),
            // Units in any order and numbers read loosely: the last two
            // faults belong to the trace grammar and never come back here.
            Fault::NotWhole
            | Fault::SegmentTooLarge
            | Fault::DigitsAfterDot
            | Fault::OutOfOrder => format!(
                "`{}{}` is not a whole number of nanoseconds or is too large",
                e.number, e.unit
            ),
            Fault::TooLarge => format!("duration `{text}` is too large"),
        };
        DurationError {
            offset: e.offset,
            message,
        }
    })
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
    duration::format(crate::clock::saturating_nanos(d))
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
