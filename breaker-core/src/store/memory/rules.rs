//! The rules of the Redis store's scripts (`store/redis/scripts.rs`), one
//! function a script, on a [`Record`] instead of Redis keys: what a write of
//! a transition does (PUBLISH), taking and giving back a trial permit
//! (ACQUIRE, RELEASE), a failure counted across replicas (FAILURE), and a
//! replica's own opening counted towards a quorum (QUORUM). Each decides
//! and writes in one step, as a script does; the store calls them under
//! its lock.

use std::sync::Arc;
use std::time::Duration;

use super::record::{Counter, Record, Shared, next_epoch};
use crate::State;

/// A transition to write, with what the breaker knew when it made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Write {
    pub(super) state: State,
    /// In Open: the time left when it was made (the period for a fresh one).
    pub(super) remaining: Duration,
    pub(super) period: Duration,
    pub(super) reason: Arc<str>,
    /// An operator's action: it always writes.
    pub(super) manual: bool,
    /// The newest epoch the breaker had seen: a newer Open held overrules a
    /// policy's transition.
    pub(super) seen: u64,
}

/// PUBLISH: writes `write` over what `record` holds at `now`, unless what is
/// held decides otherwise; the shared state written, or `None` when the
/// write was overruled or joined an Open (the writer then adopts what is
/// held). The rules:
///
/// - an operator's action always writes;
/// - opening while an Open is held and not yet elapsed joins it (the first
///   opener's deadline stands);
/// - a policy's transition gives way to a state newer than what the writer
///   has seen that holds an Open not yet elapsed, a ForcedOpen or a
///   Disabled: an Open seen elsewhere wins over a local close;
/// - a Closed over no state or a Closed state writes nothing.
///
/// A write clears the trial permits and the failures counted.
pub(super) fn publish(record: &mut Record, write: &Write, now: Duration) -> Option<Shared> {
    if !write.manual {
        let held = record.shared.as_ref();
        if write.state == State::Open && held.is_some_and(|s| s.open_at(now)) {
            return None;
        }
        if record.overrules(write.seen, now) {
            return None;
        }
        if write.state == State::Closed && held.is_none_or(|s| s.state == State::Closed) {
            return None;
        }
    }
    let remaining = write.remaining.min(write.period);
    let shared = Shared {
        state: write.state,
        epoch: next_epoch(record.epoch(), now),
        opened_at: now.saturating_sub(write.period - remaining),
        period: write.period,
        reason: write.reason.clone(),
        written_at: now,
    };
    record.shared = Some(shared.clone());
    record.trials = Counter::default();
    record.failures = Counter::default();
    Some(shared)
}

/// ACQUIRE: takes a half-open trial permit if fewer than `cap` are taken;
/// each taking extends the permits' life to `ttl` from `now`. The
/// generation of the count it was taken from, or `None` when none is left.
pub(super) fn acquire(record: &mut Record, cap: u32, ttl: Duration, now: Duration) -> Option<u64> {
    let held = record.trials.at(now);
    let taken = held.unwrap_or(0);
    if taken >= u64::from(cap) {
        return None;
    }
    if held.is_none() {
        record.trials_generation += 1;
    }
    record.trials = Counter {
        n: taken + 1,
        until: now.saturating_add(ttl),
    };
    Some(record.trials_generation)
}

/// RELEASE: gives back a permit taken from the count of `generation`:
/// nothing when the count is another (a write cleared it since, or it
/// expired); never below zero, and the expiry kept.
pub(super) fn release(record: &mut Record, generation: u64, now: Duration) {
    if generation != record.trials_generation {
        return;
    }
    if let Some(taken) = record.trials.at(now) {
        record.trials.n = taken - 1;
    }
}

/// How a failure counted across replicas opens the breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Threshold {
    /// The failures that open it (`fail_max`, or the consecutive policy's).
    pub(super) fail_max: u32,
    /// The window the failures are counted in, from the first.
    pub(super) window: Duration,
    /// The open period (`reset`).
    pub(super) period: Duration,
}

/// FAILURE: counts a failure made in Closed; the failure that reaches the
/// threshold within the window opens the breaker for every replica: the
/// shared state written, or `None`. Counted only while the shared state is
/// Closed (or none): an Open, elapsed or not, or an operator's mode counts
/// nothing. The window starts at the first failure and does not slide.
pub(super) fn count_failure(
    record: &mut Record,
    threshold: Threshold,
    now: Duration,
) -> Option<Shared> {
    if record
        .shared
        .as_ref()
        .is_some_and(|s| s.state != State::Closed)
    {
        return None;
    }
    let counted = record.failures.at(now);
    let n = counted.unwrap_or(0) + 1;
    let until = match counted {
        Some(_) => record.failures.until,
        None => now.saturating_add(threshold.window),
    };
    record.failures = Counter { n, until };
    if n < u64::from(threshold.fail_max) {
        return None;
    }
    let shared = Shared {
        state: State::Open,
        epoch: next_epoch(record.epoch(), now),
        opened_at: now,
        period: threshold.period,
        reason: Arc::from(format!("{n} failures across replicas")),
        written_at: now,
    };
    record.shared = Some(shared.clone());
    record.trials = Counter::default();
    record.failures = Counter::default();
    Some(shared)
}

/// What QUORUM decided about a replica's own opening.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Quorum {
    /// Share it (the quorum is reached, or an Open or an operator's mode is
    /// already held, which the write joins or obeys).
    Reached,
    /// Keep it local: this many replicas opened within the window, short of
    /// the quorum.
    Held(usize),
}

/// QUORUM: counts `replica`'s own opening at `now` among the replicas that
/// opened the breaker within `window` (the opening's period); one replica
/// counts once, with its latest opening. Reaching `quorum` forgets the
/// openings counted, so the next incident starts again.
pub(super) fn count_opening(
    record: &mut Record,
    quorum: u32,
    replica: usize,
    window: Duration,
    now: Duration,
) -> Quorum {
    let held = record.shared.as_ref();
    if held
        .is_some_and(|s| s.open_at(now) || matches!(s.state, State::ForcedOpen | State::Disabled))
    {
        return Quorum::Reached;
    }
    let since = now.saturating_sub(window);
    record
        .openings
        .retain(|&(r, at)| at >= since && r != replica);
    record.openings.push((replica, now));
    let openings = record.openings.len();
    if openings >= quorum as usize {
        record.openings.clear();
        return Quorum::Reached;
    }
    Quorum::Held(openings)
}
