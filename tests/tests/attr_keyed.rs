//! `key = ...`, `max_keys` and `idle` at run time, through the attribute, on
//! the binary's manual clock: one breaker per key, named `name[label=key]`
//! in the global registry, bounded.
//!
//! Every test names its own breaker and holds [`time()`] while it runs.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use breaker_core::keyed::KeyedBreaker;
use breaker_core::{Error, State, circuit_breaker, registry};
use support::*;

/// A request whose host keys the breaker.
struct Request {
    host: String,
    tenant: u64,
}

impl Request {
    fn new(host: &str) -> Request {
        Request {
            host: host.to_owned(),
            tenant: 7,
        }
    }

    fn host(&self) -> &str {
        &self.host
    }
}

#[circuit_breaker(keyed_hosts, key = req.host(), fail_max = 2, reset = 30s)]
fn fetch(req: &Request, ok: bool) -> Result<u32, AppError> {
    let _ = req;
    outcome(ok)
}

/// The names of the registered breakers of keyed breaker `name`.
fn keys_of(name: &str) -> BTreeSet<String> {
    let prefix = format!("{name}[");
    registry()
        .names()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

#[test]
fn only_the_failing_key_opens() {
    let _t = time();
    let (bad, good) = (Request::new("bad.example"), Request::new("good.example"));
    for _ in 0..2 {
        assert!(matches!(fetch(&bad, false), Err(AppError::Down)));
        assert_eq!(fetch(&good, true).unwrap(), 1);
    }
    assert_eq!(
        breaker("keyed_hosts[host=bad.example]").state(),
        State::Open
    );
    assert_eq!(
        breaker("keyed_hosts[host=good.example]").state(),
        State::Closed
    );
    assert!(is_rejection(&fetch(&bad, true)), "the bad host is rejected");
    assert_eq!(fetch(&good, true).unwrap(), 1, "the good one still runs");
    match fetch(&bad, true) {
        Err(AppError::Breaker(rejection @ Error::Rejected { .. })) => {
            assert_eq!(rejection.name(), "keyed_hosts[host=bad.example]")
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(
        registry().get("keyed_hosts").is_none(),
        "a keyed function registers no breaker of its own name"
    );
}

#[circuit_breaker(keyed_acted, key = req.host())]
fn acted(req: &Request) -> Result<u32, AppError> {
    let _ = req;
    Ok(1)
}

#[test]
fn keys_are_registered_and_acted_on_one_by_one() {
    let (_t, clock) = time();
    for host in ["a.example", "b.example"] {
        acted(&Request::new(host)).unwrap();
    }
    assert_eq!(
        keys_of("keyed_acted"),
        BTreeSet::from([
            "keyed_acted[host=a.example]".to_owned(),
            "keyed_acted[host=b.example]".to_owned(),
        ])
    );
    breaker("keyed_acted[host=a.example]").force_open();
    assert!(is_rejection(&acted(&Request::new("a.example"))));
    assert_eq!(acted(&Request::new("b.example")).unwrap(), 1);
    breaker("keyed_acted[host=a.example]").reset();
    clock.advance(secs(1));
    assert_eq!(acted(&Request::new("a.example")).unwrap(), 1);

    let keyed: KeyedBreaker<String> = registry().keyed("keyed_acted").unwrap();
    assert_eq!(keyed.label(), "host");
    assert_eq!(keyed.max_keys(), breaker_core::keyed::DEFAULT_MAX_KEYS);
    assert_eq!(keyed.idle(), breaker_core::keyed::DEFAULT_IDLE);
    assert_eq!(
        keyed.keys(),
        ["b.example", "a.example"],
        "least recent first"
    );
}

#[circuit_breaker(keyed_tenants, key = tenant, fail_max = 1)]
async fn by_tenant(tenant: u64, ok: bool) -> Result<u32, AppError> {
    Yield(1).await;
    outcome(ok)
}

#[test]
fn async_functions_key_by_value_arguments() {
    let _t = time();
    let run = |tenant, ok| {
        let fut = std::pin::pin!(by_tenant(tenant, ok));
        let mut fut = fut;
        loop {
            if let std::task::Poll::Ready(out) = poll_once(fut.as_mut()) {
                return out;
            }
        }
    };
    assert!(matches!(run(1, false), Err(AppError::Down)));
    assert_eq!(breaker("keyed_tenants[tenant=1]").state(), State::Open);
    assert!(is_rejection(&run(1, true)));
    assert_eq!(run(2, true).unwrap(), 1);
    assert_eq!(breaker("keyed_tenants[tenant=2]").state(), State::Closed);
}

#[circuit_breaker(keyed_labelled, key = "tenant-id": req.tenant, fallback = labelled_fallback)]
fn labelled(req: &Request, ok: bool) -> Result<u32, AppError> {
    let _ = req;
    outcome(ok)
}

fn labelled_fallback(req: &Request, _ok: bool) -> Result<u32, AppError> {
    Ok(100 + req.tenant as u32)
}

#[test]
fn an_explicit_label_names_the_keys_and_rejections_take_the_fallback() {
    let _t = time();
    let req = Request::new("x");
    for _ in 0..5 {
        let _ = labelled(&req, false);
    }
    let key = breaker("keyed_labelled[tenant-id=7]");
    assert_eq!(key.state(), State::Open);
    assert_eq!(labelled(&req, true).unwrap(), 107, "the fallback answers");
}

#[circuit_breaker(keyed_bounded, key = host, max_keys = 3, idle = 1m)]
fn bounded(host: &str) -> Result<u32, AppError> {
    let _ = host;
    Ok(1)
}

#[test]
fn at_most_max_keys_live_keys_the_least_recently_used_goes_first() {
    let (_t, clock) = time();
    for host in ["a", "b", "c"] {
        bounded(host).unwrap();
        clock.advance(secs(1));
    }
    bounded("a").unwrap(); // a is now the most recent: b is the oldest
    clock.advance(secs(1));
    bounded("d").unwrap();
    assert_eq!(
        keys_of("keyed_bounded"),
        BTreeSet::from(["a", "c", "d"].map(|h| format!("keyed_bounded[host={h}]")))
    );
    let keyed: KeyedBreaker<String> = registry().keyed("keyed_bounded").unwrap();
    assert_eq!(keyed.keys(), ["c", "a", "d"]);
}

#[test]
fn an_idle_key_is_dropped() {
    let (_t, clock) = time();
    let keyed = || registry().keyed::<String>("keyed_bounded");
    bounded("idle-1").unwrap();
    clock.advance(secs(30));
    bounded("idle-2").unwrap();
    clock.advance(secs(30)); // idle-1: no call for 1m
    let before = keyed().unwrap();
    assert!(before.peek("idle-1").is_some(), "dropped lazily");
    bounded("idle-3").unwrap(); // a new key: the scan is due
    let keys = keyed().unwrap().keys();
    assert!(!keys.contains(&"idle-1".to_owned()), "{keys:?}");
    assert!(keys.contains(&"idle-2".to_owned()), "{keys:?}");
    assert!(registry().get("keyed_bounded[host=idle-1]").is_none());
}

#[circuit_breaker(keyed_retry, key = req.host(), fail_max = 2, retry = 3, retry_backoff = 1s..1s)]
fn retried(req: Request, ok: bool) -> Result<u32, AppError> {
    let _ = req.host;
    outcome(ok)
}

impl Clone for Request {
    fn clone(&self) -> Self {
        Request {
            host: self.host.clone(),
            tenant: self.tenant,
        }
    }
}

#[test]
fn each_attempt_of_a_retry_goes_through_the_same_keys_breaker() {
    let (_t, clock) = time();
    registry().use_sleeper(clock.clone());
    let result = retried(Request::new("flaky"), false);
    assert!(
        is_rejection(&result),
        "two failures open the key, the third attempt is rejected: {result:?}"
    );
    let key = breaker("keyed_retry[host=flaky]");
    assert_eq!(key.state(), State::Open);
    let stats = key.stats();
    assert_eq!((stats.failures, stats.rejected), (2, 1));
    assert_eq!(retried(Request::new("steady"), true).unwrap(), 1);
}

#[circuit_breaker(keyed_shared, key = host, fail_max = 1)]
fn shared_one(host: &str) -> Result<u32, AppError> {
    let _ = host;
    Err(AppError::Down)
}

#[circuit_breaker(keyed_shared, key = host, fail_max = 1)]
fn shared_two(host: &str) -> Result<u32, AppError> {
    let _ = host;
    Ok(2)
}

#[test]
fn functions_that_give_one_name_share_its_keys() {
    let _t = time();
    let _ = shared_one("h");
    assert!(
        is_rejection(&shared_two("h")),
        "one breaker for key h, whichever function"
    );
    assert_eq!(shared_two("other").unwrap(), 2);
}

struct Tenant {
    id: String,
}

impl Tenant {
    #[circuit_breaker(keyed_method, key = self.id, fail_max = 1)]
    fn load(&self, ok: bool) -> Result<u32, AppError> {
        outcome(ok)
    }
}

#[test]
fn methods_key_by_fields_of_self() {
    let _t = time();
    let t = Tenant { id: "acme".into() };
    let _ = t.load(false);
    assert_eq!(breaker("keyed_method[id=acme]").state(), State::Open);
    assert!(
        registry()
            .keyed::<String>("keyed_method")
            .unwrap()
            .peek("acme")
            .is_some()
    );
}

#[circuit_breaker(keyed_timeout, key = host, timeout = 2s)]
async fn slow_host(host: &str, delay: Duration) -> Result<u32, AppError> {
    let _ = host;
    tokio::time::sleep(delay).await;
    Ok(1)
}

#[test]
fn a_timeout_counts_against_the_keys_breaker() {
    let _t = time();
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
        .block_on(async {
            match slow_host("slow", secs(3)).await {
                Err(AppError::Breaker(Error::Timeout { name, .. })) => {
                    assert_eq!(&*name, "keyed_timeout[host=slow]")
                }
                other => panic!("expected a timeout, got {other:?}"),
            }
            assert_eq!(slow_host("fast", secs(1)).await.unwrap(), 1);
        });
    assert_eq!(breaker("keyed_timeout[host=slow]").stats().failures, 1);
    assert_eq!(breaker("keyed_timeout[host=fast]").stats().failures, 0);
}

#[circuit_breaker(keyed_spread, key = tenant: tenant % 3, fail_max = 1000)]
async fn spread(tenant: u64, pends: u32) -> Result<u64, AppError> {
    Yield(pends).await;
    Ok(tenant)
}

/// Async keyed calls whose bodies are ready at once record on the thread
/// that looked the key up, holding its breaker pinned there. Calls whose
/// bodies pend let go of the pin and count the key's breaker, and here they
/// resume on another thread (the futures are `Send`): every outcome is
/// counted there, and no call is left in flight. Left pinned, a call moved
/// to another thread could not record there.
#[test]
fn async_keyed_calls_that_pend_resume_on_another_thread_and_every_outcome_counts() {
    let _t = time();
    const CALLS: u64 = 3_000;
    let noop = || std::task::Context::from_waker(std::task::Waker::noop());
    type Moving = std::pin::Pin<Box<dyn Future<Output = Result<u64, AppError>> + Send>>;
    let (to_other, from_here) = std::sync::mpsc::channel::<(u64, Moving)>();
    let other = std::thread::spawn(move || {
        for (n, mut call) in from_here {
            loop {
                if let std::task::Poll::Ready(out) = call.as_mut().poll(&mut noop()) {
                    assert_eq!(out.unwrap(), n);
                    break;
                }
            }
        }
    });
    for n in 0..CALLS {
        // Ready at once on this thread.
        let mut ready = Box::pin(spread(n, 0));
        assert!(matches!(poll_once(ready.as_mut()), std::task::Poll::Ready(Ok(v)) if v == n));
        // Pended here, finished there.
        let mut pended: Moving = Box::pin(spread(n, 1 + (n % 2) as u32));
        assert!(pended.as_mut().poll(&mut noop()).is_pending());
        to_other
            .send((n, pended))
            .expect("the other thread is running");
    }
    drop(to_other);
    other.join().expect("no panic");
    let mut successes = 0;
    for key in 0..3 {
        let stats = breaker(&format!("keyed_spread[tenant={key}]")).stats();
        assert_eq!((stats.in_flight, stats.failures), (0, 0), "key {key}");
        assert_eq!(stats.admitted, stats.successes, "key {key}");
        successes += stats.successes;
    }
    assert_eq!(successes, 2 * CALLS);
}
