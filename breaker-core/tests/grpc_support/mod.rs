//! A gRPC service for the tests and the `grpc` example, written by hand
//! (messages are raw bytes; no protoc, no generated code): `test.Echo` with
//! `Unary`, which echoes its request or answers the status it names, and
//! `Stream`, which sends `<n>` messages and ends with the status named after
//! them (`3 ok`, `2 internal`), or sends a message every 50 ms (`slow`).

#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BufMut};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

// ---------------------------------------------------------------------------
// Raw bytes as messages.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Default)]
pub struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let bytes = src.chunk().to_vec();
        src.advance(bytes.len());
        Ok(Some(bytes))
    }
}

// ---------------------------------------------------------------------------
// The server: `/test.Echo/Unary` and `/test.Echo/Stream`.
// ---------------------------------------------------------------------------

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What a request asks the server to answer.
fn status_named(name: &[u8]) -> Option<Status> {
    match name {
        b"unavailable" => Some(Status::unavailable("down")),
        b"internal" => Some(Status::internal("broken")),
        b"not_found" => Some(Status::not_found("no such thing")),
        b"deadline" => Some(Status::deadline_exceeded("too slow")),
        _ => None,
    }
}

struct Unary;

impl tower_service::Service<tonic::Request<Vec<u8>>> for Unary {
    type Response = tonic::Response<Vec<u8>>;
    type Error = Status;
    type Future = BoxFuture<Result<tonic::Response<Vec<u8>>, Status>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, request: tonic::Request<Vec<u8>>) -> Self::Future {
        let asked = request.into_inner();
        Box::pin(async move {
            match status_named(&asked) {
                Some(status) => Err(status),
                None => Ok(tonic::Response::new(asked)),
            }
        })
    }
}

type Items = Pin<Box<dyn futures_util::Stream<Item = Result<Vec<u8>, Status>> + Send>>;

/// `<n> <status>`: n messages, then the status in the trailers; `slow`:
/// a message every 50 ms, forever.
struct Streaming;

impl tower_service::Service<tonic::Request<Vec<u8>>> for Streaming {
    type Response = tonic::Response<Items>;
    type Error = Status;
    type Future = BoxFuture<Result<tonic::Response<Items>, Status>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, request: tonic::Request<Vec<u8>>) -> Self::Future {
        let asked = String::from_utf8(request.into_inner()).unwrap_or_default();
        Box::pin(async move {
            if asked == "slow" {
                let items: Items = Box::pin(futures_util::stream::unfold(0u32, |n| async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Some((Ok(n.to_string().into_bytes()), n + 1))
                }));
                return Ok(tonic::Response::new(items));
            }
            let (n, end) = asked.split_once(' ').unwrap_or(("0", "ok"));
            let n: u32 = n.parse().unwrap_or(0);
            let mut items: Vec<Result<Vec<u8>, Status>> =
                (0..n).map(|i| Ok(i.to_string().into_bytes())).collect();
            if let Some(status) = status_named(end.as_bytes()) {
                items.push(Err(status));
            }
            let items: Items = Box::pin(futures_util::stream::iter(items));
            Ok(tonic::Response::new(items))
        })
    }
}

#[derive(Clone)]
pub struct Echo;

impl tonic::server::NamedService for Echo {
    const NAME: &'static str = "test.Echo";
}

impl tower_service::Service<http::Request<tonic::body::Body>> for Echo {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(Raw);
            Ok(match request.uri().path() {
                "/test.Echo/Unary" => grpc.unary(Unary, request).await,
                "/test.Echo/Stream" => grpc.server_streaming(Streaming, request).await,
                _ => Status::unimplemented("no such method").into_http(),
            })
        })
    }
}
