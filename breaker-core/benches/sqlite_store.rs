//! What the SQLite store costs: nothing on the Closed success path (beside
//! the same path without a store), and per transition and per joining
//! breaker, what its thread spends on the file (a real file in the system's
//! temporary directory, WAL mode, `synchronous = NORMAL`).
//!
//! `cargo bench -p breaker-core --features sqlite --bench sqlite_store`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use breaker_core::store::sqlite::SqliteStore;
use breaker_core::{Breaker, Config, Error, Registry};
use criterion::{Criterion, criterion_group, criterion_main};

#[inline(never)]
fn work(x: u64) -> Result<u64, Error> {
    Ok(black_box(x).wrapping_add(1))
}

/// A file of the bench's own, removed (with its -wal and -shm) when dropped.
struct File(PathBuf);

impl File {
    fn new() -> File {
        let path = std::env::temp_dir().join(format!("breaker-bench-{}.db", std::process::id()));
        File(path)
    }
}

impl Drop for File {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

fn config() -> Config {
    Config::builder()
        .reset(Duration::from_secs(600))
        .build()
        .expect("a valid config")
}

fn store(file: &File) -> SqliteStore {
    SqliteStore::builder(&file.0)
        .budget(Duration::from_secs(1))
        .open()
        .expect("a store")
}

fn closed_success(c: &mut Criterion) {
    let file = File::new();
    let with_store = Registry::new();
    with_store.use_store(store(&file));
    let shared = with_store.get_or_create("bench", Config::default);
    let local = Breaker::new("bench", Config::default());

    let mut g = c.benchmark_group("closed_success_store");
    g.bench_function("without_store", |b| {
        b.iter(|| local.call(|| work(black_box(1))))
    });
    g.bench_function("with_sqlite_store", |b| {
        b.iter(|| shared.call(|| work(black_box(1))))
    });
    g.finish();
}

fn per_transition(c: &mut Criterion) {
    let file = File::new();
    let store = store(&file);
    let registry = Registry::new();
    registry.use_store(store.clone());
    let breaker = registry.get_or_create("bench", config);

    let mut g = c.benchmark_group("sqlite_store");
    // Each trip() (Open, or a new open period while Open) is one transaction
    // on the store's thread: the time per trip until all are written.
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
