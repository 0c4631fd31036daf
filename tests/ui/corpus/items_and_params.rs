//! Corpus: where the guarded function sits and how its parameters are
//! written: `self: &Arc<Self>` (shared handles), parameter attributes
//! (wasm-bindgen/rocket-style `#[allow]` on parameters), an `async fn`
//! implementing a trait's `-> impl Future + Send` (the trait-variant / tower
//! pattern), items nested in function bodies and in `const _: () = { .. };`
//! blocks (derive-macro output).

use std::future::Future;
use std::sync::Arc;

use breaker_core::circuit_breaker;

#[derive(Debug)]
pub struct E(pub breaker_core::Error);

impl From<breaker_core::Error> for E {
    fn from(e: breaker_core::Error) -> Self {
        E(e)
    }
}

pub struct Handle {
    pub id: u32,
}

impl Handle {
    fn detached(self: &Arc<Self>) -> u32 {
        0
    }

    // `self: &Arc<Self>`: a method on a shared handle that may clone it.
    #[circuit_breaker(corpus_ref_arc_self, fallback = Self::detached)]
    pub fn spawn_child(self: &Arc<Self>) -> u32 {
        let child = Arc::clone(self);
        child.id + 1
    }
}

fn zero(_x: u32, _y: u32) -> u32 {
    0
}

// Attributes on parameters, with a fallback (the names are passed on).
#[circuit_breaker(corpus_param_attributes, fallback = zero)]
pub fn param_attributes(#[allow(unused_variables)] x: u32, #[allow(unused_mut)] mut y: u32) -> u32 {
    y += 1;
    y
}

// Attributes on parameters of an async function.
#[circuit_breaker(corpus_param_attributes_async)]
pub async fn param_attributes_async(#[allow(unused_variables)] x: u32) -> Result<(), E> {
    Ok(())
}

// A trait promising a `Send` future; the impl is a guarded `async fn`.
pub trait Service {
    fn call(&self, x: u32) -> impl Future<Output = Result<u32, E>> + Send;
}

pub struct Doubler;

impl Service for Doubler {
    #[circuit_breaker(corpus_impl_future_send_trait)]
    async fn call(&self, x: u32) -> Result<u32, E> {
        Ok(x * 2)
    }
}

// A guarded function nested in a generic function's body.
pub fn outer<T: Default>() -> T {
    #[circuit_breaker(corpus_nested_item)]
    fn inner() -> Result<u32, E> {
        Ok(1)
    }

    let _ = inner();
    T::default()
}

// A guarded function inside an anonymous `const` block.
const _: () = {
    #[circuit_breaker(corpus_const_block)]
    pub fn in_const_block() -> Result<u32, E> {
        Ok(1)
    }
};

fn main() {
    let _ = Arc::new(Handle { id: 1 }).spawn_child();
    let _ = param_attributes(1, 2);
    drop(param_attributes_async(1));
    drop(Doubler.call(1));
    let _: u8 = outer();
}
