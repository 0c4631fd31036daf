//! Exact durations in whole nanoseconds, as traces write them.
//!
//! `250ms`, `1.5s`, `1m30s`: an integer or decimal followed by a unit, units
//! chained from the largest to the smallest. Decimals are parsed as integers,
//! never through floating point, so `0.1s` is exactly 100 000 000 ns.
//!
//! The grammar is breaker-vocab's, in its canonical form
//! ([`Grammar::TRACE`]); this module words its mistakes for a trace's author.

pub use breaker_vocab::duration::UNITS;

use breaker_vocab::duration::{self, Fault, Grammar};

/// Why a duration did not parse, and where in its text (byte offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    /// Byte offset of the fault within the duration's text.
    pub offset: usize,
    /// What was wrong and what was expected.
    pub message: String,
}

/// Parses a duration such as `250ms`, `1.5s` or `1m30s` to whole nanoseconds.
///
/// Fails, naming what was expected, on a missing number or unit, an unknown
/// unit, units out of order, a value that is not a whole number of
/// nanoseconds, or a value too large for 64 bits of nanoseconds.
pub fn parse_duration(text: &str) -> Result<u64, DurationError> {
    duration::parse(text, Grammar::TRACE).map_err(|e| {
        let (number, unit) = (&e.number, &e.unit);
        let message = match e.fault {
            Fault::Empty => "expected a duration such as `250ms` or `1.5s`".into(),
            Fault::DigitsAfterDot => format!("expected digits after `.` in `{text}`"),
            Fault::MissingNumber => {
                format!("expected a number in duration `{text}` (such as `250ms` or `1.5s`)")
            }
            Fault::MissingUnit if e.offset < text.len() => format!(
                "unexpected character in duration `{text}`; expected a unit (ns, us, ms, s, m, h)"
            ),
            Fault::MissingUnit => format!(
                "duration `{text}` has no unit; expected one of ns, us, ms, s, m, h (as in `{text}s`)"
            ),
            Fault::UnknownUnit => format!(
                "unknown unit `{unit}` in duration `{text}`; expected one of ns, us, ms, s, m, h"
            ),
            Fault::OutOfOrder => format!(
                "unit `{unit}` out of order in duration `{text}`; chain units from the largest to the smallest, each once (as in `1m30s`)"
            ),
            Fault::NotWhole => format!("`{number}{unit}` is not a whole number of nanoseconds"),
            Fault::SegmentTooLarge | Fault::TooLarge => format!("duration `{text}` is too large"),
        };
        DurationError {
            offset: e.offset,
            message,
        }
    })
}

/// The canonical duration at the start of `bytes`, fast, and its length: it
/// stops before the first byte that cannot continue it, so a caller reading
/// words from a line scans each byte once.
pub(crate) use breaker_vocab::duration::parse_prefix;

/// Writes nanoseconds in the trace syntax, exactly (`1m30s`, `250ms`, `0s`).
pub fn format_duration(ns: u64) -> String {
    duration::format(ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use breaker_vocab::duration::parse_canonical as parse_integers;

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
