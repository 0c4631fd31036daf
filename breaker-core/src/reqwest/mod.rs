//! A [`reqwest_middleware::Middleware`] that guards an HTTP client with
//! circuit breakers (feature `reqwest`).
//!
//! A reqwest client reports a `503` as `Ok(response)`: a breaker around the
//! call alone would count every overloaded answer as a success. The middleware
//! classifies what the client got: a connection error, a timeout, a `5xx` or
//! a `429` is a failure; any other status is a success; a classifier closure
//! decides otherwise. One breaker per host by default (a keyed breaker,
//! `payments[host=api.example:443]`, bounded as keyed breakers are), so that
//! one failing host does not cut the client off from the others; or one
//! breaker for every request.
//!
//! A rejected request is not sent: it fails with a
//! [`reqwest_middleware::Error::Middleware`] whose error is the breaker's
//! [`Error`](crate::Error) (its name, state and `retry_after`):
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use breaker_core::reqwest::BreakerMiddleware;
//!
//! let breakers = BreakerMiddleware::per_host("upstream")
//!     .config("fail_max = 5, reset = 30s".parse()?)
//!     .build()?
//!     .honor_retry_after(Duration::from_secs(60));
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(breakers)
//!     .build();
//! match client.get("http://api.example/quote").send().await {
//!     Err(reqwest_middleware::Error::Middleware(e)) => {
//!         if let Some(rejected) = e.downcast_ref::<breaker_core::Error>() {
//!             println!("not sent: {rejected}; retry in {:?}", rejected.retry_after());
//!         }
//!     }
//!     other => println!("{:?}", other.map(|r| r.status())),
//! }
//! # Ok(()) }
//! ```
//!
//! A request whose future is dropped before the response (a caller's own
//! timeout, a cancelled task) is recorded as cancelled: neither a success nor
//! a failure. With [`honor_retry_after`](BreakerMiddleware::honor_retry_after),
//! a `503` or `429` that carries `Retry-After` keeps that host's breaker open
//! for as long as the dependency asked (capped), with
//! [`Breaker::trip_for`].

mod retry_after;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{Extensions, StatusCode};
use reqwest::{Request, Response, Url};
use reqwest_middleware::{Middleware, Next};

use crate::keyed::KeyedBreaker;
use crate::{Breaker, Config, ConfigError, Registry};

/// Decides whether what the client got is a failure of the dependency.
type Classifier = dyn Fn(&reqwest_middleware::Result<Response>) -> bool + Send + Sync;

/// Guards a reqwest client: one breaker per host, or one for every request.
/// Attach it with `reqwest_middleware::ClientBuilder::with`.
#[derive(Clone)]
pub struct BreakerMiddleware {
    target: Target,
    classify: Arc<Classifier>,
    retry_after_cap: Option<Duration>,
}

#[derive(Clone)]
enum Target {
    PerHost(Arc<KeyedBreaker<String>>),
    One(Breaker),
}

/// Settings of a per-host [`BreakerMiddleware`].
#[derive(Debug)]
pub struct PerHostBuilder {
    name: String,
    registry: &'static Registry,
    config: Option<Config>,
    max_keys: Option<usize>,
}

impl PerHostBuilder {
    /// The registry the hosts' breakers live in (default: the global
    /// [`registry()`](crate::registry)).
    pub fn registry(mut self, registry: &'static Registry) -> Self {
        self.registry = registry;
        self
    }

    /// Every host's breaker's configuration (default: [`Config::default`]).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// The most hosts kept at once (see [`KeyedBreaker`]; the default is the
    /// keyed breakers').
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = Some(max_keys);
        self
    }

    /// The middleware; `Err` for settings the keyed breaker refuses.
    pub fn build(self) -> Result<BreakerMiddleware, ConfigError> {
        let mut keyed = KeyedBreaker::builder(self.name)
            .label("host")
            .registry(self.registry);
        if let Some(config) = self.config {
            keyed = keyed.config(config);
        }
        if let Some(max_keys) = self.max_keys {
            keyed = keyed.max_keys(max_keys);
        }
        Ok(BreakerMiddleware::with_target(Target::PerHost(Arc::new(
            keyed.build()?,
        ))))
    }
}

impl BreakerMiddleware {
    /// One breaker per host (`host:port`, the port the scheme's when not
    /// given): a keyed breaker named `name`, whose hosts' breakers are named
    /// `name[host=api.example:443]`.
    pub fn per_host(name: impl Into<String>) -> PerHostBuilder {
        PerHostBuilder {
            name: name.into(),
            registry: crate::registry(),
            config: None,
            max_keys: None,
        }
    }

    /// One breaker for every request of the client.
    pub fn one(breaker: Breaker) -> BreakerMiddleware {
        BreakerMiddleware::with_target(Target::One(breaker))
    }

    fn with_target(target: Target) -> BreakerMiddleware {
        BreakerMiddleware {
            target,
            classify: Arc::new(is_failure),
            retry_after_cap: None,
        }
    }

    /// Decides what a failure is, in place of [`is_failure`]: `classify`
    /// sees what the client got (a response of any status, or an error) and
    /// answers whether the dependency failed.
    pub fn classify(
        mut self,
        classify: impl Fn(&reqwest_middleware::Result<Response>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.classify = Arc::new(classify);
        self
    }

    /// Honours a dependency's own `Retry-After` (seconds or a date) on a
    /// `503` or `429`: that host's breaker opens for as long as it asked, at
    /// most `cap` (a dependency that says "in a day" is not believed). Off
    /// by default: the breaker's own `reset` decides.
    pub fn honor_retry_after(mut self, cap: Duration) -> Self {
        self.retry_after_cap = Some(cap);
        self
    }

    /// The breaker a request to `url` goes through (created for a host on
    /// its first request).
    pub fn breaker_for(&self, url: &Url) -> Breaker {
        match &self.target {
            Target::One(breaker) => breaker.clone(),
            Target::PerHost(keyed) => keyed.get(&host_of(url)),
        }
    }

    /// The per-host keyed breaker (`None` for [`one`](Self::one)): its
    /// hosts, their breakers, `peek` and `remove`.
    pub fn hosts(&self) -> Option<&KeyedBreaker<String>> {
        match &self.target {
            Target::PerHost(keyed) => Some(keyed),
            Target::One(_) => None,
        }
    }
}

impl fmt::Debug for BreakerMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.target {
            Target::PerHost(keyed) => format!("per host: {}", keyed.name()),
            Target::One(breaker) => format!("one: {}", breaker.name()),
        };
        f.debug_struct("BreakerMiddleware")
            .field("target", &target)
            .field("retry_after_cap", &self.retry_after_cap)
            .finish_non_exhaustive()
    }
}

/// `host:port` of a URL: the key of its host's breaker.
fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// The default classification: an error (connection refused or reset, a
/// timeout, a body that broke off, an error of an inner middleware), a `5xx`
/// or a `429 Too Many Requests` is a failure; every other response is a
/// success (a `404` is the caller's mistake, not the dependency's).
pub fn is_failure(result: &reqwest_middleware::Result<Response>) -> bool {
    match result {
        Ok(response) => {
            let status = response.status();
            status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
        }
        Err(_) => true,
    }
}

/// Why a failure opened the breaker, for its open reason.
fn describe(result: &reqwest_middleware::Result<Response>) -> String {
    match result {
        Ok(response) => format!("HTTP {}", response.status()),
        Err(error) => error.to_string(),
    }
}

#[async_trait::async_trait]
impl Middleware for BreakerMiddleware {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let breaker = self.breaker_for(request.url());
        // Dropped with this future before the response: recorded as cancelled.
        let permit = breaker
            .acquire_owned()
            .map_err(reqwest_middleware::Error::middleware)?;
        let result = next.run(request, extensions).await;
        if (self.classify)(&result) {
            permit.failure_with(|| describe(&result));
        } else {
            permit.success();
        }
        if let (Some(cap), Ok(response)) = (self.retry_after_cap, &result) {
            let status = response.status();
            if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS
            {
                if let Some(wait) = retry_after::wait(response.headers(), SystemTime::now()) {
                    breaker.trip_for(wait.min(cap));
                }
            }
        }
        result
    }
}
