//! Corpus: native `async fn` in traits (Rust 1.75+), as the traits of
//! storage and messaging crates now declare them (object_store, opendal,
//! async-graphql resolvers, trait-based repositories).

use std::collections::HashMap;
use std::sync::Arc;

use breaker_core::circuit_breaker;

#[derive(Debug)]
pub struct StoreError(pub String);

impl From<breaker_core::Error> for StoreError {
    fn from(e: breaker_core::Error) -> Self {
        StoreError(e.to_string())
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

trait ObjectStore {
    async fn get(&self, path: &str) -> Result<Vec<u8>, StoreError>;
    async fn put(&mut self, path: String, bytes: Vec<u8>) -> Result<(), StoreError>;
    async fn head<'a>(&'a self, path: &'a str) -> Result<&'a [u8], StoreError>;
    async fn list<P: AsRef<str> + Send>(&self, prefix: P) -> Result<Vec<String>, StoreError>;

    // An async default body, guarded in the trait.
    #[circuit_breaker(corpus_async_trait_default)]
    async fn exists(&self, path: &str) -> Result<bool, StoreError> {
        Ok(!self.get(path).await?.is_empty())
    }
}

pub struct Memory {
    objects: HashMap<String, Vec<u8>>,
}

impl ObjectStore for Memory {
    // `&self`, borrowed argument, owned result.
    #[circuit_breaker(corpus_async_trait_get, timeout = 5s)]
    async fn get(&self, path: &str) -> Result<Vec<u8>, StoreError> {
        self.objects
            .get(path)
            .cloned()
            .ok_or_else(|| StoreError(format!("{path} not found")))
    }

    // `&mut self`, owned arguments.
    #[circuit_breaker(corpus_async_trait_put)]
    async fn put(&mut self, path: String, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.objects.insert(path, bytes);
        Ok(())
    }

    // Explicit lifetimes tying the result to both `self` and an argument.
    #[circuit_breaker(corpus_async_trait_head)]
    async fn head<'a>(&'a self, path: &'a str) -> Result<&'a [u8], StoreError> {
        match self.objects.get(path) {
            Some(bytes) => Ok(bytes.as_slice()),
            None => Ok(path.as_bytes()),
        }
    }

    // A generic async method.
    #[circuit_breaker(corpus_async_trait_list, fail_max = 3)]
    async fn list<P: AsRef<str> + Send>(&self, prefix: P) -> Result<Vec<String>, StoreError> {
        Ok(self
            .objects
            .keys()
            .filter(|k| k.starts_with(prefix.as_ref()))
            .cloned()
            .collect())
    }
}

// A generic trait over a message type, with an async fallback (a dead-letter
// queue) in a generic impl (lapin/rdkafka-consumer style).
trait Handler<M> {
    async fn handle(&self, message: M) -> Option<u64>;
}

pub struct Consumer<S> {
    pub store: Arc<S>,
}

impl<S: Send + Sync> Consumer<S> {
    async fn dead_letter<M: std::fmt::Debug + Send>(&self, message: M) -> Option<u64> {
        let _ = format!("{message:?}");
        None
    }
}

impl<S: Send + Sync, M: std::fmt::Debug + Send> Handler<M> for Consumer<S> {
    #[circuit_breaker(corpus_async_trait_handler, fallback = Self::dead_letter)]
    async fn handle(&self, message: M) -> Option<u64> {
        let _ = format!("{message:?}");
        Some(1)
    }
}

// A trait whose async method returns an `impl Trait` in its `Result`.
trait Feed {
    async fn items(&self) -> Result<impl Iterator<Item = u32>, StoreError>;
}

impl Feed for Memory {
    #[circuit_breaker(corpus_async_trait_impl_result)]
    async fn items(&self) -> Result<impl Iterator<Item = u32>, StoreError> {
        Ok((0..self.objects.len() as u32).map(|x| x * 2))
    }
}

fn main() {
    let mut store = Memory {
        objects: HashMap::new(),
    };
    drop(store.get("a"));
    drop(store.head("a"));
    drop(store.list("a"));
    drop(store.exists("a"));
    drop(store.items());
    drop(store.put("a".into(), vec![1]));
    let consumer = Consumer {
        store: Arc::new(()),
    };
    drop(consumer.handle("m"));
}
