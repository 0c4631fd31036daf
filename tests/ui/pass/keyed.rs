//! `key = ...` on every shape of function the attribute accepts: the key is
//! evaluated before the body, borrowing the arguments, which the body may
//! then consume.
#![deny(warnings)]

use std::fmt;
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
    pub host: String,
    pub tenant: TenantId,
}

impl Request {
    pub fn host(&self) -> &str {
        &self.host
    }
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct TenantId(pub u32);

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

#[circuit_breaker(key_method, key = req.host(), max_keys = 100, idle = 5m)]
fn consumes(req: Request) -> Result<String, E> {
    Ok(req.host)
}

#[circuit_breaker(key_field, key = req.tenant)]
fn by_field(req: &Request) -> Result<u32, E> {
    Ok(req.tenant.0)
}

#[circuit_breaker(key_labelled, key = tenant: req.tenant.0, idle = "1h")]
fn labelled(req: &Request) -> Result<u32, E> {
    Ok(req.tenant.0)
}

#[circuit_breaker(key_string_label, key = "tenant-id": &req.host[..1])]
fn string_label(req: &Request) -> Result<u32, E> {
    Ok(req.tenant.0)
}

#[circuit_breaker(key_call, key = tenant_of(&req))]
fn called(req: Request) -> Result<u32, E> {
    Ok(req.tenant.0)
}

fn tenant_of(req: &Request) -> TenantId {
    req.tenant
}

#[circuit_breaker(key_async, key = host, timeout = 1s)]
async fn async_fn(host: String, body: Vec<u8>) -> Result<usize, E> {
    drop(host);
    Ok(body.len())
}

#[circuit_breaker(key_async_ref, key = req.host())]
async fn async_ref(req: &Request) -> Result<usize, E> {
    Ok(req.host().len())
}

#[circuit_breaker(key_generic, key = key)]
fn generic<K: std::hash::Hash + Eq + fmt::Display + Send + Sync + Clone + 'static>(
    key: K,
) -> Result<K, E> {
    Ok(key)
}

#[circuit_breaker(key_retry, key = req.host(), retry = 3)]
fn retried(req: Request, sink: &mut Vec<String>) -> Result<(), E> {
    sink.push(req.host);
    Ok(())
}

#[circuit_breaker(key_fallback, key = req.host(), fallback = cached)]
fn with_fallback(req: &Request) -> String {
    req.host.clone()
}

fn cached(_req: &Request) -> String {
    String::new()
}

pub struct Client {
    pub tenant: Arc<str>,
}

impl Client {
    #[circuit_breaker(key_self, key = self.tenant.as_ref())]
    pub fn get(&self, path: &str) -> Result<String, E> {
        Ok(format!("{}{path}", self.tenant))
    }

    #[circuit_breaker(key_self_mut, key = region: *region)]
    pub fn set(&mut self, region: &u16) -> Result<(), E> {
        self.tenant = region.to_string().into();
        Ok(())
    }
}

fn main() {
    let req = Request {
        host: "a.example".into(),
        tenant: TenantId(1),
    };
    let _ = consumes(req.clone());
    let _ = by_field(&req);
    let _ = labelled(&req);
    let _ = string_label(&req);
    let _ = called(req.clone());
    let _ = async_fn("h".into(), vec![1]);
    let _ = async_ref(&req);
    let _ = generic(5u8);
    let _ = generic(String::from("x"));
    let _ = retried(req.clone(), &mut Vec::new());
    let _ = with_fallback(&req);
    let mut client = Client { tenant: "t".into() };
    let _ = client.get("/");
    let _ = client.set(&1);
}
