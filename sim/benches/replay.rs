//! Replay throughput: `cargo bench -p breaker-sim --bench replay`.
//!
//! Events per second through breaker-core and through the reference model on
//! a consecutive-policy trace of zero-latency calls, and a generated day of
//! traffic at 100 calls per second, parsed and replayed.

use std::hint::black_box;
use std::time::Duration;

use breaker_sim::engine::replay_into;
use breaker_sim::generate::{Scenario, generate};
use breaker_sim::model::Model;
use breaker_sim::subject::real::{RealBreaker, RealSubject};
use breaker_sim::trace::{Trace, parse, read};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn replay_core(trace: &Trace) -> u64 {
    let breakers = RealBreaker::for_trace("bench", trace).expect("valid config");
    let mut subjects: Vec<RealSubject<'_>> = breakers.iter().map(RealBreaker::subject).collect();
    let mut events = 0u64;
    replay_into(trace, &mut subjects, &mut |_| events += 1);
    events
}

fn replay_model(trace: &Trace) -> u64 {
    let mut models: Vec<Model> = trace
        .breakers
        .iter()
        .map(|d| Model::new(d.config.clone()))
        .collect();
    let mut events = 0u64;
    replay_into(trace, &mut models, &mut |_| events += 1);
    events
}

fn consecutive(c: &mut Criterion) {
    let mut text = String::from("breaker c fail_max=5 reset=10ms success=2\n");
    for i in 0..200_000u64 {
        let outcome = if (i / 7) % 3 == 0 { "err" } else { "ok" };
        text += &format!("{i}us c {outcome}\n");
    }
    let trace = parse("consecutive", &text).expect("valid");
    let events = replay_core(&trace);
    let mut g = c.benchmark_group("replay_consecutive");
    g.throughput(Throughput::Elements(events));
    g.bench_function("breaker_core", |b| {
        b.iter(|| black_box(replay_core(&trace)))
    });
    g.bench_function("reference_model", |b| {
        b.iter(|| black_box(replay_model(&trace)))
    });
    g.finish();
}

fn day(c: &mut Criterion) {
    let day = generate(Scenario::Outage, 1, 86_400_000_000_000, 100);
    let mut g = c.benchmark_group("day_at_100_rps");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    g.bench_function("parse_and_replay", |b| {
        b.iter(|| {
            // As the CLI reads a file: piece by piece.
            let trace = read("day", day.as_bytes()).expect("valid");
            black_box(replay_core(&trace))
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = consecutive, day
}
criterion_main!(benches);
