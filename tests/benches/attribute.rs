//! `#[circuit_breaker]` on the hot path: an annotated function against the
//! same function unannotated, breaker Closed, in one run.
//!
//! `cargo bench -p breaker-tests --bench attribute`

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use breaker_core::{Error, circuit_breaker};
use criterion::{Criterion, criterion_group, criterion_main};

/// The error of both functions.
#[derive(Debug)]
pub struct BenchError(pub Error);

impl From<Error> for BenchError {
    fn from(e: Error) -> Self {
        BenchError(e)
    }
}

#[inline(never)]
fn plain(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x).wrapping_mul(31))
}

#[circuit_breaker(bench_closed)]
#[inline(never)]
fn annotated(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x).wrapping_mul(31))
}

#[inline(never)]
async fn plain_async(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x).wrapping_mul(31))
}

#[circuit_breaker(bench_closed_async)]
#[inline(never)]
async fn annotated_async(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x).wrapping_mul(31))
}

/// Polls a future that is ready at once.
fn ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the benchmarked futures never wait"),
    }
}

fn closed(c: &mut Criterion) {
    let mut g = c.benchmark_group("attribute_closed");
    g.bench_function("sync_unannotated", |b| b.iter(|| plain(black_box(7))));
    g.bench_function("sync_annotated", |b| b.iter(|| annotated(black_box(7))));
    g.bench_function("async_unannotated", |b| {
        b.iter(|| ready(plain_async(black_box(7))))
    });
    g.bench_function("async_annotated", |b| {
        b.iter(|| ready(annotated_async(black_box(7))))
    });
    g.finish();
}

criterion_group!(benches, closed);
criterion_main!(benches);
