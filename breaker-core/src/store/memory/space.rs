//! [`Space`]: what every replica's handle of one in-memory store shares, in
//! the Redis store's roles: the records of the breaker names (Redis' keys),
//! every breaker that joined (each replica's links), the replicas and
//! whether each is cut off, and the transitions on their way (the pub/sub
//! channel, with the link delay). Every operation runs under the store's
//! lock and never takes a breaker's: what a breaker must adopt is handed
//! back, to be adopted once the lock is released.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use super::builder::MemoryStoreBuilder;
use super::record::{Record, Shared};
use super::rules::{self, Quorum, Threshold, Write};
use crate::breaker::WeakBreaker;
use crate::clock::Clock;
use crate::store::permits::Permits;
use crate::store::{Change, Remote, Trial};
use crate::{Breaker, State};

/// One breaker's membership: the Redis store's `LinkState`.
pub(super) struct Member {
    pub(super) replica: usize,
    pub(super) name: Arc<str>,
    pub(super) breaker: WeakBreaker,
    /// The newest epoch of the shared state this breaker applied or wrote.
    pub(super) seen: u64,
    /// A transition made while its replica was cut off: reconcile it.
    pub(super) dirty: bool,
    /// The generations of the counts its trial permits were taken from.
    pub(super) permits: Arc<Permits>,
}

/// A replica: a name, and whether it is cut off from the store.
pub(super) struct Replica {
    pub(super) name: Arc<str>,
    pub(super) cut_off: bool,
}

/// Something on its way to breakers.
enum Delivery {
    /// A write, as the Redis store's channel carries it: to every breaker
    /// of the name but its writer (`from`; none for a cluster failure
    /// count, which every breaker hears).
    Message {
        name: Arc<str>,
        from: Option<usize>,
        shared: Shared,
    },
    /// The state a member found held: its own write was overruled or
    /// joined (`overruled`: adopted even at an epoch it has seen), or its
    /// replica reconciled.
    Held {
        member: usize,
        shared: Option<Shared>,
        overruled: bool,
    },
}

/// A state for a breaker to adopt, once the store's lock is released.
pub(super) struct Adoption {
    pub(super) breaker: Breaker,
    pub(super) remote: Remote,
    pub(super) replica: Arc<str>,
    /// The breaker's permits: forgotten if the adoption moves it.
    pub(super) permits: Arc<Permits>,
}

/// A write of the shared state, as kept for
/// [`MemoryStore::take_writes`](super::MemoryStore::take_writes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// The replica whose breaker wrote it; `None` for an opening by the
    /// failures counted across replicas.
    pub replica: Option<Arc<str>>,
    /// What was written.
    pub shared: Shared,
}

/// A breaker's own state, read for a reconciliation (outside the lock).
pub(super) struct View {
    pub(super) state: State,
    pub(super) left: Duration,
    pub(super) period: Duration,
    pub(super) open_reason: Option<String>,
}

/// What every handle of one store shares.
pub(super) struct Space {
    pub(super) options: MemoryStoreBuilder,
    clock: Arc<dyn Clock>,
    records: HashMap<Arc<str>, Record>,
    members: Vec<Member>,
    by_name: HashMap<Arc<str>, Vec<usize>>,
    pub(super) replicas: Vec<Replica>,
    /// Deliveries by (due time, order of sending).
    queue: BTreeMap<(Duration, u64), Delivery>,
    sent: u64,
    writes: Vec<Written>,
    /// The breakers whose quorum was reported out of reach, once each.
    unreachable_quorum: HashSet<Arc<str>>,
}

impl Space {
    pub(super) fn new(options: MemoryStoreBuilder, clock: Arc<dyn Clock>) -> Space {
        Space {
            options,
            clock,
            records: HashMap::new(),
            members: Vec::new(),
            by_name: HashMap::new(),
            replicas: Vec::new(),
            queue: BTreeMap::new(),
            sent: 0,
            writes: Vec::new(),
            unreachable_quorum: HashSet::new(),
        }
    }

    pub(super) fn now(&self) -> Duration {
        self.clock.now()
    }

    /// The replica named `name`, added if new.
    pub(super) fn replica(&mut self, name: &str) -> usize {
        if let Some(i) = self.replicas.iter().position(|r| &*r.name == name) {
            return i;
        }
        self.replicas.push(Replica {
            name: Arc::from(name),
            cut_off: false,
        });
        self.replicas.len() - 1
    }

    fn cut(&self, member: usize) -> bool {
        self.replicas[self.members[member].replica].cut_off
    }

    /// Joins `breaker` to the store as a breaker of `replica`: its member,
    /// and the state it starts in (the shared state held, unless its replica
    /// is cut off).
    pub(super) fn join(&mut self, replica: usize, breaker: &Breaker) -> (usize, Option<Adoption>) {
        let name: Arc<str> = Arc::from(breaker.name());
        let member = self.members.len();
        self.members.push(Member {
            replica,
            name: name.clone(),
            breaker: breaker.downgrade(),
            seen: 0,
            dirty: false,
            permits: Arc::default(),
        });
        self.by_name.entry(name.clone()).or_default().push(member);
        if self.replicas[replica].cut_off {
            return (member, None);
        }
        let now = self.now();
        let Some(shared) = self.records.get(&name).and_then(|r| r.shared.clone()) else {
            return (member, None);
        };
        self.members[member].seen = shared.epoch;
        let adoption = Adoption {
            breaker: breaker.clone(),
            remote: shared.remote_at(now),
            replica: self.replicas[replica].name.clone(),
            permits: self.members[member].permits.clone(),
        };
        (member, Some(adoption))
    }

    /// A transition of `member`'s breaker: written now (the link delay is
    /// the message's, to the others), or kept for reconciliation while its
    /// replica is cut off.
    pub(super) fn publish(&mut self, member: usize, change: &Change) {
        let write = Write {
            state: change.to,
            remaining: change.open_for,
            period: change.open_for,
            reason: Arc::from(change.reason.to_string()),
            manual: change.manual,
            seen: self.members[member].seen,
        };
        // A transition ends the period its permits were taken in.
        self.members[member].permits.forget();
        self.write(member, write);
    }

    /// Writes `write` for `member`, by the rules (QUORUM first for a
    /// policy's opening, then PUBLISH): a write is sent to the others; an
    /// overruled or joined one has the writer adopt what is held.
    fn write(&mut self, member: usize, write: Write) {
        if self.cut(member) {
            self.members[member].dirty = true;
            return;
        }
        let now = self.now();
        let name = self.members[member].name.clone();
        let replica = self.members[member].replica;
        let quorum = self.options.quorum;
        let record = self.records.entry(name.clone()).or_default();
        if write.state == State::Open && !write.manual && quorum > 1 {
            let window = write.period.max(Duration::from_millis(1));
            if let Quorum::Held(openings) =
                rules::count_opening(record, quorum, replica, window, now)
            {
                self.held_local(&name, openings);
                return;
            }
        }
        match rules::publish(record, &write, now) {
            Some(shared) => {
                self.members[member].seen = shared.epoch;
                let writer = Some(self.replicas[replica].name.clone());
                self.send(name, Some(member), writer, shared);
            }
            None => {
                let held = record.shared.clone();
                self.queue(
                    now,
                    Delivery::Held {
                        member,
                        shared: held,
                        overruled: true,
                    },
                );
            }
        }
    }

    /// Keeps the write (when asked to) and sends it on the channel.
    fn send(
        &mut self,
        name: Arc<str>,
        from: Option<usize>,
        writer: Option<Arc<str>>,
        shared: Shared,
    ) {
        if self.options.record_writes {
            self.writes.push(Written {
                breaker: name.clone(),
                replica: writer,
                shared: shared.clone(),
            });
        }
        let due = shared.written_at.saturating_add(self.options.link_delay);
        self.queue(due, Delivery::Message { name, from, shared });
    }

    fn queue(&mut self, due: Duration, delivery: Delivery) {
        self.sent += 1;
        self.queue.insert((due, self.sent), delivery);
    }

    /// An opening kept local, short of its quorum: reported at debug level,
    /// and at warning level (once per breaker) when fewer replicas than the
    /// quorum share the store, where no opening will ever be shared.
    fn held_local(&mut self, name: &Arc<str>, openings: usize) {
        let quorum = self.options.quorum;
        let replicas = self.replicas.len();
        tracing::debug!(
            target: "breaker",
            breaker = %name,
            openings,
            quorum,
            "opening kept local: short of its quorum"
        );
        if replicas < quorum as usize && self.unreachable_quorum.insert(name.clone()) {
            tracing::warn!(
                target: "breaker",
                breaker = %name,
                quorum,
                replicas,
                "a quorum of {quorum} cannot be reached: {replicas} replicas share this \
                 in-memory store, so this breaker's openings stay local (reported once)"
            );
        }
    }

    /// A call of `member`'s breaker would start a trial: one of the fleet's
    /// `cap` permits, or `Local` while its replica is cut off.
    pub(super) fn acquire(&mut self, member: usize, cap: u32) -> Trial {
        if self.cut(member) {
            return Trial::Local;
        }
        let now = self.now();
        let ttl = self.options.trial_ttl;
        let record = self
            .records
            .entry(self.members[member].name.clone())
            .or_default();
        match rules::acquire(record, cap, ttl, now) {
            Some(generation) => {
                self.members[member].permits.took(generation);
                Trial::Granted
            }
            None => Trial::Denied,
        }
    }

    /// A trial of `member`'s breaker gave its permit back (lost while its
    /// replica is cut off, as a command to an unreachable Redis).
    pub(super) fn release(&mut self, member: usize) {
        // Taken in a period a transition ended, its write cleared it.
        let Some(generation) = self.members[member].permits.give_back() else {
            return;
        };
        if self.cut(member) {
            return;
        }
        let now = self.now();
        if let Some(record) = self.records.get_mut(&self.members[member].name) {
            rules::release(record, generation, now);
        }
    }

    /// A failure in Closed of `member`'s breaker, counted across replicas
    /// (lost while its replica is cut off).
    pub(super) fn failure(&mut self, member: usize, threshold: Threshold) {
        if self.cut(member) {
            return;
        }
        let now = self.now();
        let name = self.members[member].name.clone();
        let record = self.records.entry(name.clone()).or_default();
        if let Some(shared) = rules::count_failure(record, threshold, now) {
            self.send(name, None, None, shared);
        }
    }

    /// Cuts `replica` off: its breakers decide trials locally, its
    /// transitions wait for reconciliation, and what is sent to it is lost.
    pub(super) fn cut_off(&mut self, replica: usize) {
        self.replicas[replica].cut_off = true;
    }

    /// Ends `replica`'s cut: the breakers to reconcile (each with its
    /// member), as the Redis store reconciles them after a reconnection.
    pub(super) fn heal(&mut self, replica: usize) -> Vec<(usize, Breaker)> {
        self.replicas[replica].cut_off = false;
        self.members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.replica == replica)
            .filter_map(|(i, m)| m.breaker.upgrade().map(|b| (i, b)))
            .collect()
    }

    /// Reconciles `member`, whose breaker is as `view` says: a transition
    /// made while cut off is written now (and overruled by an Open held
    /// elsewhere, which then wins here), and so is a local state the store
    /// holds nothing for; otherwise the breaker adopts the shared state if
    /// it has not seen it.
    pub(super) fn reconcile(&mut self, member: usize, view: View) {
        let now = self.now();
        let name = self.members[member].name.clone();
        let held = self.records.get(&name).and_then(|r| r.shared.clone());
        if held.is_none() {
            // No state: the epochs seen before mean nothing against new ones.
            self.members[member].seen = 0;
        }
        let missing = held.is_none() && view.state != State::Closed;
        let dirty = std::mem::take(&mut self.members[member].dirty);
        if dirty || missing {
            let state = match view.state {
                State::HalfOpen => State::Open,
                other => other,
            };
            let reason = match view.open_reason {
                Some(reason) if state != State::Closed => reason,
                _ => "reconciled".to_owned(),
            };
            let write = Write {
                state,
                remaining: view.left,
                period: view.period.max(Duration::from_millis(1)),
                reason: Arc::from(reason),
                manual: false,
                seen: self.members[member].seen,
            };
            self.write(member, write);
        } else if held.is_some() {
            self.queue(
                now,
                Delivery::Held {
                    member,
                    shared: held,
                    overruled: false,
                },
            );
        }
    }

    /// When the next delivery is due, if any.
    pub(super) fn next_due(&self) -> Option<Duration> {
        self.queue.first_key_value().map(|(&(due, _), _)| due)
    }

    /// Carries out the first delivery due at or before `until`: the states
    /// breakers must adopt (none, if none is newer than what they saw), or
    /// `None` when nothing is due. A breaker whose replica is cut off loses it.
    pub(super) fn deliver_next(&mut self, until: Duration) -> Option<Vec<Adoption>> {
        let (&key, _) = self.queue.first_key_value()?;
        if key.0 > until {
            return None;
        }
        let delivery = self.queue.remove(&key)?;
        let mut adoptions = Vec::new();
        match delivery {
            Delivery::Message { name, from, shared } => {
                let members = self.by_name.get(&name).cloned().unwrap_or_default();
                for member in members {
                    if Some(member) == from || self.cut(member) {
                        continue;
                    }
                    let seen = self.members[member].seen;
                    if seen < shared.epoch {
                        self.members[member].seen = shared.epoch;
                        self.adopt(member, &shared, &mut adoptions);
                    } else if seen > shared.epoch {
                        // Older than what it saw: read again (a store
                        // emptied since holds lower epochs, which apply).
                        let held = self.records.get(&name).and_then(|r| r.shared.clone());
                        self.take_held(member, held, false, &mut adoptions);
                    }
                }
            }
            Delivery::Held {
                member,
                shared,
                overruled,
            } => {
                if !self.cut(member) {
                    self.take_held(member, shared, overruled, &mut adoptions);
                }
            }
        }
        Some(adoptions)
    }

    /// The Redis store's `take_held`: the state found held applies if its
    /// epoch is not the one the breaker has seen, or if it overruled the
    /// breaker's own write.
    fn take_held(
        &mut self,
        member: usize,
        held: Option<Shared>,
        overruled: bool,
        adoptions: &mut Vec<Adoption>,
    ) {
        let Some(shared) = held else {
            self.members[member].seen = 0;
            return;
        };
        let seen = std::mem::replace(&mut self.members[member].seen, shared.epoch);
        if seen != shared.epoch || overruled {
            self.adopt(member, &shared, adoptions);
        }
    }

    fn adopt(&self, member: usize, shared: &Shared, adoptions: &mut Vec<Adoption>) {
        let m = &self.members[member];
        if let Some(breaker) = m.breaker.upgrade() {
            adoptions.push(Adoption {
                breaker,
                remote: shared.remote_at(self.now()),
                replica: self.replicas[m.replica].name.clone(),
                permits: m.permits.clone(),
            });
        }
    }

    /// The shared state held for `name`.
    pub(super) fn shared(&self, name: &str) -> Option<Shared> {
        self.records.get(name).and_then(|r| r.shared.clone())
    }

    /// The trial permits taken for `name` now.
    pub(super) fn trials(&self, name: &str) -> u64 {
        let now = self.now();
        self.records
            .get(name)
            .and_then(|r| r.trials.at(now))
            .unwrap_or(0)
    }

    /// The writes kept since the last call.
    pub(super) fn take_writes(&mut self) -> Vec<Written> {
        std::mem::take(&mut self.writes)
    }
}
