//! The expansion compiles in a crate that forbids unsafe code and denies
//! warnings (including missing docs: nothing it adds is public).
#![forbid(unsafe_code)]
#![deny(warnings, missing_docs)]

use breaker_core::circuit_breaker;

/// An error that can hold a rejection.
#[derive(Debug)]
pub struct E(pub breaker_core::Error);

impl From<breaker_core::Error> for E {
    fn from(e: breaker_core::Error) -> Self {
        E(e)
    }
}

/// Guarded.
#[circuit_breaker(forbid_unsafe, fail_max = 2)]
pub fn guarded(x: u32) -> Result<u32, E> {
    Ok(x)
}

/// Guarded, async.
#[circuit_breaker(forbid_unsafe)]
pub async fn guarded_async(x: u32) -> Result<u32, E> {
    Ok(x)
}

/// Guarded and retried: by-value, `&mut` and pattern arguments.
#[circuit_breaker(forbid_unsafe_retry, retry = 3, retry_backoff = 10ms..1s)]
pub fn retried(label: String, log: &mut Vec<String>, (a, b): (u32, u32)) -> Result<u32, E> {
    log.push(label);
    Ok(a + b)
}

/// Guarded and retried, async.
#[circuit_breaker(forbid_unsafe_retry_async, retry = 2)]
pub async fn retried_async(label: String, mut n: u32) -> Result<u32, E> {
    n += 1;
    Ok(label.len() as u32 + n)
}

fn assert_send<T: Send + 'static>(_: &T) {}

fn main() {
    let _ = guarded(1);
    let future = guarded_async(1);
    assert_send(&future); // spawnable on a multi-threaded runtime
    drop(future);
    let _ = retried("a".into(), &mut Vec::new(), (1, 2));
    let future = retried_async("a".into(), 1);
    assert_send(&future);
    drop(future);
}
