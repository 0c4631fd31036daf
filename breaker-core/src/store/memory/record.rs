//! What the in-memory store keeps for one breaker name: the shared state
//! (the Redis store's hash `{namespace}:{name}`), the trial permits and the
//! failures counted (its two expiring counters), and the replicas that
//! opened the breaker lately (its quorum set). Times are the store's clock
//! in ns; nothing here can hold junk, so nothing needs checking.

use std::sync::Arc;
use std::time::Duration;

use crate::State;
use crate::store::Remote;

/// The shared state of one breaker name, as the last write left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shared {
    /// `Closed`, `Open`, `ForcedOpen`, `Disabled` or `MetricsOnly`: never
    /// `HalfOpen`, which each replica enters on its own.
    pub state: State,
    /// Grows with every write: `max(epoch + 1, the clock in µs)`.
    pub epoch: u64,
    /// In Open: when the open period began, on the store's clock.
    pub opened_at: Duration,
    /// In Open: the open period's length.
    pub period: Duration,
    /// Why, as the writer reported it.
    pub reason: Arc<str>,
    /// When it was written, on the store's clock.
    pub written_at: Duration,
}

impl Shared {
    /// In Open: the time left at `now` (zero once elapsed); zero otherwise.
    pub fn left_at(&self, now: Duration) -> Duration {
        if self.state != State::Open {
            return Duration::ZERO;
        }
        (self.opened_at + self.period).saturating_sub(now)
    }

    /// Whether this is an Open whose period has not elapsed at `now`.
    pub(super) fn open_at(&self, now: Duration) -> bool {
        self.state == State::Open && !self.left_at(now).is_zero()
    }

    /// The state as a breaker adopts it at `now`: the time left measured
    /// now, and for a close on trials how long ago it was (a breaker with
    /// `ramp` ramps from then).
    pub(super) fn remote_at(&self, now: Duration) -> Remote {
        let remote = Remote::new(
            self.state,
            self.left_at(now),
            if self.state == State::Open {
                self.period
            } else {
                Duration::ZERO
            },
            self.reason.clone(),
        );
        if self.state == State::Closed && crate::reason::is_trials_close(&self.reason) {
            remote.recovered(now.saturating_sub(self.written_at))
        } else {
            remote
        }
    }
}

/// A counter that expires, as a Redis string with a `PX` expiry: it counts
/// as zero from `until` on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Counter {
    pub(super) n: u64,
    pub(super) until: Duration,
}

impl Counter {
    /// The count at `now`, `None` once it expired (or was never set).
    pub(super) fn at(&self, now: Duration) -> Option<u64> {
        (now < self.until && self.n > 0).then_some(self.n)
    }
}

/// Everything the store keeps for one breaker name.
#[derive(Clone, Debug, Default)]
pub(super) struct Record {
    /// The shared state; `None` before the first write.
    pub(super) shared: Option<Shared>,
    /// Half-open trial permits taken, expiring `trial_ttl` after the last taking.
    pub(super) trials: Counter,
    /// The generation of `trials`: a new one each time a count starts (after
    /// a write cleared it, or it expired). A permit goes back only to its
    /// own (`store::permits`), as the Redis counter's `generation:count`.
    pub(super) trials_generation: u64,
    /// Failures counted across replicas (with cluster-wide counting),
    /// expiring one window after the first.
    pub(super) failures: Counter,
    /// The replicas whose own opening was counted towards the quorum, with
    /// when (their latest opening).
    pub(super) openings: Vec<(usize, Duration)>,
}

impl Record {
    /// The epoch held, 0 without a shared state.
    pub(super) fn epoch(&self) -> u64 {
        self.shared.as_ref().map_or(0, |s| s.epoch)
    }

    /// Whether what is held overrules a policy's transition made by a
    /// breaker that has seen epoch `seen`: an Open not yet elapsed, a
    /// ForcedOpen or a Disabled, written after what it saw.
    pub(super) fn overrules(&self, seen: u64, now: Duration) -> bool {
        self.shared.as_ref().is_some_and(|s| {
            s.epoch > seen
                && (s.open_at(now) || matches!(s.state, State::ForcedOpen | State::Disabled))
        })
    }
}

/// The next epoch after `held`, written at `now`: `max(held + 1, now in µs)`,
/// so epochs keep growing whatever the clock does.
pub(super) fn next_epoch(held: u64, now: Duration) -> u64 {
    let now_us = u64::try_from(now.as_micros()).unwrap_or(u64::MAX);
    held.saturating_add(1).max(now_us)
}
