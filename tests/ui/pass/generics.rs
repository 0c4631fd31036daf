//! Generics over types, lifetimes and consts, `where` clauses, pattern
//! parameters, `impl Trait` in argument and return position, `unsafe fn`.

use std::fmt::Display;

use breaker_core::circuit_breaker;

#[derive(Debug)]
pub struct E(breaker_core::Error);

impl From<breaker_core::Error> for E {
    fn from(e: breaker_core::Error) -> Self {
        E(e)
    }
}

#[circuit_breaker(generics)]
pub fn over_types<T: Clone, U>(t: &T, _u: U) -> Result<T, E> {
    Ok(t.clone())
}

#[circuit_breaker(generics)]
pub fn over_lifetimes<'a, 'b: 'a>(a: &'a str, _b: &'b str) -> Result<&'a str, E> {
    Ok(a)
}

#[circuit_breaker(generics)]
pub fn over_consts<const N: usize>(xs: [u8; N]) -> Result<usize, E> {
    Ok(xs.len() + N)
}

#[circuit_breaker(generics)]
pub fn with_where<T>(t: T) -> Result<String, E>
where
    T: Display + Send,
{
    Ok(t.to_string())
}

#[circuit_breaker(generics_async)]
pub async fn async_generic<'a, T, const N: usize>(xs: &'a [T; N]) -> Result<&'a T, E>
where
    T: Sync,
{
    xs.first()
        .ok_or_else(|| E(breaker_core::Error::timeout("x".into(), Default::default())))
}

pub struct Point {
    pub x: u32,
    pub y: u32,
}

#[circuit_breaker(patterns)]
pub fn patterns((a, b): (u32, u32), Point { x, y }: Point, _: u8) -> Result<u32, E> {
    Ok(a + b + x + y)
}

fn patterns_fallback(pair: (u32, u32), point: Point, _: u8) -> u32 {
    pair.0 + point.x
}

#[circuit_breaker(patterns_fallback, fallback = patterns_fallback)]
pub fn patterns_with_fallback((a, b): (u32, u32), Point { x, y }: Point, _: u8) -> u32 {
    a + b + x + y
}

async fn async_patterns_fallback(pair: (u32, u32), mut n: u32) -> u32 {
    n += pair.0;
    n
}

#[circuit_breaker(patterns_fallback_async, fallback = async_patterns_fallback)]
pub async fn async_patterns((a, b): (u32, u32), mut n: u32) -> u32 {
    n += a + b;
    n
}

#[circuit_breaker(impl_trait)]
pub fn impl_arg(x: impl Display, items: impl IntoIterator<Item = u32>) -> Result<String, E> {
    Ok(format!("{x}{}", items.into_iter().sum::<u32>()))
}

fn impl_fallback(n: u32) -> u32 {
    n
}

#[circuit_breaker(impl_trait, fallback = impl_fallback)]
pub fn impl_return(n: u32) -> impl Display {
    n + 1
}

#[circuit_breaker(impl_trait)]
pub fn result_of_impl(n: u32) -> Result<impl Display, E> {
    if n == 0 {
        return Ok(0);
    }
    Ok(n)
}

async fn iter_fallback(n: u32) -> std::ops::Range<u32> {
    0..n
}

#[circuit_breaker(impl_trait_async, fallback = iter_fallback)]
pub async fn async_impl_return(n: u32) -> impl Iterator<Item = u32> {
    1..n
}

/// # Safety
/// `p` must be valid for reads.
#[circuit_breaker(unsafe_fns)]
pub unsafe fn read(p: *const u32) -> Result<u32, E> {
    Ok(unsafe { *p })
}

/// # Safety
/// `p` must be valid for reads.
#[circuit_breaker(unsafe_fns)]
pub async unsafe fn read_async(p: *const u32) -> Result<u32, E> {
    Ok(unsafe { *p })
}

fn main() {
    let _ = over_types(&1u8, ());
    let _ = over_lifetimes("a", "b");
    let _ = over_consts([1, 2]);
    let _ = with_where(1);
    drop(async_generic(&[1, 2]));
    let _ = patterns((1, 2), Point { x: 1, y: 2 }, 0);
    let _ = patterns_with_fallback((1, 2), Point { x: 1, y: 2 }, 0);
    drop(async_patterns((1, 2), 3));
    let _ = impl_arg(1, [1, 2]);
    let _ = impl_return(1).to_string();
    let _ = result_of_impl(1);
    drop(async_impl_return(3));
    let x = 1;
    let _ = unsafe { read(&x) };
    drop(unsafe { read_async(&x) });
}
