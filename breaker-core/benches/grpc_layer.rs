//! One unary gRPC call on loopback through a bare tonic channel and through
//! the same channel behind `GrpcLayer`: what the breaker adds to a call.
//!
//! `cargo bench -p breaker-core --features grpc --bench grpc_layer`

#[path = "../tests/grpc_support/mod.rs"]
mod grpc_support;

use std::time::Duration;

use breaker_core::grpc::GrpcLayer;
use breaker_core::{Breaker, Config};
use criterion::{Criterion, criterion_group, criterion_main};
use grpc_support::{Echo, Raw};
use http::uri::PathAndQuery;

fn calls(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let channel = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(Echo)
                .serve_with_incoming(incoming),
        );
        tonic::transport::Endpoint::from_shared(url)
            .unwrap()
            .connect()
            .await
            .unwrap()
    });
    let mut bare = tonic::client::Grpc::new(channel.clone());
    let guarded = tower::ServiceBuilder::new()
        .layer(GrpcLayer::new(Breaker::new("bench", Config::default())))
        .service(channel);
    let mut guarded = tonic::client::Grpc::new(guarded);
    let path = PathAndQuery::from_static("/test.Echo/Unary");

    let mut group = c.benchmark_group("grpc_unary_loopback");
    group.bench_function("bare_channel", |b| {
        b.iter(|| {
            runtime.block_on(async {
                bare.ready().await.unwrap();
                bare.unary(tonic::Request::new(b"hi".to_vec()), path.clone(), Raw)
                    .await
                    .unwrap()
            })
        })
    });
    group.bench_function("grpc_layer", |b| {
        b.iter(|| {
            runtime.block_on(async {
                guarded.ready().await.unwrap();
                guarded
                    .unary(tonic::Request::new(b"hi".to_vec()), path.clone(), Raw)
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
    targets = calls
}
criterion_main!(benches);
