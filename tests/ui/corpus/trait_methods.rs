//! Corpus: trait methods with generics, lifetimes and associated types, as in
//! tower (`Service`), std (`FromStr`, `TryFrom`, `Iterator`, `io::Read`) and
//! serde (`Serialize`), each guarded in its impl.

use std::io;
use std::str::FromStr;
use std::task::{Context, Poll};

use breaker_core::circuit_breaker;

#[derive(Debug)]
pub struct E(pub breaker_core::Error);

impl From<breaker_core::Error> for E {
    fn from(e: breaker_core::Error) -> Self {
        E(e)
    }
}

// std `FromStr`: `Result<Self, Self::Err>` through an associated type.
pub struct Endpoint(pub String);

impl FromStr for Endpoint {
    type Err = E;

    #[circuit_breaker(corpus_from_str)]
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Endpoint(s.to_owned()))
    }
}

// std `TryFrom<T>` with a generic impl parameter.
pub struct Port(pub u16);

impl<'a> TryFrom<&'a str> for Port {
    type Error = E;

    #[circuit_breaker(corpus_try_from)]
    fn try_from(value: &'a str) -> Result<Self, Self::Error> {
        Ok(Port(value.len() as u16))
    }
}

// tower-style `Service<Request>`: `poll_ready` with a `Context<'_>`, guarded.
pub trait Service<Request> {
    type Response;
    type Error;
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>>;
    fn call(&mut self, req: Request) -> Result<Self::Response, Self::Error>;
}

pub struct Echo;

impl Echo {
    fn ready_anyway(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        Poll::Ready(Ok(()))
    }
}

impl<R: Into<String>> Service<R> for Echo {
    type Response = String;
    type Error = E;

    #[circuit_breaker(corpus_service_ready, fallback = Self::ready_anyway)]
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    #[circuit_breaker(corpus_service_call)]
    fn call(&mut self, req: R) -> Result<Self::Response, Self::Error> {
        Ok(req.into())
    }
}

// std `Iterator::next` over a paginated remote source, `Option<Self::Item>` with a fallback.
pub struct Pages {
    next: u32,
}

impl Pages {
    fn exhausted(&mut self) -> Option<Vec<u32>> {
        None
    }
}

impl Iterator for Pages {
    type Item = Vec<u32>;

    #[circuit_breaker(corpus_iterator_next, fallback = Self::exhausted)]
    fn next(&mut self) -> Option<Self::Item> {
        self.next += 1;
        (self.next < 3).then(|| vec![self.next])
    }
}

// std `io::Read` for a remote stream: `io::Result<usize>` with a fallback.
pub struct Remote;

impl Remote {
    fn would_block(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

impl io::Read for Remote {
    #[circuit_breaker(corpus_io_read, fallback = Self::would_block)]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        buf.fill(0);
        Ok(buf.len())
    }
}

// serde-like `Serialize::serialize<S: Serializer>(&self, s) -> Result<S::Ok, S::Error>`,
// with a generic fallback (the serializer's error is not ours).
pub trait Serializer {
    type Ok;
    type Error;
    fn serialize_str(self, v: &str) -> Result<Self::Ok, Self::Error>;
}

pub trait Serialize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;
}

pub struct Secret(pub String);

impl Secret {
    fn redacted<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

impl Serialize for Secret {
    #[circuit_breaker(corpus_serialize, fallback = Self::redacted)]
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

// A trait generic over a lifetime, with a default body returning a borrow.
pub trait Lookup<'a> {
    fn raw(&self) -> &'a [String];

    #[circuit_breaker(corpus_lookup_default)]
    fn first_match(&self, prefix: &str) -> Result<Option<&'a str>, E> {
        Ok(self
            .raw()
            .iter()
            .find(|s| s.starts_with(prefix))
            .map(String::as_str))
    }
}

// A default body with a generic method and `where Self: Sized`.
pub trait Fetch {
    fn get_raw(&self, key: &str) -> Result<String, E>;

    #[circuit_breaker(corpus_fetch_parsed)]
    fn get_parsed<T>(&self, key: &str) -> Result<T, E>
    where
        Self: Sized,
        T: FromStr,
        T::Err: std::fmt::Debug,
    {
        let raw = self.get_raw(key)?;
        Ok(raw.parse::<T>().expect("parse"))
    }
}

impl Fetch for Remote {
    fn get_raw(&self, key: &str) -> Result<String, E> {
        Ok(key.to_owned())
    }
}

fn main() {
    let _ = "x".parse::<Endpoint>();
    let _ = Port::try_from("80");
    let mut echo = Echo;
    let _ = Service::<&str>::poll_ready(
        &mut echo,
        &mut Context::from_waker(std::task::Waker::noop()),
    );
    let _ = echo.call("hi");
    let _ = Pages { next: 0 }.count();
    let _ = io::Read::read(&mut Remote, &mut [0; 4]);
    let _: Result<u32, E> = Remote.get_parsed("1");
}
