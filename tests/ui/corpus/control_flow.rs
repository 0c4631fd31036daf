//! Corpus: bodies and signatures whose control flow or typing leans on the
//! function's return type: `?` on `Option` (config/env lookups),
//! `let .. else`, early returns from loops, `FnMut` retry helpers (backoff,
//! tryhard), turbofish fallbacks, inherent impls on `dyn Trait` (plugin
//! hosts), `async unsafe fn` with a fallback, and `#[cfg]` on the item.

use std::collections::HashMap;

use breaker_core::circuit_breaker;

#[derive(Debug)]
pub struct E(pub breaker_core::Error);

impl From<breaker_core::Error> for E {
    fn from(e: breaker_core::Error) -> Self {
        E(e)
    }
}

fn no_setting(_env: &HashMap<String, String>, _key: &str) -> Option<u16> {
    None
}

// `?` on `Option` in a sync body returning `Option<T>` (envy/figment lookups).
#[circuit_breaker(corpus_option_question_mark, fallback = no_setting)]
pub fn setting(env: &HashMap<String, String>, key: &str) -> Option<u16> {
    let raw = env.get(key)?;
    raw.parse().ok()
}

async fn no_header(_headers: &[(String, String)], _name: &str) -> Option<String> {
    None
}

// `?` on `Option` in an async body, with `let .. else`.
#[circuit_breaker(corpus_async_option_let_else, fallback = no_header)]
pub async fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    let Some((_, value)) = headers.iter().find(|(k, _)| k == name) else {
        return None;
    };
    let first = value.split(',').next()?;
    Some(first.trim().to_owned())
}

// An early `return` from inside a loop and a `break` with a value.
#[circuit_breaker(corpus_loop_return)]
pub fn find_free_port(taken: &[u16]) -> Result<u16, E> {
    let mut port = 8000;
    let found = loop {
        if port > 9000 {
            return Ok(0);
        }
        if !taken.contains(&port) {
            break port;
        }
        port += 1;
    };
    Ok(found)
}

// A retry helper taking an `FnMut` by value (backoff::retry style).
#[circuit_breaker(corpus_fnmut_param)]
pub fn retry_n<T>(times: u32, mut op: impl FnMut(u32) -> Option<T>) -> Result<Option<T>, E> {
    for attempt in 0..times {
        if let Some(value) = op(attempt) {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

fn fallback_default<T: Default>(_input: &str) -> T {
    T::default()
}

// A generic fallback named with a turbofish.
#[circuit_breaker(corpus_turbofish_fallback, fallback = fallback_default::<T>)]
pub fn decode<T: Default + std::str::FromStr>(input: &str) -> T {
    input.parse().unwrap_or_default()
}

// An inherent impl on a trait object (plugin hosts: `impl dyn Plugin`).
pub trait Plugin {
    fn name(&self) -> &str;
}

impl dyn Plugin + '_ {
    #[circuit_breaker(corpus_impl_dyn_trait)]
    pub fn describe(&self) -> Result<String, E> {
        Ok(format!("plugin {}", self.name()))
    }
}

pub struct Echo;

impl Plugin for Echo {
    fn name(&self) -> &str {
        "echo"
    }
}

async fn read_none(_ptr: *const u32) -> Option<u32> {
    None
}

/// # Safety
/// `ptr` must be valid for reads.
// `async unsafe fn` with an async fallback taking the same raw pointer.
#[circuit_breaker(corpus_async_unsafe_fallback, fallback = read_none)]
pub async unsafe fn read_volatile_async(ptr: *const u32) -> Option<u32> {
    Some(unsafe { ptr.read_volatile() })
}

// `#[cfg]`/`#[cfg_attr]` on the guarded item itself.
#[cfg(not(any()))]
#[circuit_breaker(corpus_cfg_item)]
#[cfg_attr(not(any()), doc = "Compiled in.")]
pub fn compiled_in() -> Result<(), E> {
    Ok(())
}

// A trait default constructor `fn new() -> Result<Self, E> where Self: Sized`.
pub trait Connect {
    fn url(&self) -> &str;

    #[circuit_breaker(corpus_trait_default_constructor)]
    fn connect_default() -> Result<Self, E>
    where
        Self: Sized + Default,
    {
        let conn = Self::default();
        let _ = conn.url();
        Ok(conn)
    }
}

#[derive(Default)]
pub struct Conn;

impl Connect for Conn {
    fn url(&self) -> &str {
        "x"
    }
}

// An async body borrowing from a `&mut` argument, with `timeout`.
#[circuit_breaker(corpus_async_mut_borrow_timeout, timeout = 100ms)]
pub async fn fill<'a>(buf: &'a mut Vec<u8>, n: usize) -> Result<&'a [u8], E> {
    buf.resize(n, 0);
    Ok(&buf[..])
}

fn main() {
    let env = HashMap::new();
    let _ = setting(&env, "PORT");
    drop(header(&[], "x"));
    let _ = find_free_port(&[8000]);
    let _ = retry_n(3, |n| (n == 2).then_some(n));
    let _: u32 = decode("1");
    let plugin: &dyn Plugin = &Echo;
    let _ = plugin.describe();
    let x = 1u32;
    drop(unsafe { read_volatile_async(&x) });
    let _ = compiled_in();
    let _ = Conn::connect_default();
    let mut buf = Vec::new();
    drop(fill(&mut buf, 2));
}
