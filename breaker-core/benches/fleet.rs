//! `GET /fleet` with 100 replicas of 100 breakers each, against a local
//! redis-server: this process is one replica (a store with 100 breakers),
//! the 99 others are descriptions written as their stores write them and
//! kept fresh by a thread (a description dated 10 s off Redis' clock is
//! refused, and would shrink the answer). The bound is 50 ms.
//!
//! `cargo bench -p breaker-core --features redis,admin --bench fleet`
//! (needs redis-server on the PATH).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use breaker_core::store::redis::RedisStore;
use breaker_core::{Config, Registry};
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use redis_server::Server;
use tower::ServiceExt;

mod redis_server;

const REPLICAS: usize = 100;
const BREAKERS: usize = 100;
const TOKEN: &str = "bench";

/// Writes the other replicas' descriptions, fresh, as their stores would.
fn describe_others(conn: &mut redis::Connection) {
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query(conn).unwrap();
    let now_ms = secs * 1000 + micros / 1000;
    let mut pipe = redis::pipe();
    for r in 1..REPLICAS {
        let replica = format!("replica-{r}");
        let key = format!("fleetbench:fleet:{replica}");
        let mut hset = redis::cmd("HSET");
        hset.arg(&key).arg("_at").arg(now_ms);
        for b in 0..BREAKERS {
            let value = if b % 10 == 0 {
                "open 0 12 0 25000"
            } else {
                "closed 40 0 1 -"
            };
            hset.arg(format!("breaker-{b}")).arg(value);
        }
        pipe.add_command(hset).ignore();
        pipe.cmd("ZADD")
            .arg("fleetbench:replicas")
            .arg(now_ms)
            .arg(&replica)
            .ignore();
    }
    let _: () = pipe.query(conn).unwrap();
}

fn fleet(c: &mut Criterion) {
    let server = Server::start();
    assert!(
        server.0.is_some(),
        "this bench needs redis-server on the PATH"
    );
    let url = format!("redis://127.0.0.1:{}/", server.1);
    let store = RedisStore::builder(&url)
        .namespace("fleetbench")
        .replica("replica-0")
        .connect()
        .expect("a store");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !store.is_connected() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    registry.use_store(store);
    for b in 0..BREAKERS {
        registry.get_or_create(&format!("breaker-{b}"), Config::default);
    }
    let mut conn = redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection())
        .expect("a connection");
    describe_others(&mut conn);
    let running = Arc::new(AtomicBool::new(true));
    let refresher = {
        let running = running.clone();
        std::thread::spawn(move || {
            while running.load(Ordering::Relaxed) {
                describe_others(&mut conn);
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    // This replica's own description lands within a second.
    std::thread::sleep(Duration::from_millis(1500));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let router = breaker_core::admin::router_for(registry, TOKEN);
    let get = || async {
        let request = http::Request::get("/fleet")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
        response.into_body().collect().await.unwrap().to_bytes()
    };
    let body = runtime.block_on(get());
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let live = answer["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["live"] == true)
        .count();
    assert_eq!(live, REPLICAS, "every replica live in the answer");
    assert_eq!(answer["breakers"].as_array().unwrap().len(), BREAKERS);
    eprintln!("GET /fleet: {} bytes of JSON", body.len());

    c.bench_function("get_fleet_100_replicas_100_breakers", |b| {
        b.iter(|| runtime.block_on(get()))
    });
    running.store(false, Ordering::Relaxed);
    let _ = refresher.join();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(5));
    targets = fleet
}
criterion_main!(benches);
