//! The registry itself: its breakers by name, created once, with the
//! operators' overrides applied at creation and where each key came from.

use super::family::Family;
use std::any::{Any, TypeId};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::breaker::Environment;
use crate::clock::{Clock, MonotonicClock};
use crate::event::Transition;
use crate::jitter::Jitter;
use crate::overrides::{KeyedSettings, Origin, OverrideError, Overrides, Source};
use crate::retry::{RealSleeper, Sleeper};
use crate::store::Store;
use crate::{Breaker, Config};

/// A set of breakers by name, created on first use.
///
/// Most programs use the global one, [`registry()`](crate::registry()), which every
/// `#[circuit_breaker]` function registers in. The first configuration given
/// for a name wins; later ones get the existing breaker.
///
/// A breaker is created with its configuration changed by the registry's
/// [`Overrides`] (the global registry's come from the environment and the
/// file named by `BREAKER_CONFIG`; see the [`overrides`](crate::overrides)
/// module), and by [`configure`](Registry::configure) in code.
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
    pub(super) env: Arc<Environment>,
    pub(super) breakers: RwLock<BTreeMap<Arc<str>, Entry>>,
    /// The shared-state store every breaker joins (`use_store`).
    store: RwLock<Option<Arc<dyn Store>>>,
    /// Operators' overrides, applied to each breaker at its creation.
    pub(super) overrides: RwLock<Arc<Overrides>>,
    /// Every mistake found in the overrides, in the order found.
    config_errors: Mutex<Vec<OverrideError>>,
    /// How annotated functions with `retry` wait between attempts.
    sleeper: RwLock<Arc<dyn Sleeper>>,
    /// The seed of the annotated functions' retry jitter, when fixed.
    retry_seed: Mutex<Option<u64>>,
    /// The keyed breakers created in this registry, by name and key type
    /// (`keyed` module).
    pub(crate) keyed: Mutex<Vec<KeyedSet>>,
}

/// A keyed breaker of the registry: its name, its key type, and the
/// `KeyedBreaker<K>` itself.
pub(crate) type KeyedSet = (
    Arc<str>,
    TypeId,
    Arc<dyn Any + Send + Sync>,
    Arc<dyn Family>,
);

/// A breaker of the registry, and whether anyone outside the registry may
/// hold it (then [`Registry::configure`] can no longer replace it).
pub(super) struct Entry {
    pub(super) breaker: Breaker,
    handed_out: AtomicBool,
    /// The keyed breaker whose key this is (`keyed::KeyedBreaker::id`), or 0.
    pub(super) owner: u64,
    /// Where each key of the configuration came from, by [`KEYS`](crate::KEYS)
    /// order; read only by operators' tools (`config_sources`).
    pub(super) sources: Arc<[Source]>,
    /// The configuration `sources` describe. A key whose value differs from
    /// it now was reconfigured since, by whatever path: an operator through
    /// the registry, the program calling [`Breaker::reconfigure`], or
    /// another process through the shared-state store.
    sourced: Config,
}

impl Entry {
    fn new(breaker: Breaker, handed_out: bool, owner: u64, sources: Arc<[Source]>) -> Entry {
        Entry {
            sourced: breaker.config().clone(),
            breaker,
            handed_out: AtomicBool::new(handed_out),
            owner,
            sources,
        }
    }

    /// Where each key of the configuration in force came from, by
    /// [`KEYS`](crate::KEYS) order.
    fn sources_now(&self) -> impl Iterator<Item = Source> + '_ {
        let now = self.breaker.config();
        crate::KEYS
            .iter()
            .zip(self.sources.iter())
            .map(move |(key, source)| {
                if now.value_text(key) == self.sourced.value_text(key) {
                    source.clone()
                } else {
                    Source::Reconfigured
                }
            })
    }

    fn hand_out(&self) -> Breaker {
        self.handed_out.store(true, Ordering::Release);
        self.breaker.clone()
    }
}

/// Where each key of `base` came from, given the overrides' `origins`: a
/// key the overrides wrote is theirs, a key `base` holds at a value other
/// than the default is the program's, any other is the default.
fn sources(base: &Config, origins: BTreeMap<String, Origin>) -> Arc<[Source]> {
    let in_code: Vec<&str> = base.written_keys().collect();
    crate::KEYS
        .iter()
        .map(|key| match origins.get(*key) {
            Some(origin) => Source::Override(origin.clone()),
            None if in_code.contains(key) => Source::Code,
            None => Source::Default,
        })
        .collect()
}

/// Why [`Registry::configure`] refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigureError {
    /// The breaker has already been handed out (by `get`, `get_or_create`,
    /// `list`, or an annotated function's first call): holders of it would
    /// keep the old configuration, so it is not replaced.
    InUse {
        /// The breaker's name.
        name: String,
    },
}

impl fmt::Display for ConfigureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigureError::InUse { name } => write!(
                f,
                "breaker `{name}` is already in use (handed out by the registry or called), so its configuration can no longer change; configure it before its first use, or override it from outside with `BREAKER_CONFIG` or `{}`",
                crate::overrides::env_var(name, "<KEY>")
            ),
        }
    }
}

impl std::error::Error for ConfigureError {}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    /// An empty registry on the real monotonic clock, without overrides.
    pub fn new() -> Registry {
        Registry {
            env: Arc::new(Environment::new(MonotonicClock)),
            breakers: RwLock::new(BTreeMap::new()),
            store: RwLock::new(None),
            overrides: RwLock::new(Arc::new(Overrides::new())),
            config_errors: Mutex::new(Vec::new()),
            sleeper: RwLock::new(Arc::new(RealSleeper)),
            retry_seed: Mutex::new(None),
            keyed: Mutex::new(Vec::new()),
        }
    }

    /// An empty registry whose breakers are created with `overrides` applied.
    pub fn with_overrides(overrides: Overrides) -> Registry {
        let registry = Registry::new();
        registry.use_overrides(overrides);
        registry
    }

    /// Applies `overrides` to every breaker created from now on (existing
    /// ones keep their configuration). Mistakes found while reading them are
    /// reported now; mistakes in a breaker's keys when it is created.
    pub fn use_overrides(&self, overrides: Overrides) {
        self.report(overrides.errors().to_vec());
        *self.overrides.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(overrides);
    }

    /// Every mistake found so far in the overrides (file, variables), in the
    /// order found: each names where it was written, the breaker, the key
    /// and what is allowed. The breakers they concern kept their base
    /// configuration. Each was also reported through `tracing` (target
    /// `breaker`, level `error`) when found.
    pub fn config_errors(&self) -> Vec<OverrideError> {
        self.config_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn report(&self, errors: Vec<OverrideError>) {
        for error in &errors {
            tracing::error!(
                target: "breaker",
                breaker = error.breaker(),
                key = error.key(),
                "configuration override refused: {error}; the breaker keeps its configuration"
            );
        }
        self.config_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(errors);
    }

    /// Reports the mistakes of `errors` not reported before: a reload that
    /// meets the same broken file again (a watcher sees each save) logs and
    /// keeps each mistake once.
    pub(super) fn report_new(&self, errors: &[OverrideError]) {
        let known = self.config_errors();
        let new: Vec<OverrideError> = errors
            .iter()
            .filter(|e| !known.contains(e))
            .cloned()
            .collect();
        self.report(new);
    }

    /// The overrides in force, released from the lock at once.
    pub(super) fn overrides(&self) -> Arc<Overrides> {
        self.overrides
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `base` with the overrides of `name` applied, where each key came
    /// from, and the overrides' mistakes.
    fn overridden(&self, name: &str, base: Config) -> (Config, Arc<[Source]>, Vec<OverrideError>) {
        let overrides = self.overrides();
        match overrides.apply(name, &base) {
            Ok(config) => {
                let sources = sources(&base, overrides.origins(name));
                (config, sources, Vec::new())
            }
            Err(errors) => (base.clone(), sources(&base, BTreeMap::new()), errors),
        }
    }

    /// The breaker of that name, if one exists.
    pub fn get(&self, name: &str) -> Option<Breaker> {
        self.breakers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .map(Entry::hand_out)
    }

    /// The breaker of that name, created with `config()` (changed by the
    /// registry's overrides) if it does not exist yet. An existing breaker
    /// keeps its configuration.
    pub fn get_or_create(&self, name: &str, config: impl FnOnce() -> Config) -> Breaker {
        if let Some(existing) = self.get(name) {
            return existing;
        }
        self.create(name, config, true)
    }

    /// Creates the breaker `name` unless it exists, without handing it out:
    /// the annotated functions' registration, which must leave
    /// [`configure`](Registry::configure) free to replace it.
    pub(crate) fn ensure(&self, name: &str, config: impl FnOnce() -> Config) {
        self.create(name, config, false);
    }

    fn create(&self, name: &str, config: impl FnOnce() -> Config, hand_out: bool) -> Breaker {
        let mut breakers = self.breakers.write().unwrap_or_else(|e| e.into_inner());
        let mut created = None;
        let entry = breakers.entry(Arc::from(name)).or_insert_with_key(|name| {
            let (config, sources, errors) = self.overridden(name, config());
            created = Some(errors);
            Entry::new(
                Breaker::in_environment(name.clone(), config, self.env.clone()),
                false,
                0,
                sources,
            )
        });
        let breaker = if hand_out {
            entry.hand_out()
        } else {
            entry.breaker.clone()
        };
        drop(breakers);
        if let Some(errors) = created {
            self.report(errors);
            self.join_store(&breaker);
        }
        breaker
    }

    /// Joins the registry's store, outside the map's lock: joining may wait
    /// (the store's budget) for the shared state of the name.
    fn join_store(&self, breaker: &Breaker) {
        let store = self.store.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(store) = store {
            breaker.use_store(&*store);
        }
    }

    /// Sets the configuration of breaker `name` in code, as an operator's
    /// file would: the registry's overrides still apply on top (operators
    /// have the last word), and the attribute's or `get_or_create`'s values
    /// are ignored for this name.
    ///
    /// - No breaker of that name yet: it is created now, with `config`.
    /// - One exists that nobody holds yet (the global registry creates every
    ///   annotated function's breaker at start, unhanded): it is replaced.
    /// - One exists that has been handed out (`get`, `get_or_create`, `list`,
    ///   an annotated function's first call): [`ConfigureError::InUse`], and
    ///   it keeps its configuration. Replacing it would leave its holders on
    ///   a different breaker than the registry's (resilience4j's `replace`
    ///   does that, and its event consumers and metrics are known to then
    ///   watch the stale one); a running breaker's configuration never
    ///   changes under its calls.
    ///
    /// So configure at start, before traffic:
    ///
    /// ```
    /// use breaker_core::{Config, ConfigureError, Registry};
    ///
    /// let registry = Registry::new();
    /// registry.configure("db", "fail_max = 10".parse().unwrap()).unwrap();
    /// let db = registry.get_or_create("db", || "fail_max = 3".parse().unwrap());
    /// assert_eq!(db.config().fail_max(), Some(10));
    /// assert!(matches!(
    ///     registry.configure("db", Config::default()),
    ///     Err(ConfigureError::InUse { .. })
    /// ));
    /// ```
    pub fn configure(&self, name: &str, config: Config) -> Result<(), ConfigureError> {
        let mut breakers = self.breakers.write().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = breakers.get(name) {
            if entry.handed_out.load(Ordering::Acquire) {
                return Err(ConfigureError::InUse {
                    name: name.to_owned(),
                });
            }
        }
        let name: Arc<str> = Arc::from(name);
        let (config, sources, errors) = self.overridden(&name, config);
        let breaker = Breaker::in_environment(name.clone(), config, self.env.clone());
        breakers.insert(name, Entry::new(breaker.clone(), false, 0, sources));
        drop(breakers);
        self.report(errors);
        self.join_store(&breaker);
        Ok(())
    }

    /// What the registry's breakers share (a keyed breaker's clock).
    pub(crate) fn environment(&self) -> &Arc<Environment> {
        &self.env
    }

    /// For the keyed breaker `name`: `base` and its `keyed` settings with
    /// the overrides applied; mistakes are reported and leave both as given.
    pub(crate) fn configured_keyed(
        &self,
        name: &str,
        base: Config,
        keyed: KeyedSettings,
    ) -> (Config, KeyedSettings) {
        match self.overrides().apply_keyed(name, &base, keyed) {
            Ok(applied) => applied,
            Err(errors) => {
                self.report(errors);
                (base, keyed)
            }
        }
    }

    /// Registers the breaker of one key of keyed breaker `owner`, with
    /// `config` as is (the keyed breaker's own name took the overrides).
    /// A breaker already registered under `name` is returned instead, and
    /// stays whoever's it was.
    pub(crate) fn register_key(&self, name: &str, config: Config, owner: u64) -> Breaker {
        let mut breakers = self.breakers.write().unwrap_or_else(|e| e.into_inner());
        let mut created = false;
        let breaker = breakers
            .entry(Arc::from(name))
            .or_insert_with_key(|name| {
                created = true;
                let sources = sources(&config, BTreeMap::new());
                Entry::new(
                    Breaker::in_environment(name.clone(), config, self.env.clone()),
                    // Held by the keyed breaker: `configure` cannot replace it.
                    true,
                    owner,
                    sources,
                )
            })
            .breaker
            .clone();
        drop(breakers);
        if created {
            self.join_store(&breaker);
        }
        breaker
    }

    /// Unregisters the breakers `names` if keyed breaker `owner` registered them.
    pub(crate) fn unregister_keys<'a>(&self, names: impl IntoIterator<Item = &'a str>, owner: u64) {
        let mut breakers = self.breakers.write().unwrap_or_else(|e| e.into_inner());
        for name in names {
            if breakers.get(name).is_some_and(|entry| entry.owner == owner) {
                breakers.remove(name);
            }
        }
    }

    /// Where each key of breaker `name`'s configuration came from, for every
    /// key of [`KEYS`](crate::KEYS) in that order: an operator's override
    /// (file or variable, the one that won), the program (the attribute, or
    /// the configuration given in code), or the default. `None` when no
    /// breaker has that name.
    ///
    /// ```
    /// use breaker_core::{Registry, overrides::{Overrides, Source}};
    ///
    /// let registry = Registry::with_overrides(Overrides::new().vars([("BREAKER_DB_RESET", "1m")]));
    /// registry.get_or_create("db", || "fail_max = 3".parse().unwrap());
    /// let sources = registry.config_sources("db").unwrap();
    /// assert_eq!(sources[0], ("fail_max", Source::Code));
    /// assert_eq!(sources[7].0, "reset");
    /// assert_eq!(sources[7].1.to_string(), "environment variable `BREAKER_DB_RESET`");
    /// assert_eq!(sources[10], ("success", Source::Default));
    /// ```
    pub fn config_sources(&self, name: &str) -> Option<Vec<(&'static str, Source)>> {
        let breakers = self.breakers.read().unwrap_or_else(|e| e.into_inner());
        Some(
            crate::KEYS
                .iter()
                .copied()
                .zip(breakers.get(name)?.sources_now())
                .collect(),
        )
    }

    /// Marks `keys` of breaker `name` as written by the program where they
    /// stand at their default: an attribute wrote them (`success = 2`),
    /// which the [`Config`] it built cannot tell from a default.
    pub(crate) fn written_in_code(&self, name: &str, keys: &[&str]) {
        self.update_sources(name, |key, source| {
            (*source == Source::Default && keys.contains(&key)).then_some(Source::Code)
        });
    }

    /// Where each key of breaker `name` now comes from: `update(key, source)`
    /// says, or `None` to keep the source it had.
    pub(super) fn update_sources(
        &self,
        name: &str,
        update: impl Fn(&str, &Source) -> Option<Source>,
    ) {
        let mut breakers = self.breakers.write().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = breakers.get_mut(name) else {
            return;
        };
        let sources: Vec<Source> = crate::KEYS
            .iter()
            .zip(entry.sources_now())
            .map(|(key, source)| update(key, &source).unwrap_or(source))
            .collect();
        entry.sources = sources.into();
        entry.sourced = entry.breaker.config().clone();
    }

    /// Every breaker, sorted by name.
    pub fn list(&self) -> Vec<Breaker> {
        self.breakers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(Entry::hand_out)
            .collect()
    }

    /// Makes every annotated function with `retry` wait with `sleeper` from
    /// now on: a [`ManualClock`](crate::clock::ManualClock) in tests (the
    /// waits advance virtual time), [`RealSleeper`] by default.
    pub fn use_sleeper(&self, sleeper: impl Sleeper) {
        *self.sleeper.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(sleeper);
    }

    /// The sleeper annotated functions wait with.
    pub fn sleeper(&self) -> Arc<dyn Sleeper> {
        self.sleeper
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Fixes the seed of the annotated functions' retry jitter: each
    /// function draws from `Jitter::derive(seed, "module::function")`, so a
    /// run replays exactly. Set it before the first retry: each function
    /// seeds its generator once. Unset, the seed is random per process.
    pub fn seed_retries(&self, seed: u64) {
        *self.retry_seed.lock().unwrap_or_else(|e| e.into_inner()) = Some(seed);
    }

    /// The jitter generator of one annotated function (`label`, its path).
    pub(crate) fn retry_jitter(&self, label: &str) -> Jitter {
        match *self.retry_seed.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(seed) => Jitter::derive(seed, label),
            None => Jitter::from_entropy(),
        }
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
        self.env.clock.install(clock);
    }

    /// Shares the state of every breaker of this registry, existing and
    /// future, with the breakers of the same names in other processes through
    /// `store` (see the [`store`](crate::store) module and
    /// `docs/shared-state.md`). Install it before traffic: a breaker joins
    /// one store, the first it is given.
    pub fn use_store(&self, store: impl Store) {
        let store: Arc<dyn Store> = Arc::new(store);
        *self.store.write().unwrap_or_else(|e| e.into_inner()) = Some(store.clone());
        let breakers: Vec<Breaker> = self
            .breakers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|entry| entry.breaker.clone())
            .collect();
        for breaker in breakers {
            breaker.use_store(&*store);
        }
    }

    /// Every replica sharing this registry's store, as each last described
    /// its breakers ([`Store::fleet`]); `None` without a store, or with one
    /// that keeps no descriptions. The admin router's `GET /fleet`.
    pub fn fleet(&self) -> Option<crate::store::FleetFuture> {
        let store = self.store.read().unwrap_or_else(|e| e.into_inner()).clone();
        store?.fleet()
    }

    /// Calls `listener` with every transition of every breaker of this
    /// registry, existing and future (see [`Breaker::on_transition`]).
    pub fn on_transition(&self, listener: impl Fn(&Transition) + Send + Sync + 'static) {
        self.env.listeners.add(Arc::new(listener));
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("breakers", &self.names())
            .finish()
    }
}
