//! An axum service guarded by a breaker, called over real HTTP on loopback:
//! the upstream fails, the breaker opens and the service answers 503 with
//! `Retry-After`; the upstream recovers, time passes, and the service
//! answers normally again. Time is a manual clock, so the demo never sleeps.
//!
//! Run it with `cargo run -p breaker-core --features tower --example tower_http`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use breaker_core::clock::ManualClock;
use breaker_core::tower::BreakerLayer;
use breaker_core::{Config, registry};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clock = ManualClock::new();
    registry().use_clock(clock.clone());
    let quotes = registry().get_or_create("quotes", || {
        Config::builder()
            .fail_max(3)
            .reset(Duration::from_secs(30))
            .success(1)
            .build()
            .expect("a valid config")
    });

    // The handler stands for a call to a dependency that is down for now.
    let upstream_up = Arc::new(AtomicBool::new(false));
    let up = upstream_up.clone();
    let app = Router::new()
        .route(
            "/quote",
            get(move || {
                let up = up.load(Ordering::SeqCst);
                async move {
                    match up {
                        true => (StatusCode::OK, "EUR/USD 1.08"),
                        false => (StatusCode::BAD_GATEWAY, "rates service unreachable"),
                    }
                }
            }),
        )
        // 5xx and errors are failures; a rejection is a 503 with Retry-After.
        // `route_layer` guards the routes only: `layer` would also wrap the
        // fallback, so a stray 404 would be a call of the breaker.
        .route_layer(BreakerLayer::http(quotes.clone()));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client: Client<_, String> = Client::builder(TokioExecutor::new()).build_http();
    let uri: hyper::Uri = format!("http://{addr}/quote").parse()?;

    for step in 1..=8 {
        if step == 6 {
            upstream_up.store(true, Ordering::SeqCst);
            clock.advance(Duration::from_secs(30));
            println!("-- the upstream is back; 30 s pass");
        }
        let response = client.get(uri.clone()).await?;
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| format!(", Retry-After: {}", v.to_str().unwrap_or("?")))
            .unwrap_or_default();
        println!(
            "GET /quote -> {}{retry_after}   (breaker {})",
            response.status(),
            quotes.state()
        );
    }
    Ok(())
}
