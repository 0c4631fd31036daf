//! Keyed breakers on a manual clock: one breaker per key, only the failing
//! keys open, at most `max_keys` live keys, least recently used Closed keys
//! evicted first, open keys never, idle keys dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::keyed::KeyedBreaker;
use breaker_core::{Config, Error, Registry, State};

fn registry(clock: &ManualClock) -> &'static Registry {
    let registry = Box::leak(Box::new(Registry::new()));
    registry.use_clock(clock.clone());
    registry
}

fn keyed(
    registry: &'static Registry,
    name: &str,
    max_keys: usize,
    fail_max: u32,
) -> KeyedBreaker<String> {
    KeyedBreaker::builder(name)
        .label("host")
        .config(Config::builder().fail_max(fail_max).build().unwrap())
        .max_keys(max_keys)
        .idle(Duration::from_secs(600))
        .registry(registry)
        .build()
        .unwrap()
}

fn ok(keyed: &KeyedBreaker<String>, key: &str) -> Result<(), Error> {
    keyed.call(key, || Ok::<(), Error>(()))
}

fn fail(keyed: &KeyedBreaker<String>, key: &str) -> Result<(), Error> {
    keyed.call(key, || Err(Error::timeout(key.into(), Duration::ZERO)))
}

/// The registered names under `name[`.
fn registered(registry: &Registry, name: &str) -> Vec<String> {
    let prefix = format!("{name}[");
    registry
        .names()
        .into_iter()
        .filter(|n| n.starts_with(&prefix) && !n.ends_with("[*]"))
        .collect()
}

#[test]
fn ten_thousand_keys_only_the_failing_ones_open_and_memory_stays_bounded() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let hosts = keyed(registry, "upstream", 1000, 3);
    let failing = |i: usize| i % 997 == 0; // 11 hosts of 10,000
    for i in 0..10_000 {
        clock.advance(Duration::from_millis(1));
        let host = format!("host-{i}");
        if failing(i) {
            for _ in 0..3 {
                assert!(!fail(&hosts, &host).unwrap_err().is_rejected());
            }
            assert!(fail(&hosts, &host).unwrap_err().is_rejected(), "{host}");
        } else {
            ok(&hosts, &host).unwrap();
        }
        assert!(hosts.len() <= 1000, "{} live keys at {host}", hosts.len());
        if i % 1000 == 999 {
            assert_eq!(registered(registry, "upstream").len(), hosts.len());
        }
    }
    assert!(
        hosts.overflow().is_none(),
        "there was always a Closed key to evict"
    );

    // Only the failing hosts opened, and every one of them is still live:
    // open keys are never evicted.
    let open: Vec<String> = hosts
        .breakers()
        .into_iter()
        .filter(|b| b.state() != State::Closed)
        .map(|b| b.name().to_owned())
        .collect();
    let mut expected: Vec<String> = (0..10_000)
        .filter(|i| failing(*i))
        .map(|i| format!("upstream[host=host-{i}]"))
        .collect();
    expected.sort();
    assert_eq!(open, expected);
    for name in &expected {
        assert_eq!(registry.get(name).unwrap().state(), State::Open);
    }

    // Eviction went least recently used first: the live Closed keys are
    // exactly the most recent ones, in use order.
    let keys = hosts.keys();
    let closed: Vec<usize> = keys
        .iter()
        .map(|k| k["host-".len()..].parse().unwrap())
        .filter(|i| !failing(*i))
        .collect();
    let oldest = closed[0];
    let recent: Vec<usize> = (oldest..10_000).filter(|i| !failing(*i)).collect();
    assert_eq!(closed, recent);
    assert!(hosts.len() <= 1000 && hosts.len() > 1000 - 1000 / 64 - 12);
    assert_eq!(registered(registry, "upstream").len(), hosts.len());
}

#[test]
fn the_least_recently_used_closed_key_goes_first_and_open_keys_stay() {
    let clock = ManualClock::new();
    let hosts = keyed(registry(&clock), "lru", 3, 1);
    for host in ["a", "b", "c"] {
        clock.advance(Duration::from_secs(1));
        let _ = if host == "a" {
            fail(&hosts, host)
        } else {
            ok(&hosts, host)
        };
    }
    assert_eq!(hosts.peek("a").unwrap().state(), State::Open);
    clock.advance(Duration::from_secs(1));
    ok(&hosts, "d").unwrap(); // a is the oldest but open: b goes
    assert_eq!(hosts.keys(), ["a", "c", "d"]);
    clock.advance(Duration::from_secs(1));
    ok(&hosts, "c").unwrap();
    clock.advance(Duration::from_secs(1));
    ok(&hosts, "e").unwrap(); // d is now the least recently used Closed key
    assert_eq!(hosts.keys(), ["a", "c", "e"]);
}

#[test]
fn keys_last_used_at_one_instant_go_in_creation_order() {
    let clock = ManualClock::new();
    let hosts = keyed(registry(&clock), "ties", 2, 5);
    ok(&hosts, "first").unwrap();
    ok(&hosts, "second").unwrap();
    ok(&hosts, "first").unwrap();
    ok(&hosts, "third").unwrap();
    assert_eq!(hosts.keys(), ["second", "third"]);
}

#[test]
fn a_full_table_evicts_a_margin_of_a_64th() {
    let clock = ManualClock::new();
    let hosts = keyed(registry(&clock), "margin", 128, 5);
    for i in 0..128 {
        clock.advance(Duration::from_millis(1));
        ok(&hosts, &format!("k{i}")).unwrap();
    }
    assert_eq!(hosts.len(), 128);
    ok(&hosts, "new").unwrap();
    assert_eq!(
        hosts.len(),
        126,
        "one for the new key, two (128 / 64) of margin"
    );
    let keys = hosts.keys();
    assert_eq!(&keys[..2], ["k3", "k4"], "k0, k1 and k2 went");
}

#[test]
fn when_no_key_can_go_new_keys_share_the_overflow_breaker() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let hosts = keyed(registry, "full", 2, 1);
    let _ = fail(&hosts, "a");
    let _ = fail(&hosts, "b");
    let overflow = hosts.get("c");
    assert_eq!(overflow.name(), "full[*]");
    assert_eq!(hosts.len(), 2);
    assert!(registry.get("full[*]").is_some(), "registered too");
    assert_eq!(hosts.get("d").name(), "full[*]");

    // Room is made again once a key can go, at most once a second.
    hosts.peek("a").unwrap().reset();
    assert_eq!(hosts.get("e").name(), "full[*]", "retried a second later");
    clock.advance(Duration::from_secs(1));
    assert_eq!(hosts.get("e").name(), "full[host=e]");
    assert_eq!(hosts.keys(), ["b", "e"]);
}

#[test]
fn idle_keys_are_dropped_unless_open_or_set_by_an_operator() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let hosts = KeyedBreaker::<String>::builder("idle")
        .config(
            Config::builder()
                .fail_max(1)
                .reset(Duration::from_secs(900))
                .build()
                .unwrap(),
        )
        .idle(Duration::from_secs(600))
        .registry(registry)
        .build()
        .unwrap();
    ok(&hosts, "closed").unwrap();
    let _ = fail(&hosts, "open");
    ok(&hosts, "forced").unwrap();
    hosts.peek("forced").unwrap().force_open();
    ok(&hosts, "disabled").unwrap();
    hosts.peek("disabled").unwrap().disable();
    clock.advance(Duration::from_secs(599));
    ok(&hosts, "recent").unwrap();
    assert_eq!(hosts.sweep(), 0, "nothing idle for 10 minutes yet");
    clock.advance(Duration::from_secs(1));
    assert_eq!(hosts.sweep(), 1);
    assert!(registry.get("idle[key=closed]").is_none());
    let mut keys = hosts.keys();
    keys.sort();
    assert_eq!(keys, ["disabled", "forced", "open", "recent"]);

    // The open key's period (15 minutes) ends: idle and no longer rejecting.
    clock.advance(Duration::from_secs(300));
    assert_eq!(hosts.sweep(), 1);
    assert!(hosts.peek("open").is_none());
    assert!(hosts.peek("recent").is_some(), "used 5 minutes ago");
}

#[test]
fn remove_drops_a_key_whatever_its_state() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let hosts = keyed(registry, "removed", 10, 1);
    let _ = fail(&hosts, "a");
    let removed = hosts.remove("a").unwrap();
    assert_eq!(removed.state(), State::Open);
    assert!(registry.get("removed[host=a]").is_none());
    assert!(hosts.is_empty());
    assert_eq!(hosts.get("a").state(), State::Closed, "a new breaker");
    assert!(hosts.remove("missing").is_none());
}

#[test]
fn a_registry_builds_one_keyed_breaker_per_name_and_key_type() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let first = keyed(registry, "once", 10, 1);
    let second = keyed(registry, "once", 99, 7);
    assert_eq!(second.max_keys(), 10, "the first settings win");
    let _ = fail(&first, "a");
    assert_eq!(second.peek("a").unwrap().state(), State::Open);
    assert!(registry.keyed::<String>("once").is_some());
    assert!(registry.keyed::<u64>("once").is_none());
    assert!(registry.keyed::<String>("other").is_none());
}

#[test]
fn keys_transitions_reach_the_registry_listeners() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    registry.on_transition(move |t| sink.lock().unwrap().push((t.name.to_string(), t.to)));
    let hosts = keyed(registry, "heard", 10, 1);
    let _ = fail(&hosts, "a");
    assert_eq!(
        *seen.lock().unwrap(),
        [("heard[host=a]".to_owned(), State::Open)]
    );
}

#[test]
fn names_escape_control_characters() {
    let hosts: KeyedBreaker<String> = KeyedBreaker::builder("esc")
        .clock(ManualClock::new())
        .build()
        .unwrap();
    assert_eq!(hosts.get("a\nb").name(), "esc[key=a\\nb]");
    assert_eq!(hosts.key_name("x"), "esc[key=x]");
}

#[test]
fn keys_of_any_hashable_displayable_type() {
    let tenants: KeyedBreaker<u64> = KeyedBreaker::builder("tenants")
        .label("tenant")
        .clock(ManualClock::new())
        .build()
        .unwrap();
    assert_eq!(tenants.get(&42).name(), "tenants[tenant=42]");
    assert_eq!(tenants.keys(), [42]);
}

#[test]
fn the_builder_names_the_setting_at_fault() {
    let field = |built: Result<KeyedBreaker<String>, breaker_core::ConfigError>| {
        built.unwrap_err().field().to_owned()
    };
    let b = || KeyedBreaker::<String>::builder("b").clock(ManualClock::new());
    assert_eq!(field(b().max_keys(0).build()), "max_keys");
    assert_eq!(field(b().max_keys(1_000_001).build()), "max_keys");
    assert_eq!(field(b().idle(Duration::ZERO).build()), "idle");
    assert_eq!(field(b().label("a=b").build()), "label");
    assert_eq!(field(b().label("").build()), "label");
    assert_eq!(field(KeyedBreaker::<String>::builder(" ").build()), "name");
}

#[test]
fn threads_sharing_keys_keep_the_bound() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let hosts = keyed(registry, "threads", 50, 3);
    std::thread::scope(|s| {
        for t in 0..4 {
            let hosts = &hosts;
            s.spawn(move || {
                for i in 0..2_000 {
                    let key = format!("k{}", (i * (t + 1)) % 200);
                    let _ = if i % 13 == 0 {
                        fail(hosts, &key)
                    } else {
                        ok(hosts, &key)
                    };
                    assert!(hosts.len() <= 50);
                }
            });
        }
    });
    assert!(hosts.len() <= 50);
    assert_eq!(registered(registry, "threads").len(), hosts.len());
}

#[test]
fn operators_override_max_keys_and_idle_by_the_keyed_breakers_name() {
    let overrides = breaker_core::overrides::Overrides::new().vars([
        ("BREAKER_TUNED_MAX_KEYS", "2"),
        ("BREAKER_TUNED_IDLE", "5s"),
        ("BREAKER_TUNED_FAIL_MAX", "1"),
    ]);
    let registry: &'static Registry = Box::leak(Box::new(Registry::with_overrides(overrides)));
    let clock = ManualClock::new();
    registry.use_clock(clock.clone());
    let hosts: KeyedBreaker<String> = KeyedBreaker::builder("tuned")
        .max_keys(100)
        .idle(Duration::from_secs(600))
        .registry(registry)
        .build()
        .unwrap();
    assert_eq!(hosts.max_keys(), 2);
    assert_eq!(hosts.idle(), Duration::from_secs(5));
    assert_eq!(hosts.config().fail_max(), Some(1));
    for host in ["a", "b", "c"] {
        ok(&hosts, host).unwrap();
    }
    assert_eq!(hosts.len(), 2, "the overridden bound holds");
    assert!(registry.config_errors().is_empty());
}

// A thread remembers the keys it called recently (`keyed/recent.rs`), so
// that calling them again takes no lock and no reference count. What it
// remembers must never outlive what the table says.

#[test]
fn a_key_this_thread_remembers_starts_anew_after_its_removal() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let hosts = keyed(registry, "remembered", 10, 3);
    // Two failures of `a`, on the breaker this thread now remembers.
    let _ = fail(&hosts, "a");
    let _ = fail(&hosts, "a");
    assert_eq!(hosts.peek("a").unwrap().stats().failures, 2);
    hosts.remove("a").unwrap();
    // A third failure on the old breaker would open it: the new one counts 1.
    let _ = fail(&hosts, "a");
    let a = hosts.peek("a").unwrap();
    assert_eq!(a.state(), State::Closed);
    assert_eq!(a.stats().failures, 1, "the call went to a new breaker");
}

#[test]
fn a_key_this_thread_remembers_starts_anew_after_it_went_idle() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let hosts = keyed(registry, "remembered_idle", 10, 3);
    let _ = fail(&hosts, "a");
    let _ = fail(&hosts, "a");
    clock.advance(Duration::from_secs(600));
    assert_eq!(hosts.sweep(), 1);
    let _ = fail(&hosts, "a");
    assert_eq!(hosts.peek("a").unwrap().stats().failures, 1);
}

#[test]
fn a_remembered_key_is_stamped_used_on_each_call() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let hosts = keyed(registry, "remembered_stamp", 10, 3);
    ok(&hosts, "a").unwrap();
    ok(&hosts, "b").unwrap();
    // `a` is called (from this thread's memory) just before `b` would go
    // idle with it: only `b` is idle a moment later.
    clock.advance(Duration::from_secs(599));
    ok(&hosts, "a").unwrap();
    clock.advance(Duration::from_secs(1));
    assert_eq!(hosts.sweep(), 1);
    assert!(hosts.peek("a").is_some());
    assert!(hosts.peek("b").is_none());
}

#[test]
fn keys_called_from_inside_a_keys_call_go_to_their_own_breakers() {
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let hosts = keyed(registry, "nested", 10, 3);
    // Inside `a`'s call this thread's memory is in use: `b` (new), `a`
    // again (remembered), and `c` many times all reach the right breakers.
    hosts
        .call("a", || {
            fail(&hosts, "b").unwrap_err();
            ok(&hosts, "a").unwrap();
            for _ in 0..3 {
                let _ = fail(&hosts, "c");
            }
            Ok::<(), Error>(())
        })
        .unwrap();
    assert_eq!(hosts.peek("a").unwrap().stats().successes, 2);
    assert_eq!(hosts.peek("b").unwrap().stats().failures, 1);
    assert_eq!(hosts.peek("c").unwrap().state(), State::Open);
}

#[test]
fn a_thread_gives_back_the_keys_it_remembered_when_it_exits() {
    use std::fmt;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    #[derive(Clone, PartialEq, Eq, Hash)]
    struct Host(&'static str);
    impl fmt::Display for Host {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl Drop for Host {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }

    let clock = ManualClock::new();
    let registry = registry(&clock);
    let hosts: KeyedBreaker<Host> = KeyedBreaker::builder("exiting")
        .registry(registry)
        .build()
        .unwrap();
    let caller = hosts.clone();
    std::thread::spawn(move || {
        for _ in 0..3 {
            caller.call(&Host("a"), || Ok::<(), Error>(())).unwrap();
        }
    })
    .join()
    .unwrap();
    let before = DROPPED.load(Ordering::SeqCst);
    // The table's slot is the last one: the thread's memory let go of it.
    hosts.remove(&Host("a")).unwrap();
    assert_eq!(
        DROPPED.load(Ordering::SeqCst),
        before + 2,
        "the probe and the slot's key"
    );
}
