//! The tower layer side by side with tower-resilience's circuit-breaker
//! layer, on the same inner `tower::service_fn`, Closed and Open.
//!
//! `cargo bench -p breaker-core --features tower --bench tower_layer`;
//! BENCHMARKS.md reports the ratios. Each iteration is one whole call as a
//! tower client makes it: `poll_ready`, `call`, and polling the response
//! future to completion (every future here is ready at its first poll, so a
//! no-op waker drives them, no runtime).

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use breaker_core::tower::BreakerLayer;
use breaker_core::{Breaker, Config};
use criterion::{Criterion, criterion_group, criterion_main};
use tower::{Layer, Service, service_fn};
use tower_resilience_circuitbreaker::CircuitBreakerLayer;

/// Polls `future` once; everything benchmarked here completes at once.
#[inline]
fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("every future of this bench is ready at once"),
    }
}

/// One call as tower's `ServiceExt::oneshot` makes it.
#[inline]
fn one_call<S: Service<u64>>(service: &mut S, request: u64) -> Result<S::Response, S::Error> {
    now(std::future::poll_fn(|cx| service.poll_ready(cx)))?;
    now(service.call(request))
}

fn inner() -> impl Service<u64, Response = u64, Error = Infallible, Future: Send> + Clone + Send {
    service_fn(|x: u64| std::future::ready(Ok::<u64, Infallible>(x.wrapping_add(1))))
}

fn ours() -> Breaker {
    let config = Config::builder()
        .fail_max(5)
        .reset(Duration::from_secs(3600))
        .build()
        .expect("a valid config");
    Breaker::new("bench", config)
}

fn tower_resilience() -> CircuitBreakerLayer {
    CircuitBreakerLayer::builder()
        .consecutive_failures(5)
        .wait_duration_in_open(Duration::from_secs(3600))
        .build()
        .expect("a valid config")
}

fn closed(c: &mut Criterion) {
    let mut g = c.benchmark_group("tower_closed");
    let mut direct = inner();
    g.bench_function("inner_service", |b| {
        b.iter(|| one_call(&mut direct, black_box(1)))
    });
    // The breaker alone, without tower: what the layer adds is the rest.
    let bare = ours();
    g.bench_function("bare_permit", |b| {
        b.iter(|| bare.acquire().map(|permit| permit.success()))
    });
    g.bench_function("bare_owned_permit", |b| {
        b.iter(|| bare.acquire_owned().map(|permit| permit.success()))
    });
    let mut guarded = BreakerLayer::new(ours()).layer(inner());
    g.bench_function("breaker_layer", |b| {
        b.iter(|| one_call(&mut guarded, black_box(1)))
    });
    let mut peer = tower_resilience().layer(inner());
    g.bench_function("tower_resilience", |b| {
        b.iter(|| one_call(&mut peer, black_box(1)))
    });
    g.finish();
}

fn open(c: &mut Criterion) {
    let mut g = c.benchmark_group("tower_open");
    let breaker = ours();
    breaker.trip();
    g.bench_function("bare_rejection", |b| {
        b.iter(|| breaker.acquire().map(|_| ()))
    });
    let mut guarded = BreakerLayer::new(breaker).layer(inner());
    assert!(one_call(&mut guarded, 1).is_err(), "ours is open");
    g.bench_function("breaker_layer", |b| {
        b.iter(|| one_call(&mut guarded, black_box(1)))
    });
    let mut peer = tower_resilience().layer(inner());
    now(peer.force_open());
    assert!(one_call(&mut peer, 1).is_err(), "tower-resilience is open");
    g.bench_function("tower_resilience", |b| {
        b.iter(|| one_call(&mut peer, black_box(1)))
    });
    g.finish();
}

criterion_group!(benches, closed, open);
criterion_main!(benches);
