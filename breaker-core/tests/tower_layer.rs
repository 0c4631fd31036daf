//! The tower layer: over real HTTP on loopback (an axum server guarded by
//! the layer, a hyper client guarded by it), and on plain services.
//!
//! Every breaker runs on a `ManualClock`: recovery is reached by advancing
//! virtual time, never by sleeping.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use breaker_core::clock::ManualClock;
use breaker_core::tower::{BreakerLayer, ServiceError};
use breaker_core::{Breaker, Config, State};
use http::StatusCode;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::{Layer, Service, ServiceExt, service_fn};

fn breaker(name: &str, fail_max: u32, clock: &ManualClock) -> Breaker {
    let config = Config::builder()
        .fail_max(fail_max)
        .reset(Duration::from_secs(30))
        .success(1)
        .build()
        .expect("a valid config");
    Breaker::with_clock(name, config, clock.clone())
}

/// Serves `app` on a free loopback port until the test's runtime ends.
async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn client() -> Client<HttpConnector, String> {
    Client::builder(TokioExecutor::new()).build_http()
}

struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    body: String,
}

async fn get_path(client: &Client<HttpConnector, String>, addr: SocketAddr, path: &str) -> Answer {
    let uri = format!("http://{addr}{path}");
    let response = client
        .get(uri.parse().expect("a valid uri"))
        .await
        .expect("the server answers");
    let status = response.status();
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .map(|v| v.to_str().expect("ascii").to_owned());
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a whole body")
        .to_bytes();
    Answer {
        status,
        retry_after,
        body: String::from_utf8(body.to_vec()).expect("utf-8"),
    }
}

#[tokio::test]
async fn an_axum_service_answers_503_with_retry_after_while_open_and_recovers() {
    let clock = ManualClock::new();
    let quotes = breaker("quotes", 3, &clock);
    let upstream_up = Arc::new(AtomicBool::new(false));
    let up = upstream_up.clone();
    let app = Router::new()
        .route(
            "/quote",
            get(move || {
                let up = up.load(Ordering::SeqCst);
                async move {
                    if up {
                        (StatusCode::OK, "1.08")
                    } else {
                        (StatusCode::BAD_GATEWAY, "upstream down")
                    }
                }
            }),
        )
        .layer(BreakerLayer::http(quotes.clone()));
    let addr = serve(app).await;
    let client = client();

    for _ in 0..3 {
        let answer = get_path(&client, addr, "/quote").await;
        assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
        assert_eq!(answer.body, "upstream down");
    }
    assert_eq!(quotes.state(), State::Open);

    let rejected = get_path(&client, addr, "/quote").await;
    assert_eq!(rejected.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(rejected.retry_after.as_deref(), Some("30"));

    clock.advance(Duration::from_millis(10_500));
    let rejected = get_path(&client, addr, "/quote").await;
    assert_eq!(rejected.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        rejected.retry_after.as_deref(),
        Some("20"),
        "19.5 s, rounded up"
    );
    assert_eq!(quotes.stats().rejected, 2);

    upstream_up.store(true, Ordering::SeqCst);
    clock.advance(Duration::from_millis(19_500));
    let trial = get_path(&client, addr, "/quote").await;
    assert_eq!(
        (trial.status, trial.body.as_str()),
        (StatusCode::OK, "1.08")
    );
    assert_eq!(quotes.state(), State::Closed);
    for _ in 0..3 {
        let answer = get_path(&client, addr, "/quote").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.retry_after, None);
    }
    let stats = quotes.stats();
    assert_eq!((stats.successes, stats.failures), (4, 3));
}

#[tokio::test]
async fn a_guarded_client_counts_transport_errors_and_stops_connecting() {
    let clock = ManualClock::new();
    let upstream = breaker("upstream", 2, &clock);
    // A port nothing listens on: bound, then released.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port");
    // A rejection makes its 503 with an empty body of the response's body
    // type: hyper's `Incoming` cannot be made, axum's `Body` can.
    let client = client().map_response(|response| response.map(axum::body::Body::new));
    let mut guarded = BreakerLayer::http(upstream.clone()).layer(client);
    let request = || {
        http::Request::get(format!("http://{dead}/"))
            .body(String::new())
            .expect("a valid request")
    };

    for _ in 0..2 {
        let refused = guarded.ready().await.expect("ready").call(request()).await;
        assert!(refused.is_err(), "a refused connection is an error");
    }
    assert_eq!(upstream.state(), State::Open);
    let reason = upstream.open_reason().expect("an open reason");
    assert!(reason.last_failure.is_some(), "the transport error is kept");

    let rejected = guarded
        .ready()
        .await
        .expect("ready")
        .call(request())
        .await
        .expect("a rejection is a response");
    assert_eq!(rejected.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(rejected.headers()[http::header::RETRY_AFTER], "30");
    assert_eq!(upstream.stats().admitted, 2, "no third connection attempt");
}

/// Polls `future` once: the services below answer without waiting.
fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
    pin!(future).poll(&mut Context::from_waker(Waker::noop()))
}

fn answered<T>(poll: Poll<T>) -> T {
    match poll {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the service answers at once"),
    }
}

#[test]
fn a_rejection_is_a_service_error_and_the_inner_service_is_not_called() {
    let clock = ManualClock::new();
    let db = breaker("db", 1, &clock);
    let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = calls.clone();
    let mut service = BreakerLayer::new(db.clone()).layer(service_fn(move |fail: bool| {
        counted.fetch_add(1, Ordering::SeqCst);
        std::future::ready(if fail { Err("down") } else { Ok(1) })
    }));

    let failed = answered(poll_once(service.call(true))).unwrap_err();
    assert!(matches!(failed, ServiceError::Inner("down")));
    let rejected = answered(poll_once(service.call(false))).unwrap_err();
    let rejection = rejected.rejection().expect("a rejection");
    assert_eq!(rejection.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        db.open_reason().unwrap().last_failure.as_deref(),
        Some("down")
    );
}

#[test]
fn a_dropped_response_future_is_a_cancelled_call() {
    let clock = ManualClock::new();
    let db = breaker("db", 1, &clock);
    db.trip();
    clock.advance(Duration::from_secs(30));
    let mut service = BreakerLayer::new(db.clone()).layer(service_fn(|()| {
        std::future::pending::<Result<(), Infallible>>()
    }));

    let trial = service.call(());
    assert_eq!(db.state(), State::HalfOpen);
    assert!(
        answered(poll_once(service.call(()))).is_err(),
        "the only trial is taken"
    );
    drop(trial);
    let stats = db.stats();
    assert_eq!(
        (stats.cancelled, stats.failures, stats.in_flight),
        (1, 0, 0)
    );
    assert_eq!(db.state(), State::HalfOpen);
    let _next_trial = service.call(());
    assert_eq!(db.stats().admitted, 2, "the trial permit came back");
}

#[test]
fn a_panic_in_the_inner_future_is_a_failure() {
    let clock = ManualClock::new();
    let db = breaker("db", 1, &clock);
    let mut service = BreakerLayer::new(db.clone()).layer(service_fn(|()| async {
        if true {
            panic!("inner service bug");
        }
        Ok::<(), Infallible>(())
    }));
    let future = service.call(());
    let unwound = catch_unwind(AssertUnwindSafe(|| poll_once(future)));
    assert!(unwound.is_err());
    assert_eq!(db.stats().failures, 1);
    assert_eq!(
        db.open_reason().unwrap().last_failure.as_deref(),
        Some("panicked")
    );
}

#[test]
fn a_classifier_and_a_rejection_closure_replace_the_defaults() {
    let clock = ManualClock::new();
    let db = breaker("db", 1, &clock);
    let mut service = BreakerLayer::new(db.clone())
        // Negative answers are the dependency's failures; errors are ours.
        .classify(|result: &Result<i32, Infallible>| matches!(result, Ok(n) if *n < 0))
        .on_reject(|_rejection: breaker_core::Error| 0)
        .layer(service_fn(|n: i32| {
            std::future::ready(Ok::<_, Infallible>(n))
        }));

    assert_eq!(answered(poll_once(service.call(5))), Ok(5));
    assert_eq!(answered(poll_once(service.call(-1))), Ok(-1));
    assert_eq!(db.state(), State::Open);
    assert_eq!(
        answered(poll_once(service.call(7))),
        Ok(0),
        "the fallback answer"
    );
}

#[test]
fn readiness_is_the_inner_services() {
    let clock = ManualClock::new();
    let db = breaker("db", 1, &clock);
    db.force_open();
    let mut service = BreakerLayer::new(db).layer(tower::service_fn(|()| {
        std::future::ready(Ok::<(), &str>(()))
    }));
    let ready = poll_once(ServiceExt::<()>::ready(&mut service));
    assert!(
        matches!(ready, Poll::Ready(Ok(_))),
        "an open breaker is still ready"
    );
}

#[test]
fn the_layer_named_after_a_breaker_guards_with_the_global_one() {
    let layer = BreakerLayer::named("tower-layer-test-named");
    let global = breaker_core::registry()
        .get("tower-layer-test-named")
        .expect("created in the global registry");
    layer.breaker().force_open();
    assert_eq!(global.state(), State::ForcedOpen);
}

/// `Router::layer` wraps the router's fallback too: with the breaker open,
/// a path no route serves answers 503 instead of 404, and every stray 404
/// is a call of the breaker. `route_layer` guards the routes alone.
#[tokio::test]
async fn route_layer_guards_the_routes_and_layer_also_the_fallback() {
    let clock = ManualClock::new();
    let client = client();
    for (route_layer, stray) in [
        (true, StatusCode::NOT_FOUND),
        (false, StatusCode::SERVICE_UNAVAILABLE),
    ] {
        let quotes = breaker("quotes", 1, &clock);
        let routes = Router::new().route("/quote", get(|| async { "1.08" }));
        let app = if route_layer {
            routes.route_layer(BreakerLayer::http(quotes.clone()))
        } else {
            routes.layer(BreakerLayer::http(quotes.clone()))
        };
        let addr = serve(app).await;

        assert_eq!(
            get_path(&client, addr, "/nope").await.status,
            StatusCode::NOT_FOUND
        );
        let stray_calls = quotes.stats().admitted;
        assert_eq!(
            stray_calls,
            u64::from(!route_layer),
            "route_layer: {route_layer}"
        );

        quotes.trip();
        assert_eq!(
            get_path(&client, addr, "/quote").await.status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        let answer = get_path(&client, addr, "/nope").await;
        assert_eq!(answer.status, stray, "route_layer: {route_layer}");
    }
}
