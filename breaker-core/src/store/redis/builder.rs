//! [`RedisStoreBuilder`]: how to reach Redis and how long anything may wait
//! for it. The settings only; [`connect`](RedisStoreBuilder::connect), which
//! starts the store from them, is with the store (`store.rs`).

use std::fmt;
use std::time::Duration;

/// How to reach Redis and how long anything may wait for it.
#[derive(Clone)]
pub struct RedisStoreBuilder {
    pub(super) url: String,
    pub(super) namespace: String,
    pub(super) budget: Duration,
    pub(super) connect_timeout: Duration,
    pub(super) command_timeout: Duration,
    pub(super) backoff_min: Duration,
    pub(super) backoff_max: Duration,
    pub(super) trial_ttl: Duration,
    pub(super) cluster_failures: bool,
    pub(super) quorum: u32,
    pub(super) replica: Option<String>,
}

impl RedisStoreBuilder {
    /// The key prefix and channel of this store (default `breaker`):
    /// breakers meet only within one namespace.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The longest a call waits on Redis (default 50 ms). Only a call that
    /// would start a half-open trial ever waits, for a cluster-wide permit;
    /// past the budget the trial is refused (the permit is the cluster's
    /// safety valve). A breaker joining the store also waits at most this
    /// long for the shared state of its name.
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// How long [`connect`](RedisStoreBuilder::connect) and each reconnection
    /// attempt wait for Redis (default 1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long the store's thread waits for one Redis reply before it counts
    /// Redis as unreachable and reconnects (default 1 s).
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// The first and the largest wait between reconnection attempts (default
    /// 100 ms, doubling up to 5 s).
    pub fn reconnect_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff_min = first;
        self.backoff_max = max.max(first);
        self
    }

    /// How long a half-open trial permit lives in Redis after it was taken
    /// (default 10 s): a process that crashes in a trial cannot hold its
    /// permit longer. Make it longer than a trial call lasts.
    pub fn trial_ttl(mut self, ttl: Duration) -> Self {
        self.trial_ttl = ttl;
        self
    }

    /// Counts failures cluster-wide as well as locally (default off): every
    /// failure recorded in Closed is added, atomically and without waiting, to
    /// a counter in Redis, and when the processes together reach the
    /// breaker's `fail_max` (default 5) within its `within` window (default:
    /// its `reset`), every process opens. Successes make no network call, so
    /// they do not reset that counter: it is a count in a window, not a run.
    pub fn cluster_failures(mut self, on: bool) -> Self {
        self.cluster_failures = on;
        self
    }
}

impl RedisStoreBuilder {
    /// Opens by quorum (default 1: off): a breaker's own opening stays local
    /// (this replica rejects, the others do not hear of it) until `quorum`
    /// replicas have opened the breaker of that name within one open period;
    /// the opening that completes the quorum is shared as any opening is, and
    /// the whole fleet opens. One replica that alone sees a dependency fail
    /// (its own network, a bad host) then cannot open it for everyone. An
    /// operator's `trip` and an opening by [`cluster_failures`](Self::cluster_failures)
    /// are shared at once, as without a quorum. `0` is refused by
    /// [`connect`](Self::connect); a quorum larger than the replicas that ever
    /// joined the namespace is reported (once per breaker) when an opening is
    /// held. The rules are in docs/shared-state.md, "Opening by quorum".
    pub fn quorum(mut self, replicas: u32) -> Self {
        self.quorum = replicas;
        self
    }

    /// This process's name among the replicas (default `host:pid`): what
    /// counts once towards a [`quorum`](Self::quorum) however many of its
    /// breakers share a name, and what the replicas' set in Redis lists.
    pub fn replica(mut self, id: impl Into<String>) -> Self {
        self.replica = Some(id.into());
        self
    }
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL is left out: it may hold a password.
        f.debug_struct("RedisStoreBuilder")
            .field("namespace", &self.namespace)
            .field("budget", &self.budget)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("backoff", &(self.backoff_min, self.backoff_max))
            .field("trial_ttl", &self.trial_ttl)
            .field("cluster_failures", &self.cluster_failures)
            .field("quorum", &self.quorum)
            .field("replica", &self.replica)
            .finish_non_exhaustive()
    }
}
