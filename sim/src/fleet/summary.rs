//! What a fleet's replay amounted to: per breaker, the fleet's totals, and
//! what each replica did (`breaker-sim run --replicas N` prints it).

use std::fmt::Write as _;

use crate::log::{Event, EventKind, State};

/// One replica's part (or the fleet's, summed) in a breaker's replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Call lines sent to it.
    pub calls: u64,
    /// Retries: attempts after a call's first (with `retry`).
    pub retries: u64,
    /// Attempts admitted.
    pub admitted: u64,
    /// Attempts rejected.
    pub rejected: u64,
    /// Admitted calls that failed or timed out.
    pub failures_let_through: u64,
    /// Transitions (dry runs aside).
    pub transitions: u64,
    /// Transitions to Open.
    pub opens: u64,
    /// Of those, the ones adopted from the store (another replica's).
    pub opens_adopted: u64,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.calls += other.calls;
        self.retries += other.retries;
        self.admitted += other.admitted;
        self.rejected += other.rejected;
        self.failures_let_through += other.failures_let_through;
        self.transitions += other.transitions;
        self.opens += other.opens;
        self.opens_adopted += other.opens_adopted;
    }
}

/// One breaker of a fleet: its name and each replica's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSummary {
    /// The breaker's name.
    pub name: String,
    /// Replica `r` (from 1) at `r - 1`.
    pub replicas: Vec<Counts>,
}

impl FleetSummary {
    /// The fleet's totals.
    pub fn totals(&self) -> Counts {
        let mut totals = Counts::default();
        for r in &self.replicas {
            totals.add(r);
        }
        totals
    }

    /// The summary as a few human lines: the fleet's totals, then a line a
    /// replica.
    pub fn to_text(&self) -> String {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let totals = self.totals();
        let mut out = String::new();
        let retries = |c: &Counts| {
            if c.retries > 0 {
                format!(" ({})", plural(c.retries, "retry", "retries"))
            } else {
                String::new()
            }
        };
        let _ = writeln!(
            out,
            "{}: fleet of {} replicas: {}{}, {} admitted, {} rejected, {} let through, {}",
            self.name,
            self.replicas.len(),
            plural(totals.calls, "call", "calls"),
            retries(&totals),
            totals.admitted,
            totals.rejected,
            plural(totals.failures_let_through, "failure", "failures"),
            plural(totals.transitions, "transition", "transitions"),
        );
        for (r, c) in self.replicas.iter().enumerate() {
            let _ = writeln!(
                out,
                "  replica {}: {}{}, {} admitted, {} rejected, {} ({} adopted)",
                r + 1,
                plural(c.calls, "call", "calls"),
                retries(c),
                c.admitted,
                c.rejected,
                plural(c.opens, "open", "opens"),
                c.opens_adopted,
            );
        }
        out
    }
}

/// Builds the fleet's summaries event by event.
#[derive(Debug, Clone)]
pub struct FleetSummariser {
    replicas: u16,
    out: Vec<FleetSummary>,
}

impl FleetSummariser {
    /// Nothing observed yet, for a fleet of `replicas`.
    pub fn new(replicas: u16) -> FleetSummariser {
        FleetSummariser {
            replicas,
            out: Vec::new(),
        }
    }

    /// Adds breaker `name`, the next index of events' `breaker`.
    pub fn add(&mut self, name: &str) {
        self.out.push(FleetSummary {
            name: name.to_string(),
            replicas: vec![Counts::default(); usize::from(self.replicas)],
        });
    }

    /// Takes one event into account.
    pub fn observe(&mut self, e: &Event) {
        let Some(c) = self
            .out
            .get_mut(e.breaker)
            .and_then(|s| s.replicas.get_mut(usize::from(e.replica.max(1) - 1)))
        else {
            return;
        };
        match &e.kind {
            EventKind::Admitted { attempt, .. } => {
                count_attempt(c, *attempt);
                c.admitted += 1;
            }
            EventKind::Rejected { attempt, .. } => {
                count_attempt(c, *attempt);
                c.rejected += 1;
            }
            EventKind::Ended { outcome, .. } => {
                if outcome.is_failure() {
                    c.failures_let_through += 1;
                }
            }
            EventKind::Action { .. } | EventKind::Configured { .. } => {}
            EventKind::Transition { dry_run: true, .. } => {}
            EventKind::Transition { to, reason, .. } => {
                c.transitions += 1;
                if *to == State::Open {
                    c.opens += 1;
                    if reason.starts_with("remote: ") {
                        c.opens_adopted += 1;
                    }
                }
            }
        }
    }

    /// The summaries, one per breaker.
    pub fn finish(self) -> Vec<FleetSummary> {
        self.out
    }
}

fn count_attempt(c: &mut Counts, attempt: u32) {
    if attempt == 0 {
        c.calls += 1;
    } else {
        c.retries += 1;
    }
}
