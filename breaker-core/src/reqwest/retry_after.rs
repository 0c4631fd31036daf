//! A dependency's own `Retry-After` (RFC 9110 §10.2.3): whole seconds, or an
//! HTTP date.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use http::header::RETRY_AFTER;

/// How long `headers` ask the caller to wait, from `now`; `None` when there is
/// no `Retry-After`, it does not parse, or its date has passed.
pub(super) fn wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is a very long wait, not an error.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    at.duration_since(now).ok().filter(|d| !d.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn seconds_and_dates_are_read_and_the_rest_is_not() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(wait(&headers("120"), now), Some(Duration::from_secs(120)));
        assert_eq!(wait(&headers(" 5 "), now), Some(Duration::from_secs(5)));
        assert_eq!(
            wait(&headers("Sun, 06 Nov 1994 08:50:37 GMT"), now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            wait(&headers("Sun, 06 Nov 1994 08:49:00 GMT"), now),
            None,
            "past"
        );
        assert_eq!(wait(&headers("-5"), now), None);
        assert_eq!(wait(&headers("soon"), now), None);
        assert_eq!(wait(&headers(""), now), None);
        assert_eq!(wait(&HeaderMap::new(), now), None);
        assert_eq!(
            wait(&headers("99999999999999999999999"), now),
            Some(Duration::from_secs(u64::MAX))
        );
    }
}
