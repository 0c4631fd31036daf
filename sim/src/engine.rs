//! The discrete-event replay of a trace through any [`Subject`].
//!
//! Calls start at their line's time and end at start + latency (or at
//! start + timeout, as a timeout, when the latency exceeds it). At one
//! instant, call ends come first, in the order of their calls' lines, then
//! the trace's lines in file order; calls still running after the last line
//! end at their own times. The result is a pure function of the trace.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::log::{EndKind, Event, EventKind, State};
use crate::trace::{Action, Item, Outcome, Trace};

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
    /// The state now.
    fn state(&mut self, now_ns: u64) -> State;
    /// The transitions reported since the last call, oldest first.
    fn take_transitions(&mut self) -> Vec<Transition>;
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

struct Running<T> {
    breaker: usize,
    call: u64,
    outcome: EndKind,
    written: Outcome,
    ticket: T,
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
    let events = sink;
    let mut calls = vec![0u64; trace.breakers.len()];
    // (end time, line index, slot): ties end in the order of the calls' lines.
    let mut ends: BinaryHeap<Reverse<(u64, usize, usize)>> = BinaryHeap::new();
    // Running calls in reusable slots: memory follows the calls in flight, not the trace.
    let mut running = Slots::default();

    for (idx, line) in trace.lines.iter().enumerate() {
        let now = line.t_ns;
        while let Some(&Reverse((t, _, slot))) = ends.peek() {
            if t > now {
                break;
            }
            ends.pop();
            finish(subjects, t, running.take(slot), events);
        }
        let b = line.breaker();
        let timeout = trace.breakers[b].config.timeout;
        let subject = &mut subjects[b];
        match line.item() {
            Item::Call {
                outcome,
                latency_ns,
            } => {
                calls[b] += 1;
                let call = calls[b];
                match subject.admit_call(now, latency_ns, outcome) {
                    Decision::Admitted(ticket) => {
                        let state = subject.state(now);
                        events(Event {
                            t_ns: now,
                            breaker: b,
                            kind: EventKind::Admitted { call, state },
                        });
                        push_transitions(events, b, subject.take_transitions());
                        let written = outcome;
                        let (run_for, outcome) = match timeout {
                            Some(limit) if latency_ns > limit => (limit, EndKind::Timeout),
                            _ => (
                                latency_ns,
                                match outcome {
                                    Outcome::Ok | Outcome::Ignored => EndKind::Success,
                                    Outcome::Err | Outcome::Panic => EndKind::Failure,
                                },
                            ),
                        };
                        let slot = running.put(Running {
                            breaker: b,
                            call,
                            outcome,
                            written,
                            ticket,
                        });
                        ends.push(Reverse((now.saturating_add(run_for), idx, slot)));
                    }
                    Decision::Rejected { retry_after_ns } => {
                        let state = subject.state(now);
                        events(Event {
                            t_ns: now,
                            breaker: b,
                            kind: EventKind::Rejected {
                                call,
                                state,
                                retry_after_ns,
                            },
                        });
                        push_transitions(events, b, subject.take_transitions());
                    }
                }
            }
            Item::Action(action) => {
                subject.action(now, action);
                let state = subject.state(now);
                events(Event {
                    t_ns: now,
                    breaker: b,
                    kind: EventKind::Action { action, state },
                });
                push_transitions(events, b, subject.take_transitions());
            }
        }
    }
    while let Some(Reverse((t, _, slot))) = ends.pop() {
        finish(subjects, t, running.take(slot), events);
    }
}

fn finish<S: Subject>(
    subjects: &mut [S],
    t: u64,
    run: Option<Running<S::Ticket>>,
    events: &mut dyn FnMut(Event),
) {
    let Some(run) = run else {
        return;
    };
    let subject = &mut subjects[run.breaker];
    let ended = subject.end(t, run.ticket, run.outcome, run.written);
    let state = subject.state(t);
    events(Event {
        t_ns: t,
        breaker: run.breaker,
        kind: EventKind::Ended {
            call: run.call,
            outcome: run.outcome,
            latency_ns: ended.latency_ns,
            slow: ended.slow,
            straggler: ended.straggler,
            state,
        },
    });
    push_transitions(events, run.breaker, subject.take_transitions());
}

fn push_transitions(events: &mut dyn FnMut(Event), breaker: usize, transitions: Vec<Transition>) {
    if transitions.is_empty() {
        return;
    }
    for t in transitions {
        events(Event {
            t_ns: t.t_ns,
            breaker,
            kind: EventKind::Transition {
                from: t.from,
                to: t.to,
                reason: t.reason,
            },
        });
    }
}
