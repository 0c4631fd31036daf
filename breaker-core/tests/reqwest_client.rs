//! The reqwest middleware against real servers on loopback: an axum server
//! whose routes answer 200, 404, 500, 503 with `Retry-After`, 429, or hang,
//! a listener that closes every connection it accepts, and a port nobody
//! listens on. Real clock, bounded: the client's timeout is 300 ms, and every
//! wait is far shorter than the bounds asserted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use breaker_core::reqwest::BreakerMiddleware;
use breaker_core::{Breaker, Config, Registry, State};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};

/// Requests the server answered, to tell a rejection (never sent) from a call.
type Served = Arc<AtomicUsize>;

async fn serve() -> (SocketAddr, Served) {
    let served: Served = Arc::default();
    let app = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .route(
            "/busy",
            get(|| async {
                let mut headers = HeaderMap::new();
                headers.insert("retry-after", "2".parse().unwrap());
                (StatusCode::SERVICE_UNAVAILABLE, headers)
            }),
        )
        .route("/limited", get(|| async { StatusCode::TOO_MANY_REQUESTS }))
        .route(
            "/hang",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            served.clone(),
            |Extract(served): Extract<Served>, request, next: axum::middleware::Next| async move {
                served.fetch_add(1, Ordering::Relaxed);
                next.run(request).await
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, served)
}

/// A listener that accepts every connection and closes it at once.
async fn closing() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    addr
}

/// A loopback port with nothing listening.
fn refusing() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

fn registry() -> &'static Registry {
    Box::leak(Box::new(Registry::new()))
}

fn client(middleware: BreakerMiddleware) -> ClientWithMiddleware {
    let inner = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    ClientBuilder::new(inner).with(middleware).build()
}

fn per_host(registry: &'static Registry, config: &str) -> BreakerMiddleware {
    BreakerMiddleware::per_host("http")
        .registry(registry)
        .config(config.parse().unwrap())
        .build()
        .unwrap()
}

fn host(registry: &Registry, addr: SocketAddr) -> Breaker {
    registry
        .get(&format!("http[host={addr}]"))
        .unwrap_or_else(|| panic!("no breaker for {addr}: {:?}", registry.names()))
}

#[tokio::test]
async fn each_route_is_classified_as_listed() {
    let (addr, _) = serve().await;
    let registry = registry();
    let client = client(per_host(registry, "fail_max = 100"));
    let outcomes = [
        ("ok", false),
        ("missing", false),
        ("fail", true),
        ("busy", true),
        ("limited", true),
        ("hang", true),
    ];
    for (i, (route, failure)) in outcomes.iter().enumerate() {
        let result = client.get(format!("http://{addr}/{route}")).send().await;
        assert_eq!(result.is_err(), *route == "hang", "{route}: {result:?}");
        let stats = host(registry, addr).stats();
        let failures = outcomes[..=i].iter().filter(|(_, f)| *f).count() as u64;
        assert_eq!(stats.failures, failures, "{route} a failure: {failure}");
        assert_eq!(stats.successes, i as u64 + 1 - failures, "{route}");
    }
    for (addr, what) in [
        (closing().await, "a closed connection"),
        (refusing(), "a refused one"),
    ] {
        let result = client.get(format!("http://{addr}/ok")).send().await;
        assert!(result.is_err(), "{what}");
        assert_eq!(
            host(registry, addr).stats().failures,
            1,
            "{what} is a failure"
        );
    }
}

#[tokio::test]
async fn a_failing_host_opens_its_breaker_the_request_is_not_sent_and_other_hosts_go_on() {
    let (failing, served) = serve().await;
    let (healthy, _) = serve().await;
    let registry = registry();
    let client = client(per_host(registry, "fail_max = 2, reset = 30s"));
    for _ in 0..2 {
        let response = client
            .get(format!("http://{failing}/fail"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 500);
    }
    assert_eq!(host(registry, failing).state(), State::Open);
    let sent = served.load(Ordering::Relaxed);

    let error = client
        .get(format!("http://{failing}/ok"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        served.load(Ordering::Relaxed),
        sent,
        "a rejected request is not sent"
    );
    let reqwest_middleware::Error::Middleware(error) = error else {
        panic!("a rejection is a middleware error: {error:?}");
    };
    let rejected = error
        .downcast_ref::<breaker_core::Error>()
        .expect("the breaker's error");
    assert_eq!(rejected.name(), format!("http[host={failing}]"));
    assert_eq!(rejected.state(), Some(State::Open));
    let retry = rejected.retry_after().expect("Open says when");
    assert!(
        retry > Duration::from_secs(25) && retry <= Duration::from_secs(30),
        "{retry:?}"
    );
    assert!(rejected.to_string().contains("HTTP 500"), "{rejected}");

    let response = client
        .get(format!("http://{healthy}/ok"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(host(registry, healthy).state(), State::Closed);
}

#[tokio::test]
async fn a_retry_after_keeps_the_host_open_as_long_as_asked_up_to_the_cap() {
    let (addr, _) = serve().await;
    for (cap, least, most) in [
        (
            Duration::from_secs(10),
            Duration::from_millis(1500),
            Duration::from_secs(2),
        ),
        (
            Duration::from_secs(1),
            Duration::from_millis(500),
            Duration::from_secs(1),
        ),
    ] {
        let registry = registry();
        let client =
            client(per_host(registry, "fail_max = 100, reset = 1m").honor_retry_after(cap));
        let response = client
            .get(format!("http://{addr}/busy"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
        let breaker = host(registry, addr);
        assert_eq!(breaker.state(), State::Open, "cap {cap:?}");
        let left = breaker.retry_after().expect("open for a while");
        assert!(left > least && left <= most, "cap {cap:?}: {left:?}");
    }
    // Off by default: a 503 is one failure among fail_max.
    let registry = registry();
    let client = client(per_host(registry, "fail_max = 100"));
    client
        .get(format!("http://{addr}/busy"))
        .send()
        .await
        .unwrap();
    assert_eq!(host(registry, addr).state(), State::Closed);
}

#[tokio::test]
async fn a_request_dropped_before_its_response_is_cancelled() {
    let (addr, _) = serve().await;
    let registry = registry();
    let inner = reqwest::Client::new(); // no timeout of its own
    let client = ClientBuilder::new(inner)
        .with(per_host(registry, "fail_max = 1"))
        .build();
    let request = client.get(format!("http://{addr}/hang")).send();
    assert!(
        tokio::time::timeout(Duration::from_millis(200), request)
            .await
            .is_err()
    );
    let stats = host(registry, addr).stats();
    assert_eq!(
        (stats.cancelled, stats.failures, stats.in_flight),
        (1, 0, 0)
    );
    assert_eq!(host(registry, addr).state(), State::Closed);
}

#[tokio::test]
async fn one_breaker_guards_every_host_and_a_classifier_decides_failures() {
    let (a, _) = serve().await;
    let (b, _) = serve().await;
    let breaker = Breaker::new(
        "everything",
        Config::builder().fail_max(100).build().unwrap(),
    );
    let not_found_is_a_failure = |result: &reqwest_middleware::Result<reqwest::Response>| {
        result.as_ref().map_or(true, |r| r.status() == 404)
    };
    let client = client(BreakerMiddleware::one(breaker.clone()).classify(not_found_is_a_failure));
    client
        .get(format!("http://{a}/missing"))
        .send()
        .await
        .unwrap();
    client.get(format!("http://{b}/fail")).send().await.unwrap();
    client.get(format!("http://{b}/ok")).send().await.unwrap();
    let stats = breaker.stats();
    assert_eq!(
        (stats.failures, stats.successes),
        (1, 2),
        "404 failed, 500 and 200 did not"
    );
}
