//! Which results of a guarded service count as failures.

use std::fmt::Display;

/// Decides whether a guarded call failed, for any tower service.
///
/// Implemented by [`AnyError`] (every `Err`), [`HttpFailures`] (transport
/// errors and 5xx responses), and by every closure
/// `Fn(&Result<T, E>) -> bool`:
///
/// ```
/// use breaker_core::tower::Classify;
///
/// // A timeout is the caller's problem, not the dependency's.
/// let classify = |result: &Result<u32, std::io::Error>| {
///     matches!(result, Err(e) if e.kind() != std::io::ErrorKind::TimedOut)
/// };
/// assert!(!classify.is_failure(&Ok(1)));
/// ```
pub trait Classify<T, E> {
    /// Whether this result is a failure of the dependency.
    fn is_failure(&self, result: &Result<T, E>) -> bool;

    /// A description of a failure, kept as the breaker's open reason when
    /// this failure opens it. Called only then.
    fn describe(&self, result: &Result<T, E>) -> String {
        let _ = result;
        String::new()
    }
}

impl<F, T, E> Classify<T, E> for F
where
    F: Fn(&Result<T, E>) -> bool,
{
    fn is_failure(&self, result: &Result<T, E>) -> bool {
        self(result)
    }
}

/// Every `Err` of the inner service is a failure; every response a success.
/// The default classifier of [`BreakerLayer::new`](super::BreakerLayer::new).
///
/// It needs the error to be `Display`, because the failure that opens the
/// breaker is kept as its open reason; classify other errors with a closure.
#[derive(Clone, Copy, Debug, Default)]
pub struct AnyError;

impl<T, E: Display> Classify<T, E> for AnyError {
    #[inline]
    fn is_failure(&self, result: &Result<T, E>) -> bool {
        result.is_err()
    }

    fn describe(&self, result: &Result<T, E>) -> String {
        match result {
            Err(error) => error.to_string(),
            Ok(_) => String::new(),
        }
    }
}

/// For HTTP services: a transport error (`Err`) or a response with a 5xx
/// status is a failure; 4xx responses are the client's mistakes and count as
/// successes. The classifier of [`BreakerLayer::http`](super::BreakerLayer::http).
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpFailures;

impl<B, E: Display> Classify<http::Response<B>, E> for HttpFailures {
    #[inline]
    fn is_failure(&self, result: &Result<http::Response<B>, E>) -> bool {
        match result {
            Ok(response) => response.status().is_server_error(),
            Err(_) => true,
        }
    }

    fn describe(&self, result: &Result<http::Response<B>, E>) -> String {
        match result {
            Ok(response) => format!("HTTP {}", response.status()),
            Err(error) => error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Response, StatusCode};

    fn response(status: u16) -> Result<Response<()>, std::io::Error> {
        let mut response = Response::new(());
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        Ok(response)
    }

    #[test]
    fn http_failures_are_server_errors_and_transport_errors() {
        assert!(!HttpFailures.is_failure(&response(200)));
        assert!(!HttpFailures.is_failure(&response(404)));
        assert!(!HttpFailures.is_failure(&response(429)));
        assert!(HttpFailures.is_failure(&response(500)));
        assert!(HttpFailures.is_failure(&response(503)));
        let refused = Err::<Response<()>, _>(std::io::Error::other("connection refused"));
        assert!(HttpFailures.is_failure(&refused));
        assert_eq!(HttpFailures.describe(&refused), "connection refused");
        assert_eq!(
            HttpFailures.describe(&response(502)),
            "HTTP 502 Bad Gateway"
        );
    }

    #[test]
    fn any_error_counts_every_err_and_describes_it() {
        let failed: Result<(), String> = Err("down".into());
        assert!(AnyError.is_failure(&failed));
        assert!(!AnyError.is_failure(&Ok::<(), String>(())));
        assert_eq!(AnyError.describe(&failed), "down");
    }
}
