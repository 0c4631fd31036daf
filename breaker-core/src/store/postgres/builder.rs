//! [`PostgresStoreBuilder`]: which server and table, and how long anything
//! may wait for them. The settings only; [`open`](PostgresStoreBuilder::open),
//! which starts the store from them, is with the store (`store.rs`).

use std::fmt;
use std::time::Duration;

/// Which server and table, and how long anything may wait for them.
#[derive(Clone)]
pub struct PostgresStoreBuilder {
    pub(super) conn_str: String,
    pub(super) table: String,
    pub(super) budget: Duration,
    pub(super) connect_timeout: Duration,
    pub(super) command_timeout: Duration,
    pub(super) backoff_min: Duration,
    pub(super) backoff_max: Duration,
    pub(super) trial_ttl: Duration,
}

impl PostgresStoreBuilder {
    /// The table of this store (default `breaker_state`), in the
    /// connection's `search_path`: breakers meet only within one table, and
    /// its changes are announced on the channel `{table}_changes`. Letters,
    /// digits and `_`, not starting with a digit, at most 55 of them (so
    /// that the channel's name fits PostgreSQL's 63); the name is quoted, so
    /// its case is kept. [`open`](PostgresStoreBuilder::open) refuses any
    /// other name.
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// The longest a call waits on the database (default 50 ms). Only a call
    /// that would start a half-open trial ever waits, for a permit shared by
    /// every process; past the budget the trial is refused. A breaker joining
    /// the store also waits at most this long for the shared state of its
    /// name.
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// How long [`open`](PostgresStoreBuilder::open) and each reconnection
    /// attempt wait for the server (default 1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long the store's thread waits for one statement before it counts
    /// the server as unreachable and reconnects (default 1 s; the server's
    /// `statement_timeout` for the store's session too).
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The first and the largest wait between reconnection attempts (default
    /// 100 ms, doubling up to 5 s).
    pub fn reconnect_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff_min = first.max(Duration::from_millis(1));
        self.backoff_max = max.max(self.backoff_min);
        self
    }

    /// How long half-open trial permits live after the last one was taken
    /// (default 10 s): a process that dies in a trial cannot hold its permit
    /// longer. Make it longer than a trial call lasts.
    pub fn trial_ttl(mut self, ttl: Duration) -> Self {
        self.trial_ttl = ttl.max(Duration::from_millis(1));
        self
    }
}

impl fmt::Debug for PostgresStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection string is left out: it may hold a password.
        f.debug_struct("PostgresStoreBuilder")
            .field("table", &self.table)
            .field("budget", &self.budget)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("backoff", &(self.backoff_min, self.backoff_max))
            .field("trial_ttl", &self.trial_ttl)
            .finish_non_exhaustive()
    }
}
