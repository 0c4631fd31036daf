//! What the admin router answers to requests it cannot serve: malformed
//! paths, names with odd characters, huge or malformed bodies and wrong
//! methods. Each is
//! the status `docs/admin-api.md` documents, with a JSON error body
//! (`{"error": .., "status": ..}`), and the router keeps serving after it.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use breaker_core::{Config, Registry, State};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

const TOKEN: &str = "odd";

/// Names an operator may well give breakers: spaces, quotes, slashes,
/// percent signs, markup, non-ASCII.
const ODD_NAMES: [&str; 7] = [
    "payments eu",
    "db \"main\"",
    "api/v1",
    "100%",
    "<script>alert(1)</script>",
    "zürich-☃",
    "a?b#c",
];

fn router() -> (Router, &'static Registry) {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    for name in ODD_NAMES {
        registry.get_or_create(name, Config::default);
    }
    (breaker_core::admin::router_for(registry, TOKEN), registry)
}

/// `name` as one path segment: every byte but the unreserved ones escaped.
fn segment(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn send(
    router: &Router,
    request: http::Request<Body>,
) -> (StatusCode, http::HeaderMap, Value) {
    let response = router.clone().oneshot(request).await.expect("an answer");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&body).unwrap_or_else(|_| {
        panic!(
            "{status}: not JSON: {:?}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        )
    });
    (status, headers, json)
}

fn request(method: Method, path: &str) -> http::request::Builder {
    http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::AUTHORIZATION, format!("Bearer {TOKEN}"))
}

/// Asserts a JSON error of `status` whose message mentions `says`.
fn assert_error(answer: &(StatusCode, http::HeaderMap, Value), status: StatusCode, says: &str) {
    let (got, headers, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert_eq!(headers[http::header::CONTENT_TYPE], "application/json");
    assert_eq!(body["status"], status.as_u16());
    let message = body["error"].as_str().expect("an error message");
    assert!(message.contains(says), "{message:?} does not say {says:?}");
}

#[tokio::test]
async fn names_with_odd_characters_are_found_by_their_escaped_segment() {
    let (router, registry) = router();
    for name in ODD_NAMES {
        let path = format!("/breakers/{}", segment(name));
        let (status, _, body) = send(
            &router,
            request(Method::GET, &path).body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body["name"], name);

        let trip = format!("{path}/trip");
        let (status, _, body) = send(
            &router,
            request(Method::POST, &trip).body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{trip}");
        assert_eq!(body["state"], "open");
        assert_eq!(registry.get(name).unwrap().state(), State::Open);

        let config = format!("{path}/config");
        let (status, _, body) = send(
            &router,
            request(Method::PATCH, &config)
                .body(Body::from("success = 3"))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{config}");
        assert_eq!(body["name"], name);
        assert_eq!(registry.get(name).unwrap().config().success(), 3);
    }
}

#[tokio::test]
async fn unknown_and_very_long_names_are_404_with_the_name_cut_short() {
    let (router, _) = router();
    let answer = send(
        &router,
        request(Method::GET, "/breakers/no%20such%22one")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_error(
        &answer,
        StatusCode::NOT_FOUND,
        "no breaker named `no such\"one`",
    );

    let long = "x".repeat(8 * 1024);
    let answer = send(
        &router,
        request(Method::GET, &format!("/breakers/{long}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "no breaker named `xxx");
    assert!(
        answer.2["error"].as_str().unwrap().len() < 400,
        "the message repeats the whole name"
    );
}

#[tokio::test]
async fn malformed_paths_are_400_or_404_never_a_panic() {
    let (router, _) = router();
    for (method, path, status, says) in [
        (
            Method::GET,
            "/breakers/%FF",
            StatusCode::BAD_REQUEST,
            "UTF-8",
        ),
        (
            Method::POST,
            "/breakers/%C3%28/trip",
            StatusCode::BAD_REQUEST,
            "UTF-8",
        ),
        (
            Method::GET,
            "/breakers/",
            StatusCode::NOT_FOUND,
            "no route GET /breakers/",
        ),
        (
            Method::POST,
            "/breakers//trip",
            StatusCode::NOT_FOUND,
            "no breaker named ``",
        ),
        (
            Method::GET,
            "/breakers/a/b/c",
            StatusCode::NOT_FOUND,
            "no route",
        ),
        (
            Method::GET,
            "/breakers/%2E%2E",
            StatusCode::NOT_FOUND,
            "no breaker named `..`",
        ),
        (Method::GET, "//breakers", StatusCode::NOT_FOUND, "no route"),
        (
            Method::GET,
            "/breakers/nul%00byte",
            StatusCode::NOT_FOUND,
            "no breaker named",
        ),
    ] {
        let answer = send(&router, request(method, path).body(Body::empty()).unwrap()).await;
        assert_error(&answer, status, says);
    }
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow() {
    let (router, _) = router();
    for (method, path, allowed) in [
        (Method::PUT, "/breakers", "GET"),
        (Method::DELETE, "/breakers/api%2Fv1", "GET"),
        (Method::GET, "/breakers/api%2Fv1/reset", "POST"),
        (Method::PATCH, "/breakers/api%2Fv1/reset", "POST"),
        (Method::POST, "/breakers/api%2Fv1/config", "PATCH"),
        (Method::GET, "/breakers/api%2Fv1/config", "PATCH"),
        (Method::POST, "/metrics", "GET"),
        (Method::POST, "/events", "GET"),
        (Method::POST, "/", "GET"),
    ] {
        let answer = send(
            &router,
            request(method.clone(), path).body(Body::empty()).unwrap(),
        )
        .await;
        assert_error(
            &answer,
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed",
        );
        let allow = answer.1[http::header::ALLOW].to_str().unwrap();
        assert!(allow.contains(allowed), "{method} {path}: Allow: {allow}");
    }
}

#[tokio::test]
async fn huge_bodies_are_413_before_anything_runs() {
    let (router, registry) = router();
    let huge = vec![b'x'; 4 * 1024 * 1024];
    let answer = send(
        &router,
        request(Method::POST, "/breakers/api%2Fv1/force_open")
            .header(http::header::CONTENT_LENGTH, huge.len())
            .body(Body::from(huge))
            .unwrap(),
    )
    .await;
    assert_error(
        &answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "limited to 65536 bytes",
    );
    assert_eq!(
        registry.get("api/v1").unwrap().state(),
        State::Closed,
        "the action did not run"
    );

    // A small body is ignored: the actions take none.
    let answer = send(
        &router,
        request(Method::POST, "/breakers/api%2Fv1/force_open")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Body::from("{\"please\": true}"))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.0, StatusCode::OK);
    assert_eq!(registry.get("api/v1").unwrap().state(), State::ForcedOpen);
}

#[tokio::test]
async fn a_huge_body_without_a_token_is_still_413_and_nothing_leaks() {
    let (router, _) = router();
    let answer = send(
        &router,
        http::Request::post("/breakers/api%2Fv1/trip")
            .header(http::header::CONTENT_LENGTH, 1 << 30)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, "bytes");
}

/// A body sent in chunks of unknown total length (as `Transfer-Encoding:
/// chunked` arrives), counting how much of it the server pulled.
struct Endless {
    chunk: Bytes,
    pulled: Arc<AtomicUsize>,
}

impl hyper::body::Body for Endless {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        self.pulled.fetch_add(self.chunk.len(), Ordering::Relaxed);
        Poll::Ready(Some(Ok(hyper::body::Frame::data(self.chunk.clone()))))
    }
}

#[tokio::test]
async fn a_reconfiguration_over_the_limit_is_413_announced_or_streamed() {
    let (router, registry) = router();
    let long = format!("success = 3{}", " ".repeat(100 * 1024));
    let answer = send(
        &router,
        request(Method::PATCH, "/breakers/api%2Fv1/config")
            .header(http::header::CONTENT_LENGTH, long.len())
            .body(Body::from(long))
            .unwrap(),
    )
    .await;
    assert_error(
        &answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "limited to 65536 bytes",
    );

    // No length announced: the limit stops the body as it streams in.
    let pulled = Arc::new(AtomicUsize::new(0));
    let endless = Endless {
        chunk: Bytes::from(vec![b' '; 4096]),
        pulled: pulled.clone(),
    };
    let answer = send(
        &router,
        request(Method::PATCH, "/breakers/api%2Fv1/config")
            .header(http::header::CONTENT_TYPE, "text/plain")
            .body(Body::new(endless))
            .unwrap(),
    )
    .await;
    assert_error(
        &answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "limited to 65536 bytes",
    );
    let pulled = pulled.load(Ordering::Relaxed);
    assert!(pulled <= 65536 + 4096, "read {pulled} bytes past the limit");
    assert_eq!(
        registry.get("api/v1").unwrap().config().success(),
        2,
        "nothing changed"
    );

    // At the limit, the body is read.
    let padded = format!("success = 3{}", " ".repeat(65536 - 11));
    let (status, _, body) = send(
        &router,
        request(Method::PATCH, "/breakers/api%2Fv1/config")
            .body(Body::from(padded))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(registry.get("api/v1").unwrap().config().success(), 3);
}

#[tokio::test]
async fn a_reconfiguration_body_not_utf8_or_not_json_is_400() {
    let (router, registry) = router();
    for (content_type, body, says) in [
        (
            "text/plain",
            &b"fail_max = \xFF"[..],
            "the body is not UTF-8 (byte 11",
        ),
        ("application/json", b"{\"fail_max\": 1\xC3}", "not UTF-8"),
        (
            "application/json",
            b"{\"fail_max\": 1,\n \"reset\" \"1m\"}",
            "not valid JSON: expected `:` at line 2 column 10",
        ),
        ("application/json", b"", "not valid JSON: EOF while parsing"),
        ("application/json", b"fail_max = 1", "not valid JSON"),
        (
            "application/json",
            b"[{\"fail_max\": 1}]",
            "expected a JSON object of keys",
        ),
    ] {
        let answer = send(
            &router,
            request(Method::PATCH, "/breakers/api%2Fv1/config")
                .header(http::header::CONTENT_TYPE, content_type)
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
        assert_error(&answer, StatusCode::BAD_REQUEST, says);
    }
    assert_eq!(
        registry.get("api/v1").unwrap().config().fail_max(),
        None,
        "nothing changed"
    );
}
