//! The fleet: every replica sharing a store, as each last described its
//! breakers. A store that keeps such descriptions answers
//! [`Store::fleet`](super::Store::fleet); the admin router shows them
//! (`GET /fleet`, and the dashboard).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::State;

/// Every replica the store has heard from recently, sorted by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fleet {
    /// The replicas, sorted by id.
    pub replicas: Vec<Replica>,
    /// How often a replica describes its breakers: the figures of each
    /// description count the calls of one such interval.
    pub interval: Duration,
}

/// One replica as it last described itself.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replica {
    /// Its name among the replicas (for the Redis store, its `replica`
    /// setting: `host:pid` by default).
    pub id: String,
    /// How long ago it last described its breakers (or, when it no longer
    /// does, was last seen), by the store's clock.
    pub age: Duration,
    /// Whether its description is current. A replica that stopped
    /// describing itself (stopped, partitioned from the store, or too far
    /// off the store's clock) is kept for a while with no breakers, so that
    /// its absence shows.
    pub live: bool,
    /// Its breakers, by name.
    pub breakers: BTreeMap<String, ReplicaBreaker>,
}

/// One breaker of one replica, as described.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplicaBreaker {
    /// Its state.
    pub state: State,
    /// Calls admitted in the interval before the description.
    pub admitted: u64,
    /// Calls rejected in that interval.
    pub rejected: u64,
    /// Failures recorded in that interval.
    pub failures: u64,
    /// When Open: the time left until a trial.
    pub retry_after: Option<Duration>,
}

impl ReplicaBreaker {
    /// A description (for stores outside this crate and for tests).
    pub fn new(
        state: State,
        admitted: u64,
        rejected: u64,
        failures: u64,
        retry_after: Option<Duration>,
    ) -> ReplicaBreaker {
        ReplicaBreaker {
            state,
            admitted,
            rejected,
            failures,
            retry_after,
        }
    }
}

impl Replica {
    /// A replica's description (for stores outside this crate and for tests).
    pub fn new(
        id: impl Into<String>,
        age: Duration,
        live: bool,
        breakers: BTreeMap<String, ReplicaBreaker>,
    ) -> Replica {
        Replica {
            id: id.into(),
            age,
            live,
            breakers,
        }
    }
}

impl Fleet {
    /// A fleet of `replicas` (sorted here by id), each describing itself every
    /// `interval`.
    pub fn new(mut replicas: Vec<Replica>, interval: Duration) -> Fleet {
        replicas.sort_by(|a, b| a.id.cmp(&b.id));
        Fleet { replicas, interval }
    }
}

/// The answer of [`Store::fleet`](super::Store::fleet): the fleet, or why the
/// store could not read it (unreachable, say).
pub type FleetFuture = Pin<Box<dyn Future<Output = Result<Fleet, String>> + Send>>;
