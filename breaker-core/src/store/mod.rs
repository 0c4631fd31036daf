//! Breaker state shared by several processes: the seam a store plugs into.
//!
//! A breaker alone learns that a dependency is down from its own failures; ten
//! replicas of a service each learn it on their own, at ten times the cost. A
//! [`Store`] lets the breakers of the same name in several processes share
//! their transitions, their open periods and their half-open trial permits.
//!
//! The core calls a store only off the hot path: a breaker that joined a store
//! makes no call to it while admitting or recording a success in Closed. It
//! calls its [`Link`] when it makes a transition (under its control lock, so
//! the link must only queue the change, never wait), when a call would start a
//! half-open trial (the one place a call may wait, for at most the store's
//! budget), when such a trial ends, and, if the store asks for it, on each
//! failure in Closed. The store applies what it learns from other processes
//! with [`Breaker::adopt`], which reports the transition with
//! [`Reason::Remote`](crate::Reason::Remote) so that it is never shared back.
//!
//! The Redis store, behind the cargo feature `redis`, is in `store::redis`;
//! the SQLite store, behind the cargo feature `sqlite`, is in
//! `store::sqlite`; the PostgreSQL store, behind the cargo feature
//! `postgres`, is in `store::postgres`; [`memory`] keeps the Redis store's
//! rules in memory, on a clock you drive (a fleet's simulation, and tests
//! without a server). The design and the guarantees of each are in
//! `docs/shared-state.md`.

use std::sync::Arc;

use crate::Breaker;
pub use crate::breaker::{Change, Link, Remote, Trial};
pub use fleet::{Fleet, FleetFuture, Replica, ReplicaBreaker};

mod fleet;
#[cfg(any(feature = "redis", feature = "sqlite", feature = "postgres"))]
mod joined;
pub mod memory;
mod permits;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod row;
#[cfg(any(feature = "redis", feature = "postgres"))]
mod server_clock;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod tabular;
#[cfg(any(feature = "redis", feature = "sqlite", feature = "postgres"))]
mod trial_answer;

/// Somewhere breakers of the same name in several processes meet.
///
/// Install one on a registry with
/// [`Registry::use_store`](crate::Registry::use_store) (every breaker of the
/// registry, existing and future, joins it) or on one breaker with
/// [`Breaker::use_store`].
pub trait Store: Send + Sync + 'static {
    /// Joins `breaker` to the store: the store loads the shared state of the
    /// breaker's name (a breaker joining a store that holds an Open breaker
    /// starts Open, with the time left), and returns the link the breaker
    /// calls from then on. `None` leaves the breaker on its own.
    fn attach(&self, breaker: &Breaker) -> Option<Arc<dyn Link>>;

    /// Every replica sharing this store, as each last described its
    /// breakers (see [`Fleet`]); `None` for a store that keeps no such
    /// descriptions (the default).
    fn fleet(&self) -> Option<FleetFuture> {
        None
    }
}

// Joining a store is the store's business, so it is written here: the state
// machine only holds the link it is given.
impl Breaker {
    /// Joins this breaker to a shared-state [`Store`]: from then on its
    /// transitions are shared with the breakers of the same name in other
    /// processes, and theirs are applied here (see the `store` module). A
    /// breaker joins one store, once: `false` if it had joined one already
    /// or the store declined.
    pub fn use_store(&self, store: &dyn Store) -> bool {
        if self.has_link() {
            return false;
        }
        match store.attach(self) {
            Some(link) => self.set_link(link),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;
    use crate::{Action, Config, Error, Reason, Registry, State};

    /// A store that records what the core asks of it.
    #[derive(Default)]
    struct Recorder {
        published: Mutex<Vec<Change>>,
        calls: AtomicU32,
        released: AtomicU32,
        answer: Mutex<Option<Trial>>,
    }

    struct Fake(Arc<Recorder>);

    impl Store for Fake {
        fn attach(&self, _breaker: &Breaker) -> Option<Arc<dyn Link>> {
            Some(Arc::new(Fake(self.0.clone())))
        }
    }

    impl Link for Fake {
        fn publish(&self, change: &Change) {
            self.0.calls.fetch_add(1, Ordering::Relaxed);
            self.0.published.lock().unwrap().push(change.clone());
        }
        fn acquire_trial(&self) -> Trial {
            self.0.calls.fetch_add(1, Ordering::Relaxed);
            self.0.answer.lock().unwrap().unwrap_or(Trial::Granted)
        }
        fn release_trial(&self) {
            self.0.calls.fetch_add(1, Ordering::Relaxed);
            self.0.released.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn joined(config: Config) -> (Breaker, Arc<Recorder>, ManualClock) {
        let clock = ManualClock::new();
        let registry = Registry::new();
        registry.use_clock(clock.clone());
        let recorder = Arc::new(Recorder::default());
        registry.use_store(Fake(recorder.clone()));
        (registry.get_or_create("seam", || config), recorder, clock)
    }

    fn config() -> Config {
        Config::builder()
            .fail_max(2)
            .reset(Duration::from_secs(10))
            .success(2)
            .build()
            .unwrap()
    }

    fn fail(b: &Breaker) {
        let _ = b.call(|| Err::<(), Error>(Error::timeout("x".into(), Duration::ZERO)));
    }

    #[test]
    fn the_closed_success_path_never_calls_the_store() {
        let (b, recorder, _) = joined(config());
        for _ in 0..1000 {
            b.call(|| Ok::<(), Error>(())).unwrap();
        }
        fail(&b);
        b.call(|| Ok::<(), Error>(())).unwrap();
        assert_eq!(recorder.calls.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn local_transitions_and_actions_are_published_half_open_is_not() {
        let (b, recorder, clock) = joined(config());
        fail(&b);
        fail(&b);
        b.trip(); // while Open: no transition, still shared
        clock.advance(Duration::from_secs(10));
        for _ in 0..2 {
            b.call(|| Ok::<(), Error>(())).unwrap(); // HalfOpen, then Closed
        }
        let published = recorder.published.lock().unwrap();
        let seen: Vec<(State, bool)> = published.iter().map(|c| (c.to, c.manual)).collect();
        assert_eq!(
            seen,
            [
                (State::Open, false),
                (State::Open, true),
                (State::Closed, false)
            ]
        );
        assert_eq!(published[0].open_for, Duration::from_secs(10));
        assert_eq!(published[1].reason, Reason::Manual(Action::Trip));
    }

    #[test]
    fn an_adopted_state_is_reported_as_remote_and_not_published_back() {
        let (b, recorder, _) = joined(config());
        let reported = Arc::new(Mutex::new(Vec::new()));
        let log = reported.clone();
        b.on_transition(move |t| log.lock().unwrap().push(t.reason.clone()));
        let remote = Remote::new(
            State::Open,
            Duration::from_secs(3),
            Duration::from_secs(10),
            Arc::from("5 consecutive failures"),
        );
        assert!(b.adopt(&remote));
        assert!(!b.adopt(&remote), "already Open: only the deadline moves");
        let retry = b.call(|| Ok::<(), Error>(())).unwrap_err().retry_after();
        assert_eq!(retry, Some(Duration::from_secs(3)));
        assert!(recorder.published.lock().unwrap().is_empty());
        let reported = reported.lock().unwrap();
        assert_eq!(reported.len(), 1);
        assert_eq!(reported[0].to_string(), "remote: 5 consecutive failures");
    }

    #[test]
    fn a_denied_trial_permit_rejects_the_call_and_granted_ones_go_back() {
        let (b, recorder, clock) = joined(config());
        fail(&b);
        fail(&b);
        clock.advance(Duration::from_secs(10));
        *recorder.answer.lock().unwrap() = Some(Trial::Denied);
        let rejected = b.call(|| Ok::<(), Error>(())).unwrap_err();
        assert!(matches!(
            rejected,
            Error::Rejected {
                state: State::HalfOpen,
                retry_after: None,
                ..
            }
        ));
        assert_eq!(b.state(), State::Open, "no trial started");
        *recorder.answer.lock().unwrap() = Some(Trial::Granted);
        b.call(|| Ok::<(), Error>(())).unwrap(); // first trial succeeds: permit back
        drop(b.acquire().unwrap()); // cancelled: permit back
        assert_eq!(recorder.released.load(Ordering::Relaxed), 2);
        *recorder.answer.lock().unwrap() = Some(Trial::Local);
        b.call(|| Ok::<(), Error>(())).unwrap();
        assert_eq!(
            b.state(),
            State::Closed,
            "local decisions when the store cannot tell"
        );
    }
}
