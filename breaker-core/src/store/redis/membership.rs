//! [`LinkState`]: one breaker's membership in the store: its keys in Redis,
//! who it is (so a process ignores the echo of its own writes), and the
//! newest shared epoch it has seen, and its reconfigurations ([`ConfigShare`]).
//! Both the breaker's link and the store's
//! thread hold it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use super::wire::Limits;
use crate::breaker::WeakBreaker;
use crate::store::permits::Permits;

/// One breaker's membership in the store.
pub(super) struct LinkState {
    pub(super) name: String,
    pub(super) key: String,
    pub(super) trials_key: String,
    pub(super) failures_key: String,
    /// The replicas that opened the breaker in the current quorum window.
    pub(super) openings_key: String,
    /// Who made a transition, so a process ignores the echo of its own.
    pub(super) origin: String,
    pub(super) breaker: WeakBreaker,
    /// The newest epoch of the shared state this breaker has applied or written.
    pub(super) seen: AtomicU64,
    /// How many shared states were applied to the breaker.
    pub(super) adoptions: AtomicU64,
    /// A transition could not be written (Redis was down): reconcile it.
    pub(super) dirty: AtomicBool,
    pub(super) half_open: u32,
    /// The generations of the trial-permit counter the permits held here
    /// were taken from.
    pub(super) permits: Permits,
    pub(super) fail_max: u32,
    pub(super) window_ms: u64,
    pub(super) period_ms: u64,
    /// The breaker's reconfigurations, shared (`configs` module).
    pub(super) config: ConfigShare,
    /// Its figures when the fleet was last told of it (`fleet` module).
    pub(super) described: Described,
}

impl LinkState {
    /// The breaker's longest open period in ms: a script treats a hash
    /// holding a longer Open as junk to overwrite, as the store refuses it.
    pub(super) fn longest_ms(&self) -> u64 {
        self.breaker
            .upgrade()
            .map_or(u64::MAX, |b| Limits::new(b.config(), 0).longest_ms)
    }
}

/// A breaker's figures when the fleet was last told of it (admitted,
/// rejected, failures), to count the interval since (`fleet` module).
#[derive(Default)]
pub(super) struct Described(pub(super) Mutex<(u64, u64, u64)>);

/// A name for this breaker in this process, unique across processes.
pub(super) fn next_origin() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    static PROCESS: LazyLock<String> = LazyLock::new(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("{}.{nanos:x}", std::process::id())
    });
    format!("{}.{}", *PROCESS, SEQ.fetch_add(1, Ordering::Relaxed))
}

/// One breaker's reconfigurations, as shared.
pub(super) struct ConfigShare {
    /// The hash of its reconfigured keys.
    pub(super) key: String,
    /// Every key reconfigured, here or elsewhere, and the change not yet
    /// written (with its time on Redis' clock).
    pub(super) state: Mutex<Keys>,
    /// `_at` of the change last applied or written here.
    pub(super) seen: AtomicU64,
}

#[derive(Default)]
pub(super) struct Keys {
    pub(super) keys: BTreeMap<String, String>,
    pub(super) pending: Option<u64>,
}

impl ConfigShare {
    pub(super) fn new(key: String) -> ConfigShare {
        ConfigShare {
            key,
            state: Mutex::new(Keys::default()),
            seen: AtomicU64::new(0),
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Keys> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The breaker was reconfigured here at Redis time `at_us`: these keys
    /// join its reconfigured keys, to be written.
    pub(super) fn changed_here(&self, changed: &[(&'static str, String)], at_us: u64) {
        let mut state = self.lock();
        for (key, value) in changed {
            state.keys.insert((*key).to_owned(), value.clone());
        }
        state.pending = Some(at_us);
    }
}
