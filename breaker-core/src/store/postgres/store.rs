//! [`PostgresStore`] as users hold it, and how it starts: the connection
//! string checked, the store's thread and its first connection, and each
//! breaker's joining ([`Store::attach`]), which hands the breaker the
//! [`Link`] it talks to the thread through.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio_postgres::config::Host;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Config, NoTls, Socket};

use super::builder::PostgresStoreBuilder;
use super::error::StoreError;
use super::hub::Core;
use super::thread::run;
use crate::Breaker;
use crate::store::joined::Joined;
use crate::store::server_clock::ServerClock;
use crate::store::tabular::command::Command;
use crate::store::tabular::hub::Queue;
use crate::store::tabular::link::TableLink;
use crate::store::tabular::membership::LinkState;
use crate::store::tabular::table_name;
use crate::store::{Link, Store};

/// The longest table name: `{table}_changes`, the channel, must fit
/// PostgreSQL's 63 bytes.
const MAX_TABLE: usize = 55;

/// A [`Store`] in a PostgreSQL table, shared by processes on any number of
/// hosts. Cheap to clone: clones are the same store.
///
/// Install it with [`Registry::use_store`](crate::Registry::use_store) or
/// [`Breaker::use_store`].
#[derive(Clone)]
pub struct PostgresStore {
    core: Arc<Core>,
    tx: UnboundedSender<Command>,
}

impl PostgresStore {
    /// A store on the server of `conn_str`, a URL
    /// (`postgresql://user:password@host:port/database`) or key-value pairs
    /// (`host=... port=... user=... dbname=...`), with the defaults of
    /// [`PostgresStoreBuilder`].
    pub fn builder(conn_str: impl Into<String>) -> PostgresStoreBuilder {
        PostgresStoreBuilder {
            conn_str: conn_str.into(),
            table: "breaker_state".into(),
            budget: Duration::from_millis(50),
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            trial_ttl: Duration::from_secs(10),
        }
    }

    /// Whether the store is connected to the server right now (and has
    /// reconciled its breakers since it connected).
    pub fn is_connected(&self) -> bool {
        self.core.up.load(Ordering::Acquire)
    }

    /// Waits, at most `within`, until every transition queued so far has been
    /// written (or found the server unreachable, to be written when it is
    /// back). Call it before a process exits, so that an Open it just made
    /// outlives it. `true` when everything was handled in time.
    pub fn flush(&self, within: Duration) -> bool {
        let (done_tx, done_rx) = sync_channel(1);
        self.tx.send(Command::Flush { done: done_tx }).is_ok()
            && done_rx.recv_timeout(within).is_ok()
    }
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("server", &self.core.server)
            .field("table", &self.core.options.table)
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl Queue for UnboundedSender<Command> {
    fn push(&self, command: Command) -> bool {
        self.send(command).is_ok()
    }
}

impl Store for PostgresStore {
    fn attach(&self, breaker: &Breaker) -> Option<Arc<dyn Link>> {
        let state = Arc::new(LinkState::new(breaker));
        self.core.links.add(&state.name, &state);
        if self.is_connected() {
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

impl PostgresStoreBuilder {
    /// Opens the store without TLS ([`open_with_tls`](Self::open_with_tls)
    /// brings a connector): the store's thread, its connection, the table
    /// (created if missing), and `LISTEN` on the table's channel.
    ///
    /// Waits for the first connection at most the connect timeout plus the
    /// command timeout. `Err`, saying what is wrong and what would be right,
    /// for a connection string that does not parse or names no host, a
    /// table name that is not a plain identifier, credentials or a database
    /// the server refuses, a table of that name without the store's columns
    /// (or without a unique key on `name`), or no right to create the
    /// table. A server that cannot be reached is not an error: the store
    /// reports it once through tracing, breakers go on with local state, and
    /// the store keeps trying to connect.
    pub fn open(self) -> Result<PostgresStore, StoreError> {
        self.open_with_tls(NoTls)
    }

    /// [`open`](Self::open), with TLS from `tls`: any tokio-postgres
    /// connector (`postgres-native-tls`'s `MakeTlsConnector`,
    /// `tokio-postgres-rustls`'s `MakeRustlsConnect`, ...), built by the
    /// application with its own certificates.
    pub fn open_with_tls<T>(self, tls: T) -> Result<PostgresStore, StoreError>
    where
        T: MakeTlsConnect<Socket> + Clone + Send + 'static,
        T::Stream: Send + 'static,
        T::TlsConnect: Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        table_name::check(&self.table, MAX_TABLE).map_err(StoreError)?;
        let mut config = Config::from_str(&self.conn_str).map_err(|e| {
            StoreError(format!(
                "invalid PostgreSQL connection string ({e}); expected \
                 postgresql://user:password@host:port/database or \
                 host=... port=... user=... dbname=..."
            ))
        })?;
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            return Err(StoreError(
                "the PostgreSQL connection string names no host: add host=... \
                 (or postgresql://host/...)"
                    .into(),
            ));
        }
        config.connect_timeout(self.connect_timeout);
        if config.get_application_name().is_none() {
            config.application_name("breaker");
        }
        let (tx, rx) = unbounded_channel();
        let core = Arc::new(Core {
            server: describe(&config),
            channel: format!("{}_changes", self.table),
            options: self,
            up: AtomicBool::new(false),
            clock: ServerClock::default(),
            links: Joined::default(),
            reported: Mutex::new(HashSet::new()),
            refused_writes: Mutex::new(HashSet::new()),
        });
        let (ready_tx, ready_rx) = sync_channel(1);
        let task_core = core.clone();
        std::thread::Builder::new()
            .name("breaker-postgres".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => runtime.block_on(run(task_core, config, tls, rx, ready_tx)),
                    Err(e) => tracing::error!(
                        target: "breaker",
                        error = %e,
                        "the PostgreSQL store could not start its runtime; breakers keep \
                         local state"
                    ),
                }
            })
            .map_err(|e| StoreError(format!("cannot start the PostgreSQL store's thread: {e}")))?;
        let patience = core
            .options
            .connect_timeout
            .saturating_add(core.options.command_timeout)
            .saturating_add(Duration::from_millis(100));
        match ready_rx.recv_timeout(patience) {
            Ok(Err(e)) => Err(StoreError(e)),
            // Connected, or not reachable (reported; the thread goes on).
            _ => Ok(PostgresStore { core, tx }),
        }
    }
}

/// The server as reports name it: `host:port/database`, never the password.
fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(Host::Unix(path)) => path.display().to_string(),
        None => config
            .get_hostaddrs()
            .first()
            .map_or_else(|| "localhost".to_owned(), ToString::to_string),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{database}")
}
