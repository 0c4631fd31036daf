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
        }
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
            outcomes, totals, ..
        } = self;
        let calls = match outcomes {
            Outcomes::Calls { ring, next, len } => {
                if *len == ring.len() {
                    *totals -= step(ring[*next]);
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
                    }
                }
                list.len()
            }
        };
        *totals += step(new);

        let calls = calls as u32;
        if calls < self.min_calls {
            return None;
        }
        // failures * 100 >= P * calls, with P in hundredths of a percent.
        let reached = |count: u32, p: Percent| {
            u64::from(count) * 10_000 >= u64::from(p.hundredths()) * u64::from(calls)
        };
        if let Some(p) = self.failure_rate {
            if reached(self.failures(), p) {
                return Some(Trip::FailureRate(self.failures(), calls, p));
            }
        }
        if let Some(p) = self.slow_rate {
            if reached(self.slow(), p) {
                return Some(Trip::SlowCallRate(self.slow(), calls, p));
            }
        }
        None
    }

    /// Whether this is a count window.
    pub(crate) fn counts_calls(&self) -> bool {
        matches!(self.outcomes, Outcomes::Calls { .. })
    }

    /// Whether a count window holds its K outcomes.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        matches!(&self.outcomes, Outcomes::Calls { ring, len, .. } if *len == ring.len())
    }

    /// `count` successes, not slow, entering a full count window (see
    /// `batched`): what `count` calls of `record` would leave, without the
    /// checks, which a success on a full window cannot pass.
    #[inline]
    pub(crate) fn successes(&mut self, count: u32) {
        let RateWindow {
            outcomes, totals, ..
        } = self;
        let Outcomes::Calls { ring, next, len } = outcomes else {
            return;
        };
        debug_assert_eq!(*len, ring.len(), "only a full window batches successes");
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
    }

    /// The failure and slow-call rates (percent) at `now`, once the window
    /// holds `min_calls` outcomes.
    pub(crate) fn rates(&self, now: u64) -> Option<(f64, f64)> {
        let (calls, failures, slow) = match &self.outcomes {
            Outcomes::Calls { len, .. } => (*len as u32, self.failures(), self.slow()),
            Outcomes::Time { within, list } => {
                let horizon = now.checked_sub(*within);
                list.iter()
                    .filter(|(at, _)| horizon.is_none_or(|h| *at > h))
                    .fold((0u32, 0u32, 0u32), |(c, f, s), &(_, code)| {
                        (
                            c + 1,
                            f + u32::from(code & FAILURE),
                            s + u32::from((code & SLOW) >> 1),
                        )
                    })
            }
        };
        (calls >= self.min_calls && calls > 0).then(|| {
            (
                f64::from(failures) * 100.0 / f64::from(calls),
                f64::from(slow) * 100.0 / f64::from(calls),
            )
        })
    }
}
