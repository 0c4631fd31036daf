//! Corpus: return types that are not a plain `Result<T, E>`: `impl Future`,
//! `impl Iterator`, boxed futures (the async-trait desugaring), `Option<T>`,
//! closures and `Cow`, each with the fallback they need.

use std::borrow::Cow;
use std::future::{Future, Ready, ready};
use std::pin::Pin;

use breaker_core::circuit_breaker;

#[derive(Debug)]
pub struct E(pub breaker_core::Error);

impl From<breaker_core::Error> for E {
    fn from(e: breaker_core::Error) -> Self {
        E(e)
    }
}

fn ready_zero(_id: u32) -> Ready<Result<u32, E>> {
    ready(Ok(0))
}

// A sync fn returning `impl Future` (tower `Service::call` returning a
// ready future), the fallback returning the same concrete future.
#[circuit_breaker(corpus_impl_future, fallback = ready_zero)]
pub fn call(id: u32) -> impl Future<Output = Result<u32, E>> + Send {
    ready(Ok(id))
}

pub struct Inbox {
    pub items: Vec<u32>,
}

impl Inbox {
    fn none(&self) -> std::slice::Iter<'_, u32> {
        self.items[..0].iter()
    }

    // `impl Iterator + '_` borrowing self, with a fallback of the same type.
    #[circuit_breaker(corpus_impl_iterator, fallback = Self::none)]
    pub fn iter(&self) -> impl Iterator<Item = &u32> + '_ {
        self.items.iter()
    }

    fn stale(&self, _index: usize) -> Option<&u32> {
        None
    }

    // `Option<&T>` with a fallback (`HashMap::get`-like lookup).
    #[circuit_breaker(corpus_option_ref, fallback = Self::stale)]
    pub fn get(&self, index: usize) -> Option<&u32> {
        self.items.get(index)
    }

    fn boxed_empty(&self) -> Pin<Box<dyn Future<Output = Result<usize, E>> + Send + '_>> {
        Box::pin(async { Ok(0) })
    }

    // The `#[async_trait]` desugaring: `Pin<Box<dyn Future + Send + '_>>`.
    #[circuit_breaker(corpus_boxed_future, fallback = Self::boxed_empty)]
    pub fn len_later(&self) -> Pin<Box<dyn Future<Output = Result<usize, E>> + Send + '_>> {
        Box::pin(async move { Ok(self.items.len()) })
    }
}

async fn default_limit(_user: &str) -> Option<u32> {
    Some(10)
}

// `async fn -> Option<T>` with an async fallback (feature flag lookups).
#[circuit_breaker(corpus_option_async, fallback = default_limit)]
pub async fn rate_limit(user: &str) -> Option<u32> {
    (!user.is_empty()).then_some(100)
}

// A closure built from remote config: `Result<impl Fn(u32) -> u32, E>`.
#[circuit_breaker(corpus_returns_closure)]
pub fn scaler(factor: u32) -> Result<impl Fn(u32) -> u32 + Send + Sync, E> {
    Ok(move |x| x * factor)
}

fn identity(_factor: u32) -> Box<dyn Fn(u32) -> u32 + Send> {
    Box::new(|x| x)
}

// A boxed closure with a fallback.
#[circuit_breaker(corpus_returns_boxed_closure, fallback = identity)]
pub fn boxed_scaler(factor: u32) -> Box<dyn Fn(u32) -> u32 + Send> {
    Box::new(move |x| x * factor)
}

// `Cow<'_, str>` (normalisation that usually borrows).
#[circuit_breaker(corpus_cow)]
pub fn normalize(input: &str) -> Result<Cow<'_, str>, E> {
    if input.contains(' ') {
        Ok(Cow::Owned(input.replace(' ', "_")))
    } else {
        Ok(Cow::Borrowed(input))
    }
}

async fn empty_stream(_n: u32) -> std::vec::IntoIter<u32> {
    Vec::new().into_iter()
}

// `async fn -> impl Iterator` with an async fallback of the same concrete type.
#[circuit_breaker(corpus_async_impl_iterator, fallback = empty_stream)]
pub async fn page(n: u32) -> impl Iterator<Item = u32> {
    (0..n).collect::<Vec<_>>().into_iter()
}

fn main() {
    drop(call(1));
    let inbox = Inbox { items: vec![1] };
    let _ = inbox.iter().count();
    let _ = inbox.get(0);
    drop(inbox.len_later());
    drop(rate_limit("u"));
    let _ = scaler(2).map(|f| f(3));
    let _ = boxed_scaler(2)(3);
    let _ = normalize("a b");
    drop(page(3));
}
