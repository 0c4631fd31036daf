//! redis-server killed in the middle of a run of calls: nothing panics, local
//! state goes on, the outage and the recovery are reported once each, and the
//! replicas converge when Redis is back. One test in this binary: it installs
//! the global tracing subscriber that captures the reports.

mod redis_support;

use std::time::Duration;

use breaker_core::store::redis::RedisStore;
use breaker_core::{Breaker, Config, Error, Registry, State};
use redis_support::{Captured, RedisServer, eventually};

const DOWN: &str = "shared-state store unreachable";
const UP: &str = "shared-state store reachable again";

fn replica(server: &RedisServer) -> (RedisStore, Breaker) {
    let store = RedisStore::builder(server.url())
        .namespace("outage")
        .budget(Duration::from_millis(200))
        .command_timeout(Duration::from_millis(500))
        .connect_timeout(Duration::from_millis(300))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(100))
        .connect()
        .expect("a store");
    assert!(store.is_connected());
    let registry = Registry::new();
    registry.use_store(store.clone());
    let config = Config::builder()
        .fail_max(3)
        .reset(Duration::from_secs(20))
        .build()
        .unwrap();
    (store, registry.get_or_create("db", || config))
}

fn ok(b: &Breaker) -> Result<(), Error> {
    b.call(|| Ok::<(), Error>(()))
}

fn fail(b: &Breaker) {
    let _ = b.call(|| Err::<(), Error>(Error::timeout("db".into(), Duration::ZERO)));
}

#[test]
fn redis_killed_mid_run_local_state_goes_on_and_replicas_converge_after_restart() {
    let log = Captured::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .init();

    let mut server = RedisServer::start();
    let port = server.port;
    let (store_a, a) = replica(&server);
    let (store_b, b) = replica(&server);

    for i in 0..200 {
        ok(&a).unwrap();
        ok(&b).unwrap();
        if i == 100 {
            server.kill();
        }
    }
    assert!(
        eventually(Duration::from_secs(3), || !store_a.is_connected()
            && !store_b.is_connected()),
        "both stores noticed the outage"
    );

    // Local state goes on: calls are admitted, failures open the breaker here.
    for _ in 0..50 {
        ok(&a).unwrap();
        ok(&b).unwrap();
    }
    for _ in 0..3 {
        fail(&a);
    }
    assert_eq!(a.state(), State::Open);
    assert!(ok(&a).unwrap_err().is_rejected());
    ok(&b).unwrap();
    assert_eq!(
        b.state(),
        State::Closed,
        "b cannot know while Redis is down"
    );
    // Several reconnection attempts fail meanwhile (backoff 20 ms..100 ms).
    std::thread::sleep(Duration::from_millis(300));

    let _server = RedisServer::start_on(port);
    assert!(
        eventually(Duration::from_secs(3), || store_a.is_connected()
            && store_b.is_connected()),
        "both stores reconnected"
    );
    // Converged: the Open made during the outage wins over b's Closed.
    assert!(
        eventually(Duration::from_secs(2), || b.state() == State::Open),
        "b adopted a's Open after Redis came back"
    );
    let retry = ok(&b).unwrap_err().retry_after().unwrap();
    assert!(
        retry > Duration::from_secs(18) && retry <= Duration::from_secs(20),
        "b opened with the time left of a's period: {retry:?}"
    );

    assert!(eventually(Duration::from_secs(1), || log.count(UP) == 2));
    assert_eq!(
        log.count(DOWN),
        2,
        "one outage report a store:\n{}",
        log.text()
    );
    assert_eq!(
        log.count(UP),
        2,
        "one recovery report a store:\n{}",
        log.text()
    );
}
