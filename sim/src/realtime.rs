//! breaker-core's `Breaker` on the real clock as a replay [`Subject`]
//! (`run --real-time`).
//!
//! The virtual-time subjects cannot see a bug of the real clock (such as an
//! Open period that overruns `reset` because the cheap reading and the exact
//! one disagree): here the breaker keeps its default clock,
//! [`MonotonicClock`], and the replay waits for the wall clock instead of
//! setting a manual one. The engine stays the discrete-event one: before
//! each step at trace time `t` the subject sleeps until the wall instant
//! `start + t / speed`, never earlier; what the breaker reports (transition
//! times, latencies, `retry_after`) is converted back to trace time. With a
//! `speed` other than 1 every duration of the configuration is divided by
//! `speed`, so the breaker lives the trace's periods at the replay's pace.

use std::sync::Arc;
use std::time::Duration;

use breaker_core::clock::{Clock, MonotonicClock};
use breaker_core::{Breaker, Config, Error, Permit};

use crate::duration::parse_duration;
use crate::engine::{Decision, Ended, Subject, Transition};
use crate::log::{EndKind, Event, State};
use crate::real::{Reported, RetryWaits, act, adaptive_seed, configure, nanos, state};
use crate::trace::{Action, Declaration, Outcome, Trace, TraceError};

/// The keys of a declaration whose values are durations (`window` only when
/// it is a time window): the ones a replay faster than real time shortens.
const DURATION_KEYS: [&str; 7] = [
    "within",
    "window",
    "slow",
    "reset",
    "reset_max",
    "timeout",
    "max_half_open_wait",
];

/// The mapping between trace time and the real clock of one replay, shared
/// by all its breakers so that they keep the trace's order between them.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// The real clock's reading (`MonotonicClock`, ns) at trace time 0.
    start_ns: u64,
    speed: f64,
}

impl Pace {
    /// Starts a replay now at `speed` times real time; `speed` must be a
    /// finite number > 0.
    pub fn start(speed: f64) -> Result<Pace, String> {
        Pace::check(speed)?;
        Ok(Pace {
            start_ns: nanos(MonotonicClock.now()),
            speed,
        })
    }

    /// Whether `speed` is one a replay can keep: a finite number > 0.
    pub fn check(speed: f64) -> Result<(), String> {
        if speed.is_finite() && speed > 0.0 {
            Ok(())
        } else {
            Err(format!(
                "--speed must be a finite number > 0 (such as 1 or 2.5), got {speed}"
            ))
        }
    }

    /// The real clock's reading at trace time `t_ns`, rounded up: the
    /// replay may be late, never early.
    fn wall_ns(&self, t_ns: u64) -> u64 {
        let offset = (t_ns as f64 / self.speed).ceil();
        // `as` saturates: a trace beyond the clock's range waits forever.
        self.start_ns.saturating_add(offset as u64)
    }

    /// The trace time of the real clock's reading `clock_ns`, rounded down
    /// (so a reading taken at or after `wall_ns(t)` maps to at least `t`).
    fn trace_ns(&self, clock_ns: u64) -> u64 {
        (clock_ns.saturating_sub(self.start_ns) as f64 * self.speed).floor() as u64
    }

    /// A real duration as trace time.
    fn trace_span(&self, real: Duration) -> u64 {
        (nanos(real) as f64 * self.speed).round() as u64
    }

    /// Sleeps until trace time `t_ns` has come; the real clock's reading then.
    fn wait_for(&self, t_ns: u64) -> u64 {
        let due = self.wall_ns(t_ns);
        loop {
            let now = nanos(MonotonicClock.now());
            if now >= due {
                return now;
            }
            std::thread::sleep(Duration::from_nanos(due - now));
        }
    }

    /// `value` (of `key`) divided by the speed, when it is a duration.
    fn scaled(&self, key: &str, value: &str) -> Option<String> {
        if self.speed == 1.0 || !DURATION_KEYS.contains(&key) {
            return None;
        }
        let ns = parse_duration(value).ok()?;
        // Rounded up and never 0: breaker-core refuses a zero duration.
        Some(format!(
            "{}ns",
            ((ns as f64 / self.speed).ceil() as u64).max(1)
        ))
    }
}

/// A breaker-core breaker on the real clock, and the transitions it reported.
pub struct RealTimeBreaker {
    breaker: Breaker,
    pace: Pace,
    reported: Arc<Reported>,
    retry: RetryWaits,
}

impl RealTimeBreaker {
    /// Builds the breaker a declaration describes on the real clock, its
    /// durations divided by the pace's speed; retry waits and adaptive dice
    /// are seeded as [`crate::real::RealBreaker::seeded`] seeds them.
    pub fn seeded(decl: &Declaration, seed: u64, pace: Pace) -> Result<RealTimeBreaker, String> {
        // Validated as written first, so a refusal names the trace's values.
        let (config, retry) = configure(decl, seed)?;
        let config = if pace.speed == 1.0 {
            config
        } else {
            let mut builder = Config::builder();
            for (key, value) in decl.config.breaker_keys() {
                let scaled = pace.scaled(key, value);
                let value = scaled.as_deref().unwrap_or(value);
                builder = builder
                    .set(key, value)
                    .map_err(|e| format!("{e} (`{key}` divided by --speed {})", pace.speed))?;
            }
            builder
                .build()
                .map_err(|e| format!("{e} (durations divided by --speed {})", pace.speed))?
        };
        let breaker = Breaker::new(decl.name.as_str(), config);
        breaker.reseed(adaptive_seed(seed, &decl.name));
        let reported = Reported::watch(&breaker);
        Ok(RealTimeBreaker {
            breaker,
            pace,
            reported,
            retry,
        })
    }

    /// Builds one breaker per declaration; a configuration breaker-core
    /// refuses is reported at its declaration.
    pub fn for_trace(
        file: &str,
        trace: &Trace,
        seed: u64,
        pace: Pace,
    ) -> Result<Vec<RealTimeBreaker>, TraceError> {
        trace
            .breakers
            .iter()
            .map(|d| {
                RealTimeBreaker::seeded(d, seed, pace).map_err(|message| TraceError {
                    file: file.to_string(),
                    line: d.line_no,
                    column: 1,
                    message: format!(
                        "breaker-core refuses the configuration of `{}`: {message}",
                        d.name
                    ),
                })
            })
            .collect()
    }

    /// The breaker, as a [`Subject`] for one replay.
    pub fn subject(&self) -> RealTimeSubject<'_> {
        RealTimeSubject { real: self }
    }
}

/// A borrowed [`RealTimeBreaker`] under replay: permits borrow the breaker.
pub struct RealTimeSubject<'a> {
    real: &'a RealTimeBreaker,
}

/// An admitted call on the real-time breaker.
pub struct RealTimeTicket<'a> {
    permit: Permit<'a>,
    start_ns: u64,
}

impl<'a> Subject for RealTimeSubject<'a> {
    type Ticket = RealTimeTicket<'a>;

    fn admit(&mut self, now_ns: u64) -> Decision<RealTimeTicket<'a>> {
        let pace = &self.real.pace;
        let read = pace.wait_for(now_ns);
        match self.real.breaker.acquire() {
            Ok(permit) => Decision::Admitted(RealTimeTicket {
                permit,
                start_ns: now_ns,
            }),
            // `retry_after` counts from the breaker's own reading, a little
            // after `read`; counted from `read` and mapped to trace time it
            // names the trace instant of the promised trial, which the log
            // states relative to the call's trace time. It is never shorter
            // than the model's when the breaker keeps its period.
            Err(Error::Rejected { retry_after, .. }) => Decision::Rejected {
                retry_after_ns: retry_after.map(|r| {
                    pace.trace_ns(read.saturating_add(nanos(r)))
                        .saturating_sub(now_ns)
                }),
            },
            Err(_) => Decision::Rejected {
                retry_after_ns: None,
            },
        }
    }

    fn end(
        &mut self,
        now_ns: u64,
        ticket: RealTimeTicket<'a>,
        outcome: EndKind,
        _written: Outcome,
    ) -> Ended {
        self.real.pace.wait_for(now_ns);
        let recorded = match outcome {
            EndKind::Success => ticket.permit.success(),
            EndKind::Failure => ticket.permit.failure(),
            EndKind::Timeout => ticket.permit.timeout(),
        };
        Ended {
            latency_ns: recorded
                .latency
                .map_or(now_ns.saturating_sub(ticket.start_ns), |l| {
                    self.real.pace.trace_span(l)
                }),
            slow: recorded.slow,
            straggler: recorded.straggler,
        }
    }

    fn action(&mut self, now_ns: u64, action: Action) {
        self.real.pace.wait_for(now_ns);
        act(&self.real.breaker, action);
    }

    fn state(&mut self, _now_ns: u64) -> State {
        // The engine asks right after a step: no waiting, the state as it is.
        state(self.real.breaker.state())
    }

    fn take_transitions(&mut self) -> Vec<Transition> {
        let pace = &self.real.pace;
        let mut list = self.real.reported.take();
        for t in &mut list {
            t.t_ns = pace.trace_ns(t.t_ns);
        }
        list
    }

    fn retry_delay(&mut self, attempt: u32) -> u64 {
        // Drawn in trace time, as the model draws them: the engine schedules
        // the retry, and the wait for it is the pace's.
        self.real
            .retry
            .as_ref()
            .map_or(0, |(backoff, jitter)| nanos(backoff.delay(attempt, jitter)))
    }
}

/// Replays a trace through breaker-core on the real clock at `speed` times
/// real time (retry waits under `seed`), handing each event to `sink`. A bad
/// speed or a configuration breaker-core refuses is reported before anything
/// is replayed.
pub fn replay_into(
    file: &str,
    trace: &Trace,
    seed: u64,
    speed: f64,
    sink: &mut dyn FnMut(Event),
) -> Result<(), String> {
    let pace = Pace::start(speed)?;
    let breakers =
        RealTimeBreaker::for_trace(file, trace, seed, pace).map_err(|e| e.to_string())?;
    let mut subjects: Vec<RealTimeSubject<'_>> =
        breakers.iter().map(RealTimeBreaker::subject).collect();
    crate::engine::replay_into(trace, &mut subjects, sink);
    Ok(())
}

/// [`replay_into`], collecting the event log.
pub fn replay(file: &str, trace: &Trace, seed: u64, speed: f64) -> Result<Vec<Event>, String> {
    let mut events = Vec::new();
    replay_into(file, trace, seed, speed, &mut |e| events.push(e))?;
    Ok(events)
}
