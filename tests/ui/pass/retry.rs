//! `retry` on every shape of function the attribute accepts: the body runs
//! once per attempt, by-value arguments are copied per attempt, references
//! are reused.
#![deny(warnings)]

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use breaker_core::circuit_breaker;

#[derive(Debug)]
pub struct E(breaker_core::Error);

impl From<breaker_core::Error> for E {
    fn from(e: breaker_core::Error) -> Self {
        E(e)
    }
}

#[derive(Clone, Debug)]
pub struct Request {
    pub path: String,
}

#[circuit_breaker(retry_generic, retry = 3)]
fn generic<T: Clone + Debug>(value: T, sink: &mut Vec<String>) -> Result<T, E> {
    sink.push(format!("{value:?}"));
    Ok(value)
}

#[circuit_breaker(retry_impl_arg, retry = 3)]
fn impl_arg(f: impl Fn() -> u32 + Clone) -> Result<u32, E> {
    Ok(f())
}

#[circuit_breaker(retry_borrow_return, retry = 3)]
fn lookup<'a>(map: &'a HashMap<String, String>, key: &str) -> Result<&'a str, E> {
    map.get(key).map(String::as_str).ok_or(E(breaker_core::Error::timeout(
        "x".into(),
        std::time::Duration::ZERO,
    )))
}

#[circuit_breaker(retry_question_mark, retry = 2)]
fn question_mark(text: &str) -> Result<u32, E> {
    let n: u32 = text.parse().map_err(|_| E(breaker_core::Error::timeout("p".into(), std::time::Duration::ZERO)))?;
    if n > 10 {
        return Ok(10);
    }
    Ok(n)
}

fn cached(_: Request) -> u32 {
    0
}

#[circuit_breaker(retry_fallback_value, retry = 3, fallback = cached)]
fn not_a_result(request: Request) -> u32 {
    request.path.len() as u32
}

pub struct Client {
    calls: u32,
    base: Arc<str>,
}

impl Client {
    #[circuit_breaker(retry_ref_self, retry = 3)]
    pub fn get(&self, request: Request) -> Result<String, E> {
        Ok(format!("{}{}", self.base, request.path))
    }

    #[circuit_breaker(retry_mut_self, retry = 3)]
    pub fn bump(&mut self) -> Result<u32, E> {
        self.calls += 1;
        Ok(self.calls)
    }

    #[circuit_breaker(retry_async_self, retry = 3, retry_backoff = "1ms..1s")]
    pub async fn fetch(&self, request: Request) -> Result<String, E> {
        Ok(format!("{}{}", self.base, request.path))
    }

    #[circuit_breaker(retry_async_mut_self, retry = 3)]
    pub async fn fetch_mut(&mut self, n: &mut u32) -> Result<u32, E> {
        *n += 1;
        self.calls += *n;
        Ok(self.calls)
    }
}

pub trait Service {
    fn call(&self, request: Request) -> impl std::future::Future<Output = Result<u32, E>> + Send;
}

impl Service for Client {
    #[circuit_breaker(retry_trait, retry = 2, timeout = 1s)]
    async fn call(&self, request: Request) -> Result<u32, E> {
        Ok(request.path.len() as u32)
    }
}

fn main() {
    let mut sink = Vec::new();
    let _ = generic(1u8, &mut sink);
    let _ = impl_arg(|| 1);
    let map = HashMap::new();
    let _ = lookup(&map, "k");
    let _ = question_mark("5");
    let _ = not_a_result(Request { path: "/".into() });
    let mut client = Client { calls: 0, base: "x".into() };
    let _ = client.get(Request { path: "/".into() });
    let _ = client.bump();
    let mut n = 0;
    drop(client.fetch_mut(&mut n));
    drop(client.fetch(Request { path: "/".into() }));
    drop(client.call(Request { path: "/".into() }));
}
