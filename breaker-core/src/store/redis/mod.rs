//! Shared breaker state through Redis (cargo feature `redis`).
//!
//! ```no_run
//! use breaker_core::registry;
//! use breaker_core::store::redis::RedisStore;
//!
//! let store = RedisStore::builder("redis://127.0.0.1:6379/")
//!     .namespace("checkout")
//!     .connect()?;
//! registry().use_store(store);
//! # Ok::<(), breaker_core::store::redis::StoreError>(())
//! ```
//!
//! The store runs on a thread of its own (a small tokio runtime), so it works
//! the same in synchronous programs and under any async runtime. Breakers talk
//! to it through a channel: sharing a transition never waits; only a call that
//! would start a half-open trial waits for Redis, at most the budget.
//!
//! In Redis, each breaker is a hash `{namespace}:{name}` (state, epoch,
//! opened_at and period in Redis milliseconds, reason), with a trial-permit
//! counter `{namespace}:{name}:trials` and a failure counter
//! `{namespace}:{name}:failures` beside it; every read-modify-write is one Lua
//! script, so it is atomic. Transitions are pushed on the channel
//! `{namespace}:transitions`. The whole design is in `docs/shared-state.md`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc::{RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, ErrorKind, RedisError, Script, ServerErrorKind};
use futures_util::StreamExt;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::{Change, Link, Store, Trial};
use crate::breaker::WeakBreaker;
use crate::{Breaker, State};

mod wire;

use wire::{
    CheckedState, EPOCH_SKEW, Fault, Limits, Message, PublishReply, RawHash, Refused, millis,
};

/// How to reach Redis and how long anything may wait for it.
#[derive(Clone)]
pub struct RedisStoreBuilder {
    url: String,
    namespace: String,
    budget: Duration,
    connect_timeout: Duration,
    command_timeout: Duration,
    backoff_min: Duration,
    backoff_max: Duration,
    trial_ttl: Duration,
    cluster_failures: bool,
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
        let (tx, rx) = unbounded_channel();
        let core = Arc::new(Core {
            channel: format!("{}:transitions", self.namespace),
            options: self,
            up: AtomicBool::new(false),
            links: Mutex::new(HashMap::new()),
            reported: Mutex::new(HashSet::new()),
            redis_time: Mutex::new(None),
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
            .finish_non_exhaustive()
    }
}

/// Why a [`RedisStore`] could not be created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

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
    fn attach(&self, breaker: &Breaker) -> Option<Arc<dyn Link>> {
        let config = breaker.config();
        let options = &self.core.options;
        let key = format!("{}:{}", options.namespace, breaker.name());
        let state = Arc::new(LinkState {
            name: breaker.name().to_owned(),
            trials_key: format!("{key}:trials"),
            failures_key: format!("{key}:failures"),
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
        self.core
            .links
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(state.name.clone())
            .or_default()
            .push(Arc::downgrade(&state));
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

/// What the store's thread and the links share.
struct Core {
    options: RedisStoreBuilder,
    channel: String,
    up: AtomicBool,
    /// Every breaker that joined, by name (several may share one).
    links: Mutex<HashMap<String, Vec<Weak<LinkState>>>>,
    /// The kinds of bad data already reported, by breaker name: junk is
    /// read again at every transition, and reported only the first time.
    reported: Mutex<HashSet<(String, Fault)>>,
    /// Redis' `TIME` in µs at the last reply that carried it, and when that
    /// was here: a message has no time of its own to check its epoch against.
    redis_time: Mutex<Option<(u64, Instant)>>,
}

impl Core {
    /// Reports a refused value, once per breaker and kind.
    fn refuse(&self, name: &str, refused: &Refused) {
        let first = self
            .reported
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((name.to_owned(), refused.fault));
        if first {
            tracing::warn!(
                target: "breaker",
                namespace = %self.options.namespace,
                breaker = name,
                problem = %refused.fault,
                value = %refused.detail,
                "ignored bad shared state in Redis; the breaker keeps its local state \
                 (reported once)"
            );
        }
    }

    fn note_redis_time(&self, now_us: u64) {
        *self.redis_time.lock().unwrap_or_else(|e| e.into_inner()) = Some((now_us, Instant::now()));
    }

    /// Redis' clock now, in µs: the last one read, advanced by the time
    /// passed here since (this process's clock, if Redis never said).
    fn redis_now_us(&self) -> u64 {
        match *self.redis_time.lock().unwrap_or_else(|e| e.into_inner()) {
            Some((at, when)) => {
                at.saturating_add(u64::try_from(when.elapsed().as_micros()).unwrap_or(u64::MAX))
            }
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        }
    }

    fn links_named(&self, name: &str) -> Vec<Arc<LinkState>> {
        let mut links = self.links.lock().unwrap_or_else(|e| e.into_inner());
        let Some(named) = links.get_mut(name) else {
            return Vec::new();
        };
        named.retain(|l| l.strong_count() > 0);
        named.iter().filter_map(Weak::upgrade).collect()
    }

    fn all_links(&self) -> Vec<Arc<LinkState>> {
        let mut links = self.links.lock().unwrap_or_else(|e| e.into_inner());
        links.retain(|_, named| {
            named.retain(|l| l.strong_count() > 0);
            !named.is_empty()
        });
        links.values().flatten().filter_map(Weak::upgrade).collect()
    }
}

/// One breaker's membership in the store.
struct LinkState {
    name: String,
    key: String,
    trials_key: String,
    failures_key: String,
    /// Who made a transition, so a process ignores the echo of its own.
    origin: String,
    breaker: WeakBreaker,
    /// The newest epoch of the shared state this breaker has applied or written.
    seen: AtomicU64,
    /// How many shared states were applied to the breaker.
    adoptions: AtomicU64,
    /// A transition could not be written (Redis was down): reconcile it.
    dirty: AtomicBool,
    half_open: u32,
    fail_max: u32,
    window_ms: u64,
    period_ms: u64,
}

impl LinkState {
    /// The breaker's longest open period in ms: a script treats a hash
    /// holding a longer Open as junk to overwrite, as the store refuses it.
    fn longest_ms(&self) -> u64 {
        self.breaker
            .upgrade()
            .map_or(u64::MAX, |b| Limits::new(b.config(), 0).longest_ms)
    }
}

/// The [`Link`] a breaker holds.
struct RedisLink {
    state: Arc<LinkState>,
    core: Arc<Core>,
    tx: UnboundedSender<Command>,
}

impl Link for RedisLink {
    fn publish(&self, change: &Change) {
        let publish = Command::Publish {
            link: self.state.clone(),
            write: Write {
                state: change.to,
                remaining_ms: millis(change.open_for),
                period_ms: millis(change.open_for),
                reason: change.reason.to_string(),
                manual: change.manual,
                seen: self.state.seen.load(Ordering::Acquire),
                adoptions: self.state.adoptions.load(Ordering::Acquire),
            },
        };
        if self.tx.send(publish).is_err() {
            self.state.dirty.store(true, Ordering::Release);
        }
    }

    fn acquire_trial(&self) -> Trial {
        if !self.core.up.load(Ordering::Acquire) {
            return Trial::Local;
        }
        let (reply_tx, reply_rx) = sync_channel(1);
        let waiting = Arc::new(AtomicU8::new(WAITING));
        let acquire = Command::Acquire {
            link: self.state.clone(),
            reply: Reply {
                tx: reply_tx,
                waiting: waiting.clone(),
            },
        };
        if self.tx.send(acquire).is_err() {
            return Trial::Local;
        }
        match reply_rx.recv_timeout(self.core.options.budget) {
            Ok(trial) => trial,
            Err(RecvTimeoutError::Timeout) => {
                // Past the budget: give up, unless the answer is being sent
                // this instant (then take it, or a granted permit would leak).
                match waiting.compare_exchange(
                    WAITING,
                    GAVE_UP,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => Trial::Denied,
                    Err(_) => reply_rx.recv().unwrap_or(Trial::Local),
                }
            }
            Err(RecvTimeoutError::Disconnected) => Trial::Local,
        }
    }

    fn release_trial(&self) {
        let _ = self.tx.send(Command::Release {
            link: self.state.clone(),
        });
    }

    fn counts_failures(&self) -> bool {
        self.core.options.cluster_failures
    }

    fn failure(&self) {
        let _ = self.tx.send(Command::Failure {
            link: self.state.clone(),
        });
    }
}

/// The caller of `acquire_trial` still waits for the answer.
const WAITING: u8 = 0;
/// The caller stopped waiting (past its budget): a granted permit goes back.
const GAVE_UP: u8 = 1;
/// The answer is on its way.
const ANSWERED: u8 = 2;

/// Where the answer to a trial-permit request goes.
struct Reply {
    tx: SyncSender<Trial>,
    waiting: Arc<AtomicU8>,
}

impl Reply {
    /// Sends the answer; `false` if the caller gave up waiting.
    fn answer(self, trial: Trial) -> bool {
        let claimed = self
            .waiting
            .compare_exchange(WAITING, ANSWERED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if claimed {
            let _ = self.tx.try_send(trial);
        }
        claimed
    }
}

/// A transition to write, with what the breaker knew when it made it.
struct Write {
    state: State,
    remaining_ms: u64,
    period_ms: u64,
    reason: String,
    manual: bool,
    /// The newest shared epoch the breaker had seen: a newer Open held in
    /// Redis overrules a policy's transition.
    seen: u64,
    /// How many shared states the breaker had adopted: if it adopted one
    /// since, that one is older in Redis than this write, and the breaker
    /// takes this write back after writing it, to end where the others end.
    adoptions: u64,
}

/// What breakers ask of the store's thread.
enum Command {
    Join {
        link: Arc<LinkState>,
        done: SyncSender<()>,
    },
    Publish {
        link: Arc<LinkState>,
        write: Write,
    },
    Acquire {
        link: Arc<LinkState>,
        reply: Reply,
    },
    Flush {
        done: SyncSender<()>,
    },
    Release {
        link: Arc<LinkState>,
    },
    Failure {
        link: Arc<LinkState>,
    },
}

impl Command {
    /// What a command does while Redis is unreachable: nothing waits, and a
    /// transition that could not be written is reconciled later.
    fn drop_while_down(self) {
        match self {
            Command::Join { done, .. } => {
                let _ = done.try_send(());
            }
            Command::Publish { link, .. } => link.dirty.store(true, Ordering::Release),
            Command::Acquire { reply, .. } => {
                reply.answer(Trial::Local);
            }
            Command::Flush { done } => {
                let _ = done.try_send(());
            }
            Command::Release { .. } | Command::Failure { .. } => {}
        }
    }
}

fn next_origin() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    static PROCESS: LazyLock<String> = LazyLock::new(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("{}.{nanos:x}", std::process::id())
    });
    format!("{}.{}", *PROCESS, SEQ.fetch_add(1, Ordering::Relaxed))
}

/// The state names written in Redis.
fn state_name(state: State) -> &'static str {
    state.as_str()
}
// Every script reads Redis's own clock (TIME), so opened_at never depends on
// a process's clock, and the time left is measured where it is stored.
const CLOCK: &str = "
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
";

// How the scripts read what they hold: a number is digits only (the rule
// `wire::whole` follows), anything else is nil and never reaches arithmetic,
// so no junk in Redis makes a script fail. A hash a replica would refuse
// (`wire::check_hash`) counts as holding no state, so the next write repairs
// it instead of joining it. `skew_us` is `EPOCH_SKEW`; ARGV `longest` is the
// writer's longest open period, in ms.
const HELD: &str = "
local function num(s)
  if s and string.match(s, '^%d+$') then return tonumber(s) end
  return nil
end
local states = {closed = true, open = true, forced_open = true, disabled = true, metrics_only = true}
-- {state, epoch, left, period, junk}: 'none' for no state or a refused one.
local function held(h, longest)
  local cur, epoch = h[1], num(h[2])
  if not cur then return 'none', 0, 0, 0, false end
  if not states[cur] or not epoch or epoch > now_us + skew_us then return 'none', 0, 0, 0, true end
  if cur ~= 'open' then return cur, epoch, 0, 0, false end
  local at, period = num(h[3]), num(h[4])
  if not at or not period then return 'none', 0, 0, 0, true end
  local left = math.max(0, at + period - now)
  if period > longest or left > longest then return 'none', 0, 0, 0, true end
  return cur, epoch, left, period, false
end
";

// The hash as it is, with the clock: {now_ms, now_us, state, epoch,
// opened_at, period, reason}; the store checks it (`wire::check_hash`).
const READ: &str = "
local h = redis.call('HMGET', KEYS[1], 'state', 'epoch', 'opened_at', 'period', 'reason')
return {now, now_us, h[1], h[2], h[3], h[4], h[5]}
";

// Writes a transition unless the shared state overrules it; returns
// {written, now_ms, now_us, state, epoch, opened_at, period, reason} of the
// hash now held. KEYS: hash, trials, failures, channel.
// ARGV: state, remaining_ms, period_ms, reason, manual, seen_epoch, origin,
// name, longest_ms.
const PUBLISH: &str = "
local h = redis.call('HMGET', KEYS[1], 'state', 'epoch', 'opened_at', 'period', 'reason')
local cur, epoch, left, _, junk = held(h, tonumber(ARGV[9]))
local kept = {0, now, now_us, h[1], h[2], h[3], h[4], h[5]}
local state = ARGV[1]
if ARGV[5] ~= '1' and not junk then
  if state == 'open' and cur == 'open' and left > 0 then return kept end
  local newer = epoch > tonumber(ARGV[6])
  if newer and ((cur == 'open' and left > 0) or cur == 'forced_open' or cur == 'disabled') then
    return kept
  end
  if state == 'closed' and (cur == 'closed' or cur == 'none') then return kept end
end
local next_epoch = string.format('%.0f', math.max(epoch + 1, now_us))
local opened_at = string.format('%.0f', now - (tonumber(ARGV[3]) - tonumber(ARGV[2])))
redis.call('HSET', KEYS[1], 'state', state, 'epoch', next_epoch,
  'opened_at', opened_at, 'period', ARGV[3], 'reason', ARGV[4])
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('PUBLISH', KEYS[4], next_epoch .. '\\n' .. state .. '\\n' .. ARGV[2]
  .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[7] .. '\\n' .. string.len(ARGV[8]) .. '\\n' .. ARGV[8] .. ARGV[4])
return {1, now, now_us, state, next_epoch, opened_at, ARGV[3], ARGV[4]}
";

// Takes a half-open trial permit if fewer than ARGV[1] are out; each taking
// extends the counter's life to ARGV[2] ms. A counter that is not a number
// counts as none taken. KEYS: trials.
const ACQUIRE: &str = "
local n = num(redis.call('GET', KEYS[1])) or 0
if n >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], string.format('%.0f', n + 1), 'PX', ARGV[2])
return 1
";

// Gives a permit back; the counter never goes below zero. KEYS: trials.
const RELEASE: &str = "
local n = num(redis.call('GET', KEYS[1])) or 0
if n > 0 then redis.call('DECR', KEYS[1]) end
return n
";

// Counts a failure in Closed; the failure that reaches the threshold opens the
// breaker for everyone. A counter that is not a number starts again, with its
// window. KEYS: hash, trials, failures, channel.
// ARGV: fail_max, window_ms, period_ms, name, longest_ms.
const FAILURE: &str = "
local h = redis.call('HMGET', KEYS[1], 'state', 'epoch', 'opened_at', 'period')
local cur, epoch = held(h, tonumber(ARGV[5]))
if cur ~= 'closed' and cur ~= 'none' then return 0 end
local counted = num(redis.call('GET', KEYS[3]))
local n = (counted or 0) + 1
local ttl = redis.call('PTTL', KEYS[3])
if not counted or ttl < 0 then ttl = ARGV[2] end
redis.call('SET', KEYS[3], string.format('%.0f', n), 'PX', ttl)
if n < tonumber(ARGV[1]) then return 0 end
local next_epoch = string.format('%.0f', math.max(epoch + 1, now_us))
local reason = n .. ' failures across replicas'
redis.call('HSET', KEYS[1], 'state', 'open', 'epoch', next_epoch,
  'opened_at', string.format('%.0f', now), 'period', ARGV[3], 'reason', reason)
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('PUBLISH', KEYS[4], next_epoch .. '\\nopen\\n' .. ARGV[3] .. '\\n'
  .. ARGV[3] .. '\\ncluster\\n' .. string.len(ARGV[4]) .. '\\n' .. ARGV[4] .. reason)
return 1
";

struct Scripts {
    read: Script,
    publish: Script,
    acquire: Script,
    release: Script,
    failure: Script,
}

impl Scripts {
    fn new() -> Scripts {
        let skew_us = EPOCH_SKEW.as_micros();
        let script =
            |body: &str| Script::new(&format!("local skew_us = {skew_us}\n{CLOCK}{HELD}{body}"));
        Scripts {
            read: script(READ),
            publish: script(PUBLISH),
            acquire: script(ACQUIRE),
            release: script(RELEASE),
            failure: script(FAILURE),
        }
    }
}

/// Why a connected session ended.
enum End {
    /// Every sender is gone: the store was dropped.
    Closed,
    /// Redis stopped answering.
    Lost(String),
}

/// The store's thread: connect, serve, and on a loss report it once and
/// reconnect with backoff until Redis is back.
async fn run(
    core: Arc<Core>,
    client: Client,
    mut rx: UnboundedReceiver<Command>,
    ready: SyncSender<()>,
) {
    let options = core.options.clone();
    let scripts = Scripts::new();
    let mut backoff = options.backoff_min;
    let mut down = false;
    loop {
        let error = match open(&client, &core).await {
            Ok((conn, sink, stream)) => {
                core.up.store(true, Ordering::Release);
                if down {
                    tracing::info!(
                        target: "breaker",
                        namespace = %options.namespace,
                        "shared-state store reachable again; reconciling breakers"
                    );
                    down = false;
                }
                let _ = ready.try_send(());
                backoff = options.backoff_min;
                let end = serve(&core, &scripts, conn, stream, &mut rx).await;
                drop(sink);
                core.up.store(false, Ordering::Release);
                match end {
                    End::Closed => return,
                    End::Lost(error) => error,
                }
            }
            Err(error) => error,
        };
        if !down {
            tracing::warn!(
                target: "breaker",
                namespace = %options.namespace,
                error = %error,
                "shared-state store unreachable; breakers go on with local state"
            );
            down = true;
        }
        let _ = ready.try_send(());
        if !wait_while_down(&mut rx, backoff).await {
            return;
        }
        backoff = backoff.saturating_mul(2).min(options.backoff_max);
    }
}

type Session = (
    MultiplexedConnection,
    ::redis::aio::PubSubSink,
    ::redis::aio::PubSubStream,
);

/// One connection for commands and one subscribed to the transitions channel.
async fn open(client: &Client, core: &Core) -> Result<Session, String> {
    let options = &core.options;
    let connect = async {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.command_timeout));
        let conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&core.channel).await?;
        let (sink, stream) = pubsub.split();
        Ok::<_, ::redis::RedisError>((conn, sink, stream))
    };
    match tokio::time::timeout(options.connect_timeout, connect).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no connection within {}",
            crate::format_duration(options.connect_timeout)
        )),
    }
}

/// Waits `backoff` before the next attempt, answering breakers meanwhile.
/// `false` when the store was dropped.
async fn wait_while_down(rx: &mut UnboundedReceiver<Command>, backoff: Duration) -> bool {
    let sleep = tokio::time::sleep(backoff);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = &mut sleep => return true,
            command = rx.recv() => match command {
                Some(command) => command.drop_while_down(),
                None => return false,
            },
        }
    }
}

/// A connected session: reconcile every breaker, then answer breakers and
/// apply what other processes publish until Redis is lost.
async fn serve(
    core: &Core,
    scripts: &Scripts,
    mut conn: MultiplexedConnection,
    mut stream: ::redis::aio::PubSubStream,
    rx: &mut UnboundedReceiver<Command>,
) -> End {
    // Messages are checked against Redis' clock: know it before the first.
    if let Err(e) = tick(core, &mut conn).await {
        return End::Lost(e.to_string());
    }
    for link in core.all_links() {
        let reconciled = reconcile(core, scripts, &mut conn, &link).await;
        if let Err(e) = settle(core, &link, reconciled) {
            link.dirty.store(true, Ordering::Release);
            return End::Lost(e.to_string());
        }
    }
    let mut heartbeat = tokio::time::interval(Duration::from_secs(1));
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            command = rx.recv() => {
                let Some(command) = command else { return End::Closed };
                if let Err(e) = execute(core, scripts, &mut conn, command).await {
                    return End::Lost(e.to_string());
                }
            }
            message = stream.next() => {
                let Some(message) = message else {
                    return End::Lost("the subscription was closed".into());
                };
                for link in apply_message(core, message.get_payload_bytes()) {
                    if let Err(e) = reread(core, scripts, &mut conn, &link).await {
                        return End::Lost(e.to_string());
                    }
                }
            }
            _ = heartbeat.tick() => {
                if let Err(e) = tick(core, &mut conn).await {
                    return End::Lost(e.to_string());
                }
            }
        }
    }
}

/// Reads a breaker's hash again after a message older than the newest
/// epoch it has seen: epochs only grow within one hash, so either the message
/// was overtaken (the read finds the newer state, already applied), or the
/// hash was deleted and written anew since (the read finds its state, which
/// applies, and the epochs of the old hash are forgotten).
async fn reread(
    core: &Core,
    scripts: &Scripts,
    conn: &mut MultiplexedConnection,
    link: &LinkState,
) -> Result<(), RedisError> {
    let result = read(core, scripts, conn, link).await;
    if let Ok(raw) = &result {
        take_held(core, link, raw, false);
    }
    settle(core, link, result)
}

/// The heartbeat: Redis answers, and says its time.
async fn tick(core: &Core, conn: &mut MultiplexedConnection) -> Result<(), RedisError> {
    let (secs, micros): (u64, u64) = ::redis::cmd("TIME").query_async(conn).await?;
    core.note_redis_time(secs.saturating_mul(1_000_000).saturating_add(micros));
    Ok(())
}

/// Whether a failed command means Redis is unreachable. An error reply
/// caused by what a key holds (`WRONGTYPE`, a script's `ERR`) or a reply of
/// an unexpected shape is bad data in Redis, not an outage: reconnecting
/// would meet it again at once. Any other error (`LOADING`, `BUSY`,
/// `READONLY`, I/O, a timeout) is one.
fn connection_lost(e: &RedisError) -> bool {
    let bad_data = matches!(
        e.kind(),
        ErrorKind::Server(ServerErrorKind::ResponseError) | ErrorKind::UnexpectedReturnType
    ) || e.code() == Some("WRONGTYPE");
    !bad_data
}

/// Keeps a failed command's error if Redis is unreachable; reports bad data
/// in Redis (once) and goes on otherwise.
fn settle<T>(
    core: &Core,
    link: &LinkState,
    result: Result<T, RedisError>,
) -> Result<(), RedisError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if connection_lost(&e) => Err(e),
        Err(e) => {
            core.refuse(&link.name, &Refused::new(Fault::Reply, e.to_string()));
            Ok(())
        }
    }
}

async fn execute(
    core: &Core,
    scripts: &Scripts,
    conn: &mut MultiplexedConnection,
    command: Command,
) -> Result<(), RedisError> {
    match command {
        Command::Join { link, done } => {
            let result = read(core, scripts, conn, &link).await;
            if let Ok(raw) = &result {
                take_held(core, &link, raw, false);
            }
            let _ = done.try_send(());
            settle(core, &link, result)
        }
        Command::Publish { link, write } => {
            let result = publish(core, scripts, conn, &link, &write).await;
            if result.is_err() {
                link.dirty.store(true, Ordering::Release);
            }
            settle(core, &link, result)
        }
        Command::Acquire { link, reply } => {
            let result: Result<i64, _> = scripts
                .acquire
                .key(&link.trials_key)
                .arg(link.half_open)
                .arg(millis(core.options.trial_ttl))
                .invoke_async(conn)
                .await;
            let trial = match result {
                Ok(1) => Trial::Granted,
                Ok(_) => Trial::Denied,
                Err(_) => Trial::Local,
            };
            if !reply.answer(trial) && trial == Trial::Granted {
                // The caller gave up waiting: the permit goes back at once.
                let _: Result<i64, _> = scripts
                    .release
                    .key(&link.trials_key)
                    .invoke_async(conn)
                    .await;
            }
            settle(core, &link, result)
        }
        Command::Flush { done } => {
            let _ = done.try_send(());
            Ok(())
        }
        Command::Release { link } => {
            let result: Result<i64, _> = scripts
                .release
                .key(&link.trials_key)
                .invoke_async(conn)
                .await;
            settle(core, &link, result)
        }
        Command::Failure { link } => {
            let result: Result<i64, _> = scripts
                .failure
                .key(&link.key)
                .key(&link.trials_key)
                .key(&link.failures_key)
                .key(&core.channel)
                .arg(link.fail_max)
                .arg(link.window_ms.max(1))
                .arg(link.period_ms.max(1))
                .arg(&link.name)
                .arg(link.longest_ms())
                .invoke_async(conn)
                .await;
            settle(core, &link, result)
        }
    }
}

async fn read(
    core: &Core,
    scripts: &Scripts,
    conn: &mut MultiplexedConnection,
    link: &LinkState,
) -> Result<RawHash, RedisError> {
    let raw: RawHash = scripts.read.key(&link.key).invoke_async(conn).await?;
    core.note_redis_time(raw.1);
    Ok(raw)
}

async fn publish(
    core: &Core,
    scripts: &Scripts,
    conn: &mut MultiplexedConnection,
    link: &LinkState,
    write: &Write,
) -> Result<(), RedisError> {
    let (written, now_ms, now_us, state, epoch, opened_at, period, reason): PublishReply = scripts
        .publish
        .key(&link.key)
        .key(&link.trials_key)
        .key(&link.failures_key)
        .key(&core.channel)
        .arg(state_name(write.state))
        .arg(write.remaining_ms.min(write.period_ms))
        .arg(write.period_ms)
        .arg(&write.reason)
        .arg(if write.manual { "1" } else { "0" })
        .arg(write.seen)
        .arg(&link.origin)
        .arg(&link.name)
        .arg(link.longest_ms())
        .invoke_async(conn)
        .await?;
    core.note_redis_time(now_us);
    let raw: RawHash = (now_ms, now_us, state, epoch, opened_at, period, reason);
    if written != 1 {
        // Overruled (an Open or an operator's mode held elsewhere) or joined
        // (an Open already running): take the shared state.
        take_held(core, link, &raw, true);
        return Ok(());
    }
    // What was just written is the newest state in Redis: the newest epoch
    // seen is that one, even if a higher one was seen before (a hash deleted
    // since, or an epoch from Redis' future): otherwise every message after
    // it would look old here.
    if let Some(epoch) = wire::epoch_of(&raw) {
        link.seen.store(epoch, Ordering::Release);
    }
    if link.adoptions.load(Ordering::Acquire) != write.adoptions {
        if let Some(breaker) = link.breaker.upgrade() {
            if let Ok(Some(shared)) = wire::check_hash(&raw, breaker.config()) {
                adopt(link, &breaker, &shared);
            }
        }
    }
    Ok(())
}

/// After a (re)connection: a transition made while Redis was unreachable is
/// written now (and overruled by an Open held elsewhere, which then wins
/// here); otherwise a newer shared state is applied here, and a local Open
/// that Redis lost (a restart without persistence), or that Redis holds
/// junk in place of, is written back.
async fn reconcile(
    core: &Core,
    scripts: &Scripts,
    conn: &mut MultiplexedConnection,
    link: &LinkState,
) -> Result<(), RedisError> {
    let Some(breaker) = link.breaker.upgrade() else {
        return Ok(());
    };
    let raw = read(core, scripts, conn, link).await?;
    let held = checked(core, link, &breaker, &raw);
    let (state, left, period) = breaker.shared_view();
    let missing = !matches!(held, Some(Some(_))) && state != State::Closed;
    if link.dirty.swap(false, Ordering::AcqRel) || missing {
        let state = if state == State::HalfOpen {
            State::Open
        } else {
            state
        };
        let reason = match breaker.open_reason() {
            Some(reason) if state != State::Closed => reason.reason.to_string(),
            _ => "reconciled".to_owned(),
        };
        let write = Write {
            state,
            remaining_ms: millis(left),
            period_ms: millis(period).max(1),
            reason,
            manual: false,
            seen: link.seen.load(Ordering::Acquire),
            adoptions: link.adoptions.load(Ordering::Acquire),
        };
        publish(core, scripts, conn, link, &write).await
    } else {
        if let Some(Some(shared)) = held {
            if link.seen.swap(shared.epoch, Ordering::AcqRel) != shared.epoch {
                adopt(link, &breaker, &shared);
            }
        }
        Ok(())
    }
}

/// The hash checked for `breaker`: `None` when it was refused (and
/// reported), `Some(None)` when it holds no state. No state means the hash
/// is new (deleted, or Redis restarted empty): the epochs seen before mean
/// nothing against the ones it will hold.
fn checked(
    core: &Core,
    link: &LinkState,
    breaker: &Breaker,
    raw: &RawHash,
) -> Option<Option<CheckedState>> {
    match wire::check_hash(raw, breaker.config()) {
        Ok(None) => {
            link.seen.store(0, Ordering::Release);
            Some(None)
        }
        Ok(Some(shared)) => Some(Some(shared)),
        Err(refused) => {
            core.refuse(&link.name, &refused);
            None
        }
    }
}

/// Applies the shared state a read found, if it passes the checks and its
/// epoch is not the one the breaker has seen, or, with `overruled`, because
/// it overruled the breaker's own transition. What a read finds is the state
/// now held: an epoch lower than the one seen means the hash was written
/// anew (deleted, or lost in a Redis restart), and it applies too.
fn take_held(core: &Core, link: &LinkState, raw: &RawHash, overruled: bool) {
    let Some(breaker) = link.breaker.upgrade() else {
        return;
    };
    if let Some(Some(shared)) = checked(core, link, &breaker, raw) {
        if link.seen.swap(shared.epoch, Ordering::AcqRel) != shared.epoch || overruled {
            adopt(link, &breaker, &shared);
        }
    }
}

fn adopt(link: &LinkState, breaker: &Breaker, shared: &CheckedState) {
    link.adoptions.fetch_add(1, Ordering::AcqRel);
    breaker.adopt(&shared.remote);
}

/// A transition pushed by some process (`wire::Message`), checked for each
/// breaker of its name and applied if it is newer than what the breaker has
/// seen. Returns the breakers for which it was older, to read again.
fn apply_message(core: &Core, payload: &[u8]) -> Vec<Arc<LinkState>> {
    let Some(message) = Message::parse(payload) else {
        core.refuse("", &Refused::new(Fault::Message, wire::shown(payload)));
        return Vec::new();
    };
    let mut older = Vec::new();
    for link in core.links_named(message.name) {
        let Some(breaker) = link.breaker.upgrade() else {
            continue;
        };
        let limits = Limits::new(breaker.config(), core.redis_now_us());
        if link.origin == message.origin {
            // The echo of this breaker's own write.
            if let Ok(epoch) = message.epoch_within(&limits) {
                link.seen.fetch_max(epoch, Ordering::AcqRel);
            }
            continue;
        }
        match message.check(&limits) {
            Ok(shared) => {
                let seen = link.seen.fetch_max(shared.epoch, Ordering::AcqRel);
                if seen < shared.epoch {
                    adopt(&link, &breaker, &shared);
                } else if seen > shared.epoch {
                    older.push(link);
                }
            }
            Err(refused) => core.refuse(&link.name, &refused),
        }
    }
    older
}
