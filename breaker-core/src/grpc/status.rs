//! gRPC statuses: reading `grpc-status`, which codes are failures, and the
//! answer to a rejected call.

use http::{HeaderMap, HeaderValue, Response};

use crate::OwnedPermit;

/// `UNAVAILABLE`: what a rejected call answers, and what clients retry on.
const UNAVAILABLE: i32 = 14;

/// The default failures: the dependency is down, too slow, out of resources,
/// broken, or said nothing intelligible.
pub(super) const DEFAULT_FAILURES: [i32; 5] = [
    2,  // UNKNOWN
    4,  // DEADLINE_EXCEEDED
    8,  // RESOURCE_EXHAUSTED
    13, // INTERNAL
    14, // UNAVAILABLE
];

/// The status codes (0 to 16) that count as failures, as a set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Failures(u32);

impl Failures {
    pub(super) fn of(codes: &[i32]) -> Failures {
        Failures(
            codes
                .iter()
                .filter(|c| (0..=16).contains(*c))
                .fold(0, |set, c| set | 1 << c),
        )
    }

    /// Whether `code` is a failure; a code outside the 17 gRPC defines is
    /// one (a peer that speaks something else).
    fn contains(self, code: i32) -> bool {
        !(0..=16).contains(&code) || self.0 & (1 << code) != 0
    }
}

/// The `grpc-status` in `headers`, if any (`None` too for a value that is
/// not a number: then it is no status).
pub(super) fn status_of(headers: &HeaderMap) -> Option<i32> {
    headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Records a call's outcome from its status; a call that ended without one
/// failed (gRPC's own rule: a missing status is `UNKNOWN`).
pub(super) fn record(permit: OwnedPermit, status: Option<i32>, failures: Failures) {
    match status {
        Some(code) if !failures.contains(code) => {
            permit.success();
        }
        Some(code) => {
            permit.failure_with(|| format!("gRPC status {code} ({})", name(code)));
        }
        None => {
            permit.failure_with(|| "the response ended without a grpc-status".to_owned());
        }
    }
}

fn name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "not a gRPC code",
    }
}

/// The answer to a rejected call: a trailers-only response (HTTP 200, the
/// status in the headers) with `UNAVAILABLE`, the breaker's message (its
/// name and, when Open, `retry_after`), and `grpc-retry-pushback-ms`, the
/// header gRPC's retry policy reads to wait before its next attempt.
pub(super) fn rejection<B>(error: &crate::Error, body: B) -> Response<B> {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", HeaderValue::from(UNAVAILABLE));
    if let Ok(message) = HeaderValue::from_str(&percent_encode(&error.to_string())) {
        headers.insert("grpc-message", message);
    }
    if let Some(after) = error.retry_after() {
        let ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
        headers.insert("grpc-retry-pushback-ms", HeaderValue::from(ms));
    }
    response
}

/// `grpc-message`'s encoding: printable ASCII but `%` as is, every other
/// byte of the UTF-8 as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_failures_and_codes_outside_grpc_fail() {
        let failures = Failures::of(&DEFAULT_FAILURES);
        for code in 0..=16 {
            assert_eq!(
                failures.contains(code),
                [2, 4, 8, 13, 14].contains(&code),
                "{code}"
            );
        }
        assert!(failures.contains(17) && failures.contains(-1));
        assert!(!Failures::of(&[]).contains(14));
    }

    #[test]
    fn a_status_is_read_from_the_headers_or_the_trailers() {
        let mut headers = HeaderMap::new();
        assert_eq!(status_of(&headers), None);
        headers.insert("grpc-status", HeaderValue::from_static("14"));
        assert_eq!(status_of(&headers), Some(14));
        headers.insert("grpc-status", HeaderValue::from_static("x"));
        assert_eq!(status_of(&headers), None);
    }

    #[test]
    fn messages_are_percent_encoded() {
        assert_eq!(percent_encode("open; retry in 30s"), "open; retry in 30s");
        assert_eq!(percent_encode("50% `é`\n"), "50%25 `%C3%A9`%0A");
    }
}
