//! The operators' router next to a guarded service, both over real HTTP on
//! loopback: list the breakers, trip one, read the Prometheus metrics.
//!
//! Run it with `cargo run -p breaker-core --features admin,tower --example admin`.
//! With `-- --serve` it then keeps serving, with traffic on `/pay` (one call
//! in ten failing), and prints the address of the live dashboard.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use breaker_core::tower::BreakerLayer;
use breaker_core::{Config, registry};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

const TOKEN: &str = "change-me";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let payments = registry().get_or_create("payments", || {
        Config::builder()
            .fail_max(5)
            .reset(Duration::from_secs(30))
            .build()
            .expect("a valid config")
    });
    let app = Router::new()
        .route("/pay", get(pay))
        // `route_layer`: `layer` would also wrap the fallback, making every
        // stray 404 a call of the breaker (and a 503 while it is open).
        .route_layer(BreakerLayer::http(payments))
        // In production, serve the admin router on a port only operators reach.
        .nest("/admin", breaker_core::admin::router(TOKEN));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client: Client<HttpConnector, String> = Client::builder(TokioExecutor::new()).build_http();

    send(&client, "GET", &format!("http://{addr}/pay"), false).await?;
    send(
        &client,
        "GET",
        &format!("http://{addr}/admin/breakers"),
        false,
    )
    .await?;
    send(
        &client,
        "GET",
        &format!("http://{addr}/admin/breakers"),
        true,
    )
    .await?;
    send(
        &client,
        "POST",
        &format!("http://{addr}/admin/breakers/payments/trip"),
        true,
    )
    .await?;
    send(&client, "GET", &format!("http://{addr}/pay"), false).await?;
    send(
        &client,
        "GET",
        &format!("http://{addr}/admin/metrics"),
        true,
    )
    .await?;

    if std::env::args().any(|arg| arg == "--serve") {
        println!("dashboard: http://{addr}/admin (token `{TOKEN}`); Ctrl-C stops");
        loop {
            let request = hyper::Request::get(format!("http://{addr}/pay")).body(String::new())?;
            let _ = client.request(request).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// A payment service where one call in ten fails.
async fn pay() -> (StatusCode, &'static str) {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    if CALLS.fetch_add(1, Ordering::Relaxed) % 10 == 9 {
        (StatusCode::SERVICE_UNAVAILABLE, "try later")
    } else {
        (StatusCode::OK, "paid")
    }
}

async fn send(
    client: &Client<HttpConnector, String>,
    method: &str,
    uri: &str,
    with_token: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut request = hyper::Request::builder().method(method).uri(uri);
    if with_token {
        request = request.header("authorization", format!("Bearer {TOKEN}"));
    }
    let response = client.request(request.body(String::new())?).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    println!(
        "{method} {uri} -> {status}\n{}\n",
        String::from_utf8_lossy(&body)
    );
    Ok(())
}
