//! The attribute's subjects: real `#[circuit_breaker]` functions driven from
//! a trace, sync ([`sync`], each call on a thread of its own under the
//! registry's `ManualClock`) or async ([`asynchronous`], tasks under tokio's
//! paused clock). What both need lives here: the simulated error and how a
//! body is told to end, the transitions the global registry reported, the
//! registry's breakers and the configurations declarations write, and what
//! neither mode can replay.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use breaker_core::{Breaker, Config, Error, circuit_breaker, registry};

use crate::engine::{Decision, Ended, Subject, Transition};
use crate::log::{EndKind, State};
use crate::trace::{Action, Declaration, Outcome, Reconfiguration, TraceError};

pub mod asynchronous;
mod changes;
pub mod sync;
mod timers;

/// The error of a simulated call.
#[derive(Debug)]
pub enum SimError {
    /// `err`: a failure.
    Failed,
    /// `ignored`: an error the `failure` predicate excuses.
    Ignored,
    /// The breaker did not let the call run.
    Breaker(Error),
}

impl From<Error> for SimError {
    fn from(e: Error) -> Self {
        SimError::Breaker(e)
    }
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::Failed => f.write_str("simulated failure"),
            SimError::Ignored => f.write_str("simulated ignored error"),
            SimError::Breaker(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SimError {}

/// The `failure` predicate of every simulated function: `ignored` is not a failure.
pub fn counts(e: &SimError) -> bool {
    !matches!(e, SimError::Ignored)
}

/// How the engine tells a running body to end.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Finish {
    Ok,
    Err,
    Ignored,
    Panic,
}

impl Finish {
    /// The ending a trace line wrote.
    pub(crate) fn of(written: Outcome) -> Finish {
        match written {
            Outcome::Ok => Finish::Ok,
            Outcome::Err => Finish::Err,
            Outcome::Ignored => Finish::Ignored,
            Outcome::Panic => Finish::Panic,
        }
    }

    /// Ends a body: returns its result, or panics for `panic`.
    pub(crate) fn apply(self) -> Result<(), SimError> {
        match self {
            Finish::Ok => Ok(()),
            Finish::Err => Err(SimError::Failed),
            Finish::Ignored => Err(SimError::Ignored),
            // resume_unwind skips the panic hook: a simulated panic prints nothing.
            Finish::Panic => std::panic::resume_unwind(Box::new("simulated panic")),
        }
    }
}

/// The transitions of every breaker of the global registry, by name, not
/// yet taken by a replay.
pub(crate) type Reported = Mutex<HashMap<String, Vec<Transition>>>;

/// The transitions the global registry reported (its listener is added once).
pub(crate) fn reported() -> &'static Reported {
    static REPORTED: OnceLock<Arc<Reported>> = OnceLock::new();
    REPORTED.get_or_init(|| {
        let reported: Arc<Reported> = Arc::default();
        let sink = Arc::clone(&reported);
        registry().on_transition(move |t| {
            let state = crate::subject::real::state;
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(t.name.to_string())
                .or_default()
                .push(Transition {
                    t_ns: u64::try_from(t.at.as_nanos()).unwrap_or(u64::MAX),
                    from: state(t.from),
                    to: state(t.to),
                    reason: t.reason.to_string(),
                    dry_run: t.dry_run,
                });
        });
        reported
    })
}

/// The keys of the last reconfiguration of every breaker of the global
/// registry, by name, not yet taken by a replay.
pub(crate) type Configured = Mutex<HashMap<String, String>>;

/// The reconfigurations the global registry reported (its listener is added once).
pub(crate) fn configured() -> &'static Configured {
    static CONFIGURED: OnceLock<Arc<Configured>> = OnceLock::new();
    CONFIGURED.get_or_init(|| {
        let configured: Arc<Configured> = Arc::default();
        let sink = Arc::clone(&configured);
        registry().on_configured(move |c| {
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(c.name.to_string(), c.keys_text());
        });
        configured
    })
}

/// Takes the keys of the reconfiguration `name` reported since the last take.
pub(crate) fn take_configured(name: &str) -> Option<String> {
    configured()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(name)
}

/// Applies a `configure` line to the registry's breaker `name` through
/// `Registry::reconfigure`, as an operator would (both modes): the keys
/// breaker-core reported as changed.
pub(crate) fn reconfigure_registered(name: &str, change: &Reconfiguration) -> Option<String> {
    crate::subject::real::reconfigure(
        &change.patch(),
        |patch| {
            registry()
                .reconfigure(name, patch)
                .map_err(|e| e.to_string())
        },
        || take_configured(name),
    )
}

/// Puts a registry breaker a replay reconfigured back to the configuration
/// of its attribute, `original`, so the next replay in this process finds
/// it as its function declares it; that change is no replay's event.
pub(crate) fn restore(name: &str, breaker: &Breaker, original: &Config) {
    if breaker.config() != original {
        breaker.reconfigure_to(original.clone());
        let _ = take_configured(name);
    }
}

/// Takes the transitions `name` reported since the last take.
pub(crate) fn take_reported(name: &str) -> Vec<Transition> {
    reported()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_mut(name)
        .map(std::mem::take)
        .unwrap_or_default()
}

/// How many transitions `name` reported that are not taken yet.
pub(crate) fn pending_reported(name: &str) -> u64 {
    reported()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(name)
        .map_or(0, |v| v.len() as u64)
}

/// The registry breaker `name`, registering every annotated function first if needed.
pub(crate) fn registered(name: &str) -> Option<Breaker> {
    registry().get(name).or_else(|| {
        let _ = probe();
        registry().get(name)
    })
}

/// A mistake of declaration `d` of `file`, pointing at its line.
pub(crate) fn declaration_error(file: &str, d: &Declaration, message: String) -> TraceError {
    TraceError {
        file: file.to_string(),
        line: d.line_no,
        column: 1,
        message,
    }
}

/// What neither attribute mode can replay: adaptive drops and the ramp's
/// admissions, which the registry's breakers draw from entropy, and retries, which the annotated
/// functions of these modes do not make.
pub(crate) fn refuse_unreplayable(file: &str, d: &Declaration) -> Result<(), TraceError> {
    if d.config.adaptive.is_some() {
        return Err(declaration_error(
            file,
            d,
            format!(
                "breaker `{}` throttles (`adaptive`), whose drops this mode cannot seed (the registry's breakers draw from entropy); replay it directly",
                d.name
            ),
        ));
    }
    if d.config.ramp.is_some() {
        return Err(declaration_error(
            file,
            d,
            format!(
                "breaker `{}` ramps after recovery (`ramp`), whose admissions this mode cannot seed (the registry's breakers draw from entropy); replay it directly",
                d.name
            ),
        ));
    }
    if d.config.attempts() > 1 {
        return Err(declaration_error(
            file,
            d,
            format!(
                "breaker `{}` retries (`retry`), which the annotated functions of this mode do not; replay it directly",
                d.name
            ),
        ));
    }
    Ok(())
}

/// A function of its own breaker, called once before a replay: the first call
/// of any annotated function registers them all (with their attributes'
/// configurations), without touching the breakers under test.
#[circuit_breaker(breaker_sim_probe)]
fn probe() -> Result<(), SimError> {
    Ok(())
}

/// What both attribute modes hold of one breaker of the trace: its name in
/// the registry, the breaker, the attribute's configuration (put back when
/// the replay is over), and the transitions taken so far (a call with one
/// between its start and end straggles).
pub struct Replayed {
    pub(crate) name: String,
    pub(crate) breaker: Breaker,
    pub(crate) original: Config,
    pub(crate) transitions_seen: u64,
}

impl Replayed {
    pub(crate) fn new(name: String, breaker: Breaker, original: Config) -> Replayed {
        Replayed {
            name,
            breaker,
            original,
            transitions_seen: 0,
        }
    }
}

impl Replayed {
    /// Puts the attribute's configuration back (each mode when it is
    /// dropped: the async one inside its runtime, whose clock the breaker reads).
    pub(crate) fn restore(&self) {
        restore(&self.name, &self.breaker, &self.original);
    }
}

/// How a mode runs its calls: the part of [`Subject`] the sync and async
/// modes do differently. Everything else is theirs in common, below.
pub trait Mode {
    /// What an admitted call holds until it ends.
    type Ticket;
    /// The breaker this subject replays.
    fn replayed(&mut self) -> &mut Replayed;
    /// Moves the mode's clock to `now_ns`.
    fn at(&self, now_ns: u64);
    /// See [`Subject::admit_call`].
    fn admit_call(
        &mut self,
        now_ns: u64,
        latency_ns: u64,
        written: Outcome,
    ) -> Decision<Self::Ticket>;
    /// See [`Subject::end`].
    fn end(
        &mut self,
        now_ns: u64,
        ticket: Self::Ticket,
        outcome: EndKind,
        written: Outcome,
    ) -> Ended;
}

impl<M: Mode> Subject for M {
    type Ticket = M::Ticket;

    fn admit(&mut self, now_ns: u64) -> Decision<M::Ticket> {
        Mode::admit_call(self, now_ns, 0, Outcome::Ok)
    }

    fn admit_call(
        &mut self,
        now_ns: u64,
        latency_ns: u64,
        written: Outcome,
    ) -> Decision<M::Ticket> {
        Mode::admit_call(self, now_ns, latency_ns, written)
    }

    fn end(&mut self, now_ns: u64, ticket: M::Ticket, outcome: EndKind, written: Outcome) -> Ended {
        Mode::end(self, now_ns, ticket, outcome, written)
    }

    fn action(&mut self, now_ns: u64, action: Action) {
        self.at(now_ns);
        crate::subject::real::act(&self.replayed().breaker, action);
    }

    fn configure(&mut self, now_ns: u64, change: &Reconfiguration) -> Option<String> {
        self.at(now_ns);
        reconfigure_registered(&self.replayed().name, change)
    }

    fn state(&mut self, now_ns: u64) -> State {
        self.at(now_ns);
        crate::subject::real::state(self.replayed().breaker.state())
    }

    fn take_transitions(&mut self) -> Vec<Transition> {
        let replayed = self.replayed();
        let taken = take_reported(&replayed.name);
        replayed.transitions_seen += taken.len() as u64;
        taken
    }

    /// Never asked: the attribute modes refuse breakers with retries before
    /// replaying.
    fn retry_delay(&mut self, _attempt: u32) -> u64 {
        0
    }
}
