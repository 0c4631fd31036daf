//! The contenders of `src/lib.rs`, timed side by side in one process.
//! BENCHMARKS.md reports the ratios of three runs.

use std::hint::black_box;
use std::time::Duration;

use breaker_user_bench as user;
use criterion::{Criterion, criterion_group, criterion_main};

fn closed_success(c: &mut Criterion) {
    let mut g = c.benchmark_group("user_closed_success");
    let closed = user::closed();
    g.bench_function("direct", |b| b.iter(|| user::direct(black_box(1))));
    g.bench_function("breaker_call", |b| {
        b.iter(|| user::breaker_call(&closed.ours, black_box(1)))
    });
    g.bench_function("annotated", |b| b.iter(|| user::annotated(black_box(1))));
    g.bench_function("annotated_fallback", |b| {
        b.iter(|| user::annotated_fallback(black_box(1)))
    });
    g.bench_function("annotated_keyed", |b| {
        b.iter(|| user::annotated_keyed(black_box(1)))
    });
    g.bench_function("direct_async", |b| {
        b.iter(|| user::polled_direct_async(black_box(1)))
    });
    g.bench_function("breaker_call_async", |b| {
        b.iter(|| user::polled_breaker_call_async(&closed.ours, black_box(1)))
    });
    g.bench_function("annotated_async", |b| {
        b.iter(|| user::polled_annotated_async(black_box(1)))
    });
    g.bench_function("annotated_keyed_async", |b| {
        b.iter(|| user::polled_annotated_keyed_async(black_box(1)))
    });
    let keyed = user::keyed_ours();
    g.bench_function("keyed_breaker_call_async", |b| {
        b.iter(|| user::polled_keyed_breaker_call_async(&keyed, black_box(1)))
    });
    g.bench_function("annotated_async_fallback", |b| {
        b.iter(|| user::polled_annotated_async_fallback(black_box(1)))
    });
    g.bench_function("failsafe", |b| {
        b.iter(|| user::failsafe_call(&closed.failsafe, black_box(1)))
    });
    g.bench_function("recloser", |b| {
        b.iter(|| user::recloser_call(&closed.recloser, black_box(1)))
    });
    g.finish();
}

fn open_rejection(c: &mut Criterion) {
    let mut g = c.benchmark_group("user_open_rejection");
    let opened = user::opened();
    g.bench_function("breaker_call", |b| {
        b.iter(|| user::breaker_call(&opened.ours, black_box(1)))
    });
    g.bench_function("annotated", |b| {
        b.iter(|| user::annotated_rejected(black_box(1)))
    });
    g.bench_function("failsafe", |b| {
        b.iter(|| user::failsafe_call(&opened.failsafe, black_box(1)))
    });
    g.bench_function("recloser", |b| {
        b.iter(|| user::recloser_call(&opened.recloser, black_box(1)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = closed_success, open_rejection
}
criterion_main!(benches);
