//! Free functions, sync and async, with every key, `return`, `?` and labelled `break`.

use breaker_core::circuit_breaker;

#[derive(Debug)]
pub enum AppError {
    Down,
    Breaker(breaker_core::Error),
}

impl From<breaker_core::Error> for AppError {
    fn from(e: breaker_core::Error) -> Self {
        AppError::Breaker(e)
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

fn parse(x: &str) -> Result<u32, AppError> {
    x.parse().map_err(|_| AppError::Down)
}

/// Doc comments stay.
#[circuit_breaker(free_sync, fail_max = 3, reset = 30s, success = 2)]
#[inline]
#[must_use]
pub fn sync_fn(x: &str) -> Result<u32, AppError> {
    let n = parse(x)?;
    if n == 0 {
        return Err(AppError::Down);
    }
    let doubled = 'block: {
        if n > 100 {
            break 'block n;
        }
        n * 2
    };
    Ok(doubled)
}

#[circuit_breaker("free-async", failure_rate = 50, window = 10, min_calls = 5, slow = 1s, slow_rate = 80%, timeout = 1.5s)]
pub async fn async_fn(x: &str) -> Result<u32, AppError> {
    let n = parse(x)?;
    std::future::ready(()).await;
    if n == 0 {
        return Err(AppError::Down);
    }
    Ok(n)
}

fn is_failure(e: &AppError) -> bool {
    matches!(e, AppError::Down)
}

#[circuit_breaker(name = "keys", fail_max = 2, within = 1m30s, reset = "250ms", backoff = 1.5, reset_max = 2m, half_open = 1, failure = is_failure)]
fn every_key(x: u32) -> Result<u32, AppError> {
    Ok(x)
}

fn is_zero(x: &u32) -> bool {
    *x == 0
}

#[circuit_breaker(name = "later-keys", max_half_open_wait = 10s, ok_is_failure = is_zero, failure = is_failure)]
fn later_keys(x: u32) -> Result<u32, AppError> {
    Ok(x)
}

#[circuit_breaker(name = "throttled", adaptive = 1.5, window = 10s)]
fn throttled(x: u32) -> Result<u32, AppError> {
    Ok(x)
}

#[circuit_breaker]
fn default_name() -> Result<(), AppError> {
    Ok(())
}

fn fallback_label(x: u32) -> String {
    format!("cached {x}")
}

#[circuit_breaker(fallback = fallback_label)]
fn non_result(x: u32) -> String {
    x.to_string()
}

async fn async_fallback(x: u32) -> Option<u32> {
    Some(x)
}

#[circuit_breaker(fallback = async_fallback)]
async fn async_non_result(x: u32) -> Option<u32> {
    Some(x + 1)
}

fn unit_fallback() {}

#[circuit_breaker(fallback = unit_fallback)]
fn returns_unit() {}

fn main() {
    let _ = sync_fn("1");
    let _ = futures_lite(async_fn("2"));
    let _ = every_key(1);
    let _ = default_name();
    let _ = non_result(1);
    let _ = futures_lite(async_non_result(1));
    returns_unit();
}

fn futures_lite<F: std::future::Future>(f: F) -> F {
    f
}
