//! Methods with every receiver, sync and async, in inherent impls.

use std::sync::Arc;

use breaker_core::circuit_breaker;

#[derive(Debug)]
pub struct E(breaker_core::Error);

impl From<breaker_core::Error> for E {
    fn from(e: breaker_core::Error) -> Self {
        E(e)
    }
}

pub struct Client {
    hits: u32,
    name: String,
}

impl Client {
    #[circuit_breaker(methods)]
    pub fn by_ref(&self) -> Result<&str, E> {
        Ok(&self.name)
    }

    #[circuit_breaker(methods)]
    pub fn by_mut(&mut self) -> Result<&mut u32, E> {
        self.hits += 1;
        Ok(&mut self.hits)
    }

    #[circuit_breaker(methods)]
    pub fn by_value(self) -> Result<String, E> {
        Ok(self.name)
    }

    #[circuit_breaker(methods)]
    pub fn by_arc(self: Arc<Self>) -> Result<usize, E> {
        Ok(Arc::strong_count(&self))
    }

    #[circuit_breaker(methods)]
    pub fn associated(hits: u32) -> Result<Self, E> {
        Ok(Client {
            hits,
            name: String::new(),
        })
    }

    #[circuit_breaker(methods_async, timeout = 5s)]
    pub async fn async_ref(&self) -> Result<&str, E> {
        Ok(&self.name)
    }

    #[circuit_breaker(methods_async)]
    pub async fn async_mut(&mut self, by: u32) -> Result<u32, E> {
        self.hits += by;
        Ok(self.hits)
    }

    #[circuit_breaker(methods_async)]
    pub async fn async_value(mut self) -> Result<Self, E> {
        self.hits = 0;
        Ok(self)
    }

    #[circuit_breaker(methods_async)]
    pub async fn async_arc(self: Arc<Self>) -> Result<u32, E> {
        Ok(self.hits)
    }

    fn cached(&self, key: u32) -> u32 {
        key + self.hits
    }

    #[circuit_breaker(methods_fallback, fallback = Self::cached)]
    pub fn with_fallback(&self, key: u32) -> u32 {
        key
    }

    async fn cached_async(&mut self, key: u32) -> u32 {
        key
    }

    #[circuit_breaker(methods_fallback_async, fallback = Self::cached_async)]
    pub async fn with_async_fallback(&mut self, key: u32) -> u32 {
        self.hits = key;
        key
    }
}

fn main() {
    let mut c = Client::associated(1).unwrap();
    let _ = c.by_ref();
    let _ = c.by_mut();
    let _ = c.with_fallback(1);
    drop(c.async_ref());
    drop(c.async_mut(1));
    drop(c.with_async_fallback(2));
    let _ = Arc::new(Client::associated(1).unwrap()).by_arc();
    drop(Arc::new(Client::associated(1).unwrap()).async_arc());
    drop(Client::associated(1).unwrap().async_value());
    let _ = c.by_value();
}
