//! `tune`'s [`Score`] of one configuration, taken as the replay goes: the
//! same numbers [`crate::tune::score`] reads off a whole trace and log, in
//! memory that does not follow the trace's length.
//!
//! Incidents are made of 1-second buckets, and everything a score needs of
//! a bucket fits a few words: its calls and failing calls (from the trace's
//! lines), the first event in it that leaves Closed, whether it sheds load
//! and the first admission in Closed after its last shedding event (from
//! the log). A bucket is settled once the replay is past it, both in lines
//! and in events; an incident is settled once [`INCIDENT_GAP_BUCKETS`] good
//! buckets follow its last bad one. Only the buckets not yet settled (about
//! a piece of trace's worth) and the incident under way are held.

use std::collections::BTreeMap;

use crate::log::{Event, EventKind, State};
use crate::stream::Observer;
use crate::trace::{Chunk, Item, Outcome};
use crate::tune::{INCIDENT_BUCKET_NS, INCIDENT_GAP_BUCKETS, Score};

/// What a score needs of one bucket.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Call lines starting in it.
    calls: u64,
    /// Of those, the ones whose first attempt would fail.
    failing: u64,
    /// The first rejection or transition out of Closed (dry runs aside).
    first_leave: Option<u64>,
    /// Whether a rejection or a transition (dry runs aside) happens in it.
    shed: bool,
    /// The first admission in Closed after its last shedding event (or in
    /// it at all, when it sheds none).
    calm_admit: Option<u64>,
}

impl Bucket {
    fn bad(&self) -> bool {
        self.calls > 0 && 2 * self.failing >= self.calls
    }
}

/// An incident not yet known to be over.
#[derive(Debug)]
struct Open {
    /// Its first bucket.
    start: u64,
    /// Its last bad bucket so far.
    last_bad: u64,
    /// The first event leaving Closed in its buckets so far.
    detect: Option<u64>,
    /// The good buckets after `last_bad`: the incident's if a bad one
    /// follows soon enough, its recovery's otherwise.
    gap: Vec<Bucket>,
}

/// The time after an incident, up to the next one's start.
#[derive(Debug)]
struct Recovering {
    end_ns: u64,
    /// The first admission in Closed after the last shedding event so far.
    admit: Option<u64>,
}

impl Recovering {
    fn fold(&mut self, b: &Bucket) {
        // A shedding bucket starts the calm anew; a calm one only fills it.
        if b.shed || self.admit.is_none() {
            self.admit = b.calm_admit;
        }
    }
}

/// Scores one configuration's replay as its lines and events come.
#[derive(Debug, Default)]
pub struct Scorer {
    /// Each breaker's declared `timeout`: a call that would outlast it fails.
    timeouts: Vec<Option<u64>>,
    buckets: BTreeMap<u64, Bucket>,
    /// The first bucket not settled.
    next: u64,
    /// The time of the last line replayed: events before it are all in.
    fed_until: u64,
    open: Option<Open>,
    recovering: Option<Recovering>,
    last_call: u64,
    /// What the attempt rejected next would have done.
    rejecting: Option<(Outcome, u64)>,
    score: Score,
}

impl Scorer {
    /// Nothing seen yet.
    pub fn new() -> Scorer {
        Scorer::default()
    }

    /// The next breaker is declared with `timeout` (as replayed).
    pub fn declare(&mut self, timeout: Option<u64>) {
        self.timeouts.push(timeout);
    }

    /// Breakers declared so far.
    pub fn declared(&self) -> usize {
        self.timeouts.len()
    }

    /// Takes in the lines of `chunk`, before they are replayed.
    pub fn lines(&mut self, chunk: &Chunk) {
        // Every event before the last line fed so far is in.
        self.settle(self.fed_until / INCIDENT_BUCKET_NS);
        for line in &chunk.lines {
            if let Item::Call {
                outcome,
                latency_ns,
            } = line.item()
            {
                let fails = self.fails(line.breaker(), outcome, latency_ns);
                let b = self.bucket(line.t_ns);
                b.calls += 1;
                b.failing += u64::from(fails);
                self.last_call = self.last_call.max(line.t_ns);
            }
        }
        if let Some(last) = chunk.lines.last() {
            self.fed_until = last.t_ns;
        }
    }

    /// The score, once the replay is over.
    pub fn finish(mut self) -> Score {
        self.settle(u64::MAX);
        self.close();
        if let Some(r) = self.recovering.take() {
            if r.end_ns <= self.last_call {
                self.recovered(&r);
            }
        }
        self.score
    }

    fn fails(&self, breaker: usize, outcome: Outcome, latency_ns: u64) -> bool {
        let timeout = self.timeouts.get(breaker).copied().flatten();
        outcome.is_failure() || timeout.is_some_and(|t| latency_ns > t)
    }

    fn bucket(&mut self, t_ns: u64) -> &mut Bucket {
        // Nothing comes for a settled bucket; were it to, it counts in the next.
        let b = (t_ns / INCIDENT_BUCKET_NS).max(self.next);
        self.buckets.entry(b).or_default()
    }

    /// Settles every bucket before bucket `until`, in order.
    fn settle(&mut self, until: u64) {
        while let Some(entry) = self.buckets.first_entry() {
            if *entry.key() >= until {
                break;
            }
            let (b, bucket) = entry.remove_entry();
            self.next = b + 1;
            self.take(b, bucket);
        }
    }

    fn take(&mut self, b: u64, bucket: Bucket) {
        let bad = bucket.bad();
        if let Some(open) = &self.open {
            let reach = open.last_bad + INCIDENT_GAP_BUCKETS + 1;
            if b > reach || (b == reach && !bad) {
                self.close();
            }
        }
        if bad {
            match self.open.as_mut() {
                Some(open) => {
                    for g in open.gap.drain(..) {
                        open.detect = open.detect.or(g.first_leave);
                    }
                    open.detect = open.detect.or(bucket.first_leave);
                    open.last_bad = b;
                }
                None => {
                    if let Some(r) = self.recovering.take() {
                        // Another incident starts: the one before ended before it.
                        self.recovered(&r);
                    }
                    self.score.incidents += 1;
                    self.open = Some(Open {
                        start: b,
                        last_bad: b,
                        detect: bucket.first_leave,
                        gap: Vec::new(),
                    });
                }
            }
        } else if let Some(open) = self.open.as_mut() {
            open.gap.push(bucket);
        } else if let Some(r) = self.recovering.as_mut() {
            r.fold(&bucket);
        }
    }

    /// The incident under way is over: its detection counts, its recovery starts.
    fn close(&mut self) {
        let Some(open) = self.open.take() else {
            return;
        };
        let start_ns = open.start * INCIDENT_BUCKET_NS;
        if let Some(t) = open.detect {
            self.score.detected += 1;
            self.score.detect_total_ns += t - start_ns;
        }
        let mut r = Recovering {
            end_ns: (open.last_bad + 1) * INCIDENT_BUCKET_NS,
            admit: None,
        };
        for g in &open.gap {
            r.fold(g);
        }
        self.recovering = Some(r);
    }

    fn recovered(&mut self, r: &Recovering) {
        self.score.ended += 1;
        if let Some(t) = r.admit {
            self.score.recovered += 1;
            self.score.recover_total_ns += t - r.end_ns;
        }
    }
}

impl Observer for Scorer {
    fn rejecting(&mut self, written: Outcome, latency_ns: u64) {
        self.rejecting = Some((written, latency_ns));
    }

    fn event(&mut self, e: Event) {
        let (leaves, sheds) = match &e.kind {
            EventKind::Ended { outcome, .. } => {
                if outcome.is_failure() {
                    self.score.failures_let_through += 1;
                }
                (false, false)
            }
            EventKind::Rejected { .. } => {
                let good = self
                    .rejecting
                    .take()
                    .is_some_and(|(o, l)| !self.fails(e.breaker, o, l));
                self.score.good_rejected += u64::from(good);
                (true, true)
            }
            EventKind::Transition { dry_run: true, .. } => (false, false),
            EventKind::Transition { from, .. } => (*from == State::Closed, true),
            EventKind::Admitted {
                state: State::Closed,
                ..
            } => {
                let b = self.bucket(e.t_ns);
                if b.calm_admit.is_none() {
                    b.calm_admit = Some(e.t_ns);
                }
                (false, false)
            }
            _ => (false, false),
        };
        if leaves || sheds {
            let b = self.bucket(e.t_ns);
            if leaves && b.first_leave.is_none() {
                b.first_leave = Some(e.t_ns);
            }
            if sheds {
                b.shed = true;
                b.calm_admit = None;
            }
        }
    }
}
