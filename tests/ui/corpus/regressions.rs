//! Shapes that once drew warnings from the expansion.
#![deny(warnings, unsafe_op_in_unsafe_fn)]

use breaker_core::circuit_breaker;

#[derive(Debug)]
pub struct E;

impl From<breaker_core::Error> for E {
    fn from(_: breaker_core::Error) -> Self {
        E
    }
}

impl std::fmt::Display for E {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("E")
    }
}

/// A one-expression body (sync): no `unused_braces`.
#[circuit_breaker(corpus_regressions_one_line)]
pub fn one_line(x: u32) -> Result<u32, E> { Ok(x) }

/// A one-expression body (async): no `unused_braces`.
#[circuit_breaker(corpus_regressions_one_line_async)]
pub async fn one_line_async(x: u32) -> Result<u32, E> { Ok(x) }

/// # Safety
/// `p` must be valid for reads.
pub unsafe fn read_zero(p: *const u8) -> Result<u8, E> {
    let _ = p;
    Ok(0)
}

/// An `unsafe fn` with an `unsafe fn` fallback (like a raw-pointer FFI shim).
///
/// # Safety
/// `p` must be valid for reads.
#[circuit_breaker(corpus_regressions_unsafe, fallback = read_zero)]
pub unsafe fn read_byte(p: *const u8) -> Result<u8, E> {
    // SAFETY: the caller promises `p` is valid.
    Ok(unsafe { *p })
}

fn main() {}
