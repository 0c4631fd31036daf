//! What the PostgreSQL store costs: nothing on the Closed success path
//! (beside the same path without a store), and per transition and per
//! joining breaker, what its thread spends on the server (a real server of
//! the bench's own on loopback, started as the tests start theirs).
//!
//! `cargo bench -p breaker-core --features postgres --bench postgres_store`.

#[path = "../tests/postgres_support/mod.rs"]
mod postgres_support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use breaker_core::store::postgres::PostgresStore;
use breaker_core::{Breaker, Config, Error, Registry};
use criterion::{Criterion, criterion_group, criterion_main};
use postgres_support::PgServer;

#[inline(never)]
fn work(x: u64) -> Result<u64, Error> {
    Ok(black_box(x).wrapping_add(1))
}

fn config() -> Config {
    Config::builder()
        .reset(Duration::from_secs(600))
        .build()
        .expect("a valid config")
}

fn store(server: &PgServer) -> PostgresStore {
    let store = PostgresStore::builder(server.url())
        .budget(Duration::from_secs(1))
        .open()
        .expect("a store");
    assert!(store.is_connected(), "the bench's server answers");
    store
}

fn closed_success(c: &mut Criterion) {
    let server = PgServer::start();
    let with_store = Registry::new();
    with_store.use_store(store(&server));
    let shared = with_store.get_or_create("bench", Config::default);
    let local = Breaker::new("bench", Config::default());

    let mut g = c.benchmark_group("closed_success_store");
    g.bench_function("without_store", |b| {
        b.iter(|| local.call(|| work(black_box(1))))
    });
    g.bench_function("with_postgres_store", |b| {
        b.iter(|| shared.call(|| work(black_box(1))))
    });
    g.finish();
}

fn per_transition(c: &mut Criterion) {
    let server = PgServer::start();
    let store = store(&server);
    let registry = Registry::new();
    registry.use_store(store.clone());
    let breaker = registry.get_or_create("bench", config);

    let mut g = c.benchmark_group("postgres_store");
    // Each trip() (Open, or a new open period while Open) is one
    // compare-and-set on the store's thread: a read of the row with the
    // server's clock, then an update that announces itself. The time per
    // trip until all are written.
    g.bench_function("transition_written", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                breaker.trip();
            }
            assert!(store.flush(Duration::from_secs(60)));
            start.elapsed()
        })
    });
    // What the caller itself spends: the transition, with the write queued.
    g.bench_function("transition_queued", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                breaker.trip();
            }
            let spent = start.elapsed();
            assert!(store.flush(Duration::from_secs(60)));
            spent
        })
    });
    // A breaker joining while its row holds an Open: read, checked, adopted.
    g.bench_function("attach_open_row", |b| {
        b.iter(|| {
            let joining = Registry::new();
            joining.use_store(store.clone());
            black_box(joining.get_or_create("bench", config))
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = closed_success, per_transition
}
criterion_main!(benches);
