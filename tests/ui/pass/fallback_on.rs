//! `fallback_on = failure` (and the explicit default, `fallback_on =
//! rejection`) on every shape of function it accepts: sync and async, keyed,
//! with `timeout`, `retry`, methods, pattern and `mut` parameters, `&mut`
//! arguments, generics, `impl Trait` arguments, `unsafe fn`, and a
//! non-`Result` return with a `timeout`.
#![deny(warnings)]

use std::fmt::Debug;

use breaker_core::circuit_breaker;

#[derive(Debug)]
pub struct E(breaker_core::Error);

impl From<breaker_core::Error> for E {
    fn from(e: breaker_core::Error) -> Self {
        E(e)
    }
}

fn cached(id: u64, name: String) -> Result<String, E> {
    Ok(format!("{id} {name}"))
}

#[circuit_breaker(fo_sync, fallback = cached, fallback_on = failure)]
fn sync(id: u64, mut name: String) -> Result<String, E> {
    name.push('!');
    Ok(format!("{id} {name}"))
}

#[circuit_breaker(fo_explicit_default, fallback = cached, fallback_on = rejection)]
fn explicit_default(id: u64, name: String) -> Result<String, E> {
    Ok(format!("{id} {name}"))
}

async fn cached_async(id: u64, name: &str) -> Result<String, E> {
    Ok(format!("{id} {name}"))
}

#[circuit_breaker(fo_async, timeout = 1s, fallback = cached_async, fallback_on = failure)]
async fn asynchronous(id: u64, name: &str) -> Result<String, E> {
    Ok(format!("{id} {name}"))
}

fn keyed_cached(host: &str, path: String) -> Result<String, E> {
    Ok(format!("{host}{path}"))
}

#[circuit_breaker(fo_keyed, key = host, fallback = keyed_cached, fallback_on = failure)]
fn keyed(host: &str, path: String) -> Result<String, E> {
    Ok(format!("{host}{path}"))
}

async fn keyed_cached_async(host: String, path: &str) -> Result<String, E> {
    Ok(format!("{host}{path}"))
}

#[circuit_breaker(fo_keyed_async, key = host, timeout = 1s, retry = 2, fallback = keyed_cached_async, fallback_on = failure)]
async fn keyed_async(host: String, path: &str) -> Result<String, E> {
    Ok(format!("{host}{path}"))
}

fn retried_cached(sink: &mut Vec<u32>, n: u32) -> Result<u32, E> {
    sink.push(n);
    Ok(n)
}

#[circuit_breaker(fo_retry, retry = 3, fallback = retried_cached, fallback_on = failure)]
fn retried(sink: &mut Vec<u32>, n: u32) -> Result<u32, E> {
    sink.push(n);
    Ok(n)
}

fn pair_cached((a, b): (u32, u32), [c, _]: [u32; 2]) -> Result<u32, E> {
    Ok(a + b + c)
}

#[circuit_breaker(fo_patterns, fallback = pair_cached, fallback_on = failure)]
fn pair((a, b): (u32, u32), [c, _]: [u32; 2]) -> Result<u32, E> {
    Ok(a + b + c)
}

fn generic_cached<T: Clone + Debug>(value: T, f: impl Fn() -> u32 + Clone) -> Result<String, E> {
    Ok(format!("{value:?} {}", f()))
}

#[circuit_breaker(fo_generic, fallback = generic_cached, fallback_on = failure)]
fn generic<T: Clone + Debug>(value: T, f: impl Fn() -> u32 + Clone) -> Result<String, E> {
    Ok(format!("{value:?} {}", f()))
}

/// # Safety
/// None needed; the attribute keeps `unsafe`.
unsafe fn unsafe_cached(n: u32) -> Result<u32, E> {
    Ok(n)
}

/// # Safety
/// None needed; the attribute keeps `unsafe`.
#[circuit_breaker(fo_unsafe, fallback = unsafe_cached, fallback_on = failure)]
unsafe fn unsafe_call(n: u32) -> Result<u32, E> {
    Ok(n)
}

async fn none(_n: u32) -> Option<u32> {
    None
}

#[circuit_breaker(fo_option, timeout = 1s, fallback = none, fallback_on = failure)]
async fn optional(n: u32) -> Option<u32> {
    Some(n)
}

pub struct Store {
    hits: u32,
}

impl Store {
    fn stale(&mut self, key: &str) -> Result<String, E> {
        self.hits += 1;
        Ok(key.to_owned())
    }

    async fn stale_async(&self, key: String) -> Result<String, E> {
        Ok(key)
    }

    #[circuit_breaker(fo_method, fallback = Self::stale, fallback_on = failure)]
    fn get(&mut self, key: &str) -> Result<String, E> {
        self.hits += 1;
        Ok(key.to_owned())
    }

    #[circuit_breaker(fo_method_async, fallback = Self::stale_async, fallback_on = failure)]
    async fn get_async(&self, key: String) -> Result<String, E> {
        Ok(key)
    }
}

fn main() {
    let _ = sync(1, "a".into());
    let _ = explicit_default(1, "a".into());
    let _ = asynchronous(1, "a");
    let _ = keyed("a", "/".into());
    let _ = keyed_async("a".into(), "/");
    let _ = retried(&mut Vec::new(), 1);
    let _ = pair((1, 2), [3, 4]);
    let _ = generic(1u8, || 2);
    let _ = unsafe { unsafe_call(1) };
    let _ = optional(1);
    let mut store = Store { hits: 0 };
    let _ = store.get("k");
    let _ = store.get_async("k".into());
    let _ = store.hits;
}
