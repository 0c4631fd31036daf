//! Durations as the attribute accepts them: `30s`, `250ms`, `1.5s`, `2m`,
//! `1m30s`, bare or quoted, read exactly to the nanosecond.
//!
//! Bare durations reach the macro as Rust literals with a suffix: `30s` is the
//! integer `30` with suffix `s`, `1.5s` the float `1.5` with suffix `s`, and
//! `1m30s` the integer `1` with suffix `m30s`. Gluing digits and suffix back
//! together gives the text a quoted duration would have, so one parser reads
//! both forms.
//!
//! The grammar is breaker-vocab's ([`Grammar::ATTRIBUTE`]: `_` may separate
//! digits, as in any Rust literal); this module words its mistakes for the
//! attribute's user.

pub use breaker_vocab::duration::{decimal, format};
/// The longest duration any key accepts (365 days).
pub use breaker_vocab::keys::MAX_DURATION_NANOS as MAX_NANOS;

use breaker_vocab::duration::{self, Fault, Grammar};

/// Reads `text` (`1m30s`, `1.5s`, `250ms`) as whole nanoseconds, or says what
/// is wrong with it, with a hint for the units Rust users reach for.
pub fn parse(text: &str) -> Result<u64, String> {
    duration::parse(text, Grammar::ATTRIBUTE).map_err(|e| {
        let (number, unit) = (&e.number, &e.unit);
        match e.fault {
            Fault::Empty => "expected a duration such as `30s`, `250ms` or `1m30s`".into(),
            Fault::MissingNumber => format!(
                "expected a number in duration `{text}`; units follow numbers, as in `30s` or `1m30s`"
            ),
            Fault::MissingUnit => format!(
                "missing unit after `{number}`: write `{number}s`, `{number}ms` or another of ns, us, ms, s, m, h"
            ),
            Fault::UnknownUnit => {
                let hint = match unit.as_str() {
                    "sec" | "secs" | "second" | "seconds" => " (write `s`)",
                    "min" | "mins" | "minute" | "minutes" => " (write `m`)",
                    "hr" | "hrs" | "hour" | "hours" => " (write `h`)",
                    "msec" | "millis" => " (write `ms`)",
                    "µs" | "micros" => " (write `us`)",
                    "d" | "day" | "days" => " (write `24h`)",
                    _ => "",
                };
                format!("unknown unit `{unit}`{hint}: expected one of ns, us, ms, s, m, h")
            }
            // Units in any order and numbers read loosely: the last two
            // faults belong to the trace grammar and never come back here.
            Fault::NotWhole
            | Fault::SegmentTooLarge
            | Fault::DigitsAfterDot
            | Fault::OutOfOrder => format!(
                "`{number}{unit}` is not a whole number of nanoseconds, or is too large"
            ),
            Fault::TooLarge => format!("duration `{text}` is too large"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_form_the_attribute_documents() {
        for (text, nanos) in [
            ("30s", 30_000_000_000),
            ("250ms", 250_000_000),
            ("1.5s", 1_500_000_000),
            ("2m", 120_000_000_000),
            ("1m30s", 90_000_000_000),
            ("7ns", 7),
            ("3us", 3_000),
            ("1h", 3_600_000_000_000),
            ("1_000ms", 1_000_000_000),
        ] {
            assert_eq!(parse(text), Ok(nanos), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for text in [
            "",
            "30",
            "30sec",
            "s",
            "1.5ns",
            "1..5s",
            "5.s",
            "99999999999999999999h",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn formats_largest_unit_first() {
        assert_eq!(format(90_000_000_000), "1m30s");
        assert_eq!(format(1_500_000_000), "1s500ms");
        assert_eq!(format(0), "0s");
    }
}
