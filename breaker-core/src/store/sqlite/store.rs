//! [`SqliteStore`] as users hold it, and how it starts: the file opened and
//! checked, the store's thread, and each breaker's joining
//! ([`Store::attach`]), which hands the breaker the [`Link`] it talks to the
//! thread through.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Sender, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::builder::SqliteStoreBuilder;
use super::error::StoreError;
use super::hub::Core;
use super::schema::{self, Sql};
use super::thread::{Session, run};
use crate::Breaker;
use crate::store::joined::Joined;
use crate::store::tabular::command::Command;
use crate::store::tabular::link::TableLink;
use crate::store::tabular::membership::LinkState;
use crate::store::{Link, Store};

/// A [`Store`] in a SQLite file, shared by the processes of one host.
/// Cheap to clone: clones are the same store.
///
/// Install it with [`Registry::use_store`](crate::Registry::use_store) or
/// [`Breaker::use_store`].
#[derive(Clone)]
pub struct SqliteStore {
    core: Arc<Core>,
    tx: Sender<Command>,
}

impl SqliteStore {
    /// A store in the file at `path` (created if missing), with the defaults
    /// of [`SqliteStoreBuilder`].
    pub fn builder(path: impl Into<PathBuf>) -> SqliteStoreBuilder {
        SqliteStoreBuilder {
            path: path.into(),
            table: "breaker_state".into(),
            poll_interval: Duration::from_secs(1),
            budget: Duration::from_millis(50),
            busy_timeout: Duration::from_millis(25),
            trial_ttl: Duration::from_secs(10),
        }
    }

    /// Whether the last statement on the file passed (`false` while another
    /// process holds its write lock past the busy timeout, or after an I/O
    /// error, until a retry passes).
    pub fn is_available(&self) -> bool {
        self.core.up.load(Ordering::Acquire)
    }

    /// Waits, at most `within`, until every transition queued so far has been
    /// written to the file (or found it unavailable, to be written when it is
    /// back). Call it before a process exits, so that an Open it just made
    /// outlives it. `true` when everything was handled in time.
    pub fn flush(&self, within: Duration) -> bool {
        let (done_tx, done_rx) = sync_channel(1);
        self.tx.send(Command::Flush { done: done_tx }).is_ok()
            && done_rx.recv_timeout(within).is_ok()
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.core.options.path)
            .field("table", &self.core.options.table)
            .field("available", &self.is_available())
            .finish()
    }
}

impl Store for SqliteStore {
    fn attach(&self, breaker: &Breaker) -> Option<Arc<dyn Link>> {
        let state = Arc::new(LinkState::new(breaker));
        self.core.links.add(&state.name, &state);
        if self.is_available() {
            let (done_tx, done_rx) = sync_channel(1);
            let join = Command::Join {
                link: state.clone(),
                done: done_tx,
            };
            if self.tx.send(join).is_ok() {
                let _ = done_rx.recv_timeout(self.core.options.budget);
            }
        }
        Some(Arc::new(TableLink {
            state,
            hub: self.core.clone(),
            queue: self.tx.clone(),
        }))
    }
}

impl SqliteStoreBuilder {
    /// Opens the store: the file (created if missing, put in WAL mode), the
    /// table (created if missing), and the store's thread.
    ///
    /// `Err`, saying what is wrong and what would be right, for a table name
    /// that is not a plain identifier, a path that cannot be opened, a
    /// read-only file, a file that is not a SQLite database, or a table of
    /// that name without the store's columns. Another process holding the
    /// file's lock is not an error: the store reports it once through
    /// tracing, breakers go on with local state, and the store tries again
    /// every poll interval.
    pub fn open(self) -> Result<SqliteStore, StoreError> {
        schema::check_table_name(&self.table)?;
        let conn = schema::open(&self)?;
        let sql = Sql::new(&self.table);
        let (ready, locked) = match schema::set_up(&conn, &self.table, &sql) {
            Ok(()) => (true, None),
            Err(e) if schema::transient(&e) => (false, Some(e)),
            Err(e) => return Err(schema::setup_error(&self, &e)),
        };
        let core = Arc::new(Core {
            options: self,
            up: AtomicBool::new(ready),
            links: Joined::default(),
            reported: Mutex::new(HashSet::new()),
        });
        if let Some(e) = locked {
            core.report_down(&e);
        }
        let (tx, rx) = channel();
        let session = Session {
            core: core.clone(),
            conn,
            sql,
            ready,
            data_version: None,
        };
        std::thread::Builder::new()
            .name("breaker-sqlite".into())
            .spawn(move || run(session, rx))
            .map_err(|e| StoreError(format!("cannot start the SQLite store's thread: {e}")))?;
        Ok(SqliteStore { core, tx })
    }
}
