//! A tower layer for gRPC services, tonic's clients and servers among them
//! (feature `grpc`).
//!
//! A gRPC call's outcome is not in its HTTP status (always 200) but in
//! `grpc-status`, which comes in the response's headers when the call failed
//! before sending anything (a "trailers-only" response) and otherwise in the
//! trailers, after the last message. [`GrpcLayer`] reads it where it comes:
//! from the headers at once, or from the trailers when the body ends, so a
//! server-streaming call is recorded when its stream ends. A body that ends
//! without a status failed; a stream the client drops before its end is a
//! cancelled call (neither success nor failure). `UNAVAILABLE`,
//! `DEADLINE_EXCEEDED`, `RESOURCE_EXHAUSTED`, `INTERNAL` and `UNKNOWN` are
//! failures by default, every other status a success;
//! [`failure_codes`](GrpcLayer::failure_codes) says otherwise.
//!
//! A rejected call is not sent: it is answered `UNAVAILABLE` (which gRPC
//! clients retry) with the breaker's name and `retry_after` in
//! `grpc-message`, and `grpc-retry-pushback-ms` set to `retry_after`.
//!
//! On a tonic client, around its channel:
//!
//! ```no_run
//! # async fn connect() -> Result<(), Box<dyn std::error::Error>> {
//! use breaker_core::grpc::GrpcLayer;
//! use breaker_core::{Config, registry};
//!
//! let channel = tonic::transport::Endpoint::from_static("http://[::1]:50051").connect().await?;
//! let guarded = tower::ServiceBuilder::new()
//!     .layer(GrpcLayer::new(registry().get_or_create("greeter", Config::default)))
//!     .service(channel);
//! // let client = GreeterClient::new(guarded);
//! # let _ = guarded; Ok(()) }
//! ```
//!
//! On a tonic server, `Server::builder().layer(GrpcLayer::new(..))` guards
//! every service it serves: an open breaker answers `UNAVAILABLE` without
//! running the handler.

mod body;
mod future;
mod status;

use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

pub use body::GrpcBody;
pub use future::GrpcFuture;
use status::{DEFAULT_FAILURES, Failures};

use crate::Breaker;

/// Guards a gRPC service with a breaker, reading each call's `grpc-status`.
#[derive(Clone, Debug)]
pub struct GrpcLayer {
    breaker: Breaker,
    failures: Failures,
}

impl GrpcLayer {
    /// A layer through `breaker`, with the default failures (`UNKNOWN`,
    /// `DEADLINE_EXCEEDED`, `RESOURCE_EXHAUSTED`, `INTERNAL`, `UNAVAILABLE`).
    pub fn new(breaker: Breaker) -> GrpcLayer {
        GrpcLayer {
            breaker,
            failures: Failures::of(&DEFAULT_FAILURES),
        }
    }

    /// The status codes that count as failures, in place of the default
    /// (numbers as gRPC defines them: `14` is `UNAVAILABLE`). A code outside
    /// 0 to 16 in a response is always a failure.
    pub fn failure_codes(mut self, codes: &[i32]) -> GrpcLayer {
        self.failures = Failures::of(codes);
        self
    }

    /// The breaker.
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }
}

impl<S> Layer<S> for GrpcLayer {
    type Service = GrpcService<S>;

    fn layer(&self, inner: S) -> GrpcService<S> {
        GrpcService {
            inner,
            breaker: self.breaker.clone(),
            failures: self.failures,
        }
    }
}

/// A gRPC service guarded by a breaker (see [`GrpcLayer`]).
#[derive(Clone, Debug)]
pub struct GrpcService<S> {
    inner: S,
    breaker: Breaker,
    failures: Failures,
}

impl<S> GrpcService<S> {
    /// The breaker.
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// The guarded service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for GrpcService<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    S::Error: std::fmt::Display,
{
    type Response = Response<GrpcBody<ResB>>;
    type Error = S::Error;
    type Future = GrpcFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqB>) -> Self::Future {
        match self.breaker.acquire_owned() {
            Ok(permit) => GrpcFuture::admitted(self.inner.call(request), permit, self.failures),
            Err(rejection) => GrpcFuture::rejected(rejection),
        }
    }
}
