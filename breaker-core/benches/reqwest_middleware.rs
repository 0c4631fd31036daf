//! One GET on loopback through a bare reqwest client, through a client with
//! reqwest-middleware and no middleware, and through one with
//! `BreakerMiddleware` (per host, and one breaker for all): what the breaker
//! adds to a request. The bound: one keyed lookup and one breaker
//! call, nothing a request would notice.
//!
//! `cargo bench -p breaker-core --features reqwest --bench reqwest_middleware`

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use breaker_core::reqwest::BreakerMiddleware;
use breaker_core::{Breaker, Config, Registry};
use criterion::{Criterion, criterion_group, criterion_main};

fn requests(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/", get(|| async { "ok" }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/")
    });
    let bare = reqwest::Client::new();
    let wrap = |middleware: Option<BreakerMiddleware>| {
        let builder = reqwest_middleware::ClientBuilder::new(reqwest::Client::new());
        match middleware {
            Some(m) => builder.with(m).build(),
            None => builder.build(),
        }
    };
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let per_host = BreakerMiddleware::per_host("bench")
        .registry(registry)
        .build()
        .unwrap();
    let one = BreakerMiddleware::one(Breaker::new("bench-one", Config::default()));
    let plain = wrap(None);
    let keyed = wrap(Some(per_host));
    let single = wrap(Some(one));

    let mut group = c.benchmark_group("reqwest_get_loopback");
    group.bench_function("bare_client", |b| {
        b.iter(|| {
            runtime.block_on(async { bare.get(&url).send().await.unwrap().bytes().await.unwrap() })
        })
    });
    group.bench_function("middleware_client_empty", |b| {
        b.iter(|| {
            runtime.block_on(async { plain.get(&url).send().await.unwrap().bytes().await.unwrap() })
        })
    });
    group.bench_function("breaker_per_host", |b| {
        b.iter(|| {
            runtime.block_on(async { keyed.get(&url).send().await.unwrap().bytes().await.unwrap() })
        })
    });
    group.bench_function("breaker_one", |b| {
        b.iter(|| {
            runtime.block_on(async {
                single
                    .get(&url)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4));
    targets = requests
}
criterion_main!(benches);
