//! What a guarded service answers when its breaker rejects a call.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// Turns a rejection into the service's answer, and the inner service's
/// errors into the guarded service's error type.
///
/// Implemented by [`AsError`] (the rejection becomes
/// [`ServiceError::Rejected`]), [`ServiceUnavailable`] (an HTTP 503 response),
/// and by every closure `Fn(breaker_core::Error) -> T`, whose answer is a
/// response of the inner service's type:
///
/// ```
/// use breaker_core::tower::Reject;
///
/// let cached = |_rejection: breaker_core::Error| "cached quote".to_owned();
/// let answer: Result<String, std::io::Error> =
///     Reject::<String, std::io::Error>::rejected(&cached, rejection());
/// assert_eq!(answer.unwrap(), "cached quote");
/// # fn rejection() -> breaker_core::Error {
/// #     let b = breaker_core::Breaker::new("q", breaker_core::Config::default());
/// #     b.force_open();
/// #     b.acquire().unwrap_err()
/// # }
/// ```
pub trait Reject<T, E> {
    /// The guarded service's error type.
    type Error;

    /// The answer to a call the breaker rejected.
    fn rejected(&self, rejection: crate::Error) -> Result<T, Self::Error>;

    /// An error of the inner service, as the guarded service's error.
    fn inner(&self, error: E) -> Self::Error;
}

impl<F, T, E> Reject<T, E> for F
where
    F: Fn(crate::Error) -> T,
{
    type Error = E;

    fn rejected(&self, rejection: crate::Error) -> Result<T, E> {
        Ok(self(rejection))
    }

    fn inner(&self, error: E) -> E {
        error
    }
}

/// A rejection is an error: the guarded service's error is
/// [`ServiceError`], either the breaker's [`Error`](crate::Error) or the inner
/// service's. The default of [`BreakerLayer::new`](super::BreakerLayer::new).
#[derive(Clone, Copy, Debug, Default)]
pub struct AsError;

impl<T, E> Reject<T, E> for AsError {
    type Error = ServiceError<E>;

    #[inline]
    fn rejected(&self, rejection: crate::Error) -> Result<T, ServiceError<E>> {
        Err(ServiceError::Rejected(rejection))
    }

    #[inline]
    fn inner(&self, error: E) -> ServiceError<E> {
        ServiceError::Inner(error)
    }
}

/// The error of a service guarded with [`AsError`].
#[derive(Debug)]
pub enum ServiceError<E> {
    /// The breaker rejected the call: the inner service was not called.
    Rejected(crate::Error),
    /// The inner service failed (the breaker recorded it as its classifier said).
    Inner(E),
}

impl<E> ServiceError<E> {
    /// The rejection, if the breaker rejected the call.
    pub fn rejection(&self) -> Option<&crate::Error> {
        match self {
            ServiceError::Rejected(rejection) => Some(rejection),
            ServiceError::Inner(_) => None,
        }
    }

    /// The inner service's error, if it failed.
    pub fn into_inner(self) -> Option<E> {
        match self {
            ServiceError::Inner(error) => Some(error),
            ServiceError::Rejected(_) => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for ServiceError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::Rejected(rejection) => rejection.fmt(f),
            ServiceError::Inner(error) => error.fmt(f),
        }
    }
}

impl<E: StdError + 'static> StdError for ServiceError<E> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            ServiceError::Rejected(rejection) => Some(rejection),
            ServiceError::Inner(error) => Some(error),
        }
    }
}

/// For HTTP services: a rejection is a `503 Service Unavailable` response
/// with an empty body and, when the breaker knows when it will let a trial
/// through (Open), a `Retry-After` header in whole seconds, rounded up. The
/// inner service's errors pass through unchanged. The rejection of
/// [`BreakerLayer::http`](super::BreakerLayer::http).
#[derive(Clone, Copy, Debug, Default)]
pub struct ServiceUnavailable;

impl<B: Default, E> Reject<http::Response<B>, E> for ServiceUnavailable {
    type Error = E;

    fn rejected(&self, rejection: crate::Error) -> Result<http::Response<B>, E> {
        let mut response = http::Response::new(B::default());
        *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
        if let Some(after) = rejection.retry_after() {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, retry_after_seconds(after).into());
        }
        Ok(response)
    }

    #[inline]
    fn inner(&self, error: E) -> E {
        error
    }
}

/// `Retry-After` counts whole seconds; rounding down would send clients back
/// before the breaker lets a trial through.
pub(crate) fn retry_after_seconds(after: Duration) -> u64 {
    after.as_secs() + u64::from(after.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Breaker, Config, clock::ManualClock};

    fn rejection_after(open_for: Duration, elapsed: Duration) -> crate::Error {
        let clock = ManualClock::new();
        let config = Config::builder().reset(open_for).build().unwrap();
        let breaker = Breaker::with_clock("upstream", config, clock.clone());
        breaker.trip();
        clock.advance(elapsed);
        breaker.acquire().unwrap_err()
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::from_secs(30)), 30);
        assert_eq!(retry_after_seconds(Duration::from_millis(29_001)), 30);
        assert_eq!(retry_after_seconds(Duration::from_nanos(1)), 1);
    }

    #[test]
    fn an_open_breaker_answers_503_with_retry_after() {
        let rejection = rejection_after(Duration::from_secs(30), Duration::from_millis(500));
        let response: http::Response<String> =
            Reject::<_, std::io::Error>::rejected(&ServiceUnavailable, rejection).unwrap();
        assert_eq!(response.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "30");
    }

    #[test]
    fn a_forced_open_breaker_answers_503_without_retry_after() {
        let breaker = Breaker::new("upstream", Config::default());
        breaker.force_open();
        let rejection = breaker.acquire().unwrap_err();
        let response: http::Response<String> =
            Reject::<_, std::io::Error>::rejected(&ServiceUnavailable, rejection).unwrap();
        assert_eq!(response.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().get(http::header::RETRY_AFTER).is_none());
    }

    #[test]
    fn as_error_wraps_the_rejection_and_the_inner_error() {
        let rejection = rejection_after(Duration::from_secs(1), Duration::ZERO);
        let error = Reject::<(), std::io::Error>::rejected(&AsError, rejection).unwrap_err();
        assert!(error.rejection().unwrap().is_rejected());
        let inner = Reject::<(), _>::inner(&AsError, std::io::Error::other("down"));
        assert_eq!(inner.to_string(), "down");
        assert!(inner.into_inner().is_some());
    }
}
