//! A reqwest client guarded per host, against two servers on loopback: one
//! host fails, its breaker opens and its requests are no longer sent, while
//! the other host's requests go on; the failing host then answers 503 with
//! `Retry-After: 1`, and its breaker stays open for that second.
//!
//! Run it with `cargo run -p breaker-core --features reqwest --example reqwest_client`.

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use breaker_core::reqwest::BreakerMiddleware;
use breaker_core::{State, registry};

async fn server(app: Router) -> Result<String, std::io::Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let failing = server(
        Router::new()
            .route(
                "/quote",
                get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
            )
            .route(
                "/busy",
                get(|| async {
                    let mut headers = HeaderMap::new();
                    headers.insert("retry-after", "1".parse().unwrap());
                    (StatusCode::SERVICE_UNAVAILABLE, headers)
                }),
            ),
    )
    .await?;
    let healthy = server(Router::new().route("/quote", get(|| async { "42" }))).await?;

    let breakers = BreakerMiddleware::per_host("quotes")
        .config("fail_max = 3, reset = 30s".parse()?)
        .build()?
        .honor_retry_after(Duration::from_secs(10));
    let client = reqwest_middleware::ClientBuilder::new(
        reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?,
    )
    .with(breakers)
    .build();

    for round in 1..=5 {
        for base in [&failing, &healthy] {
            match client.get(format!("{base}/quote")).send().await {
                Ok(response) => println!("round {round}: {base} answered {}", response.status()),
                Err(reqwest_middleware::Error::Middleware(e)) => {
                    match e.downcast_ref::<breaker_core::Error>() {
                        Some(rejected) => println!("round {round}: {base} not called: {rejected}"),
                        None => println!("round {round}: {base}: {e}"),
                    }
                }
                Err(e) => println!("round {round}: {base}: {e}"),
            }
        }
    }
    for name in registry().names() {
        let breaker = registry().get(&name).expect("listed");
        println!("{name}: {}", breaker.state());
    }

    // The failing host asks for a second: its breaker, reset by an operator,
    // opens again for that second and no longer.
    let failing_host = format!("quotes[host={}]", failing.trim_start_matches("http://"));
    let breaker = registry()
        .get(&failing_host)
        .expect("the failing host's breaker");
    breaker.reset();
    let response = client.get(format!("{failing}/busy")).send().await?;
    println!(
        "{failing} answered {} with Retry-After: 1; {failing_host} is {} for {:?}",
        response.status(),
        breaker.state(),
        breaker.retry_after().unwrap_or_default()
    );
    assert_eq!(breaker.state(), State::Open);
    Ok(())
}
