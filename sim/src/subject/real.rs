//! The real breaker-core `Breaker` as a replay [`Subject`], on a `ManualClock`
//! ([`RealBreaker`]) or, through the same subject, on the real clock
//! ([`crate::subject::realtime`]).
//!
//! Before each step the breaker's clock is brought to the step's time (a
//! manual clock is set; the real one is waited for: [`Timing`]); the
//! transitions it reports to `on_transition` are collected and written right
//! after the event that caused them, at the time breaker-core gave them.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::retry::{Backoff, Jitter};
use breaker_core::{Breaker, Config, Error, Permit};

use crate::engine::{Decision, Ended, Subject, Transition};
use crate::log::{EndKind, Event, State};
use crate::trace::{Action, Declaration, Outcome, Reconfiguration, Trace, TraceError};

/// How a breaker-core subject's breaker meets trace time: its clock is
/// brought to each step's time, and what it reports on that clock is read
/// back as trace time.
pub trait Timing {
    /// Brings the breaker's clock to trace time `t_ns`; the clock's reading then.
    fn reach(&self, t_ns: u64) -> u64;
    /// Brings the clock to `t_ns` for a read of the state, where a clock that
    /// cannot be set (the real one) is left as it is.
    fn reach_for_state(&self, t_ns: u64);
    /// A reading of the breaker's clock, as trace time.
    fn trace_ns(&self, clock_ns: u64) -> u64;
    /// A span on the breaker's clock, as trace time.
    fn trace_span(&self, span: Duration) -> u64;
    /// A `configure` line's keys as the breaker takes them (the line's own,
    /// unless the breaker lives its durations at another pace).
    fn patch(&self, change: &Reconfiguration) -> String {
        change.patch()
    }
}

/// Virtual time: a manual clock set to each step's time, so the breaker's
/// clock reads trace time itself.
pub struct VirtualTime {
    clock: ManualClock,
    /// The time last given to `clock`: most steps happen at the time of the step before.
    clock_ns: Cell<u64>,
}

impl Timing for VirtualTime {
    fn reach(&self, t_ns: u64) -> u64 {
        if self.clock_ns.replace(t_ns) != t_ns {
            self.clock.set(Duration::from_nanos(t_ns));
        }
        t_ns
    }

    fn reach_for_state(&self, t_ns: u64) {
        self.reach(t_ns);
    }

    fn trace_ns(&self, clock_ns: u64) -> u64 {
        clock_ns
    }

    fn trace_span(&self, span: Duration) -> u64 {
        nanos(span)
    }
}

/// A breaker-core breaker, how it meets trace time, and the transitions it
/// reported.
pub struct CoreBreaker<T> {
    pub(crate) breaker: Breaker,
    pub(crate) timing: T,
    pub(crate) reported: Arc<Reported>,
    /// With `retry`: the waits between attempts, drawn as the attribute does.
    pub(crate) retry: RetryWaits,
}

/// breaker-core on virtual time.
pub type RealBreaker = CoreBreaker<VirtualTime>;

/// A borrowed [`RealBreaker`] under replay.
pub type RealSubject<'a> = CoreSubject<'a, VirtualTime>;

/// Transitions reported and not yet taken (every breaker-core subject). The
/// flag spares the replay a lock after every event: transitions are rare.
/// Beside them, the last reconfiguration reported, as its keys' text.
#[derive(Default)]
pub(crate) struct Reported {
    any: AtomicBool,
    list: Mutex<Vec<Transition>>,
    configured: Mutex<Option<String>>,
}

impl Reported {
    /// Collects what `breaker` reports to `on_transition`, at the times it
    /// gives, and to `on_configured`.
    pub(crate) fn watch(breaker: &Breaker) -> Arc<Reported> {
        let reported = Arc::new(Reported::default());
        let sink = Arc::clone(&reported);
        breaker.on_configured(move |c| {
            *sink.configured.lock().unwrap_or_else(|e| e.into_inner()) = Some(c.keys_text());
        });
        let sink = Arc::clone(&reported);
        breaker.on_transition(move |t| {
            sink.list
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Transition {
                    t_ns: nanos(t.at),
                    from: state(t.from),
                    to: state(t.to),
                    reason: t.reason.to_string(),
                    dry_run: t.dry_run,
                });
            sink.any.store(true, Ordering::Release);
        });
        reported
    }

    /// Whether a transition was reported since the last [`take`](Reported::take).
    #[inline]
    pub(crate) fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// The transitions reported since the last call, oldest first.
    pub(crate) fn take(&self) -> Vec<Transition> {
        if !self.any.load(Ordering::Acquire) {
            return Vec::new();
        }
        // Cleared before taking: a transition reported meanwhile sets it again.
        self.any.store(false, Ordering::Release);
        std::mem::take(&mut *self.list.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The keys of the reconfiguration reported since the last call, if any.
    pub(crate) fn take_configured(&self) -> Option<String> {
        self.configured
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

/// Applies a `configure` line's `patch` to a breaker-core breaker (every
/// real subject): the changed keys as breaker-core reported them
/// (`reported`, the text of its `Configured` event), `None` when it changed
/// no value. A patch it refuses (which the cast checks before the line is
/// replayed) shows as a `configured` event naming the refusal, a divergence
/// rather than a crash.
pub(crate) fn reconfigure(
    patch: &str,
    apply: impl FnOnce(&str) -> Result<Vec<&'static str>, String>,
    reported: impl FnOnce() -> Option<String>,
) -> Option<String> {
    match apply(patch) {
        Ok(keys) if keys.is_empty() => None,
        // Listeners run on the reconfiguring thread, before it returns.
        Ok(keys) => Some(reported().unwrap_or_else(|| keys.join(" "))),
        Err(e) => Some(format!("breaker-core refused `{patch}`: {e}")),
    }
}

/// A `configure` line at `file:line` whose result breaker-core refuses for
/// breaker `name`.
fn refused_configure(
    file: &str,
    line: usize,
    name: &str,
    error: &dyn std::fmt::Display,
) -> TraceError {
    TraceError {
        file: file.to_string(),
        line,
        column: 1,
        message: format!(
            "breaker-core refuses what `configure` makes of the configuration of `{name}`: {error}"
        ),
    }
}

/// The caller's retry waits of a declaration with `retry`: breaker-core's
/// backoff, drawn from the breaker's own jitter generator.
pub(crate) type RetryWaits = Option<(Backoff, Jitter)>;

/// The breaker-core configuration a declaration describes, through
/// breaker-core's text builder, and its retry waits drawn under `seed`
/// (every breaker-core subject: they must build the same breaker).
pub(crate) fn configure(decl: &Declaration, seed: u64) -> Result<(Config, RetryWaits), String> {
    configure_as(decl, seed, &decl.name)
}

/// [`configure`] for a breaker whose waits are drawn under `seed` and
/// `label` (its name, unless it is another replica of a fleet).
fn configure_as(
    decl: &Declaration,
    seed: u64,
    label: &str,
) -> Result<(Config, RetryWaits), String> {
    let retry = match decl.config.retry {
        Some(_) => {
            let (base, max) = decl.config.retry_waits();
            let backoff = Backoff::new(Duration::from_nanos(base), Duration::from_nanos(max))
                .map_err(|e| e.to_string())?;
            Some((backoff, Jitter::derive(seed, label)))
        }
        None => None,
    };
    Ok((config_of(decl)?, retry))
}

/// The configuration a declaration writes, as breaker-core builds it
/// through its text builder (every breaker-core subject, and the
/// attribute modes' checks).
pub(crate) fn config_of(decl: &Declaration) -> Result<Config, String> {
    let mut builder = Config::builder();
    for (key, value) in decl.config.breaker_keys() {
        builder = builder.set(key, value).map_err(|e| e.to_string())?;
    }
    builder.build().map_err(|e| e.to_string())
}

/// A breaker-core state as the event log writes it (every real subject).
pub(crate) fn state(s: breaker_core::State) -> State {
    match s {
        breaker_core::State::Closed => State::Closed,
        breaker_core::State::Open => State::Open,
        breaker_core::State::HalfOpen => State::HalfOpen,
        breaker_core::State::ForcedOpen => State::ForcedOpen,
        breaker_core::State::Disabled => State::Disabled,
        breaker_core::State::MetricsOnly => State::MetricsOnly,
        // An unknown future state shows as a divergence rather than a crash.
        other => State::from_name(other.as_str()).unwrap_or(State::MetricsOnly),
    }
}

/// The seed the simulator gives `Breaker::reseed` for breaker `name` under
/// `seed`: the first draw of `Jitter::derive(seed, "adaptive/" + name)`, so
/// that a breaker's drops neither depend on its retry waits nor repeat them.
pub fn adaptive_seed(seed: u64, name: &str) -> u64 {
    Jitter::derive(seed, &format!("adaptive/{name}")).next_u64()
}

pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The breakers of a whole trace, built and checked as a streamed replay
/// builds and checks them: each declaration through [`Cores`], then the
/// trace's `configure` lines as one chunk. A configuration breaker-core
/// refuses is reported at its declaration, a `configure` line it refuses at
/// that line.
pub(crate) fn for_trace<B: Build>(
    file: &str,
    trace: &Trace,
    build: B,
) -> Result<Vec<CoreBreaker<B::Timing>>, TraceError> {
    let arena = typed_arena::Arena::new();
    let mut cores = Cores::with(&arena, build);
    for decl in &trace.breakers {
        crate::stream::Cast::declare(&mut cores, file, decl)?;
    }
    cores.check_changes(file, &trace.reconfigurations, &trace.breakers)?;
    // The subjects borrow the arena: they go before the breakers leave it.
    drop(cores);
    Ok(arena.into_vec())
}

impl RealBreaker {
    /// Builds the breaker a declaration describes, through breaker-core's
    /// text builder (retry waits under seed 0).
    pub fn new(decl: &Declaration) -> Result<RealBreaker, String> {
        RealBreaker::seeded(decl, 0)
    }

    /// Builds the breaker a declaration describes; with `retry`, its waits
    /// are breaker-core's `Backoff::delay` drawn from
    /// `Jitter::derive(seed, name)`; its adaptive dice are reseeded with
    /// [`adaptive_seed`]`(seed, name)`.
    pub fn seeded(decl: &Declaration, seed: u64) -> Result<RealBreaker, String> {
        let (config, retry) = configure(decl, seed)?;
        let clock = ManualClock::new();
        let breaker = Breaker::with_clock(decl.name.as_str(), config, clock.clone());
        Ok(CoreBreaker::watch(
            breaker,
            VirtualTime {
                clock,
                clock_ns: Cell::new(0),
            },
            seed,
            retry,
        ))
    }

    /// Builds the breaker a declaration describes as a replica of a fleet:
    /// on `clock` (every replica's), joined to `store` (its replica's
    /// handle), its retry waits and adaptive drops drawn under `seed` and
    /// `label` (the breaker's name for the first replica, as a lone
    /// breaker's, so a fleet of one replays as the breaker alone).
    pub fn replica(
        decl: &Declaration,
        seed: u64,
        label: &str,
        clock: &ManualClock,
        store: &breaker_core::store::memory::MemoryStore,
    ) -> Result<RealBreaker, String> {
        let (config, retry) = configure_as(decl, seed, label)?;
        let breaker = Breaker::with_clock(decl.name.as_str(), config, clock.clone());
        let breaker = CoreBreaker::watch_as(
            breaker,
            VirtualTime {
                clock: clock.clone(),
                clock_ns: Cell::new(0),
            },
            adaptive_seed(seed, label),
            retry,
        );
        breaker.breaker.use_store(store);
        Ok(breaker)
    }

    /// Builds one breaker per declaration (retry waits under seed 0); a
    /// configuration breaker-core refuses is reported at its declaration.
    pub fn for_trace(file: &str, trace: &Trace) -> Result<Vec<RealBreaker>, TraceError> {
        RealBreaker::for_trace_seeded(file, trace, 0)
    }

    /// [`RealBreaker::for_trace`] with retry waits drawn under `seed`.
    pub fn for_trace_seeded(
        file: &str,
        trace: &Trace,
        seed: u64,
    ) -> Result<Vec<RealBreaker>, TraceError> {
        for_trace(file, trace, Seeded(seed))
    }
}

impl<T: Timing> CoreBreaker<T> {
    /// The subject of `breaker`: its adaptive dice reseeded with
    /// [`adaptive_seed`]`(seed, name)`, its transitions collected.
    pub(crate) fn watch(breaker: Breaker, timing: T, seed: u64, retry: RetryWaits) -> Self {
        let adaptive = adaptive_seed(seed, breaker.name());
        CoreBreaker::watch_as(breaker, timing, adaptive, retry)
    }

    /// [`CoreBreaker::watch`] with the adaptive dice reseeded with `adaptive`.
    fn watch_as(breaker: Breaker, timing: T, adaptive: u64, retry: RetryWaits) -> Self {
        breaker.reseed(adaptive);
        let reported = Reported::watch(&breaker);
        CoreBreaker {
            breaker,
            timing,
            reported,
            retry,
        }
    }

    /// The breaker, as a [`Subject`] for one replay.
    pub fn subject(&self) -> CoreSubject<'_, T> {
        CoreSubject { real: self }
    }
}

/// A borrowed [`CoreBreaker`] under replay: permits borrow the breaker.
pub struct CoreSubject<'a, T> {
    real: &'a CoreBreaker<T>,
}

/// An admitted call on a breaker-core breaker.
pub struct CoreTicket<'a> {
    permit: Permit<'a>,
    start_ns: u64,
}

impl<'a, T: Timing> Subject for CoreSubject<'a, T> {
    type Ticket = CoreTicket<'a>;

    // Inlined into the engine's step, so the decision comes back in
    // registers: returned through memory, it was read back wider than it
    // was written (a store-forwarding stall, a third of the step's time).
    #[inline(always)]
    fn admit(&mut self, now_ns: u64) -> Decision<CoreTicket<'a>> {
        let timing = &self.real.timing;
        let read = timing.reach(now_ns);
        match self.real.breaker.acquire() {
            Ok(permit) => Decision::Admitted(CoreTicket {
                permit,
                start_ns: now_ns,
            }),
            // `retry_after` counts from the breaker's own reading, at or a
            // little after `read`; counted from `read` and read back as trace
            // time it names the trace instant of the promised trial, stated
            // relative to the call's trace time (on a manual clock, exactly
            // what the breaker said).
            Err(Error::Rejected { retry_after, .. }) => Decision::Rejected {
                retry_after_ns: retry_after.map(|r| {
                    timing
                        .trace_ns(read.saturating_add(nanos(r)))
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
        ticket: CoreTicket<'a>,
        outcome: EndKind,
        _written: Outcome,
    ) -> Ended {
        let timing = &self.real.timing;
        timing.reach(now_ns);
        let recorded = match outcome {
            EndKind::Success => ticket.permit.success(),
            EndKind::Failure => ticket.permit.failure(),
            EndKind::Timeout => ticket.permit.timeout(),
        };
        Ended {
            latency_ns: recorded
                .latency
                .map_or(now_ns.saturating_sub(ticket.start_ns), |l| {
                    timing.trace_span(l)
                }),
            slow: recorded.slow,
            straggler: recorded.straggler,
        }
    }

    fn action(&mut self, now_ns: u64, action: Action) {
        self.real.timing.reach(now_ns);
        act(&self.real.breaker, action);
    }

    fn configure(&mut self, now_ns: u64, change: &Reconfiguration) -> Option<String> {
        let real = self.real;
        real.timing.reach(now_ns);
        reconfigure(
            &real.timing.patch(change),
            |patch| real.breaker.reconfigure(patch).map_err(|e| e.to_string()),
            || real.reported.take_configured(),
        )
    }

    fn state(&mut self, now_ns: u64) -> State {
        self.real.timing.reach_for_state(now_ns);
        state(self.real.breaker.state())
    }

    fn may_have_transitions(&self) -> bool {
        self.real.reported.any()
    }

    fn take_transitions(&mut self) -> Vec<Transition> {
        let mut list = self.real.reported.take();
        for t in &mut list {
            t.t_ns = self.real.timing.trace_ns(t.t_ns);
        }
        list
    }

    fn retry_delay(&mut self, attempt: u32) -> u64 {
        // Drawn in trace time, as the model draws them: the engine schedules
        // the retry, and reaching it is the timing's.
        self.real
            .retry
            .as_ref()
            .map_or(0, |(backoff, jitter)| nanos(backoff.delay(attempt, jitter)))
    }
}

/// An operator line, applied to a breaker-core breaker (every real subject).
pub(crate) fn act(breaker: &Breaker, action: Action) {
    match action {
        Action::Trip => breaker.trip(),
        Action::ForceOpen => breaker.force_open(),
        Action::Disable => breaker.disable(),
        Action::Reset => breaker.reset(),
        Action::MetricsOnly => breaker.metrics_only(),
    }
}

/// How [`Cores`] builds the breaker a declaration describes: on which
/// clock, under which seed.
pub trait Build {
    /// How the breakers it builds meet trace time.
    type Timing: Timing;
    /// The breaker `decl` describes, or why breaker-core refuses it.
    fn build(&mut self, decl: &Declaration) -> Result<CoreBreaker<Self::Timing>, String>;
}

/// breaker-core on virtual time, retry waits and adaptive drops drawn under
/// a seed ([`RealBreaker::seeded`]).
pub struct Seeded(pub u64);

impl Build for Seeded {
    type Timing = VirtualTime;

    fn build(&mut self, decl: &Declaration) -> Result<RealBreaker, String> {
        RealBreaker::seeded(decl, self.0)
    }
}

/// breaker-core breakers built as a streamed trace declares them (by `B`:
/// on virtual time unless told otherwise), each kept in `arena` (their
/// permits borrow them while calls are in flight).
pub struct Cores<'a, B: Build = Seeded> {
    arena: &'a typed_arena::Arena<CoreBreaker<B::Timing>>,
    subjects: Vec<CoreSubject<'a, B::Timing>>,
    /// Each breaker's configuration in force, as breaker-core builds it:
    /// what a `configure` line patches, checked before it is replayed.
    configs: Vec<Option<Config>>,
    build: B,
}

impl<'a> Cores<'a> {
    /// No breaker yet; they will live in `arena`, on virtual time, their
    /// retry waits and adaptive drops drawn under `seed`.
    pub fn new(arena: &'a typed_arena::Arena<RealBreaker>, seed: u64) -> Cores<'a> {
        Cores::with(arena, Seeded(seed))
    }
}

impl<'a, B: Build> Cores<'a, B> {
    /// No breaker yet; `build` will build them, to live in `arena`.
    pub fn with(arena: &'a typed_arena::Arena<CoreBreaker<B::Timing>>, build: B) -> Cores<'a, B> {
        Cores {
            arena,
            subjects: Vec::new(),
            configs: Vec::new(),
            build,
        }
    }

    /// Checks `changes` (`configure` lines of `file`, of the breakers
    /// declared so far) against breaker-core: a chunk's, or a whole trace's.
    pub fn check_changes(
        &mut self,
        file: &str,
        changes: &[Reconfiguration],
        breakers: &[Declaration],
    ) -> Result<(), TraceError> {
        check_changes(&mut self.configs, file, changes, breakers)
    }
}

impl<'a, B: Build> crate::stream::Cast for Cores<'a, B> {
    type Subject = CoreSubject<'a, B::Timing>;

    fn declare(
        &mut self,
        file: &str,
        decl: &Declaration,
    ) -> Result<crate::config::BreakerConfig, TraceError> {
        let breaker = self
            .build
            .build(decl)
            .map_err(|message| refused_declaration(file, decl, message))?;
        // The declaration's durations as written: a `configure` line's
        // are checked against them, whatever pace the breaker lives at.
        self.configs
            .push(configure(decl, 0).ok().map(|(config, _)| config));
        let breaker: &'a CoreBreaker<B::Timing> = self.arena.alloc(breaker);
        self.subjects.push(breaker.subject());
        Ok(decl.config.clone())
    }

    fn check(
        &mut self,
        chunk: &crate::trace::Chunk,
        breakers: &[Declaration],
    ) -> Result<(), TraceError> {
        self.check_changes(&chunk.file, &chunk.reconfigurations, breakers)
    }

    fn subjects(&mut self) -> &mut [CoreSubject<'a, B::Timing>] {
        &mut self.subjects
    }
}

/// Checks `changes` (`configure` lines of `file`) against breaker-core,
/// patching `configs` (each breaker's configuration in force, by index, as
/// breaker-core builds it): a patch it refuses is an error at its line.
pub(crate) fn check_changes(
    configs: &mut [Option<Config>],
    file: &str,
    changes: &[Reconfiguration],
    breakers: &[Declaration],
) -> Result<(), TraceError> {
    for change in changes {
        let Some(Some(current)) = configs.get_mut(change.breaker) else {
            continue;
        };
        let name = breakers
            .get(change.breaker)
            .map_or("?", |d| d.name.as_str());
        *current = current
            .patched(&change.patch())
            .map_err(|e| refused_configure(file, change.line_no, name, &e))?;
    }
    Ok(())
}

/// The error of a declaration breaker-core refuses, at its line.
pub(crate) fn refused_declaration(file: &str, decl: &Declaration, message: String) -> TraceError {
    TraceError {
        file: file.to_string(),
        line: decl.line_no,
        column: 1,
        message: format!(
            "breaker-core refuses the configuration of `{}`: {message}",
            decl.name
        ),
    }
}

/// Replays a trace through breaker-core, one fresh breaker per declaration
/// (retry waits under seed 0).
pub fn replay(file: &str, trace: &Trace) -> Result<Vec<Event>, TraceError> {
    replay_seeded(file, trace, 0)
}

/// Replays a trace through breaker-core, retry waits drawn under `seed`.
pub fn replay_seeded(file: &str, trace: &Trace, seed: u64) -> Result<Vec<Event>, TraceError> {
    let breakers = RealBreaker::for_trace_seeded(file, trace, seed)?;
    let mut subjects: Vec<RealSubject<'_>> = breakers.iter().map(RealBreaker::subject).collect();
    Ok(crate::engine::replay(trace, &mut subjects))
}
