//! The exact types of settings that are not whole numbers or durations:
//! [`Percent`] and [`Factor`] hold decimals as integers, so a value reads,
//! compares and applies the same everywhere; [`Window`] is the rate
//! policies' window, counted in calls or in time.

use std::fmt;
use std::time::Duration;

use breaker_vocab::duration::decimal_lenient;

use super::limits::MAX_BACKOFF;

/// A percentage in (0, 100] with at most two decimals, held exactly in hundredths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent(pub(super) u32);

impl Percent {
    /// The percentage as hundredths of a percent (`50%` is 5000).
    pub fn hundredths(self) -> u32 {
        self.0
    }

    pub(super) fn from_f64(value: f64) -> Option<Percent> {
        if !value.is_finite() || value <= 0.0 || value > 100.0 {
            return None;
        }
        let scaled = value * 100.0;
        let rounded = scaled.round();
        ((scaled - rounded).abs() < 1e-6).then_some(Percent(rounded as u32))
    }

    pub(super) fn parse(text: &str) -> Option<Percent> {
        let hundredths = decimal_lenient(text, 100)?;
        (1..=10_000)
            .contains(&hundredths)
            .then_some(Percent(hundredths as u32))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 100, self.0 % 100);
        match frac {
            0 => write!(f, "{whole}"),
            _ if frac % 10 == 0 => write!(f, "{whole}.{}", frac / 10),
            _ => write!(f, "{whole}.{frac:02}"),
        }
    }
}

/// A backoff factor >= 1, held exactly in millionths so that
/// `period * factor` truncates the same way everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Factor(pub(super) u64);

impl Factor {
    /// The factor in millionths (`1.5` is 1_500_000).
    pub fn millionths(self) -> u64 {
        self.0
    }

    /// `nanos * factor`, truncated to whole nanoseconds, saturating.
    pub fn apply(self, nanos: u64) -> u64 {
        let product = u128::from(nanos) * u128::from(self.0) / 1_000_000;
        u64::try_from(product).unwrap_or(u64::MAX)
    }

    pub(super) fn from_f64(value: f64) -> Option<Factor> {
        if !value.is_finite() || !(1.0..=MAX_BACKOFF).contains(&value) {
            return None;
        }
        let scaled = value * 1e6;
        let rounded = scaled.round();
        ((scaled - rounded).abs() < 1e-3).then_some(Factor(rounded as u64))
    }

    pub(super) fn parse(text: &str) -> Option<Factor> {
        let millionths = decimal_lenient(text, 1_000_000)?;
        (1_000_000..=(MAX_BACKOFF as u64) * 1_000_000)
            .contains(&millionths)
            .then_some(Factor(millionths))
    }
}

impl fmt::Display for Factor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 1_000_000, self.0 % 1_000_000);
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{frac:06}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// The window the rate policies look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Window {
    /// The last `n` outcomes of the current Closed period.
    Calls(u32),
    /// The outcomes of the current Closed period that ended within this long.
    Time(Duration),
}

impl Default for Window {
    fn default() -> Self {
        Window::Calls(100)
    }
}
