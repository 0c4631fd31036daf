//! [`Core`]: what the store's thread and the breakers' links share: the
//! settings, whether the server is reachable, its clock, every breaker that
//! joined, and the bad rows already reported; and what the shared parts of
//! a table-backed store ask of it ([`TableHub`]).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::builder::PostgresStoreBuilder;
use crate::store::joined::Joined;
use crate::store::row::{Fault, Now, Refused, millis};
use crate::store::server_clock::ServerClock;
use crate::store::tabular::hub::TableHub;
use crate::store::tabular::membership::LinkState;

/// What the store's thread and the links share.
pub(super) struct Core {
    pub(super) options: PostgresStoreBuilder,
    /// The server as reports name it (`host:port/database`, no credentials).
    pub(super) server: String,
    /// Where writes are announced (`NOTIFY`): `{table}_changes`.
    pub(super) channel: String,
    /// Whether the store is connected: while it is not, nothing waits on it.
    pub(super) up: AtomicBool,
    /// The server's clock, as last read: rows are written and checked on it.
    pub(super) clock: ServerClock,
    /// Every breaker that joined, by name (several may share one).
    pub(super) links: Joined<LinkState>,
    /// The kinds of bad rows already reported, by breaker name: a bad row is
    /// read again at every notification, and reported only the first time.
    pub(super) reported: Mutex<HashSet<(String, Fault)>>,
    /// The breakers whose write the server refused for what it held (a
    /// constraint of the user's), reported once each.
    pub(super) refused_writes: Mutex<HashSet<String>>,
}

impl TableHub for Core {
    fn refuse(&self, name: &str, refused: &Refused) {
        let first = self
            .reported
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((name.to_owned(), refused.fault));
        if first {
            tracing::warn!(
                target: "breaker",
                server = %self.server,
                table = %self.options.table,
                breaker = %name,
                problem = %refused.fault,
                value = %refused.detail,
                "ignored a bad row in the PostgreSQL store; the breaker keeps its local state \
                 (reported once)"
            );
        }
    }

    fn ended_on_join(&self, name: &str, ago: Duration, reason: &str) {
        tracing::info!(
            target: "breaker",
            server = %self.server,
            table = %self.options.table,
            breaker = %name,
            ended_ms_ago = millis(ago),
            reason = %reason,
            "the Open held in the PostgreSQL store had ended when the breaker joined; \
             not adopted"
        );
    }

    fn links_named(&self, name: &str) -> Vec<Arc<LinkState>> {
        self.links.named(name)
    }

    /// The server's clock: hosts whose clocks disagree agree on it.
    fn now(&self) -> Now {
        Now::from_us(self.clock.now_us())
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

    /// Reports that the server became unreachable (called on the change
    /// only, so once per outage, however many attempts fail during it).
    pub(super) fn report_down(&self, error: &str) {
        tracing::warn!(
            target: "breaker",
            server = %self.server,
            table = %self.options.table,
            error = %error,
            "PostgreSQL shared-state store unreachable; breakers go on with local state"
        );
    }

    /// Reports that the server is reachable again (once per outage).
    pub(super) fn report_up(&self) {
        tracing::info!(
            target: "breaker",
            server = %self.server,
            table = %self.options.table,
            "PostgreSQL shared-state store reachable again; breakers reconciled"
        );
    }

    /// Reports, once per breaker, a write the server refused for what the
    /// table holds (not an outage: reconnecting would meet it again).
    pub(super) fn refuse_write(&self, name: &str, error: &str) {
        let first = self
            .refused_writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned());
        if first {
            tracing::warn!(
                target: "breaker",
                server = %self.server,
                table = %self.options.table,
                breaker = %name,
                error = %error,
                "the PostgreSQL server refused the store's statement for this breaker; \
                 the breaker keeps its local state (reported once)"
            );
        }
    }
}
