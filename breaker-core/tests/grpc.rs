//! `GrpcLayer` on a real tonic client and server on loopback, with
//! hand-written glue (messages are raw bytes; no protoc, no generated code).
//! The server answers unary calls with a status in the headers
//! (trailers-only) or a message and `OK` in the trailers, and streams that
//! end with a status in the trailers. Real clock, bounded: every wait is a
//! few hundred milliseconds at most.

mod grpc_support;

use std::convert::Infallible;
use std::time::Duration;

use breaker_core::grpc::GrpcLayer;
use breaker_core::{Breaker, Config, State};
use futures_util::StreamExt;
use grpc_support::{Echo, Raw};
use http::uri::PathAndQuery;
use tonic::{Code, Status};

/// A tonic server of `Echo` on loopback, with `layer` around it.
async fn serve<L>(layer: L) -> String
where
    L: tower_layer::Layer<tonic::service::Routes> + Clone + Send + Sync + 'static,
    L::Service: tower_service::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<breaker_core::grpc::GrpcBody<tonic::body::Body>>,
            Error = Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    <L::Service as tower_service::Service<http::Request<tonic::body::Body>>>::Future:
        Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(layer)
            .add_service(Echo)
            .serve_with_incoming(incoming)
            .await
    });
    format!("http://{addr}")
}

/// A plain tonic server (no layer).
async fn serve_plain() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(Echo)
            .serve_with_incoming(incoming)
            .await
    });
    format!("http://{addr}")
}

type Guarded = breaker_core::grpc::GrpcService<tonic::transport::Channel>;

async fn client(url: &str, breaker: &Breaker) -> tonic::client::Grpc<Guarded> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let guarded = tower::ServiceBuilder::new()
        .layer(GrpcLayer::new(breaker.clone()))
        .service(channel);
    tonic::client::Grpc::new(guarded)
}

async fn unary(grpc: &mut tonic::client::Grpc<Guarded>, asked: &str) -> Result<Vec<u8>, Status> {
    grpc.ready()
        .await
        .map_err(|e| Status::unknown(e.to_string()))?;
    grpc.unary(
        tonic::Request::new(asked.as_bytes().to_vec()),
        PathAndQuery::from_static("/test.Echo/Unary"),
        Raw,
    )
    .await
    .map(tonic::Response::into_inner)
}

/// The messages of a stream, and how it ended.
async fn stream(
    grpc: &mut tonic::client::Grpc<Guarded>,
    asked: &str,
) -> (usize, Result<(), Status>) {
    grpc.ready().await.unwrap();
    let response = grpc
        .server_streaming(
            tonic::Request::new(asked.as_bytes().to_vec()),
            PathAndQuery::from_static("/test.Echo/Stream"),
            Raw,
        )
        .await;
    let mut stream = match response {
        Ok(response) => response.into_inner(),
        Err(status) => return (0, Err(status)),
    };
    let mut n = 0;
    while let Some(item) = stream.next().await {
        match item {
            Ok(_) => n += 1,
            Err(status) => return (n, Err(status)),
        }
    }
    (n, Ok(()))
}

fn breaker(name: &str, fail_max: u32) -> Breaker {
    Breaker::new(
        name,
        Config::builder()
            .fail_max(fail_max)
            .reset(Duration::from_secs(30))
            .build()
            .unwrap(),
    )
}

#[tokio::test]
async fn unary_statuses_in_the_headers_and_the_trailers_are_classified() {
    let url = serve_plain().await;
    let breaker = breaker("unary", 100);
    let mut grpc = client(&url, &breaker).await;
    let outcomes = [
        ("hello", Code::Ok, false),           // a message, OK in the trailers
        ("not_found", Code::NotFound, false), // trailers-only, not a failure
        ("unavailable", Code::Unavailable, true),
        ("internal", Code::Internal, true),
        ("deadline", Code::DeadlineExceeded, true),
    ];
    for (i, (asked, code, _)) in outcomes.iter().enumerate() {
        let result = unary(&mut grpc, asked).await;
        assert_eq!(
            result.as_ref().err().map_or(Code::Ok, Status::code),
            *code,
            "{asked}"
        );
        let stats = breaker.stats();
        let failures = outcomes[..=i].iter().filter(|o| o.2).count() as u64;
        assert_eq!(
            (stats.failures, stats.successes),
            (failures, i as u64 + 1 - failures),
            "{asked}"
        );
        assert_eq!(
            stats.in_flight, 0,
            "{asked}: recorded by the end of the call"
        );
    }
}

#[tokio::test]
async fn a_stream_is_recorded_when_it_ends_and_a_dropped_one_is_cancelled() {
    let url = serve_plain().await;
    let breaker = breaker("stream", 100);
    let mut grpc = client(&url, &breaker).await;

    assert_eq!(stream(&mut grpc, "3 ok").await.0, 3);
    assert_eq!(breaker.stats().successes, 1);
    let (n, end) = stream(&mut grpc, "2 internal").await;
    assert_eq!((n, end.unwrap_err().code()), (2, Code::Internal));
    assert_eq!(
        breaker.stats().failures,
        1,
        "INTERNAL in the trailers after two messages"
    );
    let (n, end) = stream(&mut grpc, "0 unavailable").await;
    assert_eq!((n, end.unwrap_err().code()), (0, Code::Unavailable));
    assert_eq!(breaker.stats().failures, 2);

    // A stream the client stops reading: neither success nor failure.
    grpc.ready().await.unwrap();
    let mut slow = grpc
        .server_streaming(
            tonic::Request::new(b"slow".to_vec()),
            PathAndQuery::from_static("/test.Echo/Stream"),
            Raw,
        )
        .await
        .unwrap()
        .into_inner();
    assert!(slow.next().await.unwrap().is_ok());
    assert_eq!(breaker.stats().in_flight, 1, "in flight while it streams");
    drop(slow);
    let stats = breaker.stats();
    assert_eq!(
        (stats.cancelled, stats.in_flight, stats.failures),
        (1, 0, 2)
    );
}

#[tokio::test]
async fn an_open_breaker_answers_unavailable_with_its_name_and_retry_after_without_calling() {
    let url = serve_plain().await;
    let breaker = breaker("payments-grpc", 2);
    let mut grpc = client(&url, &breaker).await;
    for _ in 0..2 {
        let _ = unary(&mut grpc, "unavailable").await;
    }
    assert_eq!(breaker.state(), State::Open);
    let admitted = breaker.stats().admitted;
    let status = unary(&mut grpc, "hello").await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status.message().contains("payments-grpc"),
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("retry in"),
        "{}",
        status.message()
    );
    let pushback: u64 = status
        .metadata()
        .get("grpc-retry-pushback-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("grpc-retry-pushback-ms");
    assert!(pushback > 25_000 && pushback <= 30_000, "{pushback}");
    assert_eq!(breaker.stats().admitted, admitted, "not sent");
}

#[tokio::test]
async fn on_a_server_an_open_breaker_answers_without_running_the_handler() {
    let breaker = breaker("server-side", 1);
    let url = serve(GrpcLayer::new(breaker.clone())).await;
    let plain = Breaker::new(
        "client-side",
        Config::builder().fail_max(100).build().unwrap(),
    );
    let mut grpc = client(&url, &plain).await;
    assert_eq!(unary(&mut grpc, "hello").await.unwrap(), b"hello");
    assert_eq!(
        unary(&mut grpc, "internal").await.unwrap_err().code(),
        Code::Internal
    );
    assert_eq!(
        breaker.state(),
        State::Open,
        "the server's breaker read INTERNAL"
    );
    let status = unary(&mut grpc, "hello").await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status.message().contains("server-side"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn failure_codes_replace_the_default() {
    let url = serve_plain().await;
    let breaker = breaker("codes", 100);
    let channel = tonic::transport::Endpoint::from_shared(url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let guarded = tower::ServiceBuilder::new()
        .layer(GrpcLayer::new(breaker.clone()).failure_codes(&[5]))
        .service(channel);
    let mut grpc = tonic::client::Grpc::new(guarded);
    let _ = unary(&mut grpc, "not_found").await;
    let _ = unary(&mut grpc, "unavailable").await;
    let stats = breaker.stats();
    assert_eq!(
        (stats.failures, stats.successes),
        (1, 1),
        "NOT_FOUND failed, UNAVAILABLE did not"
    );
}
