//! The discrete-event replay of a trace through any [`Subject`].
//!
//! Calls start at their line's time and end at start + latency (or at
//! start + timeout, as a timeout, when the latency exceeds it). On a breaker
//! with `retry = N`, a call is up to N attempts: an admitted attempt that
//! fails (`err`, or a timeout; a panic unwinds, so it is not retried) is
//! followed, while attempts remain, by the next one after a wait the
//! subject draws ([`Subject::retry_delay`]); a rejected attempt ends the
//! call. At one instant, attempts' ends come first, in the order of their
//! calls' lines, then retries' starts, in the same order, then the trace's
//! lines in file order; what is still due after the last line happens at
//! its own time. A `configure` line reconfigures its breaker at its place
//! in that order (after the ends of its instant); its `timeout` cuts the
//! calls admitted from then on. The result is a pure function of the trace (and of the
//! seed the subjects draw their waits from).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::config::BreakerConfig;
use crate::log::{EndKind, Event, EventKind, State};
use crate::trace::{Action, Item, Outcome, Reconfiguration, Trace};

/// Whether a call may run.
#[derive(Debug)]
pub enum Decision<T> {
    /// Admitted; the ticket is handed back when the call ends.
    Admitted(T),
    /// Rejected; `retry_after_ns` only in Open.
    Rejected {
        /// Time until a trial is let through.
        retry_after_ns: Option<u64>,
    },
}

/// What the subject recorded for a call that ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    /// The latency the subject measured.
    pub latency_ns: u64,
    /// Latency strictly above `slow`.
    pub slow: bool,
    /// The call belonged to an earlier period.
    pub straggler: bool,
}

/// A transition the subject reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// When, in ns.
    pub t_ns: u64,
    /// From this state.
    pub from: State,
    /// To this state.
    pub to: State,
    /// Why.
    pub reason: String,
    /// A move of a MetricsOnly breaker's dry run: reported, never applied
    /// (the state stays `metrics_only`).
    pub dry_run: bool,
}

/// One breaker under replay: the reference model or the real breaker.
///
/// Every method receives the current virtual time; the engine never moves
/// time backwards.
pub trait Subject {
    /// What an admitted call holds until it ends.
    type Ticket;
    /// Asks to run a call now.
    fn admit(&mut self, now_ns: u64) -> Decision<Self::Ticket>;
    /// Asks to run a call now that would run `latency_ns` and end as
    /// `written` if admitted: subjects that run real code need to know at
    /// the start; the others only [`Subject::admit`].
    fn admit_call(
        &mut self,
        now_ns: u64,
        latency_ns: u64,
        written: Outcome,
    ) -> Decision<Self::Ticket> {
        let _ = (latency_ns, written);
        self.admit(now_ns)
    }
    /// Ends an admitted call now, the way it ended; `written` is the outcome
    /// as the trace wrote it (`ignored` and `panic` are also a success and a
    /// failure), for subjects that run real code.
    fn end(
        &mut self,
        now_ns: u64,
        ticket: Self::Ticket,
        outcome: EndKind,
        written: Outcome,
    ) -> Ended;
    /// Carries out an operator action now.
    fn action(&mut self, now_ns: u64, action: Action);
    /// Reconfigures the breaker now with a `configure` line's keys
    /// (SEMANTICS.md, "Reconfiguration"): `change.config` is the whole
    /// configuration they make, already checked. Returns the keys whose
    /// effective value changed, as the `configured` event writes them
    /// (`fail_max=10 reset=1m`), or `None` when no value changed.
    fn configure(&mut self, now_ns: u64, change: &Reconfiguration) -> Option<String>;
    /// The state now.
    fn state(&mut self, now_ns: u64) -> State;
    /// The transitions reported since the last call, oldest first.
    fn take_transitions(&mut self) -> Vec<Transition>;
    /// The wait, in ns, before the retry that follows failed attempt
    /// `attempt` (0-based) of a call, on a breaker declared with `retry`:
    /// one draw from the breaker's own jitter generator, uniform in
    /// `[0, min(max, base * 2^attempt)]` (`retry_backoff = base..max`).
    /// The engine asks once per retry, in the order the failed attempts end.
    fn retry_delay(&mut self, attempt: u32) -> u64;
}

/// Running calls, each in a slot that is reused once the call ends.
struct Slots<T> {
    slots: Vec<Option<T>>,
    free: Vec<usize>,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slots<T> {
    fn put(&mut self, value: T) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(value);
                i
            }
            None => {
                self.slots.push(Some(value));
                self.slots.len() - 1
            }
        }
    }

    fn take(&mut self, i: usize) -> Option<T> {
        let value = self.slots.get_mut(i)?.take();
        if value.is_some() {
            self.free.push(i);
        }
        value
    }
}

/// An admitted attempt, running until its end.
struct Running<T> {
    breaker: usize,
    call: u64,
    attempt: u32,
    line: usize,
    outcome: EndKind,
    written: Outcome,
    ticket: T,
}

/// A retry waiting for its start.
struct Waiting {
    breaker: usize,
    call: u64,
    attempt: u32,
    line: usize,
}

/// What the queue holds: the end of a running attempt, or the start of a retry.
enum Task<T> {
    End(Running<T>),
    Retry(Waiting),
}

/// At one instant, ends come before retries' starts; each kind in the order
/// of its calls' lines. (Packed into one word: a line index is below 2^63.)
fn order(retry: bool, line: usize) -> u64 {
    (u64::from(retry) << 63) | line as u64
}

/// Replays `trace` through `subjects` (one per declared breaker, in
/// declaration order) and returns the event log.
pub fn replay<S: Subject>(trace: &Trace, subjects: &mut [S]) -> Vec<Event> {
    let mut events = Vec::with_capacity(trace.lines.len() * 2);
    replay_into(trace, subjects, &mut |e| events.push(e));
    events
}

/// Replays `trace` through `subjects`, handing each event to `sink` as it
/// happens (so a long trace needs no memory for its log).
pub fn replay_into<S: Subject>(trace: &Trace, subjects: &mut [S], sink: &mut dyn FnMut(Event)) {
    let mut replay = Replay {
        trace,
        subjects,
        events: sink,
        queue: BinaryHeap::new(),
        tasks: Slots::default(),
        configs: trace.initial_configs(),
    };
    let mut calls = vec![0u64; trace.breakers.len()];
    for (idx, line) in trace.lines.iter().enumerate() {
        let now = line.t_ns;
        replay.run_until(now);
        let b = line.breaker();
        match line.item() {
            Item::Call { .. } => {
                calls[b] += 1;
                replay.start(now, b, calls[b], 0, idx);
            }
            Item::Action(action) => {
                replay.subjects[b].action(now, action);
                replay.emit(now, b, |state| EventKind::Action { action, state });
            }
            Item::Configure(index) => {
                let Some(change) = trace.reconfigurations.get(index) else {
                    continue;
                };
                replay.configs[b] = &change.config;
                if let Some(keys) = replay.subjects[b].configure(now, change) {
                    replay.emit(now, b, |state| EventKind::Configured { keys, state });
                }
            }
        }
    }
    replay.run_until(u64::MAX);
}

/// A replay under way: the subjects, the sink, and what is due later.
struct Replay<'a, 's, S: Subject> {
    trace: &'a Trace,
    subjects: &'s mut [S],
    events: &'a mut dyn FnMut(Event),
    /// (time, order, slot): see [`order`].
    queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    /// Running attempts and waiting retries in reusable slots: memory
    /// follows the calls in flight, not the trace.
    tasks: Slots<Task<S::Ticket>>,
    /// Each breaker's configuration in force: its `timeout` cuts the calls
    /// admitted from then on (SEMANTICS.md, "Reconfiguration").
    configs: Vec<&'a BreakerConfig>,
}

impl<S: Subject> Replay<'_, '_, S> {
    /// Carries out everything due at or before `now`, in order; what that
    /// schedules (a zero-latency retry's end) is carried out too if due.
    fn run_until(&mut self, now: u64) {
        while let Some(&Reverse((t, _, slot))) = self.queue.peek() {
            if t > now {
                break;
            }
            self.queue.pop();
            match self.tasks.take(slot) {
                Some(Task::End(run)) => self.finish(t, run),
                Some(Task::Retry(w)) => self.start(t, w.breaker, w.call, w.attempt, w.line),
                None => {}
            }
        }
    }

    /// Asks breaker `b` to run attempt `attempt` of call `call` (trace line
    /// `line`) now.
    fn start(&mut self, now: u64, b: usize, call: u64, attempt: u32, line: usize) {
        let Some((written, latency_ns)) = self.trace.attempt(line, attempt) else {
            return;
        };
        match self.subjects[b].admit_call(now, latency_ns, written) {
            Decision::Admitted(ticket) => {
                self.emit(now, b, |state| EventKind::Admitted {
                    call,
                    attempt,
                    state,
                });
                let (run_for, outcome) = match self.configs[b].timeout {
                    Some(limit) if latency_ns > limit => (limit, EndKind::Timeout),
                    _ => (
                        latency_ns,
                        match written {
                            Outcome::Ok | Outcome::Ignored => EndKind::Success,
                            Outcome::Err | Outcome::Panic => EndKind::Failure,
                        },
                    ),
                };
                let slot = self.tasks.put(Task::End(Running {
                    breaker: b,
                    call,
                    attempt,
                    line,
                    outcome,
                    written,
                    ticket,
                }));
                self.queue.push(Reverse((
                    now.saturating_add(run_for),
                    order(false, line),
                    slot,
                )));
            }
            Decision::Rejected { retry_after_ns } => {
                self.emit(now, b, |state| EventKind::Rejected {
                    call,
                    attempt,
                    state,
                    retry_after_ns,
                });
            }
        }
    }

    /// Ends an attempt at `t`; a failure (an `err` or a timeout; a panic
    /// unwinds) with attempts left schedules the next one after a wait the
    /// subject draws now.
    fn finish(&mut self, t: u64, run: Running<S::Ticket>) {
        let b = run.breaker;
        let ended = self.subjects[b].end(t, run.ticket, run.outcome, run.written);
        self.emit(t, b, |state| EventKind::Ended {
            call: run.call,
            attempt: run.attempt,
            outcome: run.outcome,
            latency_ns: ended.latency_ns,
            slow: ended.slow,
            straggler: ended.straggler,
            state,
        });
        let retried = match run.outcome {
            EndKind::Timeout => true,
            EndKind::Failure => run.written == Outcome::Err,
            EndKind::Success => false,
        };
        if retried && run.attempt + 1 < self.trace.breakers[b].config.attempts() {
            let wait = self.subjects[b].retry_delay(run.attempt);
            let slot = self.tasks.put(Task::Retry(Waiting {
                breaker: b,
                call: run.call,
                attempt: run.attempt + 1,
                line: run.line,
            }));
            self.queue.push(Reverse((
                t.saturating_add(wait),
                order(true, run.line),
                slot,
            )));
        }
    }

    /// Writes what breaker `b` did at `t` (`kind`, in the state the subject
    /// reports now), then the transitions it reported meanwhile.
    fn emit(&mut self, t: u64, b: usize, kind: impl FnOnce(State) -> EventKind) {
        let state = self.subjects[b].state(t);
        (self.events)(Event {
            t_ns: t,
            breaker: b,
            kind: kind(state),
        });
        self.push_transitions(b);
    }

    /// Writes the transitions breaker `b` reported since the last look.
    fn push_transitions(&mut self, b: usize) {
        for t in self.subjects[b].take_transitions() {
            (self.events)(Event {
                t_ns: t.t_ns,
                breaker: b,
                kind: EventKind::Transition {
                    from: t.from,
                    to: t.to,
                    reason: t.reason,
                    dry_run: t.dry_run,
                },
            });
        }
    }
}
