//! A known key's call against an unkeyed breaker's call, Closed and
//! successful: the keyed hot path's cost is one lookup (hash, a shard's read
//! lock, the key compared, a reference count) on top of the breaker's.
//!
//! `cargo bench -p breaker-core --bench keyed`; BENCHMARKS.md reports the
//! ratios. For instruction counts, the same cases as a plain loop:
//! `BREAKER_BENCH_LOOP=keyed:100000 valgrind --tool=callgrind target/release/deps/keyed-*`
//! (cases `unkeyed`, `keyed`, `keyed_u64`, `keyed_get`).

use std::hint::black_box;
use std::time::Duration;

use breaker_core::keyed::KeyedBreaker;
use breaker_core::{Breaker, Config, Error};
use criterion::Criterion;

#[inline(never)]
fn work(x: u64) -> Result<u64, Error> {
    Ok(black_box(x).wrapping_add(1))
}

/// 1000 live keys (the default bound), so the lookup meets a full table.
const KEYS: usize = 1000;
const HOT: &str = "host-417.example";

fn hosts() -> KeyedBreaker<String> {
    let hosts = KeyedBreaker::builder("bench")
        .label("host")
        .max_keys(KEYS)
        .build()
        .expect("valid settings");
    for i in 0..KEYS {
        hosts
            .call(format!("host-{i}.example").as_str(), || work(1))
            .unwrap();
    }
    hosts
}

fn tenants() -> KeyedBreaker<u64> {
    let tenants = KeyedBreaker::builder("bench-u64")
        .label("tenant")
        .max_keys(KEYS)
        .build()
        .expect("valid settings");
    for i in 0..KEYS as u64 {
        tenants.call(&i, || work(1)).unwrap();
    }
    tenants
}

fn closed_success(c: &mut Criterion) {
    let mut g = c.benchmark_group("keyed_closed_success");
    let unkeyed = Breaker::new("bench-unkeyed", Config::default());
    let hosts = hosts();
    let tenants = tenants();
    g.bench_function("unkeyed_call", |b| {
        b.iter(|| unkeyed.call(|| work(black_box(1))))
    });
    g.bench_function("keyed_str_call", |b| {
        b.iter(|| hosts.call(black_box(HOT), || work(black_box(1))))
    });
    g.bench_function("keyed_u64_call", |b| {
        b.iter(|| tenants.call(black_box(&417), || work(black_box(1))))
    });
    g.bench_function("keyed_str_get", |b| b.iter(|| hosts.get(black_box(HOT))));
    g.finish();
}

/// Runs one case `n` times in a plain loop (for callgrind).
fn plain_loop(case: &str, n: u64) {
    let unkeyed = Breaker::new("bench-unkeyed", Config::default());
    let hosts = hosts();
    let tenants = tenants();
    for _ in 0..n {
        let _ = black_box(match case {
            "unkeyed" => unkeyed.call(|| work(black_box(1))),
            "keyed" => hosts.call(black_box(HOT), || work(black_box(1))),
            "keyed_u64" => tenants.call(black_box(&417), || work(black_box(1))),
            "keyed_get" => {
                drop(black_box(hosts.get(black_box(HOT))));
                Ok(0)
            }
            other => panic!("unknown case `{other}`"),
        });
    }
}

fn main() {
    if let Ok(spec) = std::env::var("BREAKER_BENCH_LOOP") {
        let (case, n) = spec.split_once(':').expect("BREAKER_BENCH_LOOP=case:n");
        plain_loop(case, n.parse().expect("a number of calls"));
        return;
    }
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    closed_success(&mut c);
    c.final_summary();
}
