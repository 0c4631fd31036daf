//! The invariants of a fleet, verified on its replay (`breaker-sim check
//! --replicas N`), from the event log and the store's writes as they come:
//!
//! 1. **Trials across the fleet within the cap.** Trials admitted on
//!    connected replicas, in flight together, never exceed the breaker's
//!    `half_open`. A trial holds its permit from its admission until it
//!    ends, its replica leaves that half-open period (it is a straggler
//!    then, and gives nothing back), the store's permits are cleared (a
//!    write of the shared state) or lapse (`trial_ttl` after the last
//!    taking). A trial that holds no permit gives nothing back: one decided
//!    on local state (its replica cut off), and one whose permit was
//!    cleared or lapsed (a permit goes back only to the count it was taken
//!    from, `docs/shared-state.md`), even when it ends in its period
//!    before its replica heard of the write that cleared it. The cap
//!    admits no excess.
//! 2. **Every replica hears a shared opening within the link delay.** After
//!    the store holds an Open written at t, every replica but its writer is
//!    Open (or half-open) at some instant within `[t, t + link]`, unless it
//!    was cut off during that span or a later write came first.
//! 3. **A healed replica converges within the link delay.** After a
//!    partition ends at h, the replica's state matches the shared state at
//!    some instant within `[h, h + link]` (an Open held: open or half-open;
//!    any other: the same state; nothing held: closed).
//! 4. **Accounting per replica.** Every call line is admitted or rejected
//!    exactly once, in order, and each retry follows its call's attempt
//!    before it on the same replica; every admitted attempt ends, once, on
//!    the replica that admitted it.
//!
//! The first violation is reported with the trace line being replayed and
//! the events (and writes) involved.

use std::collections::HashMap;
use std::fmt;

use breaker_core::store::memory::{MemoryStore, Written};

use super::options::Fleet;
use crate::config::BreakerConfig;
use crate::duration::format_duration;
use crate::log::{Event, EventKind, State};
use crate::trace::Declaration;

/// How long the store's trial permits live after their last taking: the
/// in-memory store's default, which the replay uses.
pub const TRIAL_TTL_NS: u64 = 10_000_000_000;

/// The first invariant a replay broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which invariant, and how it was broken.
    pub message: String,
    /// The trace line being replayed (`FILE:LINE`), when known.
    pub line: Option<String>,
    /// The events (and the store's writes) involved, as JSON lines.
    pub involved: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.line {
            Some(line) => writeln!(f, "{}, replaying {line}:", self.message)?,
            None => writeln!(f, "{}:", self.message)?,
        }
        for (i, l) in self.involved.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "    {l}")?;
        }
        Ok(())
    }
}

/// What a fleet's check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetChecked {
    /// Events checked.
    pub events: u64,
    /// The most trials in flight together holding permits, and the cap then.
    pub most_trials: (u64, u32),
    /// Trials decided on local state, on replicas cut off.
    pub local_trials: u64,
    /// Openings written in the store (each must reach every connected
    /// replica within the link delay).
    pub openings: u64,
    /// Partitions that ended (each replica must converge).
    pub healed: u64,
    /// The first violation, if any.
    pub violation: Option<Violation>,
}

impl FleetChecked {
    /// What was verified, in a line (after `ok, `).
    pub fn summary(&self, fleet: &Fleet) -> String {
        let partitions = match fleet.partitions.len() {
            0 => String::new(),
            1 => ", 1 partition".to_string(),
            n => format!(", {n} partitions"),
        };
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        format!(
            "fleet of {} replicas (link {}{partitions}), {} events: at most {} in flight across the fleet (cap {}), {} decided locally on replicas cut off; {}, each reaching every connected replica within the link delay; {}, each replica converging within it; every call decided once, every admitted call ended",
            fleet.replicas,
            format_duration(fleet.link_ns),
            self.events,
            plural(self.most_trials.0, "trial", "trials"),
            self.most_trials.1,
            self.local_trials,
            plural(self.openings, "shared opening", "shared openings"),
            plural(self.healed, "partition healed", "partitions healed"),
        )
    }
}

/// An admitted attempt not yet ended.
#[derive(Debug, Clone)]
struct Running {
    replica: u16,
    json: String,
}

/// A trial holding one of the store's permits.
#[derive(Debug, Clone)]
struct Permit {
    replica: u16,
    call: (u64, u32),
    json: String,
}

/// Something a replica must reach by a deadline.
#[derive(Debug, Clone)]
struct Due {
    breaker: usize,
    replica: u16,
    /// The end of the span, inclusive.
    by_ns: u64,
    kind: DueKind,
    /// The write it follows, as a JSON line.
    cause: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DueKind {
    /// Open or half-open, after a shared opening.
    Open,
    /// The shared state, after a partition healed.
    Converge,
}

/// One breaker of the fleet, as the check follows it.
#[derive(Debug, Clone)]
struct Followed {
    name: String,
    /// Each replica's configuration in force (its trial cap and attempts).
    configs: Vec<BreakerConfig>,
    /// Each replica's state, as the log last said.
    states: Vec<State>,
    /// The last call line decided (attempt 0).
    last_call: u64,
    running: HashMap<(u64, u32), Running>,
    /// Attempts that ended and may be followed by a retry: (call, next attempt) -> replica.
    retrying: HashMap<(u64, u32), u16>,
    permits: Vec<Permit>,
    last_grant_ns: Option<u64>,
    /// The shared state held, as the last write left it (with its deadline if Open).
    held: Option<(State, u64)>,
    /// Each replica's events since the last write of this breaker (a few), for reports.
    recent: Vec<Vec<String>>,
}

/// The check of a fleet's replay, fed its events in order.
pub struct FleetCheck {
    fleet: Fleet,
    store: MemoryStore,
    breakers: Vec<Followed>,
    /// Heals not yet reached, by time: (t, replica).
    heals: Vec<(u64, u16)>,
    dues: Vec<Due>,
    checked: FleetChecked,
    line: Option<String>,
}

impl FleetCheck {
    /// A check of `fleet`, reading the writes of `store` (a handle of the
    /// replay's store, which keeps them).
    pub fn new(fleet: &Fleet, store: MemoryStore) -> FleetCheck {
        let mut heals: Vec<(u64, u16)> = fleet
            .partitions
            .iter()
            .map(|p| (p.to_ns, p.replica))
            .collect();
        heals.sort_unstable_by(|a, b| b.cmp(a));
        FleetCheck {
            fleet: fleet.clone(),
            store,
            breakers: Vec::new(),
            heals,
            dues: Vec::new(),
            checked: FleetChecked::default(),
            line: None,
        }
    }

    /// Breaker `decl` is declared: the next index of events' `breaker`.
    pub fn declared(&mut self, decl: &Declaration) {
        let n = usize::from(self.fleet.replicas);
        self.breakers.push(Followed {
            name: decl.name.clone(),
            configs: vec![decl.config.clone(); n],
            states: vec![State::Closed; n],
            last_call: 0,
            running: HashMap::new(),
            retrying: HashMap::new(),
            permits: Vec::new(),
            last_grant_ns: None,
            held: None,
            recent: vec![Vec::new(); n],
        });
    }

    /// The trace line being replayed from now on (`FILE:LINE`), for reports.
    pub fn replaying(&mut self, line: Option<String>) {
        self.line = line;
    }

    /// Whether a violation was found (the replay may stop).
    pub fn violated(&self) -> bool {
        self.checked.violation.is_some()
    }

    /// What was found, once every event was given.
    pub fn finish(mut self) -> FleetChecked {
        self.catch_up(u64::MAX);
        if self.checked.violation.is_none() {
            for b in 0..self.breakers.len() {
                let followed = &self.breakers[b];
                if let Some((&(call, attempt), running)) =
                    followed.running.iter().min_by_key(|(k, _)| **k)
                {
                    let message = format!(
                        "accounting: call {call} (attempt {attempt}) of `{}` was admitted on replica {} and never ended",
                        followed.name, running.replica
                    );
                    let involved = vec![running.json.clone()];
                    self.violate(message, involved);
                    break;
                }
            }
        }
        self.checked
    }

    /// Takes the next event of the replay (`json`: as the log writes it).
    pub fn event(&mut self, e: &Event, json: &str) {
        if self.checked.violation.is_some() {
            return;
        }
        self.checked.events += 1;
        self.catch_up(e.t_ns);
        if self.checked.violation.is_some() {
            return;
        }
        let Some(followed) = self.breakers.get_mut(e.breaker) else {
            return;
        };
        let r = e.replica.max(1);
        let ri = usize::from(r - 1);
        if let Some(recent) = followed.recent.get_mut(ri) {
            if recent.len() == 8 {
                recent.remove(0);
            }
            recent.push(json.to_string());
        }
        match &e.kind {
            EventKind::Admitted {
                call,
                attempt,
                state,
            } => {
                self.decided(e, *call, *attempt, json);
                self.set_state(e.breaker, ri, *state, e.t_ns);
                self.admitted(e, *call, *attempt, *state, json);
            }
            EventKind::Rejected {
                call,
                attempt,
                state,
                ..
            } => {
                self.decided(e, *call, *attempt, json);
                self.set_state(e.breaker, ri, *state, e.t_ns);
            }
            EventKind::Ended {
                call,
                attempt,
                outcome,
                state,
                ..
            } => {
                self.ended(e, *call, *attempt, outcome.is_failure(), json);
                self.set_state(e.breaker, ri, *state, e.t_ns);
            }
            EventKind::Action { state, .. } => self.set_state(e.breaker, ri, *state, e.t_ns),
            EventKind::Configured { keys, state } => {
                let config = &mut self.breakers[e.breaker].configs[ri];
                for pair in keys.split(' ') {
                    if let Some((key, value)) = pair.split_once('=') {
                        if !value.is_empty() {
                            let _ = config.patch(key, value);
                        }
                    }
                }
                self.set_state(e.breaker, ri, *state, e.t_ns);
            }
            EventKind::Transition { to, dry_run, .. } => {
                if !dry_run {
                    // Leaving a half-open period, the replica's trials in
                    // flight are stragglers. (Entering one comes right after
                    // the admission of its first trial.)
                    if *to != State::HalfOpen {
                        self.breakers[e.breaker].permits.retain(|p| p.replica != r);
                    }
                    self.set_state(e.breaker, ri, *to, e.t_ns);
                }
            }
        }
    }

    /// Brings the check to time `t`: the writes made so far, the heals and
    /// the deadlines before it, in time order.
    fn catch_up(&mut self, t: u64) {
        let writes = self.store.take_writes();
        let mut writes = writes.into_iter().peekable();
        loop {
            let write_t = writes.peek().map(|w| nanos(w.shared.written_at));
            let heal_t = self.heals.last().map(|h| h.0).filter(|&h| h <= t);
            let due_t = self.dues.iter().map(|d| d.by_ns).filter(|&d| d < t).min();
            // At one instant: heals, then writes; deadlines pass after both.
            let next = [heal_t, write_t, due_t.map(|d| d + 1)]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next else { return };
            if heal_t == Some(next) {
                if let Some((h, replica)) = self.heals.pop() {
                    self.healed(h, replica);
                }
            } else if write_t == Some(next) {
                if let Some(w) = writes.next() {
                    self.written(&w);
                }
            } else {
                self.expire(next - 1);
            }
            if self.checked.violation.is_some() {
                return;
            }
        }
    }

    fn violate(&mut self, message: String, involved: Vec<String>) {
        if self.checked.violation.is_none() {
            self.checked.violation = Some(Violation {
                message,
                line: self.line.clone(),
                involved,
            });
        }
    }

    /// Whether replica `r` (from 1) is cut off at `t`.
    fn cut_off(&self, r: u16, t: u64) -> bool {
        self.fleet
            .partitions
            .iter()
            .any(|p| p.replica == r && p.from_ns <= t && t < p.to_ns)
    }

    /// Whether replica `r` is cut off at any time in `[from, to]`.
    fn cut_off_within(&self, r: u16, from: u64, to: u64) -> bool {
        self.fleet
            .partitions
            .iter()
            .any(|p| p.replica == r && p.from_ns <= to && from < p.to_ns)
    }

    /// A write of the shared state: the permits are cleared, earlier
    /// openings' dues give way to it, and an Open is due on every replica.
    fn written(&mut self, w: &Written) {
        let Some(b) = self.breakers.iter().position(|f| *f.name == *w.breaker) else {
            return;
        };
        let t = nanos(w.shared.written_at);
        let json = written_json(w);
        let followed = &mut self.breakers[b];
        followed.permits.clear();
        let until = nanos(w.shared.opened_at.saturating_add(w.shared.period));
        followed.held = Some((log_state(w.shared.state), until));
        for recent in &mut followed.recent {
            recent.clear();
        }
        self.dues
            .retain(|d| !(d.breaker == b && d.kind == DueKind::Open));
        let link = self.fleet.link_ns;
        if w.shared.state == breaker_core::State::Open {
            self.checked.openings += 1;
        }
        for r in 1..=self.fleet.replicas {
            let writer = w.replica.as_deref() == Some(r.to_string().as_str());
            if writer {
                continue;
            }
            if w.shared.state == breaker_core::State::Open
                && !self.cut_off_within(r, t, t.saturating_add(link))
            {
                self.dues.push(Due {
                    breaker: b,
                    replica: r,
                    by_ns: t.saturating_add(link),
                    kind: DueKind::Open,
                    cause: json.clone(),
                });
            }
        }
        for due in &mut self.dues {
            if due.breaker == b {
                due.cause = json.clone();
            }
        }
        self.settle(b, t);
    }

    /// A partition of replica `r` ended at `h`: every breaker of it must
    /// converge within the link delay.
    fn healed(&mut self, h: u64, r: u16) {
        self.checked.healed += 1;
        for b in 0..self.breakers.len() {
            self.dues.push(Due {
                breaker: b,
                replica: r,
                by_ns: h.saturating_add(self.fleet.link_ns),
                kind: DueKind::Converge,
                cause: format!("{{\"t_ns\":{h},\"replica\":{r},\"event\":\"healed\"}}"),
            });
        }
        for b in 0..self.breakers.len() {
            self.settle(b, h);
        }
    }

    /// Replica `ri` (from 0) of breaker `b` is in `state` at `t`.
    fn set_state(&mut self, b: usize, ri: usize, state: State, t: u64) {
        if let Some(s) = self.breakers[b].states.get_mut(ri) {
            *s = state;
        }
        self.settle(b, t);
    }

    /// Drops the dues of breaker `b` its replicas meet now.
    fn settle(&mut self, b: usize, t: u64) {
        let followed = &self.breakers[b];
        self.dues.retain(|d| {
            if d.breaker != b || t > d.by_ns {
                return true;
            }
            let state = followed.states[usize::from(d.replica - 1)];
            let met = match d.kind {
                DueKind::Open => matches!(state, State::Open | State::HalfOpen),
                DueKind::Converge => matches_held(state, followed.held),
            };
            !met
        });
    }

    /// The deadlines at `t` pass: a due not met is a violation.
    fn expire(&mut self, t: u64) {
        let Some(i) = self.dues.iter().position(|d| d.by_ns <= t) else {
            return;
        };
        let due = self.dues.remove(i);
        let followed = &self.breakers[due.breaker];
        let state = followed.states[usize::from(due.replica - 1)];
        let message = match due.kind {
            DueKind::Open => format!(
                "a shared opening of `{}` did not reach replica {} within the link delay ({}): it was {} at {}",
                followed.name,
                due.replica,
                format_duration(self.fleet.link_ns),
                state.as_str(),
                format_duration(due.by_ns)
            ),
            DueKind::Converge => format!(
                "replica {} of `{}` did not converge to the shared state ({}) within the link delay ({}) after its partition: it was {} at {}",
                due.replica,
                followed.name,
                followed.held.map_or("none", |(s, _)| s.as_str()),
                format_duration(self.fleet.link_ns),
                state.as_str(),
                format_duration(due.by_ns)
            ),
        };
        let mut involved = vec![due.cause.clone()];
        involved.extend(
            followed.recent[usize::from(due.replica - 1)]
                .iter()
                .cloned(),
        );
        self.violate(message, involved);
    }

    /// A call's attempt was decided (admitted or rejected): once, in order.
    fn decided(&mut self, e: &Event, call: u64, attempt: u32, json: &str) {
        let followed = &mut self.breakers[e.breaker];
        let name = followed.name.clone();
        let message = if attempt == 0 {
            if call == followed.last_call + 1 {
                followed.last_call = call;
                return;
            }
            if call <= followed.last_call {
                format!("accounting: call {call} of `{name}` was decided twice")
            } else {
                format!(
                    "accounting: call {} of `{name}` was never admitted nor rejected (the next decided is {call})",
                    followed.last_call + 1
                )
            }
        } else {
            match followed.retrying.remove(&(call, attempt)) {
                Some(r) if r == e.replica.max(1) => return,
                Some(r) => format!(
                    "accounting: attempt {attempt} of call {call} of `{name}` ran on replica {} after attempt {} ran on replica {r}",
                    e.replica,
                    attempt - 1
                ),
                None => format!(
                    "accounting: attempt {attempt} of call {call} of `{name}` was decided without attempt {} ending before it, or twice",
                    attempt - 1
                ),
            }
        };
        self.violate(message, vec![json.to_string()]);
    }

    /// An attempt admitted: it runs until it ends; a trial takes a permit,
    /// and the trials holding permits must stay within the cap.
    fn admitted(&mut self, e: &Event, call: u64, attempt: u32, state: State, json: &str) {
        let r = e.replica.max(1);
        let t = e.t_ns;
        let trial = state == State::HalfOpen;
        let local = trial && self.cut_off(r, t);
        let followed = &mut self.breakers[e.breaker];
        if trial
            && !local
            && followed
                .last_grant_ns
                .is_some_and(|g| t >= g.saturating_add(TRIAL_TTL_NS))
        {
            // The permits lapsed before this one was taken.
            followed.permits.clear();
        }
        followed.running.insert(
            (call, attempt),
            Running {
                replica: r,
                json: json.to_string(),
            },
        );
        if !trial {
            return;
        }
        if local {
            self.checked.local_trials += 1;
            return;
        }
        followed.last_grant_ns = Some(t);
        followed.permits.push(Permit {
            replica: r,
            call: (call, attempt),
            json: json.to_string(),
        });
        let cap = followed.configs[usize::from(r - 1)].half_open_cap();
        let held = followed.permits.len() as u64;
        if held > self.checked.most_trials.0 {
            self.checked.most_trials = (held, cap);
        }
        if held > u64::from(cap) {
            let message = format!(
                "{held} trials of `{}` in flight across the fleet, over its half_open cap of {cap}",
                followed.name,
            );
            let involved = followed.permits.iter().map(|p| p.json.clone()).collect();
            self.violate(message, involved);
        }
    }

    /// An attempt ended: once, on the replica that admitted it; a trial
    /// holding a permit gives it back.
    fn ended(&mut self, e: &Event, call: u64, attempt: u32, failure: bool, json: &str) {
        let r = e.replica.max(1);
        let followed = &mut self.breakers[e.breaker];
        let name = followed.name.clone();
        let Some(running) = followed.running.remove(&(call, attempt)) else {
            self.violate(
                format!(
                    "accounting: call {call} (attempt {attempt}) of `{name}` ended without being admitted, or twice"
                ),
                vec![json.to_string()],
            );
            return;
        };
        if running.replica != r {
            let message = format!(
                "accounting: call {call} of `{name}` was admitted on replica {} and ended on replica {r}",
                running.replica
            );
            self.violate(message, vec![running.json, json.to_string()]);
            return;
        }
        let attempts = followed.configs[usize::from(r - 1)].attempts();
        if failure && attempt + 1 < attempts {
            followed.retrying.insert((call, attempt + 1), r);
        }
        followed.permits.retain(|p| p.call != (call, attempt));
    }
}

/// Whether a replica in `state` agrees with what the store holds.
fn matches_held(state: State, held: Option<(State, u64)>) -> bool {
    match held {
        None => state == State::Closed,
        Some((State::Open, _)) => matches!(state, State::Open | State::HalfOpen),
        Some((held, _)) => state == held,
    }
}

fn log_state(state: breaker_core::State) -> State {
    crate::subject::real::state(state)
}

fn written_json(w: &Written) -> String {
    let mut out = format!("{{\"t_ns\":{},\"breaker\":", nanos(w.shared.written_at));
    crate::log::push_json_string(&mut out, &w.breaker);
    if let Some(replica) = &w.replica {
        out.push_str(",\"replica\":");
        out.push_str(replica);
    }
    out.push_str(",\"store\":\"written\",\"state\":\"");
    out.push_str(log_state(w.shared.state).as_str());
    out.push('"');
    if w.shared.state == breaker_core::State::Open {
        out.push_str(&format!(
            ",\"open_for_ns\":{}",
            nanos((w.shared.opened_at + w.shared.period).saturating_sub(w.shared.written_at))
        ));
    }
    out.push_str(&format!(",\"epoch\":{},\"reason\":", w.shared.epoch));
    crate::log::push_json_string(&mut out, &w.shared.reason);
    out.push('}');
    out
}

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use breaker_core::clock::ManualClock;
    use breaker_core::{Breaker, Config};

    use super::*;
    use crate::fleet::options::Partition;

    fn fleet(partitions: Vec<Partition>) -> Fleet {
        Fleet {
            replicas: 3,
            link_ns: 5_000_000,
            partitions,
            quorum: 1,
            cluster_failures: false,
        }
    }

    fn decl() -> Declaration {
        crate::trace::parse(
            "t",
            "breaker db fail_max=1 reset=10s success=2 half_open=2\n",
        )
        .unwrap()
        .breakers
        .remove(0)
    }

    fn check_of(fleet: &Fleet, store: MemoryStore) -> FleetCheck {
        let mut check = FleetCheck::new(fleet, store);
        check.declared(&decl());
        check
    }

    fn store() -> MemoryStore {
        MemoryStore::builder()
            .record_writes(true)
            .build(ManualClock::new())
    }

    fn feed(check: &mut FleetCheck, t_ns: u64, replica: u16, kind: EventKind) {
        let e = Event {
            t_ns,
            breaker: 0,
            replica,
            kind,
        };
        let mut json = String::new();
        e.write_json("db", &mut json);
        check.event(&e, json.trim_end());
    }

    fn admitted(call: u64, state: State) -> EventKind {
        EventKind::Admitted {
            call,
            attempt: 0,
            state,
        }
    }

    fn ended(call: u64, state: State) -> EventKind {
        EventKind::Ended {
            call,
            attempt: 0,
            outcome: crate::log::EndKind::Success,
            latency_ns: 0,
            slow: false,
            straggler: false,
            state,
        }
    }

    #[test]
    fn more_trials_across_the_fleet_than_the_cap_is_a_violation() {
        let mut check = check_of(&fleet(Vec::new()), store());
        for r in 1..=3 {
            feed(&mut check, 10, r, admitted(u64::from(r), State::HalfOpen));
        }
        let violation = check.finish().violation.expect("three trials, cap 2");
        assert!(
            violation.message.starts_with(
                "3 trials of `db` in flight across the fleet, over its half_open cap of 2"
            ),
            "{}",
            violation.message
        );
        assert_eq!(violation.involved.len(), 3, "the three admissions");
    }

    #[test]
    fn trials_decided_on_a_replica_cut_off_hold_no_permit() {
        let cut = Partition {
            replica: 3,
            from_ns: 0,
            to_ns: 100,
        };
        let mut check = check_of(&fleet(vec![cut]), store());
        for r in 1..=3 {
            feed(&mut check, 10, r, admitted(u64::from(r), State::HalfOpen));
        }
        for r in 1..=3 {
            feed(&mut check, 20, r, ended(u64::from(r), State::HalfOpen));
        }
        let checked = check.finish();
        let trials = checked
            .violation
            .as_ref()
            .filter(|v| v.message.contains("trials"));
        assert_eq!(trials, None);
        assert_eq!(checked.local_trials, 1);
        assert_eq!(checked.most_trials, (2, 2));
    }

    #[test]
    fn a_local_trial_gives_nothing_back_after_healing() {
        // Decided on local state, it took no permit: ending once its replica
        // healed frees none, and a third trial in flight is over the cap.
        let cut = Partition {
            replica: 3,
            from_ns: 0,
            to_ns: 15,
        };
        let mut check = check_of(&fleet(vec![cut]), store());
        feed(&mut check, 10, 3, admitted(1, State::HalfOpen));
        feed(&mut check, 20, 3, ended(1, State::HalfOpen)); // healed
        for r in 1..=3 {
            feed(
                &mut check,
                30,
                r,
                admitted(u64::from(r) + 1, State::HalfOpen),
            );
        }
        assert_eq!(
            check
                .finish()
                .violation
                .map(|v| v.message)
                .filter(|m| m.contains("trials"))
                .as_deref(),
            Some("3 trials of `db` in flight across the fleet, over its half_open cap of 2")
        );
    }

    #[test]
    fn a_trial_whose_permit_was_cleared_since_frees_no_other() {
        // Replica 1's trial holds a permit when replica 3's write clears the
        // permits (replica 1 has not heard of it yet): ending in its period,
        // it gives nothing back to the new count, so a third trial in
        // flight is over the cap.
        let mut check = check_of(&fleet(Vec::new()), store());
        feed(&mut check, 0, 1, admitted(1, State::HalfOpen));
        check.breakers[0].permits.clear(); // what a write does, as `written`
        feed(&mut check, 2, 1, ended(1, State::HalfOpen));
        for r in 1..=3 {
            feed(
                &mut check,
                3,
                r,
                admitted(u64::from(r) + 1, State::HalfOpen),
            );
        }
        let trials = check
            .finish()
            .violation
            .filter(|v| v.message.contains("trials"))
            .map(|v| v.message);
        assert_eq!(
            trials.as_deref(),
            Some("3 trials of `db` in flight across the fleet, over its half_open cap of 2")
        );
    }

    #[test]
    fn calls_skipped_decided_twice_or_never_ended_are_violations() {
        let mut check = check_of(&fleet(Vec::new()), store());
        feed(&mut check, 0, 1, admitted(1, State::Closed));
        feed(&mut check, 0, 2, admitted(3, State::Closed));
        let v = check.finish().violation.unwrap();
        assert_eq!(
            v.message,
            "accounting: call 2 of `db` was never admitted nor rejected (the next decided is 3)"
        );

        let mut check = check_of(&fleet(Vec::new()), store());
        feed(&mut check, 0, 1, admitted(1, State::Closed));
        let v = check.finish().violation.unwrap();
        assert_eq!(
            v.message,
            "accounting: call 1 (attempt 0) of `db` was admitted on replica 1 and never ended"
        );

        let mut check = check_of(&fleet(Vec::new()), store());
        feed(&mut check, 0, 1, admitted(1, State::Closed));
        feed(&mut check, 1, 2, ended(1, State::Closed));
        let v = check.finish().violation.unwrap();
        assert_eq!(
            v.message,
            "accounting: call 1 of `db` was admitted on replica 1 and ended on replica 2"
        );
    }

    /// A store whose replica 1 tripped `db` at 0: a shared opening.
    fn tripped() -> MemoryStore {
        let clock = ManualClock::new();
        let store = MemoryStore::builder()
            .record_writes(true)
            .build(clock.clone());
        let config = Config::builder()
            .reset(Duration::from_secs(10))
            .build()
            .unwrap();
        let breaker = Breaker::with_clock("db", config, clock);
        breaker.use_store(&store.replica("1"));
        breaker.trip();
        store
    }

    #[test]
    fn a_shared_opening_not_heard_within_the_link_delay_is_a_violation() {
        let mut check = check_of(&fleet(Vec::new()), tripped());
        feed(
            &mut check,
            5_000_000,
            2,
            EventKind::Transition {
                from: State::Closed,
                to: State::Open,
                reason: "remote: manual trip".into(),
                dry_run: false,
            },
        );
        feed(&mut check, 6_000_000, 1, admitted(1, State::Open));
        let v = check.finish().violation.unwrap();
        assert_eq!(
            v.message,
            "a shared opening of `db` did not reach replica 3 within the link delay (5ms): it was closed at 5ms"
        );
        assert!(
            v.involved[0].contains("\"store\":\"written\",\"state\":\"open\""),
            "{v}"
        );
    }

    #[test]
    fn a_replica_cut_off_when_an_opening_is_shared_owes_nothing_until_it_heals() {
        let cut = Partition {
            replica: 3,
            from_ns: 0,
            to_ns: 100_000_000,
        };
        let mut check = check_of(&fleet(vec![cut]), tripped());
        feed(
            &mut check,
            5_000_000,
            2,
            EventKind::Transition {
                from: State::Closed,
                to: State::Open,
                reason: "remote: manual trip".into(),
                dry_run: false,
            },
        );
        feed(&mut check, 50_000_000, 1, admitted(1, State::Open));
        feed(&mut check, 50_000_000, 1, ended(1, State::Open));
        assert!(!check.violated());
        // Healed at 100ms, still closed after the link delay.
        feed(&mut check, 200_000_000, 1, admitted(2, State::Open));
        let v = check.finish().violation.unwrap();
        assert!(
            v.message
                .starts_with("replica 3 of `db` did not converge to the shared state (open)"),
            "{}",
            v.message
        );
    }
}
