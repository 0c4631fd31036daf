//! [`Core`]: what the store's thread and the breakers' links share: the
//! settings, whether the file is available, every breaker that joined, and
//! the bad rows already reported; and what the shared parts of a
//! table-backed store ask of it ([`TableHub`]).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::builder::SqliteStoreBuilder;
use crate::store::joined::Joined;
use crate::store::row::{Fault, Now, Refused, millis};
use crate::store::tabular::hub::TableHub;
use crate::store::tabular::membership::LinkState;

/// What the store's thread and the links share.
pub(super) struct Core {
    pub(super) options: SqliteStoreBuilder,
    /// Whether the last statement on the file passed: while it is not,
    /// nothing waits on the file.
    pub(super) up: AtomicBool,
    /// Every breaker that joined, by name (several may share one).
    pub(super) links: Joined<LinkState>,
    /// The kinds of bad rows already reported, by breaker name: a bad row is
    /// read again at every poll that finds the file changed, and reported
    /// only the first time.
    pub(super) reported: Mutex<HashSet<(String, Fault)>>,
}

impl TableHub for Core {
    /// Reports a refused row, once per breaker and kind: a bad row is read
    /// again at every poll that finds the file changed.
    fn refuse(&self, name: &str, refused: &Refused) {
        let first = self
            .reported
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((name.to_owned(), refused.fault));
        if first {
            tracing::warn!(
                target: "breaker",
                path = %self.options.path.display(),
                table = %self.options.table,
                breaker = %name,
                problem = %refused.fault,
                value = %refused.detail,
                "ignored a bad row in the SQLite store; the breaker keeps its local state \
                 (reported once)"
            );
        }
    }

    fn ended_on_join(&self, name: &str, ago: Duration, reason: &str) {
        tracing::info!(
            target: "breaker",
            path = %self.options.path.display(),
            table = %self.options.table,
            breaker = %name,
            ended_ms_ago = millis(ago),
            reason = %reason,
            "the Open held in the SQLite store had ended when the breaker joined; \
             not adopted"
        );
    }

    fn links_named(&self, name: &str) -> Vec<Arc<LinkState>> {
        self.links.named(name)
    }

    /// The host's wall clock: the processes sharing a file share it.
    fn now(&self) -> Now {
        Now::read()
    }

    fn available(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    fn budget(&self) -> Duration {
        self.options.budget
    }
}

impl Core {
    pub(super) fn all_links(&self) -> Vec<Arc<LinkState>> {
        self.links.all()
    }

    /// Reports that the file became unavailable (called on the change only,
    /// so once per outage, however many statements fail during it).
    pub(super) fn report_down(&self, error: &rusqlite::Error) {
        tracing::warn!(
            target: "breaker",
            path = %self.options.path.display(),
            table = %self.options.table,
            error = %error,
            "SQLite shared-state store unavailable; breakers go on with local state"
        );
    }

    /// Reports that the file is available again (once per outage).
    pub(super) fn report_up(&self) {
        tracing::info!(
            target: "breaker",
            path = %self.options.path.display(),
            table = %self.options.table,
            "SQLite shared-state store available again; breakers reconciled"
        );
    }
}
