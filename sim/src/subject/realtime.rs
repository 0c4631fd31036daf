//! breaker-core's `Breaker` on the real clock as a replay [`Subject`](crate::engine::Subject)
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
//! `speed`, so the breaker lives the trace's periods at the replay's pace;
//! so is every duration of a `configure` line.

use std::time::Duration;

use breaker_core::clock::{Clock, MonotonicClock};
use breaker_core::{Breaker, Config};

use super::real::{Build, CoreBreaker, Cores, Timing, configure, for_trace, nanos};
use crate::duration::parse_duration;
use crate::log::Event;
use crate::trace::{Declaration, Reconfiguration, Trace, TraceError};

/// Whether `key` of a declaration takes a duration (`window` only when it is
/// a time window): the keys a replay faster than real time shortens.
fn is_duration_key(key: &str) -> bool {
    use breaker_vocab::keys::{Kind, Scope, find};
    find(key).is_some_and(|k| {
        k.scope == Scope::Breaker && matches!(k.kind, Kind::Duration | Kind::Window { .. })
    })
}

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
        Ok(Pace::starting_now(speed))
    }

    /// [`Pace::start`] at a speed already checked.
    fn starting_now(speed: f64) -> Pace {
        Pace {
            start_ns: nanos(MonotonicClock.now()),
            speed,
        }
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

    /// `value` (of `key`) divided by the speed, when it is a duration.
    fn scaled(&self, key: &str, value: &str) -> Option<String> {
        if self.speed == 1.0 || !is_duration_key(key) {
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

impl Timing for Pace {
    /// Sleeps until trace time `t_ns` has come; the real clock's reading then.
    fn reach(&self, t_ns: u64) -> u64 {
        let due = self.wall_ns(t_ns);
        loop {
            let now = nanos(MonotonicClock.now());
            if now >= due {
                return now;
            }
            std::thread::sleep(Duration::from_nanos(due - now));
        }
    }

    /// The engine asks right after a step: no waiting, the state as it is.
    fn reach_for_state(&self, _t_ns: u64) {}

    /// Rounded down, so a reading taken at or after `wall_ns(t)` maps to at
    /// least `t`.
    fn trace_ns(&self, clock_ns: u64) -> u64 {
        (clock_ns.saturating_sub(self.start_ns) as f64 * self.speed).floor() as u64
    }

    fn trace_span(&self, span: Duration) -> u64 {
        (nanos(span) as f64 * self.speed).round() as u64
    }

    /// The line's durations divided by the speed, as the declaration's are
    /// (so the `configured` event then writes them divided, as transition
    /// reasons write the periods).
    fn patch(&self, change: &Reconfiguration) -> String {
        let pairs: Vec<String> = change
            .keys
            .iter()
            .map(|(key, value)| {
                let scaled = self.scaled(key, value);
                format!("{key}={}", scaled.as_deref().unwrap_or(value))
            })
            .collect();
        pairs.join(" ")
    }
}

/// breaker-core on the real clock, at a [`Pace`].
pub type RealTimeBreaker = CoreBreaker<Pace>;

impl RealTimeBreaker {
    /// Builds the breaker a declaration describes on the real clock, its
    /// durations divided by the pace's speed; retry waits and adaptive dice
    /// are seeded as [`crate::subject::real::RealBreaker::seeded`] seeds them.
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
        Ok(CoreBreaker::watch(breaker, pace, seed, retry))
    }

    /// Builds one breaker per declaration, as a streamed replay builds
    /// them ([`Paced`]); a configuration breaker-core refuses is reported at
    /// its declaration, a `configure` line it refuses at that line.
    pub fn for_trace(
        file: &str,
        trace: &Trace,
        seed: u64,
        pace: Pace,
    ) -> Result<Vec<RealTimeBreaker>, TraceError> {
        for_trace(
            file,
            trace,
            Paced {
                seed,
                speed: pace.speed,
                pace: Some(pace),
            },
        )
    }
}

/// Builds breakers on the real clock at one [`Pace`] (retry waits and
/// adaptive dice under a seed), started when the first breaker is built:
/// a streamed replay builds it when the first piece of the trace is ready
/// to replay, so the time spent opening and parsing the trace is not lost
/// from the trace's first steps.
pub struct Paced {
    seed: u64,
    speed: f64,
    pace: Option<Pace>,
}

impl Paced {
    /// Breakers seeded with `seed`, replayed at `speed` times real time;
    /// `speed` must be a finite number > 0.
    pub fn new(seed: u64, speed: f64) -> Result<Paced, String> {
        Pace::check(speed)?;
        Ok(Paced {
            seed,
            speed,
            pace: None,
        })
    }
}

impl Build for Paced {
    type Timing = Pace;

    fn build(&mut self, decl: &Declaration) -> Result<RealTimeBreaker, String> {
        let speed = self.speed;
        let pace = *self.pace.get_or_insert_with(|| Pace::starting_now(speed));
        RealTimeBreaker::seeded(decl, self.seed, pace)
    }
}

/// breaker-core breakers on the real clock, built as a streamed trace
/// declares them.
pub type RealTimeCores<'a> = Cores<'a, Paced>;

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
    let breakers = for_trace(file, trace, Paced::new(seed, speed)?).map_err(|e| e.to_string())?;
    let mut subjects: Vec<_> = breakers.iter().map(RealTimeBreaker::subject).collect();
    crate::engine::replay_into(trace, &mut subjects, sink);
    Ok(())
}

/// [`replay_into`], collecting the event log.
pub fn replay(file: &str, trace: &Trace, seed: u64, speed: f64) -> Result<Vec<Event>, String> {
    let mut events = Vec::new();
    replay_into(file, trace, seed, speed, &mut |e| events.push(e))?;
    Ok(events)
}
