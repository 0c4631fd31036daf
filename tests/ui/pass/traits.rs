//! Trait impls, including native `async fn` in traits, and default bodies.

use breaker_core::circuit_breaker;

#[derive(Debug)]
pub struct E(breaker_core::Error);

impl From<breaker_core::Error> for E {
    fn from(e: breaker_core::Error) -> Self {
        E(e)
    }
}

trait Store {
    fn get(&self, key: u32) -> Result<u32, E>;
    async fn fetch(&self, key: u32) -> Result<u32, E>;

    #[circuit_breaker(store_default)]
    fn get_twice(&self, key: u32) -> Result<u32, E> {
        Ok(self.get(key)? + self.get(key)?)
    }
}

pub struct Memory;

impl Store for Memory {
    #[circuit_breaker(store)]
    fn get(&self, key: u32) -> Result<u32, E> {
        Ok(key)
    }

    #[circuit_breaker(store_async, fail_max = 2)]
    async fn fetch(&self, key: u32) -> Result<u32, E> {
        let value = self.get(key)?;
        Ok(value)
    }
}

impl std::fmt::Display for Memory {
    #[circuit_breaker(display_fmt, fallback = fmt_fallback)]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("memory")
    }
}

fn fmt_fallback(_: &Memory, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str("memory (breaker open)")
}

fn main() {
    let _ = Memory.get_twice(1);
    drop(Memory.fetch(1));
    let _ = Memory.to_string();
}
