//! The hot path side by side with the breakers a user would pick instead.
//!
//! `cargo bench -p breaker-core --bench hot_path`; BENCHMARKS.md reports the
//! ratios. Every contender guards the same trivial call.

use std::fmt;
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use breaker_core::{Breaker, Config, Error};
use criterion::{Criterion, criterion_group, criterion_main};
use failsafe::CircuitBreaker as _;

/// The guarded call's error. Small, as most services' are, so that every
/// contender's `Result` comes back in registers: with a 40-byte error the
/// bench measures how each closure's `Result` is copied through the stack
/// more than the breaker (BENCHMARKS.md).
#[derive(Debug)]
struct Fail;

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fail")
    }
}

impl From<Error> for Fail {
    fn from(_: Error) -> Fail {
        Fail
    }
}

#[inline(never)]
fn work(x: u64) -> Result<u64, Fail> {
    Ok(black_box(x).wrapping_add(1))
}

#[inline(never)]
fn failing(_x: u64) -> Result<u64, Fail> {
    Err(Fail)
}

/// The same call through the attribute (a breaker of the global registry,
/// Closed, default configuration).
#[breaker_core::circuit_breaker(hot_path_annotated)]
#[inline(never)]
fn annotated(x: u64) -> Result<u64, Fail> {
    Ok(black_box(x).wrapping_add(1))
}

/// For the rejection: a caller that keeps the breaker's whole error.
#[inline(never)]
fn work_keeping_errors(x: u64) -> Result<u64, Error> {
    Ok(black_box(x).wrapping_add(1))
}

fn ours(config: Config) -> Breaker {
    Breaker::new("bench", config)
}

fn failsafe_breaker() -> impl failsafe::CircuitBreaker {
    let policy = failsafe::failure_policy::consecutive_failures(
        5,
        failsafe::backoff::constant(Duration::from_secs(3600)),
    );
    failsafe::Config::new().failure_policy(policy).build()
}

fn recloser_breaker(closed_len: usize) -> recloser::Recloser {
    recloser::Recloser::custom()
        .error_rate(0.5)
        .closed_len(closed_len)
        .open_wait(Duration::from_secs(3600))
        .build()
}

fn closed_success(c: &mut Criterion) {
    let mut g = c.benchmark_group("closed_success");
    g.bench_function("direct", |b| b.iter(|| work(black_box(1))));
    g.bench_function("annotated", |b| b.iter(|| annotated(black_box(1))));
    let breaker = ours(Config::default());
    g.bench_function("breaker_call", |b| {
        b.iter(|| breaker.call(|| work(black_box(1))))
    });
    g.bench_function("breaker_permit", |b| {
        b.iter(|| {
            let permit = breaker.acquire().unwrap();
            let out = work(black_box(1));
            permit.success();
            out
        })
    });
    let fs = failsafe_breaker();
    g.bench_function("failsafe", |b| b.iter(|| fs.call(|| work(black_box(1)))));
    let rc = recloser_breaker(100);
    g.bench_function("recloser", |b| b.iter(|| rc.call(|| work(black_box(1)))));
    g.finish();
}

fn open_rejection(c: &mut Criterion) {
    let mut g = c.benchmark_group("open_rejection");
    let breaker = ours(
        Config::builder()
            .reset(Duration::from_secs(3600))
            .build()
            .unwrap(),
    );
    breaker.trip();
    // The rejection as a caller that keeps it sees it: an owned `Error` with
    // the name, why it opened and `retry_after`. The peers' are unit values.
    g.bench_function("breaker_call", |b| {
        b.iter(|| breaker.call(|| work_keeping_errors(black_box(1))))
    });
    // A caller whose error type drops the rejection's details.
    g.bench_function("breaker_call_small_error", |b| {
        b.iter(|| breaker.call(|| work(black_box(1))))
    });
    let fs = failsafe_breaker();
    for _ in 0..5 {
        let _ = fs.call(|| failing(1));
    }
    assert!(fs.call(|| work(1)).is_err(), "failsafe is open");
    g.bench_function("failsafe", |b| b.iter(|| fs.call(|| work(black_box(1)))));
    let rc = recloser_breaker(1);
    let _ = rc.call(|| failing(1));
    let _ = rc.call(|| failing(1));
    assert!(rc.call(|| work(1)).is_err(), "recloser is open");
    g.bench_function("recloser", |b| b.iter(|| rc.call(|| work(black_box(1)))));
    g.finish();
}

fn half_open(c: &mut Criterion) {
    let mut g = c.benchmark_group("half_open");
    let breaker = ours(
        Config::builder()
            .fail_max(1)
            .reset(Duration::from_nanos(1))
            .success(1000)
            .half_open(1000)
            .build()
            .unwrap(),
    );
    breaker.trip();
    std::thread::sleep(Duration::from_micros(10));
    drop(breaker.acquire().unwrap()); // now HalfOpen
    g.bench_function("breaker_admit_and_release", |b| {
        b.iter(|| drop(black_box(breaker.acquire().unwrap())))
    });
    g.finish();
}

fn mixed(c: &mut Criterion) {
    let mut g = c.benchmark_group("mixed_outcomes");
    // One failure in four: neither policy trips, both count every outcome.
    let consecutive = ours(Config::builder().fail_max(5).build().unwrap());
    let rate = ours(
        Config::builder()
            .failure_rate(50.0)
            .window_calls(100)
            .build()
            .unwrap(),
    );
    for (name, breaker) in [("consecutive", &consecutive), ("failure_rate_100", &rate)] {
        let mut i = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = i.wrapping_add(1);
                if i % 4 == 0 {
                    breaker.call(|| failing(i))
                } else {
                    breaker.call(|| work(i))
                }
            })
        });
    }
    g.finish();
}

/// Wall time per call with two threads calling one breaker at once.
fn two_threads<F>(iters: u64, call: F) -> Duration
where
    F: Fn() + Send + Sync + 'static,
{
    let call = Arc::new(call);
    let start = Arc::new(Barrier::new(3));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (call, start) = (call.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                for _ in 0..iters {
                    call();
                }
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    for h in handles {
        h.join().unwrap();
    }
    // Two calls per iteration: report wall time per call.
    began.elapsed() / 2
}

fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("two_threads_closed_success");
    g.bench_function("direct", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, || {
                let _ = black_box(work(black_box(1)));
            })
        })
    });
    let breaker = ours(Config::default());
    g.bench_function("breaker_call", |b| {
        let breaker = breaker.clone();
        b.iter_custom(move |iters| {
            let breaker = breaker.clone();
            two_threads(iters, move || {
                let _ = black_box(breaker.call(|| work(black_box(1))));
            })
        })
    });
    let fs = Arc::new(failsafe_breaker());
    g.bench_function("failsafe", |b| {
        b.iter_custom(|iters| {
            let fs = fs.clone();
            two_threads(iters, move || {
                let _ = black_box(fs.call(|| work(black_box(1))));
            })
        })
    });
    let rc = Arc::new(recloser_breaker(100));
    g.bench_function("recloser", |b| {
        b.iter_custom(|iters| {
            let rc = rc.clone();
            two_threads(iters, move || {
                let _ = black_box(rc.call(|| work(black_box(1))));
            })
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = closed_success, open_rejection, half_open, mixed, contended
}
criterion_main!(benches);
