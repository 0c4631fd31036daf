//! The Closed success path with a Redis store installed, beside the same path
//! without one: the store must cost nothing there (the bound is 2x).
//!
//! `cargo bench -p breaker-core --features redis --bench store_hot_path`.
//! It starts its own redis-server on a free loopback port when one is on the
//! PATH; without one the store runs disconnected, which is the same path.

use std::hint::black_box;
use std::time::{Duration, Instant};

use breaker_core::store::redis::RedisStore;
use breaker_core::{Breaker, Config, Error, Registry};
use criterion::{Criterion, criterion_group, criterion_main};
use redis_server::Server;

mod redis_server;

#[inline(never)]
fn work(x: u64) -> Result<u64, Error> {
    Ok(black_box(x).wrapping_add(1))
}

fn closed_success_with_store(c: &mut Criterion) {
    let server = Server::start();
    let store = RedisStore::builder(format!("redis://127.0.0.1:{}/", server.1))
        .namespace("bench")
        .connect()
        .expect("a store");
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.0.is_some() && !store.is_connected() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let with_store = Registry::new();
    with_store.use_store(store);
    let shared = with_store.get_or_create("bench", Config::default);
    let local = Breaker::new("bench", Config::default());

    let mut g = c.benchmark_group("closed_success_store");
    g.bench_function("without_store", |b| {
        b.iter(|| local.call(|| work(black_box(1))))
    });
    g.bench_function("with_redis_store", |b| {
        b.iter(|| shared.call(|| work(black_box(1))))
    });
    g.finish();
}

criterion_group!(benches, closed_success_with_store);
criterion_main!(benches);
