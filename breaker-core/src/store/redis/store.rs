//! [`RedisStore`] as users hold it, and how it starts: the store's thread,
//! its first connection, and each breaker's joining ([`Store::attach`]),
//! which hands the breaker the [`Link`] it talks to the thread through.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::redis::Client;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use super::builder::RedisStoreBuilder;
use super::command::Command;
use super::error::StoreError;
use super::hub::Core;
use super::link::RedisLink;
use super::membership::{ConfigShare, Described, LinkState, next_origin};
use super::thread::run;
use super::wire::millis;
use crate::Breaker;
use crate::store::joined::Joined;
use crate::store::permits::Permits;
use crate::store::server_clock::ServerClock;
use crate::store::{FleetFuture, Link, Store};

const STOPPED: &str = "the Redis store's thread has stopped";

/// A [`Store`] in Redis. Cheap to clone: clones are the same store.
///
/// Install it with [`Registry::use_store`](crate::Registry::use_store) or
/// [`Breaker::use_store`].
#[derive(Clone)]
pub struct RedisStore {
    core: Arc<Core>,
    tx: UnboundedSender<Command>,
}

impl RedisStore {
    /// A store at `url` (`redis://host:port/db`), with the defaults of
    /// [`RedisStoreBuilder`].
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            namespace: "breaker".into(),
            budget: Duration::from_millis(50),
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            trial_ttl: Duration::from_secs(10),
            cluster_failures: false,
            quorum: 1,
            replica: None,
        }
    }

    /// Whether the store is connected to Redis right now.
    pub fn is_connected(&self) -> bool {
        self.core.up.load(Ordering::Acquire)
    }

    /// Waits, at most `within`, until every transition queued so far has been
    /// written to Redis (or found it unreachable, to be reconciled later).
    /// Call it before a process exits, so that an Open it just made outlives
    /// it. `true` when everything was handled in time.
    pub fn flush(&self, within: Duration) -> bool {
        let (done_tx, done_rx) = sync_channel(1);
        self.tx.send(Command::Flush { done: done_tx }).is_ok()
            && done_rx.recv_timeout(within).is_ok()
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("namespace", &self.core.options.namespace)
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl Store for RedisStore {
    /// Reads every replica's description from Redis, on the store's thread:
    /// an error while Redis is unreachable (never a wait for it).
    fn fleet(&self) -> Option<FleetFuture> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let sent = self.tx.send(Command::Fleet { reply }).is_ok();
        Some(Box::pin(async move {
            if !sent {
                return Err(STOPPED.into());
            }
            answer.await.unwrap_or_else(|_| Err(STOPPED.into()))
        }))
    }

    fn attach(&self, breaker: &Breaker) -> Option<Arc<dyn Link>> {
        let config = breaker.config();
        let options = &self.core.options;
        let key = format!("{}:{}", options.namespace, breaker.name());
        let state = Arc::new(LinkState {
            name: breaker.name().to_owned(),
            trials_key: format!("{key}:trials"),
            config: ConfigShare::new(format!("{key}:config")),
            failures_key: format!("{key}:failures"),
            openings_key: format!("{key}:openings"),
            described: Described::default(),
            permits: Permits::default(),
            key,
            origin: next_origin(),
            breaker: breaker.downgrade(),
            seen: AtomicU64::new(0),
            adoptions: AtomicU64::new(0),
            dirty: AtomicBool::new(false),
            half_open: config.half_open(),
            fail_max: config.fail_max().or(config.consecutive()).unwrap_or(5),
            window_ms: millis(config.within().unwrap_or(config.reset())),
            period_ms: millis(config.reset()),
        });
        self.core.links.add(&state.name, &state);
        if self.is_connected() {
            let (done_tx, done_rx) = sync_channel(1);
            let join = Command::Join {
                link: state.clone(),
                done: done_tx,
            };
            if self.tx.send(join).is_ok() {
                let _ = done_rx.recv_timeout(options.budget);
            }
        }
        Some(Arc::new(RedisLink {
            state,
            core: self.core.clone(),
            tx: self.tx.clone(),
        }))
    }
}

impl RedisStoreBuilder {
    /// Starts the store: its thread, the connection and the subscription.
    ///
    /// Waits for the first connection at most the connect timeout. Redis being
    /// unreachable is not an error: the store reports it once through
    /// tracing, breakers go on with local state, and the store keeps trying
    /// to reconnect. `Err` only for a URL that cannot be parsed or a thread
    /// that cannot be started.
    pub fn connect(self) -> Result<RedisStore, StoreError> {
        let client = Client::open(self.url.as_str()).map_err(|e| {
            StoreError(format!(
                "invalid Redis URL ({e}); expected redis://[user:password@]host:port/db"
            ))
        })?;
        if self.quorum == 0 {
            return Err(StoreError(
                "quorum must be at least 1 (1: every opening is shared at once)".into(),
            ));
        }
        let (tx, rx) = unbounded_channel();
        let core = Arc::new(Core {
            channel: format!("{}:transitions", self.namespace),
            config_channel: format!("{}:configs", self.namespace),
            replicas_key: format!("{}:replicas", self.namespace),
            replica: self.replica.clone().unwrap_or_else(default_replica),
            unreachable_quorum: Mutex::new(HashSet::new()),
            options: self,
            up: AtomicBool::new(false),
            links: Joined::default(),
            reported: Mutex::new(HashSet::new()),
            redis_time: ServerClock::default(),
        });
        let (ready_tx, ready_rx) = sync_channel(1);
        let task_core = core.clone();
        std::thread::Builder::new()
            .name("breaker-redis".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => runtime.block_on(run(task_core, client, rx, ready_tx)),
                    Err(e) => tracing::error!(
                        target: "breaker",
                        error = %e,
                        "the Redis store could not start its runtime; breakers keep local state"
                    ),
                }
            })
            .map_err(|e| StoreError(format!("cannot start the Redis store's thread: {e}")))?;
        let _ = ready_rx.recv_timeout(
            core.options
                .connect_timeout
                .saturating_add(Duration::from_millis(100)),
        );
        Ok(RedisStore { core, tx })
    }
}

/// `host:pid`: the host's name as the kernel knows it (`unknown` if it
/// cannot say), and this process.
fn default_replica() -> String {
    let mut name = [0u8; 256];
    // SAFETY: `name` is writable for its whole length, which is passed.
    let ok = unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) } == 0;
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    let host = match std::str::from_utf8(&name[..end]) {
        Ok(host) if ok && !host.is_empty() => host,
        _ => "unknown",
    };
    format!("{host}:{}", std::process::id())
}
