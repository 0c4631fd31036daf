//! A tower [`Layer`] that guards any service with a breaker (feature `tower`).
//!
//! [`BreakerLayer`] wraps a service so that each call first asks the breaker
//! for a permit. Admitted, the call runs and its result is recorded when the
//! response future resolves, as a [`Classify`] decides (a dropped future is a
//! cancelled call: it feeds no policy and gives a half-open trial back).
//! Rejected, the inner service is not called and a [`Reject`] makes the
//! answer. `poll_ready` is the inner service's.
//!
//! Two presets:
//! - [`BreakerLayer::new`]: any service. Every `Err` is a failure and a
//!   rejection is an error, [`ServiceError::Rejected`].
//! - [`BreakerLayer::http`]: HTTP services (axum, tonic, hyper clients).
//!   Transport errors and 5xx responses are failures, and a rejection is a
//!   `503 Service Unavailable` response with `Retry-After`, so the service's
//!   error type stays the inner one (axum needs `Infallible`).
//!
//! On an axum `Router`, put it with `route_layer`, not `layer`:
//! `Router::layer` also wraps the fallback, so with the breaker open a path
//! no route serves answers 503 instead of 404, and every stray 404 counts as
//! a call of the breaker. `route_layer` guards the routes added before it,
//! and nothing else.
//!
//! ```
//! use std::convert::Infallible;
//! use std::future::{Future, Ready, ready};
//! use std::pin::pin;
//! use std::task::{Context, Poll, Waker};
//! use std::time::Duration;
//! use breaker_core::tower::BreakerLayer;
//! use breaker_core::{Breaker, Config, clock::ManualClock};
//! use http::{Request, Response, StatusCode};
//! use tower_layer::Layer;
//! use tower_service::Service;
//!
//! /// A dependency that is down: every answer is a 502.
//! #[derive(Clone)]
//! struct Upstream;
//!
//! impl Service<Request<()>> for Upstream {
//!     type Response = Response<String>;
//!     type Error = Infallible;
//!     type Future = Ready<Result<Response<String>, Infallible>>;
//!
//!     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
//!         Poll::Ready(Ok(()))
//!     }
//!
//!     fn call(&mut self, _: Request<()>) -> Self::Future {
//!         let mut response = Response::new("upstream is down".to_owned());
//!         *response.status_mut() = StatusCode::BAD_GATEWAY;
//!         ready(Ok(response))
//!     }
//! }
//!
//! /// One call; everything here answers at its first poll.
//! fn get<S>(service: &mut S) -> Response<String>
//! where
//!     S: Service<Request<()>, Response = Response<String>, Error = Infallible>,
//! {
//!     let mut cx = Context::from_waker(Waker::noop());
//!     match pin!(service.call(Request::new(()))).poll(&mut cx) {
//!         Poll::Ready(Ok(response)) => response,
//!         _ => unreachable!("answered at once"),
//!     }
//! }
//!
//! let config = Config::builder().fail_max(2).reset(Duration::from_secs(30)).build()?;
//! let breaker = Breaker::with_clock("upstream", config, ManualClock::new());
//! let mut service = BreakerLayer::http(breaker).layer(Upstream);
//!
//! assert_eq!(get(&mut service).status(), 502);
//! assert_eq!(get(&mut service).status(), 502); // the breaker opens
//! let rejected = get(&mut service);
//! assert_eq!(rejected.status(), 503);
//! assert_eq!(rejected.headers()["retry-after"], "30");
//! # Ok::<(), breaker_core::ConfigError>(())
//! ```

mod classify;
mod future;
mod reject;

use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use crate::{Breaker, Config};

pub use classify::{AnyError, Classify, HttpFailures};
pub use future::ResponseFuture;
pub use reject::{AsError, Reject, ServiceError, ServiceUnavailable};

/// Guards the services it wraps with one breaker (see the [module](self)).
///
/// Every service made by one layer shares its breaker: cloning a guarded
/// service, as axum does per connection, keeps one breaker.
#[derive(Clone, Debug)]
pub struct BreakerLayer<C = AnyError, R = AsError> {
    breaker: Breaker,
    classify: C,
    reject: R,
}

impl BreakerLayer {
    /// Guards with `breaker`: every `Err` is a failure, a rejection is
    /// [`ServiceError::Rejected`].
    pub fn new(breaker: Breaker) -> BreakerLayer {
        BreakerLayer {
            breaker,
            classify: AnyError,
            reject: AsError,
        }
    }

    /// Guards with the breaker `name` of the global
    /// [`registry()`](crate::registry), created with the default
    /// configuration if nothing (an annotated function, `get_or_create`)
    /// created it before. Operators find it there by that name.
    pub fn named(name: &str) -> BreakerLayer {
        BreakerLayer::new(crate::registry().get_or_create(name, Config::default))
    }
}

impl BreakerLayer<HttpFailures, ServiceUnavailable> {
    /// Guards an HTTP service with `breaker`: transport errors and 5xx
    /// responses are failures ([`HttpFailures`]), and a rejection is a 503
    /// with `Retry-After` ([`ServiceUnavailable`]).
    pub fn http(breaker: Breaker) -> BreakerLayer<HttpFailures, ServiceUnavailable> {
        BreakerLayer {
            breaker,
            classify: HttpFailures,
            reject: ServiceUnavailable,
        }
    }
}

impl<C, R> BreakerLayer<C, R> {
    /// Decides failures with `classify` instead.
    pub fn classify<C2>(self, classify: C2) -> BreakerLayer<C2, R> {
        BreakerLayer {
            breaker: self.breaker,
            classify,
            reject: self.reject,
        }
    }

    /// Answers rejections with `reject` instead.
    pub fn on_reject<R2>(self, reject: R2) -> BreakerLayer<C, R2> {
        BreakerLayer {
            breaker: self.breaker,
            classify: self.classify,
            reject,
        }
    }

    /// The breaker guarding the services.
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }
}

impl<S, C: Clone, R: Clone> Layer<S> for BreakerLayer<C, R> {
    type Service = BreakerService<S, C, R>;

    fn layer(&self, inner: S) -> Self::Service {
        BreakerService {
            inner,
            breaker: self.breaker.clone(),
            classify: self.classify.clone(),
            reject: self.reject.clone(),
        }
    }
}

/// A service guarded by a breaker, made by [`BreakerLayer`].
#[derive(Clone, Debug)]
pub struct BreakerService<S, C = AnyError, R = AsError> {
    inner: S,
    breaker: Breaker,
    classify: C,
    reject: R,
}

impl<S, C, R> BreakerService<S, C, R> {
    /// The breaker guarding this service.
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// The guarded service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The guarded service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The guarded service, unguarded.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, Req, C, R> Service<Req> for BreakerService<S, C, R>
where
    S: Service<Req>,
    C: Classify<S::Response, S::Error> + Clone,
    R: Reject<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = R::Error;
    type Future = ResponseFuture<S::Future, C, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is the inner service's: an open breaker rejects in
        // `call` at no cost, so there is nothing to wait for here.
        self.inner
            .poll_ready(cx)
            .map_err(|error| self.reject.inner(error))
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        match self.breaker.acquire_owned() {
            Ok(permit) => ResponseFuture::admitted(
                self.inner.call(request),
                permit,
                self.classify.clone(),
                self.reject.clone(),
            ),
            Err(rejection) => ResponseFuture::rejected(rejection, self.reject.clone()),
        }
    }
}
