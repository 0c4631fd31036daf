//! What a replay amounted to, per breaker: the summary `breaker-sim run` prints.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::duration::format_duration;
use crate::log::{Event, EventKind, State};

/// Counts and times of one breaker over a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The breaker's name.
    pub name: String,
    /// Call lines of the trace.
    pub calls: u64,
    /// Retries: attempts after a call's first (with `retry`).
    pub retries: u64,
    /// Attempts admitted.
    pub admitted: u64,
    /// Attempts rejected.
    pub rejected: u64,
    /// Admitted calls that failed or timed out.
    pub failures_let_through: u64,
    /// Time spent in each state, in ns, in the order of [`State::ALL`].
    pub time_in: [u64; 6],
    /// Transitions.
    pub transitions: u64,
}

/// Summarises a log. Time runs from 0 to the last event's time.
pub fn summarise(events: &[Event], names: &[String]) -> Vec<Summary> {
    let mut s = Summariser::new(names);
    for e in events {
        s.observe(e);
    }
    s.finish()
}

/// Builds the summaries event by event, for logs that are never stored.
#[derive(Debug, Clone)]
pub struct Summariser {
    out: Vec<Summary>,
    since: Vec<(State, u64)>,
    end: u64,
}

impl Summariser {
    /// Nothing observed yet, for breakers `names`.
    pub fn new(names: &[String]) -> Summariser {
        let mut s = Summariser {
            out: Vec::with_capacity(names.len()),
            since: Vec::with_capacity(names.len()),
            end: 0,
        };
        for name in names {
            s.add(name);
        }
        s
    }

    /// Adds breaker `name`, the next index of events' `breaker` (a trace
    /// read as a stream declares its breakers as it goes): Closed from the
    /// start, as every breaker is.
    pub fn add(&mut self, name: &str) {
        self.out.push(Summary {
            name: name.to_string(),
            calls: 0,
            retries: 0,
            admitted: 0,
            rejected: 0,
            failures_let_through: 0,
            time_in: [0; 6],
            transitions: 0,
        });
        self.since.push((State::Closed, 0));
    }

    /// Takes one event into account.
    pub fn observe(&mut self, e: &Event) {
        self.end = self.end.max(e.t_ns);
        let Some(s) = self.out.get_mut(e.breaker) else {
            return;
        };
        match &e.kind {
            EventKind::Admitted { attempt, .. } => {
                s.count_attempt(*attempt);
                s.admitted += 1;
            }
            EventKind::Rejected { attempt, .. } => {
                s.count_attempt(*attempt);
                s.rejected += 1;
            }
            EventKind::Ended { outcome, .. } => {
                if outcome.is_failure() {
                    s.failures_let_through += 1;
                }
            }
            EventKind::Action { .. } | EventKind::Configured { .. } => {}
            // A dry run's move leaves the breaker where it is.
            EventKind::Transition { dry_run: true, .. } => {}
            EventKind::Transition { to, .. } => {
                s.transitions += 1;
                let (state, t0) = self.since[e.breaker];
                s.time_in[index(state)] += e.t_ns.saturating_sub(t0);
                self.since[e.breaker] = (*to, e.t_ns);
            }
        }
    }

    /// The summaries, time running to the last event observed.
    pub fn finish(mut self) -> Vec<Summary> {
        for (s, (state, t0)) in self.out.iter_mut().zip(&self.since) {
            s.time_in[index(*state)] += self.end.saturating_sub(*t0);
        }
        self.out
    }
}

fn index(state: State) -> usize {
    State::ALL.iter().position(|s| *s == state).unwrap_or(0)
}

impl Summary {
    fn count_attempt(&mut self, attempt: u32) {
        if attempt == 0 {
            self.calls += 1;
        } else {
            self.retries += 1;
        }
    }

    /// The summary as a few human lines.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let _ = writeln!(
            out,
            "{}: {}{}, {} admitted, {} rejected, {} let through, {}",
            self.name,
            plural(self.calls, "call", "calls"),
            if self.retries > 0 {
                format!(" ({})", plural(self.retries, "retry", "retries"))
            } else {
                String::new()
            },
            self.admitted,
            self.rejected,
            plural(self.failures_let_through, "failure", "failures"),
            plural(self.transitions, "transition", "transitions")
        );
        let times: Vec<String> = State::ALL
            .iter()
            .zip(self.time_in)
            .filter(|(s, t)| *t > 0 || **s == State::Closed)
            .map(|(s, t)| format!("{} {}", s.as_str(), format_duration(t)))
            .collect();
        let _ = writeln!(out, "  time in {}", times.join(", "));
        out
    }
}

/// The transition edges a log exercised, as (from, to).
pub fn edges(events: &[Event]) -> BTreeSet<(State, State)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Transition {
                from,
                to,
                dry_run: false,
                ..
            } => Some((*from, *to)),
            _ => None,
        })
        .collect()
}

/// Every edge a breaker can take: the four of recovery, then the operator's.
pub fn all_edges() -> Vec<(State, State)> {
    use State::*;
    let mut all = vec![
        (Closed, Open),
        (Open, HalfOpen),
        (HalfOpen, Closed),
        (HalfOpen, Open),
    ];
    for to in [Open, ForcedOpen, Disabled, Closed] {
        for from in [Closed, Open, HalfOpen, ForcedOpen, Disabled] {
            if from != to && !all.contains(&(from, to)) {
                all.push((from, to));
            }
        }
    }
    all
}
