//! Durations as the attribute accepts them: `30s`, `250ms`, `1.5s`, `2m`,
//! `1m30s`, bare or quoted, read exactly to the nanosecond.
//!
//! Bare durations reach the macro as Rust literals with a suffix: `30s` is the
//! integer `30` with suffix `s`, `1.5s` the float `1.5` with suffix `s`, and
//! `1m30s` the integer `1` with suffix `m30s`. Gluing digits and suffix back
//! together gives the text a quoted duration would have, so one parser reads
//! both forms.

/// The units, smallest first, with their length in nanoseconds.
const UNITS: [(&str, u64); 6] = [
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// The longest duration any key accepts (365 days), as breaker-core checks.
pub const MAX_NANOS: u64 = 365 * 24 * 3_600 * 1_000_000_000;

/// Reads `text` (`1m30s`, `1.5s`, `250ms`) as whole nanoseconds, or says what
/// is wrong with it.
pub fn parse(text: &str) -> Result<u64, String> {
    if text.is_empty() {
        return Err("expected a duration such as `30s`, `250ms` or `1m30s`".into());
    }
    let bytes = text.as_bytes();
    let mut total: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.' || bytes[i] == b'_')
        {
            i += 1;
        }
        let number: String = text[start..i].chars().filter(|c| *c != '_').collect();
        if number.is_empty() {
            return Err(format!(
                "expected a number in duration `{text}`; units follow numbers, as in `30s` or `1m30s`"
            ));
        }
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &text[unit_start..i];
        if unit.is_empty() {
            return Err(format!(
                "missing unit after `{number}`: write `{number}s`, `{number}ms` or another of ns, us, ms, s, m, h"
            ));
        }
        let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            let hint = match unit {
                "sec" | "secs" | "second" | "seconds" => " (write `s`)",
                "min" | "mins" | "minute" | "minutes" => " (write `m`)",
                "hr" | "hrs" | "hour" | "hours" => " (write `h`)",
                "msec" | "millis" => " (write `ms`)",
                "µs" | "micros" => " (write `us`)",
                "d" | "day" | "days" => " (write `24h`)",
                _ => "",
            };
            return Err(format!(
                "unknown unit `{unit}`{hint}: expected one of ns, us, ms, s, m, h"
            ));
        };
        let Some(scaled) = decimal(&number, scale) else {
            return Err(format!(
                "`{number}{unit}` is not a whole number of nanoseconds, or is too large"
            ));
        };
        total = total
            .checked_add(scaled)
            .ok_or_else(|| format!("duration `{text}` is too large"))?;
    }
    Ok(total)
}

/// `number * scale` for a non-negative decimal `number`, exactly: `None` when
/// the digits are malformed, the product overflows or is not whole.
pub fn decimal(number: &str, scale: u64) -> Option<u64> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.is_empty()
        || number.ends_with('.')
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut value = int.parse::<u128>().ok()?.checked_mul(u128::from(scale))?;
    let mut denominator: u128 = 1;
    let mut fraction: u128 = 0;
    for digit in frac.bytes() {
        denominator = denominator.checked_mul(10)?;
        fraction = fraction.checked_mul(10)? + u128::from(digit - b'0');
    }
    let fraction = fraction.checked_mul(u128::from(scale))?;
    if fraction % denominator != 0 {
        return None;
    }
    value = value.checked_add(fraction / denominator)?;
    u64::try_from(value).ok()
}

/// Writes whole nanoseconds back in the same syntax, largest unit first
/// (`1m30s`), for messages.
pub fn format(mut nanos: u64) -> String {
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
