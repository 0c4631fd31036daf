//! The failure-rate and slow-call-rate policies over one shared window: the
//! last K outcomes of this Closed period, or those that ended in (t - W, t].

use std::collections::VecDeque;

use super::outcome::{Outcome, Trip};
use super::period::nanos;
use crate::config::{Config, Percent, Window};

const FAILURE: u8 = 1;
const SLOW: u8 = 2;

fn code(outcome: Outcome) -> u8 {
    (u8::from(outcome.failure) * FAILURE) | (u8::from(outcome.slow) * SLOW)
}

/// An outcome code as a step of the packed totals: failures in the low 32
/// bits, slow calls in the high 32.
fn step(code: u8) -> u64 {
    u64::from(code & FAILURE) | (u64::from((code & SLOW) >> 1) << 32)
}

/// The outcomes inside the window.
enum Outcomes {
    /// A count window: a ring of the last K outcome codes, allocated once.
    Calls {
        ring: Box<[u8]>,
        next: usize,
        len: usize,
    },
    /// A time window: (end time, code), oldest first.
    Time {
        within: u64,
        list: VecDeque<(u64, u8)>,
    },
}

/// The outcomes inside the window, with running totals.
pub(crate) struct RateWindow {
    outcomes: Outcomes,
    min_calls: u32,
    failure_rate: Option<Percent>,
    slow_rate: Option<Percent>,
    /// Failures (low 32 bits) and slow calls (high 32 bits) in the window,
    /// in one word: updated with one load and one store of the same width,
    /// where two `u32`s were combined into vector loads that stalled on the
    /// scalar stores before them.
    totals: u64,
    /// The oldest outcomes in the window that came before the failure-rate
    /// (`skip[0]`) or slow-call-rate (`skip[1]`) policy restarted, empty, on
    /// a reconfiguration: that policy does not count them. They leave the
    /// window first, so each leaving outcome takes one off.
    skip: [u32; 2],
}

impl RateWindow {
    pub(crate) fn new(config: &Config) -> Self {
        let outcomes = match config.window() {
            Window::Calls(k) => Outcomes::Calls {
                ring: vec![0; k as usize].into_boxed_slice(),
                next: 0,
                len: 0,
            },
            Window::Time(w) => Outcomes::Time {
                within: nanos(w),
                list: VecDeque::new(),
            },
        };
        RateWindow {
            outcomes,
            min_calls: config.min_calls(),
            failure_rate: config.failure_rate(),
            slow_rate: config.slow_rate(),
            totals: 0,
            skip: [0; 2],
        }
    }

    /// Whether this window can carry on under `new`: the same window and
    /// `min_calls` (SEMANTICS.md, "Reconfiguration").
    pub(crate) fn keeps(old: &Config, new: &Config) -> bool {
        old.window() == new.window() && old.min_calls() == new.min_calls()
    }

    /// Carries the window over to `new` (for which [`keeps`](Self::keeps)
    /// holds): a policy whose threshold alone changed keeps its outcomes; one
    /// newly active, or the slow-call rate with a new `slow`, starts empty.
    pub(crate) fn reconfigure(&mut self, old: &Config, new: &Config) {
        if new.failure_rate().is_some() && old.failure_rate().is_none() {
            self.restart(FAILURE);
        }
        if new.slow_rate().is_some() && (old.slow_rate().is_none() || old.slow() != new.slow()) {
            self.restart(SLOW);
        }
        self.failure_rate = new.failure_rate();
        self.slow_rate = new.slow_rate();
    }

    /// One policy (`FAILURE` or `SLOW`) starts empty: its marks leave the
    /// outcomes in the window, which it no longer counts.
    fn restart(&mut self, policy: u8) {
        let len = match &mut self.outcomes {
            Outcomes::Calls { ring, len, .. } => {
                ring.iter_mut().for_each(|code| *code &= !policy);
                *len
            }
            Outcomes::Time { list, .. } => {
                list.iter_mut().for_each(|(_, code)| *code &= !policy);
                list.len()
            }
        };
        self.totals &= if policy == FAILURE {
            !0 << 32
        } else {
            u64::from(u32::MAX)
        };
        self.skip[usize::from(policy == SLOW)] = len as u32;
    }

    /// One outcome left the window: it was the oldest, so it was skipped.
    #[inline]
    fn left(skip: &mut [u32; 2], count: u32) {
        skip[0] = skip[0].saturating_sub(count);
        skip[1] = skip[1].saturating_sub(count);
    }

    fn failures(&self) -> u32 {
        self.totals as u32
    }

    fn slow(&self) -> u32 {
        (self.totals >> 32) as u32
    }

    #[inline(always)]
    pub(crate) fn record(&mut self, outcome: Outcome) -> Option<Trip> {
        let new = code(outcome);
        let RateWindow {
            outcomes,
            totals,
            skip,
            ..
        } = self;
        let calls = match outcomes {
            Outcomes::Calls { ring, next, len } => {
                if *len == ring.len() {
                    *totals -= step(ring[*next]);
                    RateWindow::left(skip, 1);
                } else {
                    *len += 1;
                }
                ring[*next] = new;
                *next = if *next + 1 == ring.len() {
                    0
                } else {
                    *next + 1
                };
                *len
            }
            Outcomes::Time { within, list } => {
                list.push_back((outcome.at, new));
                // (t - W, t]: an outcome exactly W ago has left the window.
                if outcome.at >= *within {
                    let horizon = outcome.at - *within;
                    while let Some(&(at, old)) = list.front() {
                        if at > horizon {
                            break;
                        }
                        list.pop_front();
                        *totals -= step(old);
                        RateWindow::left(skip, 1);
                    }
                }
                list.len()
            }
        };
        *totals += step(new);

        let calls = calls as u32;
        // Each policy over its own outcomes (all of the window's, unless it
        // restarted), once they are `min_calls`: count * 100 >= P * calls,
        // with P in hundredths of a percent.
        let min_calls = self.min_calls;
        let reached = |count: u32, calls: u32, p: Percent| {
            calls >= min_calls
                && u64::from(count) * 10_000 >= u64::from(p.hundredths()) * u64::from(calls)
        };
        if let Some(p) = self.failure_rate {
            let calls = calls - self.skip[0];
            if reached(self.failures(), calls, p) {
                return Some(Trip::FailureRate(self.failures(), calls, p));
            }
        }
        if let Some(p) = self.slow_rate {
            let calls = calls - self.skip[1];
            if reached(self.slow(), calls, p) {
                return Some(Trip::SlowCallRate(self.slow(), calls, p));
            }
        }
        None
    }

    /// Whether a count window holds its K outcomes, all counted by both
    /// policies. While a restarted policy still skips some, a success that
    /// pushes one of those out adds a call to that policy's count, so it may
    /// reach `min_calls` and trip: it must not be batched past the checks.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.skip == [0; 2]
            && matches!(&self.outcomes, Outcomes::Calls { ring, len, .. } if *len == ring.len())
    }

    /// `count` successes, not slow, entering a full count window (see
    /// `batched`): what `count` calls of `record` would leave, without the
    /// checks, which a success on a full window cannot pass.
    #[inline]
    pub(crate) fn successes(&mut self, count: u32) {
        let RateWindow {
            outcomes,
            totals,
            skip,
            ..
        } = self;
        let Outcomes::Calls { ring, next, len } = outcomes else {
            return;
        };
        debug_assert_eq!(*len, ring.len(), "only a full window batches successes");
        RateWindow::left(skip, count);
        if count as usize >= ring.len() {
            ring.fill(0);
            *totals = 0;
            *next = (*next + count as usize) % ring.len();
            return;
        }
        for _ in 0..count {
            *totals -= step(ring[*next]);
            ring[*next] = 0;
            *next = if *next + 1 == ring.len() {
                0
            } else {
                *next + 1
            };
        }
    }

    pub(crate) fn clear(&mut self) {
        match &mut self.outcomes {
            Outcomes::Calls { next, len, .. } => {
                *next = 0;
                *len = 0;
            }
            Outcomes::Time { list, .. } => list.clear(),
        }
        self.totals = 0;
        self.skip = [0; 2];
    }

    /// The failure and slow-call rates (percent) at `now`, each once its
    /// policy counts `min_calls` outcomes in the window.
    pub(crate) fn rates(&self, now: u64) -> (Option<f64>, Option<f64>) {
        // Outcomes in the window (after the skipped ones) and the marks among them.
        let (calls, failures, slow) = match &self.outcomes {
            Outcomes::Calls { len, .. } => {
                let len = *len as u32;
                (
                    [len - self.skip[0], len - self.skip[1]],
                    self.failures(),
                    self.slow(),
                )
            }
            Outcomes::Time { within, list } => {
                let horizon = now.checked_sub(*within);
                list.iter()
                    .enumerate()
                    .filter(|(_, (at, _))| horizon.is_none_or(|h| *at > h))
                    .fold(([0u32; 2], 0u32, 0u32), |(mut c, f, s), (i, &(_, code))| {
                        for (policy, skip) in c.iter_mut().zip(self.skip) {
                            *policy += u32::from(i as u32 >= skip);
                        }
                        (
                            c,
                            f + u32::from(code & FAILURE),
                            s + u32::from((code & SLOW) >> 1),
                        )
                    })
            }
        };
        let rate = |count: u32, calls: u32| {
            (calls >= self.min_calls && calls > 0)
                .then(|| f64::from(count) * 100.0 / f64::from(calls))
        };
        (rate(failures, calls[0]), rate(slow, calls[1]))
    }
}
