//! Instants on a breaker's clock, shown as wall-clock times.
//!
//! A breaker's clock counts from its own epoch (the real clock: the first
//! time any breaker of the process read it; a manual clock: zero), which no
//! script can place in time. Each answer reads the breaker's clock and the
//! system's wall clock once, together, and writes every instant `t` of the
//! breaker as `wall_now - (clock_now - t)` in RFC 3339 (UTC, milliseconds):
//! exact in order and distances, and as right as the wall clock is.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One reading of a breaker's clock and of the wall clock, taken together.
#[derive(Clone, Copy, Debug)]
pub(super) struct Wall {
    clock_now: Duration,
    wall_now: SystemTime,
}

impl Wall {
    /// Pairs `clock_now`, a breaker's clock read now, with the wall clock.
    pub(super) fn now(clock_now: Duration) -> Wall {
        Wall {
            clock_now,
            wall_now: SystemTime::now(),
        }
    }

    /// The breaker's clock at this reading.
    pub(super) fn clock_now(&self) -> Duration {
        self.clock_now
    }

    /// When `at` (on the breaker's clock) was, on the wall clock, in RFC 3339.
    pub(super) fn rfc3339(&self, at: Duration) -> String {
        let ago = self.clock_now.saturating_sub(at);
        let ahead = at.saturating_sub(self.clock_now);
        let wall = self
            .wall_now
            .checked_sub(ago)
            .and_then(|t| t.checked_add(ahead))
            .unwrap_or(self.wall_now);
        rfc3339(wall)
    }
}

/// `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC); instants before 1970 as the epoch.
pub(super) fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, for non-negative days).
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// `d` in whole milliseconds, saturating.
pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
    }

    #[test]
    fn formats_utc_with_milliseconds() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(at(951_782_400, 5)), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(at(1_709_251_199, 999)), "2024-02-29T23:59:59.999Z");
        assert_eq!(rfc3339(at(4_102_444_800, 0)), "2100-01-01T00:00:00.000Z");
    }

    #[test]
    fn an_instant_on_the_clock_is_placed_by_its_distance_from_now() {
        let wall = Wall {
            clock_now: Duration::from_secs(100),
            wall_now: at(1_700_000_000, 0),
        };
        assert_eq!(
            wall.rfc3339(Duration::from_millis(98_500)),
            "2023-11-14T22:13:18.500Z"
        );
        assert_eq!(
            wall.rfc3339(Duration::from_secs(100)),
            "2023-11-14T22:13:20.000Z"
        );
    }
}
