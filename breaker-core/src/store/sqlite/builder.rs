//! [`SqliteStoreBuilder`]: which file and table, and how long anything may
//! wait for them. The settings only; [`open`](SqliteStoreBuilder::open),
//! which starts the store from them, is with the store (`store.rs`).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Which file and table, and how long anything may wait for them.
#[derive(Clone)]
pub struct SqliteStoreBuilder {
    pub(super) path: PathBuf,
    pub(super) table: String,
    pub(super) poll_interval: Duration,
    pub(super) budget: Duration,
    pub(super) busy_timeout: Duration,
    pub(super) trial_ttl: Duration,
}

impl SqliteStoreBuilder {
    /// The table of this store (default `breaker_state`): breakers meet
    /// only within one table. Letters, digits and `_`, not starting with a
    /// digit, at most 63 of them; [`open`](SqliteStoreBuilder::open)
    /// refuses any other name.
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// How often the store looks for changes made by other processes
    /// (default 1 s): a transition made elsewhere is applied here within
    /// about this long. A look that finds nothing changed costs one read of
    /// the file's change counter (`PRAGMA data_version`).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The longest a call waits on the file (default 50 ms). Only a call that
    /// would start a half-open trial ever waits, for a permit shared by every
    /// process; past the budget the trial is refused. A breaker joining the
    /// store also waits at most this long for the shared state of its name.
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// How long one statement waits for another process's write lock before
    /// the store counts the file as unavailable (default 25 ms; never more
    /// than the budget, to which [`open`](SqliteStoreBuilder::open) cuts it).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
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

impl fmt::Debug for SqliteStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStoreBuilder")
            .field("path", &self.path)
            .field("table", &self.table)
            .field("poll_interval", &self.poll_interval)
            .field("budget", &self.budget)
            .field("busy_timeout", &self.busy_timeout)
            .field("trial_ttl", &self.trial_ttl)
            .finish()
    }
}
