//! Breakers by name, shared by the whole program.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, RwLock};

use crate::clock::{Clock, ClockCell, MonotonicClock};
use crate::event::{Listeners, Transition};
use crate::store::Store;
use crate::{Breaker, Config};

/// What a registry's breakers share: the clock and the registry's listeners.
pub(crate) struct Shared {
    pub(crate) clock: ClockCell,
    pub(crate) listeners: Listeners,
}

impl Shared {
    pub(crate) fn new(clock: impl Clock) -> Shared {
        Shared {
            clock: ClockCell::new(clock),
            listeners: Listeners::default(),
        }
    }
}

/// A set of breakers by name, created on first use.
///
/// Most programs use the global one, [`registry()`], which every
/// `#[circuit_breaker]` function registers in. The first configuration given
/// for a name wins; later ones get the existing breaker.
///
/// ```
/// use breaker_core::{Config, Registry, State};
///
/// let registry = Registry::new();
/// let db = registry.get_or_create("db", Config::default);
/// db.force_open();
/// assert_eq!(registry.get("db").unwrap().state(), State::ForcedOpen);
/// assert_eq!(registry.list().len(), 1);
/// ```
pub struct Registry {
    shared: Arc<Shared>,
    breakers: RwLock<BTreeMap<Arc<str>, Breaker>>,
    /// The shared-state store every breaker joins (`use_store`).
    store: RwLock<Option<Arc<dyn Store>>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    /// An empty registry on the real monotonic clock.
    pub fn new() -> Registry {
        Registry {
            shared: Arc::new(Shared::new(MonotonicClock)),
            breakers: RwLock::new(BTreeMap::new()),
            store: RwLock::new(None),
        }
    }

    /// The breaker of that name, if one exists.
    pub fn get(&self, name: &str) -> Option<Breaker> {
        self.breakers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// The breaker of that name, created with `config()` if it does not exist
    /// yet. An existing breaker keeps its configuration.
    pub fn get_or_create(&self, name: &str, config: impl FnOnce() -> Config) -> Breaker {
        if let Some(existing) = self.get(name) {
            return existing;
        }
        let mut breakers = self.breakers.write().unwrap_or_else(|e| e.into_inner());
        let mut created = false;
        let breaker = breakers
            .entry(Arc::from(name))
            .or_insert_with_key(|name| {
                created = true;
                Breaker::in_shared(name.clone(), config(), self.shared.clone())
            })
            .clone();
        drop(breakers);
        if created {
            // Outside the map's lock: joining may wait (the store's budget) for
            // the shared state of the name.
            let store = self.store.read().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(store) = store {
                breaker.use_store(&*store);
            }
        }
        breaker
    }

    /// Every breaker, sorted by name.
    pub fn list(&self) -> Vec<Breaker> {
        self.breakers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// The names of every breaker, sorted.
    pub fn names(&self) -> Vec<String> {
        self.breakers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .map(|k| k.to_string())
            .collect()
    }

    /// Makes every breaker of this registry, existing and future, read `clock`
    /// from now on. Install it before traffic: times already recorded were read
    /// on the previous clock.
    pub fn use_clock(&self, clock: impl Clock) {
        self.shared.clock.install(clock);
    }

    /// Shares the state of every breaker of this registry, existing and
    /// future, with the breakers of the same names in other processes through
    /// `store` (see the [`store`](crate::store) module and
    /// `docs/shared-state.md`). Install it before traffic: a breaker joins
    /// one store, the first it is given.
    pub fn use_store(&self, store: impl Store) {
        let store: Arc<dyn Store> = Arc::new(store);
        *self.store.write().unwrap_or_else(|e| e.into_inner()) = Some(store.clone());
        for breaker in self.list() {
            breaker.use_store(&*store);
        }
    }

    /// Calls `listener` with every transition of every breaker of this
    /// registry, existing and future (see [`Breaker::on_transition`]).
    pub fn on_transition(&self, listener: impl Fn(&Transition) + Send + Sync + 'static) {
        self.shared.listeners.add(Arc::new(listener));
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("breakers", &self.names())
            .finish()
    }
}

/// Created with every annotated function's breaker already in it, so that
/// operators see (and can act on) them before any traffic.
static GLOBAL: LazyLock<Registry> = LazyLock::new(|| {
    let registry = Registry::new();
    crate::__private::register_annotated(&registry);
    registry
});

/// The program's registry: every `#[circuit_breaker]` function's breaker is
/// in it, and operators find breakers there by name.
pub fn registry() -> &'static Registry {
    &GLOBAL
}
