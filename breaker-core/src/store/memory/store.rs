//! [`MemoryStore`] as its driver holds it: one handle per replica on a
//! shared space, the [`Store`] each replica's breakers join, and the calls
//! that move it (delivering what is due, cutting a replica off and healing
//! it).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::builder::MemoryStoreBuilder;
use super::link::MemoryLink;
use super::record::Shared;
use super::space::{Space, View, Written};
use crate::Breaker;
use crate::clock::Clock;
use crate::store::{Link, Store};

/// Breakers of several replicas sharing their state in memory, by the rules
/// of the Redis store, on a clock the caller gives it: what a simulation of
/// a fleet runs on (`breaker-sim run --replicas N`), and what tests of the
/// rules run against without a Redis server.
///
/// Each handle is one replica (the first is named `1`;
/// [`replica`](MemoryStore::replica) gives the others, on the same store);
/// install it on that replica's registry with
/// [`Registry::use_store`](crate::Registry::use_store). A transition a
/// replica writes is held at once, and reaches the other replicas' breakers
/// after the [link delay](MemoryStoreBuilder::link_delay), when the driver
/// calls [`deliver_until`](MemoryStore::deliver_until): nothing runs on its
/// own. A replica [cut off](MemoryStore::cut_off) works on local state, as
/// one whose Redis is unreachable, and is reconciled when it
/// [heals](MemoryStore::heal).
///
/// ```
/// use std::time::Duration;
/// use breaker_core::clock::ManualClock;
/// use breaker_core::store::memory::MemoryStore;
/// use breaker_core::{Config, Registry, State};
///
/// let clock = ManualClock::new();
/// let store = MemoryStore::builder()
///     .link_delay(Duration::from_millis(5))
///     .build(clock.clone());
/// let replicas: Vec<Registry> = ["1", "2"]
///     .into_iter()
///     .map(|name| {
///         let registry = Registry::new();
///         registry.use_clock(clock.clone());
///         registry.use_store(store.replica(name));
///         registry
///     })
///     .collect();
/// let config = || Config::builder().reset(Duration::from_secs(30)).build().unwrap();
/// let one = replicas[0].get_or_create("db", config);
/// let two = replicas[1].get_or_create("db", config);
/// one.trip();
/// assert_eq!(two.state(), State::Closed, "not yet: the link takes 5 ms");
/// clock.advance(Duration::from_millis(5));
/// store.deliver_until(clock.now());
/// assert_eq!(two.state(), State::Open);
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    space: Arc<Mutex<Space>>,
    replica: usize,
}

/// A state a breaker adopted from the store, as
/// [`MemoryStore::deliver_until`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adopted {
    /// The replica of the breaker.
    pub replica: Arc<str>,
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// Whether its state changed (an Open joined only moves its deadline).
    pub changed: bool,
}

impl MemoryStore {
    /// The settings, to [`build`](MemoryStoreBuilder::build) a store with.
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder::default()
    }

    /// A store with the default settings, on `clock`: the handle of replica `1`.
    pub fn new(clock: impl Clock) -> MemoryStore {
        MemoryStore::builder().build(clock)
    }

    fn space(&self) -> MutexGuard<'_, Space> {
        self.space.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The handle of replica `name` on this store (the same replica for the
    /// same name); the replica counts towards a quorum from now on.
    pub fn replica(&self, name: &str) -> MemoryStore {
        let replica = self.space().replica(name);
        MemoryStore {
            space: self.space.clone(),
            replica,
        }
    }

    /// This handle's replica.
    pub fn replica_name(&self) -> Arc<str> {
        self.space().replicas[self.replica].name.clone()
    }

    /// Cuts this replica off the store, as if its Redis were unreachable:
    /// its breakers decide half-open trials on local state (`Trial::Local`),
    /// their transitions are kept to be reconciled, and what the other
    /// replicas write is lost to it.
    pub fn cut_off(&self) {
        self.space().cut_off(self.replica);
    }

    /// Ends this replica's cut, and reconciles each of its breakers as the
    /// Redis store does after a reconnection: a transition made meanwhile is
    /// written (unless an Open held elsewhere overrules it, which then wins
    /// here), and otherwise the breaker takes the shared state it has not
    /// seen. What its breakers adopt is applied by the next
    /// [`deliver_until`](MemoryStore::deliver_until) (it is due now).
    pub fn heal(&self) {
        let members = self.space().heal(self.replica);
        for (member, breaker) in members {
            // Read outside the store's lock: a breaker's lock is never taken
            // under it.
            let (state, left, period) = breaker.shared_view();
            let open_reason = breaker.open_reason().map(|r| r.reason.to_string());
            let view = View {
                state,
                left,
                period,
                open_reason,
            };
            self.space().reconcile(member, view);
        }
    }

    /// Whether this replica is cut off.
    pub fn is_cut_off(&self) -> bool {
        self.space().replicas[self.replica].cut_off
    }

    /// When the next delivery is due, on the store's clock, if any.
    pub fn next_due(&self) -> Option<Duration> {
        self.space().next_due()
    }

    /// Applies everything due at or before `now`, in order: the transitions
    /// written by some replica, to the breakers of the others (each adopts a
    /// state newer than what it saw), and the states a breaker found held
    /// when its own write was overruled. The breakers adopt at their clock's
    /// time: a driver that wants each at its due time brings the clock to
    /// [`next_due`](MemoryStore::next_due) and delivers until then, one due
    /// time after another. Returns what was adopted.
    pub fn deliver_until(&self, now: Duration) -> Vec<Adopted> {
        let mut adopted = Vec::new();
        loop {
            let Some(adoptions) = self.space().deliver_next(now) else {
                return adopted;
            };
            for adoption in adoptions {
                let changed = adoption.breaker.adopt(&adoption.remote);
                if changed {
                    adoption.permits.forget();
                }
                adopted.push(Adopted {
                    replica: adoption.replica,
                    breaker: Arc::from(adoption.breaker.name()),
                    changed,
                });
            }
        }
    }

    /// The shared state held for the breakers named `name`, if any was written.
    pub fn shared(&self, name: &str) -> Option<Shared> {
        self.space().shared(name)
    }

    /// The half-open trial permits taken for `name` now, across replicas.
    pub fn trials_taken(&self, name: &str) -> u64 {
        self.space().trials(name)
    }

    /// Every write of the shared state since the last call, oldest first
    /// (kept only with [`record_writes`](MemoryStoreBuilder::record_writes)).
    pub fn take_writes(&self) -> Vec<Written> {
        self.space().take_writes()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("replica", &self.replica_name())
            .field("cut_off", &self.is_cut_off())
            .finish()
    }
}

impl Store for MemoryStore {
    /// Joins `breaker` as one of this replica's: it starts in the shared
    /// state held (with the time left of an Open), unless the replica is
    /// cut off.
    fn attach(&self, breaker: &Breaker) -> Option<Arc<dyn Link>> {
        let (member, adoption, cluster_failures) = {
            let mut space = self.space();
            let (member, adoption) = space.join(self.replica, breaker);
            (member, adoption, space.options.cluster_failures)
        };
        if let Some(adoption) = adoption {
            adoption.breaker.adopt(&adoption.remote);
        }
        Some(Arc::new(MemoryLink {
            space: self.space.clone(),
            member,
            breaker: breaker.downgrade(),
            cluster_failures,
        }))
    }
}

impl MemoryStoreBuilder {
    /// The store, on `clock` (the breakers' own, in a simulation): the
    /// handle of its first replica, named `1`.
    pub fn build(self, clock: impl Clock) -> MemoryStore {
        let mut space = Space::new(self, Arc::new(clock));
        let replica = space.replica("1");
        MemoryStore {
            space: Arc::new(Mutex::new(space)),
            replica,
        }
    }
}
