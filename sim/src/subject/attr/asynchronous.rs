//! Driving real async `#[circuit_breaker]` functions from a trace, under
//! tokio's paused clock.
//!
//! Each call of the trace is a call of an annotated `async fn` whose latency
//! is a `tokio::time::sleep`; a breaker with `timeout` cuts it with the
//! attribute's own timer (`tokio::time::timeout`). The replay runs on a
//! current-thread runtime started paused, and the registry's clock reads
//! tokio's virtual time ([`TokioClock`]), so the breaker times its calls and
//! periods by the same clock as the timers.
//!
//! The engine decides the order of events, as in every replay: before each
//! step it moves tokio's clock to the step's time (`tokio::time::advance`),
//! then polls only the call that step concerns. A body yields once before
//! sleeping, so a call admitted at an instant ends after the admission is
//! logged, as the engine's order says, even with no latency.
//!
//! tokio's timers fire on whole milliseconds from the runtime's start (a
//! sleep's deadline is rounded up to the next millisecond), while a trace is
//! timed to the nanosecond. So a call that sleeps must end on a whole
//! millisecond of the trace (its start plus its latency, or plus the timeout
//! when that is shorter); a trace with a call ending between two
//! milliseconds is refused, naming the line, rather than replayed with a
//! different end. Calls without latency do not sleep and may start at any
//! time. `breaker-sim gen --resolution 1ms` writes traces that qualify.
//!
//! The functions name breakers `async/...` of their own, so the sync mode's
//! breakers are untouched; a trace's breaker is matched to an unused function
//! of the same configuration. Each replay resets the breakers it uses and
//! installs its clock in the global registry: one replay at a time per
//! process.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use breaker_core::clock::Clock;
use breaker_core::{Breaker, circuit_breaker, registry};
use tokio::runtime::Runtime;
use tokio::time::Instant;

use super::changes::Changes;
use super::timers::Timers;
use super::{
    Finish, Mode, Replayed, SimError, configured, counts, declaration_error, pending_reported,
    refuse_unreplayable, registered, take_reported,
};
use crate::config::BreakerConfig;
use crate::duration::format_duration;
use crate::engine::{Decision, Ended};
use crate::log::{EndKind, Event};
use crate::stream::Cast;
use crate::subject::real::config_of;
use crate::trace::{Chunk, Declaration, Lines, Outcome, Trace, TraceError};

/// tokio's virtual time as a breaker clock: the time since `base`.
///
/// Read it only where the runtime is entered: elsewhere tokio's `Instant`
/// is the real clock.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base: Instant,
}

impl TokioClock {
    /// A clock at zero now.
    pub fn starting_now() -> TokioClock {
        TokioClock {
            base: Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.base)
    }
}

/// A call's body: sleeps its latency, then ends as the trace says.
pub struct AsyncTrial {
    latency: Duration,
    finish: Finish,
}

impl AsyncTrial {
    async fn run(self) -> Result<(), SimError> {
        // Made now, at admission: the deadline is the call's start + latency.
        let sleep = (!self.latency.is_zero()).then(|| tokio::time::sleep(self.latency));
        // One yield: the replay logs the admission before the call may end.
        tokio::task::yield_now().await;
        if let Some(sleep) = sleep {
            sleep.await;
        }
        self.finish.apply()
    }
}

/// outage.trace `db`.
#[circuit_breaker("async/db", fail_max = 5, reset = 10s, success = 2, failure = counts)]
pub async fn db(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// flapping.trace `api`.
#[circuit_breaker("async/api", failure_rate = 50, window = 6, min_calls = 4, reset = 2s, success = 2, half_open = 2, failure = counts)]
pub async fn api(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// flapping.trace `cache`.
#[circuit_breaker("async/cache", failure_rate = 40, window = 2s, min_calls = 3, reset = 1s, failure = counts)]
pub async fn cache(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// half_open.trace `h`.
#[circuit_breaker("async/h", fail_max = 2, reset = 5s, success = 3, half_open = 2, failure = counts)]
pub async fn h(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// backoff.trace `b`.
#[circuit_breaker("async/b", fail_max = 1, reset = 1s, backoff = 2, reset_max = 5s, success = 1, failure = counts)]
pub async fn b(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// backoff.trace `f`.
#[circuit_breaker("async/f", fail_max = 1, reset = 3ns, backoff = 1.5, failure = counts)]
pub async fn f(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// manual.trace `m`.
#[circuit_breaker("async/m", fail_max = 1, reset = 10s, failure = counts)]
pub async fn m(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// manual.trace `n`.
#[circuit_breaker("async/n", fail_max = 2, failure = counts)]
pub async fn n(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// rates.trace `w`.
#[circuit_breaker("async/w", fail_max = 3, within = 10s, reset = 5s, failure = counts)]
pub async fn w(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// rates.trace `r`.
#[circuit_breaker("async/r", failure_rate = 33.33, window = 10s, min_calls = 3, reset = 5s, failure = counts)]
pub async fn r(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// rates.trace `s`.
#[circuit_breaker("async/s", slow = 100ms, slow_rate = 50, window = 4, reset = 5s, failure = counts)]
pub async fn s(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// rates.trace `t`.
#[circuit_breaker("async/t", timeout = 200ms, fail_max = 2, reset = 5s, failure = counts)]
pub async fn t(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// operator.trace `cfg` (reconfigured by the trace's `configure` lines).
#[circuit_breaker("async/cfg", fail_max = 5, reset = 10s, success = 2, half_open = 1, failure = counts)]
pub async fn cfg(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// operator.trace `cfgr` (reconfigured by the trace's `configure` lines).
#[circuit_breaker("async/cfgr", failure_rate = 50, window = 4, reset = 5s, failure = counts)]
pub async fn cfgr(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// `gen --scenario outage`.
#[circuit_breaker("async/gen/outage", fail_max = 5, reset = 10s, success = 2, timeout = 2s, failure = counts)]
pub async fn gen_outage(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// `gen --scenario flapping`.
#[circuit_breaker("async/gen/flapping", failure_rate = 50, window = 20, min_calls = 10, reset = 5s, backoff = 2, reset_max = 1m, failure = counts)]
pub async fn gen_flapping(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// `gen --scenario brownout`.
#[circuit_breaker("async/gen/brownout", failure_rate = 25, window = 10s, reset = 15s, success = 3, failure = counts)]
pub async fn gen_brownout(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// `gen --scenario slow`.
#[circuit_breaker("async/gen/slow", slow = 300ms, slow_rate = 50, window = 20, reset = 10s, timeout = 1s, failure = counts)]
pub async fn gen_slow(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// `gen --scenario recovery-storm`.
#[circuit_breaker("async/gen/recovery-storm", fail_max = 5, reset = 5s, success = 3, half_open = 3, timeout = 1s, failure = counts)]
pub async fn gen_recovery_storm(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// `gen --scenario fragile-recovery`.
#[circuit_breaker("async/gen/fragile-recovery", fail_max = 5, reset = 10s, success = 2, timeout = 1s, failure = counts)]
pub async fn gen_fragile_recovery(trial: AsyncTrial) -> Result<(), SimError> {
    trial.run().await
}

/// A running call of an annotated async function.
type CallFuture = Pin<Box<dyn Future<Output = Result<(), SimError>>>>;

type Function = fn(AsyncTrial) -> CallFuture;

/// The annotated async functions, by the name of their breaker.
pub const FUNCTIONS: [(&str, Function); 20] = [
    ("async/db", |t| Box::pin(db(t))),
    ("async/api", |t| Box::pin(api(t))),
    ("async/cache", |t| Box::pin(cache(t))),
    ("async/h", |t| Box::pin(h(t))),
    ("async/b", |t| Box::pin(b(t))),
    ("async/f", |t| Box::pin(f(t))),
    ("async/m", |t| Box::pin(m(t))),
    ("async/n", |t| Box::pin(n(t))),
    ("async/w", |t| Box::pin(w(t))),
    ("async/r", |t| Box::pin(r(t))),
    ("async/s", |t| Box::pin(s(t))),
    ("async/t", |trial| Box::pin(t(trial))),
    ("async/cfg", |t| Box::pin(cfg(t))),
    ("async/cfgr", |t| Box::pin(cfgr(t))),
    ("async/gen/outage", |t| Box::pin(gen_outage(t))),
    ("async/gen/flapping", |t| Box::pin(gen_flapping(t))),
    ("async/gen/brownout", |t| Box::pin(gen_brownout(t))),
    ("async/gen/slow", |t| Box::pin(gen_slow(t))),
    ("async/gen/recovery-storm", |t| {
        Box::pin(gen_recovery_storm(t))
    }),
    ("async/gen/fragile-recovery", |t| {
        Box::pin(gen_fragile_recovery(t))
    }),
];

/// Refuses a trace with a call that tokio's timers cannot end at its own
/// time: one that sleeps and ends between two milliseconds, or beyond
/// tokio's range. The error stands at the breaker's declaration and names
/// the call.
pub fn check_timers(file: &str, trace: &Trace) -> Result<(), TraceError> {
    let mut timers = Timers::default();
    for decl in &trace.breakers {
        timers.declare(file, decl);
    }
    timers.check(trace.as_lines(), &trace.breakers)
}

/// What this mode checks of a trace as it comes, needing no runtime: each
/// declaration matched to an unused annotated async function of the same
/// configuration, and each chunk's `configure` lines and timers.
#[derive(Default)]
struct Matching {
    /// The functions matched so far, by their breakers' names.
    used: Vec<&'static str>,
    changes: Changes,
    timers: Timers,
}

impl Matching {
    /// An unused annotated async function of the configuration of `d`
    /// (declared in `file`), and its breaker.
    fn declare(
        &mut self,
        file: &str,
        d: &Declaration,
    ) -> Result<(&'static str, Function, Breaker), TraceError> {
        let fail = |message| declaration_error(file, d, message);
        refuse_unreplayable(file, d)?;
        let config = config_of(d).map_err(fail)?;
        let free = FUNCTIONS.iter().find_map(|&(name, function)| {
            if self.used.contains(&name) {
                return None;
            }
            let breaker = registered(name)?;
            (breaker.config() == &config).then_some((name, function, breaker))
        });
        let Some(free) = free else {
            return Err(fail(format!(
                "no unused annotated async function is configured `{}` (breaker `{}`); the async attribute mode knows the configurations of the shipped traces and of `gen`",
                config.to_keys(),
                d.name
            )));
        };
        self.used.push(free.0);
        self.changes.declare(d);
        self.timers.declare(file, d);
        Ok(free)
    }

    /// Checks `lines` (of `file`: a chunk, or a whole trace): what no
    /// attribute mode can follow of their `configure` lines, then whether
    /// tokio's timers can end every call at its time.
    fn check(
        &mut self,
        file: &str,
        lines: Lines<'_>,
        breakers: &[Declaration],
    ) -> Result<(), TraceError> {
        self.changes.check(file, lines.reconfigurations, breakers)?;
        self.timers.check(lines, breakers)
    }
}

/// Whether the async attribute mode can replay `trace`: every breaker has an
/// annotated async function of its configuration, and tokio's timers can end
/// every call at its time. Checked as a replay checks it, touching no
/// breaker: nothing is replayed or written.
pub fn check(file: &str, trace: &Trace) -> Result<(), TraceError> {
    let mut matching = Matching::default();
    for d in &trace.breakers {
        matching.declare(file, d)?;
    }
    matching.check(file, trace.as_lines(), &trace.breakers)
}

/// A paused current-thread runtime and the clock the registry reads from it.
pub struct AsyncReplay {
    rt: Runtime,
}

impl AsyncReplay {
    /// A runtime started paused.
    pub fn new() -> std::io::Result<AsyncReplay> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()?;
        Ok(AsyncReplay { rt })
    }

    /// Does `replay` with a cast of this runtime's (a fresh clock at zero,
    /// installed in the registry), the runtime entered throughout: the
    /// breakers read tokio's clock between polls too, and tokio's `Instant`
    /// is virtual only inside.
    pub fn with_cast<R>(&self, replay: impl FnOnce(&mut AsyncAnnotated<'_>) -> R) -> R {
        let _entered = self.rt.enter();
        let clock = TokioClock::starting_now();
        registry().use_clock(clock);
        let mut cast = AsyncAnnotated::on(&self.rt, clock);
        replay(&mut cast)
    }

    /// Replays `trace` through the annotated async functions, handing each
    /// event to `sink`. Fails before replaying anything if the trace cannot
    /// be matched or timed, and after it if a call ended otherwise than the
    /// trace says.
    pub fn replay_into(
        &self,
        file: &str,
        trace: &Trace,
        sink: &mut dyn FnMut(Event),
    ) -> Result<(), String> {
        self.with_cast(|cast| {
            cast.cast_whole(file, trace).map_err(|e| e.to_string())?;
            crate::engine::replay_into(trace, &mut cast.subjects, sink);
            match cast.mismatches().next() {
                Some(m) => Err(format!("{file}: {m}")),
                None => Ok(()),
            }
        })
    }
}

/// Replays a trace through the annotated async functions on a paused
/// current-thread runtime and returns the event log.
pub fn replay(file: &str, trace: &Trace) -> Result<Vec<Event>, String> {
    let replay = AsyncReplay::new().map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
    let mut events = Vec::new();
    replay.replay_into(file, trace, &mut |e| events.push(e))?;
    Ok(events)
}

/// The annotated async functions of a trace's breakers on one runtime,
/// matched as the trace declares them (each reset for the replay), each
/// chunk checked before it is replayed ([`AsyncReplay::with_cast`]).
pub struct AsyncAnnotated<'r> {
    rt: &'r Runtime,
    clock: TokioClock,
    matching: Matching,
    subjects: Vec<AsyncSubject<'r>>,
}

impl<'r> AsyncAnnotated<'r> {
    /// No breaker yet: they will run on `rt`, the registry reading `clock`.
    fn on(rt: &'r Runtime, clock: TokioClock) -> AsyncAnnotated<'r> {
        super::reported();
        configured();
        AsyncAnnotated {
            rt,
            clock,
            matching: Matching::default(),
            subjects: Vec::new(),
        }
    }

    /// Declares every breaker of `trace`, then checks the trace as one chunk.
    fn cast_whole(&mut self, file: &str, trace: &Trace) -> Result<(), TraceError> {
        for d in &trace.breakers {
            self.declare(file, d)?;
        }
        self.matching.check(file, trace.as_lines(), &trace.breakers)
    }

    /// Calls that ended otherwise than the trace says, described, breaker
    /// by breaker.
    pub fn mismatches(&self) -> impl Iterator<Item = &String> {
        self.subjects.iter().flat_map(|s| s.mismatches.iter())
    }
}

impl<'r> Cast for AsyncAnnotated<'r> {
    type Subject = AsyncSubject<'r>;

    fn declare(&mut self, file: &str, d: &Declaration) -> Result<BreakerConfig, TraceError> {
        let (name, function, breaker) = self.matching.declare(file, d)?;
        // A breaker used by an earlier replay starts afresh; that reset is
        // not this replay's transition.
        breaker.reset();
        let _ = take_reported(name);
        self.subjects.push(AsyncSubject {
            rt: self.rt,
            clock: self.clock,
            replayed: Replayed::new(name.to_owned(), breaker.clone(), breaker.config().clone()),
            trace_name: d.name.clone(),
            function,
            calls: 0,
            mismatches: Vec::new(),
        });
        Ok(d.config.clone())
    }

    fn check(&mut self, chunk: &Chunk, breakers: &[Declaration]) -> Result<(), TraceError> {
        self.matching.check(&chunk.file, chunk.as_lines(), breakers)
    }

    fn subjects(&mut self) -> &mut [AsyncSubject<'r>] {
        &mut self.subjects
    }
}

/// One breaker of the trace, driven through its annotated async function.
pub struct AsyncSubject<'r> {
    rt: &'r Runtime,
    clock: TokioClock,
    /// The breaker, under its name in the registry (`async/...`).
    replayed: Replayed,
    /// The breaker's name in the trace.
    trace_name: String,
    function: Function,
    calls: u64,
    /// Calls whose result was not the one the engine expected.
    mismatches: Vec<String>,
}

/// A call in flight: its future, polled once so far.
pub struct AsyncTicket {
    future: CallFuture,
    call: u64,
    start_ns: u64,
    transitions_at_start: u64,
}

/// How one poll of a call went.
enum Polled {
    Ready(Result<(), SimError>),
    Panicked,
    Pending,
}

impl Polled {
    fn describe(&self) -> String {
        match self {
            Polled::Ready(Ok(())) => "returned Ok".to_string(),
            Polled::Ready(Err(e)) => format!("returned Err({e})"),
            Polled::Panicked => "panicked".to_string(),
            Polled::Pending => "was still running".to_string(),
        }
    }
}

impl<'r> AsyncSubject<'r> {
    /// The subjects of a trace, one per declaration, each matched to an
    /// unused annotated async function of the same configuration and reset,
    /// as a streamed replay matches them ([`AsyncAnnotated`]). The registry
    /// must read `clock`, and the runtime be entered.
    pub fn for_trace(
        file: &str,
        trace: &Trace,
        rt: &'r Runtime,
        clock: TokioClock,
    ) -> Result<Vec<AsyncSubject<'r>>, TraceError> {
        let mut cast = AsyncAnnotated::on(rt, clock);
        cast.cast_whole(file, trace)?;
        Ok(std::mem::take(&mut cast.subjects))
    }

    /// Moves tokio's clock to `now_ns` (never back); timers due by then fire.
    fn at(&self, now_ns: u64) {
        let target = self.clock.base + Duration::from_nanos(now_ns);
        self.rt.block_on(async {
            let now = Instant::now();
            if target > now {
                tokio::time::advance(target - now).await;
            }
        });
    }

    /// Polls a call once, at the current time, catching its panic.
    fn poll(&self, future: &mut CallFuture) -> Polled {
        self.rt
            .block_on(std::future::poll_fn(|cx: &mut Context<'_>| {
                let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    future.as_mut().poll(cx)
                }));
                Poll::Ready(match polled {
                    Ok(Poll::Ready(result)) => Polled::Ready(result),
                    Ok(Poll::Pending) => Polled::Pending,
                    Err(_) => Polled::Panicked,
                })
            }))
    }

    /// Calls whose result differed from what the trace says, described.
    pub fn mismatches(&self) -> &[String] {
        &self.mismatches
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Mode for AsyncSubject<'_> {
    type Ticket = AsyncTicket;

    fn replayed(&mut self) -> &mut Replayed {
        &mut self.replayed
    }

    fn at(&self, now_ns: u64) {
        AsyncSubject::at(self, now_ns);
    }

    fn admit_call(
        &mut self,
        now_ns: u64,
        latency_ns: u64,
        written: Outcome,
    ) -> Decision<AsyncTicket> {
        self.at(now_ns);
        self.calls += 1;
        let mut future = (self.function)(AsyncTrial {
            latency: Duration::from_nanos(latency_ns),
            finish: Finish::of(written),
        });
        match self.poll(&mut future) {
            Polled::Pending => Decision::Admitted(AsyncTicket {
                future,
                call: self.calls,
                start_ns: now_ns,
                // Counted after the admission: a trial's own Open -> HalfOpen
                // starts its period.
                transitions_at_start: self.replayed.transitions_seen
                    + pending_reported(&self.replayed.name),
            }),
            Polled::Ready(Err(SimError::Breaker(e))) if e.is_rejected() => Decision::Rejected {
                retry_after_ns: e.retry_after().map(nanos),
            },
            other => {
                self.mismatches.push(format!(
                    "call {} of `{}` {} at its admission",
                    self.calls,
                    self.trace_name,
                    other.describe()
                ));
                Decision::Rejected {
                    retry_after_ns: None,
                }
            }
        }
    }

    fn end(
        &mut self,
        now_ns: u64,
        mut ticket: AsyncTicket,
        outcome: EndKind,
        _written: Outcome,
    ) -> Ended {
        self.at(now_ns);
        let slow_before = self.replayed.breaker.stats().slow;
        // A transition since the call started ended its period; its own end's does not count.
        let straggler = self.replayed.transitions_seen + pending_reported(&self.replayed.name)
            > ticket.transitions_at_start;
        let polled = self.poll(&mut ticket.future);
        let expected = match (outcome, &polled) {
            (EndKind::Success, Polled::Ready(Ok(()) | Err(SimError::Ignored))) => true,
            (EndKind::Failure, Polled::Ready(Err(SimError::Failed)) | Polled::Panicked) => true,
            (EndKind::Timeout, Polled::Ready(Err(SimError::Breaker(e)))) => e.is_timeout(),
            _ => false,
        };
        if !expected {
            self.mismatches.push(format!(
                "call {} of `{}` {} at {}, where the trace says {}",
                ticket.call,
                self.trace_name,
                polled.describe(),
                format_duration(now_ns),
                outcome.as_str()
            ));
        }
        Ended {
            latency_ns: now_ns.saturating_sub(ticket.start_ns),
            slow: self.replayed.breaker.stats().slow > slow_before,
            straggler,
        }
    }
}

impl Drop for AsyncSubject<'_> {
    fn drop(&mut self) {
        // In the runtime: the breaker reads tokio's clock.
        let _entered = self.rt.enter();
        self.replayed.restore();
    }
}
