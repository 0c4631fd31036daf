//! [`ServerClock`]: a database server's clock as a store last read it, run
//! on by this process's monotonic clock. The stores whose processes run on
//! several hosts (Redis, PostgreSQL) write and check times on their server's
//! clock, so hosts whose clocks disagree still agree on when an Open ends.

use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The server's clock: its time in µs at the last reply that carried it,
/// and when that was here.
#[derive(Default)]
pub(crate) struct ServerClock(Mutex<Option<(u64, Instant)>>);

impl ServerClock {
    /// The server said its time is `now_us` (unix µs).
    pub(crate) fn note(&self, now_us: u64) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((now_us, Instant::now()));
    }

    /// The server's clock now, in µs: the last time it said, advanced by the
    /// time passed here since (this host's wall clock, if it never said).
    pub(crate) fn now_us(&self) -> u64 {
        match *self.0.lock().unwrap_or_else(|e| e.into_inner()) {
            Some((at, when)) => {
                at.saturating_add(u64::try_from(when.elapsed().as_micros()).unwrap_or(u64::MAX))
            }
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ServerClock;

    #[test]
    fn the_time_said_runs_on_and_the_host_clock_stands_in_before() {
        let clock = ServerClock::default();
        let host = clock.now_us();
        assert!(
            host > 1_600_000_000_000_000,
            "the host's wall clock: {host}"
        );
        clock.note(1_000);
        let later = clock.now_us();
        assert!((1_000..1_000 + 1_000_000).contains(&later), "{later}");
    }
}
