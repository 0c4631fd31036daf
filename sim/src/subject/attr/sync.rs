//! Driving real `#[circuit_breaker]` functions from a trace.
//!
//! The functions below carry, in their attributes, the configurations of the
//! breakers of the shipped traces. Each call of the trace runs its function on
//! a thread of its own, under the global registry's `ManualClock`: the body
//! tells the engine it started, then waits until the engine has moved the
//! clock to the call's end and tells it how to end. So calls overlap in
//! virtual time exactly as in the direct replay, and the event log must be
//! the same, byte for byte.
//!
//! Sync functions have no timeout, so traces with `timeout` are refused here
//! (the async mode, [`super::asynchronous`], runs them). The registry is
//! global and each replay installs its clock in it: one replay at a time per
//! process, and each trace's breakers used once.

use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::{circuit_breaker, registry};

use super::changes::Changes;
use super::{
    Finish, Mode, Replayed, SimError, configured, counts, declaration_error, pending_reported,
    refuse_unreplayable, registered, reported,
};
use crate::config::BreakerConfig;
use crate::engine::{Decision, Ended};
use crate::log::{EndKind, Event};
use crate::stream::Cast;
use crate::subject::real::config_of;
use crate::trace::{Chunk, Declaration, Outcome, Trace, TraceError};

/// What a call's thread tells the engine.
enum Report {
    Started,
    Returned(Result<(), SimError>),
    Panicked,
}

/// A running call's body: reports its start, then ends as told.
pub struct Trial {
    report: Sender<Report>,
    finish: Receiver<Finish>,
}

impl Trial {
    fn run(self) -> Result<(), SimError> {
        let _ = self.report.send(Report::Started);
        self.finish.recv().unwrap_or(Finish::Ok).apply()
    }
}

/// outage.trace `db`.
#[circuit_breaker(db, fail_max = 5, reset = 10s, success = 2, failure = counts)]
pub fn db(trial: Trial) -> Result<(), SimError> {
    trial.run()
}

/// flapping.trace `api`.
#[circuit_breaker(api, failure_rate = 50, window = 6, min_calls = 4, reset = 2s, success = 2, half_open = 2, failure = counts)]
pub fn api(trial: Trial) -> Result<(), SimError> {
    trial.run()
}

/// flapping.trace `cache`.
#[circuit_breaker(cache, failure_rate = 40, window = 2s, min_calls = 3, reset = 1s, failure = counts)]
pub fn cache(trial: Trial) -> Result<(), SimError> {
    trial.run()
}

/// half_open.trace `h`.
#[circuit_breaker(h, fail_max = 2, reset = 5s, success = 3, half_open = 2, failure = counts)]
pub fn h(trial: Trial) -> Result<(), SimError> {
    trial.run()
}

/// backoff.trace `b`.
#[circuit_breaker(b, fail_max = 1, reset = 1s, backoff = 2, reset_max = 5s, success = 1, failure = counts)]
pub fn b(trial: Trial) -> Result<(), SimError> {
    trial.run()
}

/// backoff.trace `f`.
#[circuit_breaker(f, fail_max = 1, reset = 3ns, backoff = 1.5, failure = counts)]
pub fn f(trial: Trial) -> Result<(), SimError> {
    trial.run()
}

/// manual.trace `m`.
#[circuit_breaker(m, fail_max = 1, reset = 10s, failure = counts)]
pub fn m(trial: Trial) -> Result<(), SimError> {
    trial.run()
}

/// manual.trace `n`.
#[circuit_breaker(n, fail_max = 2, failure = counts)]
pub fn n(trial: Trial) -> Result<(), SimError> {
    trial.run()
}

/// operator.trace `cfg` (reconfigured by the trace's `configure` lines).
#[circuit_breaker(cfg, fail_max = 5, reset = 10s, success = 2, half_open = 1, failure = counts)]
pub fn cfg(trial: Trial) -> Result<(), SimError> {
    trial.run()
}

/// operator.trace `cfgr` (reconfigured by the trace's `configure` lines).
#[circuit_breaker(cfgr, failure_rate = 50, window = 4, reset = 5s, failure = counts)]
pub fn cfgr(trial: Trial) -> Result<(), SimError> {
    trial.run()
}

type Function = fn(Trial) -> Result<(), SimError>;

/// The annotated functions, by breaker name.
pub const FUNCTIONS: [(&str, Function); 10] = [
    ("db", db),
    ("api", api),
    ("cache", cache),
    ("h", h),
    ("b", b),
    ("f", f),
    ("m", m),
    ("n", n),
    ("cfg", cfg),
    ("cfgr", cfgr),
];

/// The virtual clock of the sync mode.
fn clock() -> &'static ManualClock {
    static CLOCK: OnceLock<ManualClock> = OnceLock::new();
    CLOCK.get_or_init(ManualClock::new)
}

/// One breaker of the trace, driven through its annotated function.
pub struct AttrSubject {
    replayed: Replayed,
    function: Function,
}

/// A call running on its own thread.
pub struct AttrTicket {
    finish: Sender<Finish>,
    report: Receiver<Report>,
    thread: JoinHandle<()>,
    start_ns: u64,
    transitions_at_start: u64,
}

impl AttrSubject {
    /// The subjects of a trace, one per declaration, each matched to the
    /// annotated function of the same name and the same configuration, as
    /// a streamed replay matches them ([`Annotated`]).
    pub fn for_trace(file: &str, trace: &Trace) -> Result<Vec<AttrSubject>, TraceError> {
        let mut cast = Annotated::new();
        for decl in &trace.breakers {
            cast.declare(file, decl)?;
        }
        cast.changes
            .check(file, &trace.reconfigurations, &trace.breakers)?;
        Ok(cast.subjects)
    }
}

/// The annotated functions of a trace's breakers, matched as the trace
/// declares them; its `configure` lines checked chunk by chunk.
pub struct Annotated {
    subjects: Vec<AttrSubject>,
    changes: Changes,
}

impl Annotated {
    /// No breaker yet. Sets the registry up for the replay: its listeners
    /// are added, and its clock is this mode's (the async mode may have
    /// installed its own since).
    pub fn new() -> Annotated {
        reported();
        configured();
        registry().use_clock(clock().clone());
        Annotated {
            subjects: Vec::new(),
            changes: Changes::default(),
        }
    }
}

impl Default for Annotated {
    fn default() -> Self {
        Annotated::new()
    }
}

impl Cast for Annotated {
    type Subject = AttrSubject;

    /// Matches `decl` to the annotated function of its name, refusing what
    /// this mode cannot replay and a configuration other than the
    /// function's.
    fn declare(&mut self, file: &str, d: &Declaration) -> Result<BreakerConfig, TraceError> {
        let fail = |message| declaration_error(file, d, message);
        refuse_unreplayable(file, d)?;
        if d.config.timeout.is_some() {
            return Err(fail(format!(
                "breaker `{}` has a timeout, which sync annotated functions cannot enforce",
                d.name
            )));
        }
        let Some(&(_, function)) = FUNCTIONS.iter().find(|(n, _)| *n == d.name) else {
            let known: Vec<&str> = FUNCTIONS.iter().map(|(n, _)| *n).collect();
            return Err(fail(format!(
                "no annotated function for breaker `{}`; the attribute mode knows {}",
                d.name,
                known.join(", ")
            )));
        };
        let config = config_of(d).map_err(fail)?;
        let Some(breaker) = registered(&d.name) else {
            return Err(fail(format!("breaker `{}` is not in the registry", d.name)));
        };
        if breaker.config() != &config {
            return Err(fail(format!(
                "the annotated function `{}` is configured `{}`, the trace `{}`",
                d.name,
                breaker.config().to_keys(),
                config.to_keys()
            )));
        }
        self.changes.declare(d);
        self.subjects.push(AttrSubject {
            replayed: Replayed::new(d.name.clone(), breaker, config),
            function,
        });
        Ok(d.config.clone())
    }

    fn check(&mut self, chunk: &Chunk, breakers: &[Declaration]) -> Result<(), TraceError> {
        self.changes
            .check(&chunk.file, &chunk.reconfigurations, breakers)
    }

    fn subjects(&mut self) -> &mut [AttrSubject] {
        &mut self.subjects
    }
}

impl Mode for AttrSubject {
    type Ticket = AttrTicket;

    fn replayed(&mut self) -> &mut Replayed {
        &mut self.replayed
    }

    fn at(&self, now_ns: u64) {
        clock().set(Duration::from_nanos(now_ns));
    }

    /// The call's latency and outcome are told when it ends.
    fn admit_call(
        &mut self,
        now_ns: u64,
        _latency_ns: u64,
        _written: Outcome,
    ) -> Decision<AttrTicket> {
        self.at(now_ns);
        let (report_tx, report_rx) = channel();
        let (finish_tx, finish_rx) = channel();
        let function = self.function;
        let trial = Trial {
            report: report_tx.clone(),
            finish: finish_rx,
        };
        let thread = std::thread::spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| function(trial)));
            let _ = report_tx.send(match result {
                Ok(r) => Report::Returned(r),
                Err(_) => Report::Panicked,
            });
        });
        match report_rx.recv() {
            Ok(Report::Started) => Decision::Admitted(AttrTicket {
                finish: finish_tx,
                report: report_rx,
                thread,
                start_ns: now_ns,
                transitions_at_start: self.replayed.transitions_seen + self.pending_transitions(),
            }),
            Ok(Report::Returned(Err(SimError::Breaker(e)))) => {
                let _ = thread.join();
                Decision::Rejected {
                    retry_after_ns: e
                        .retry_after()
                        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
                }
            }
            _ => {
                let _ = thread.join();
                Decision::Rejected {
                    retry_after_ns: None,
                }
            }
        }
    }

    fn end(
        &mut self,
        now_ns: u64,
        ticket: AttrTicket,
        _outcome: EndKind,
        written: Outcome,
    ) -> Ended {
        self.at(now_ns);
        let slow_before = self.replayed.breaker.stats().slow;
        // A transition since the call started ended its period; its own end's does not count.
        let straggler = self.replayed.transitions_seen + self.pending_transitions()
            > ticket.transitions_at_start;
        let _ = ticket.finish.send(Finish::of(written));
        let _ = ticket.report.recv();
        let _ = ticket.thread.join();
        Ended {
            latency_ns: now_ns.saturating_sub(ticket.start_ns),
            slow: self.replayed.breaker.stats().slow > slow_before,
            straggler,
        }
    }
}

impl Drop for AttrSubject {
    fn drop(&mut self) {
        self.replayed.restore();
    }
}

impl AttrSubject {
    fn pending_transitions(&self) -> u64 {
        pending_reported(&self.replayed.name)
    }
}

/// Replays a trace through the annotated functions.
pub fn replay(file: &str, trace: &Trace) -> Result<Vec<Event>, TraceError> {
    let mut subjects = AttrSubject::for_trace(file, trace)?;
    Ok(crate::engine::replay(trace, &mut subjects))
}
