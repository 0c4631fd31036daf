//! Replay throughput, without a benchmarking framework: `cargo bench -p breaker-sim`.
//!
//! Prints the best of five runs of: parsing a generated day at 100 calls/s,
//! replaying it through breaker-core and through the reference model, and a
//! consecutive-policy trace of zero-latency calls (events per second).

use std::time::{Duration, Instant};

use breaker_sim::engine::replay_into;
use breaker_sim::generate::{Scenario, generate};
use breaker_sim::model::Model;
use breaker_sim::real::{RealBreaker, RealSubject};
use breaker_sim::trace::{Trace, parse};

fn best<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..5 {
        let start = Instant::now();
        let out = f();
        best = best.min(start.elapsed());
        last = Some(out);
    }
    (best, last.expect("ran five times"))
}

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

fn report(what: &str, d: Duration, count: u64, unit: &str) {
    println!(
        "{what:<48} {:>9.3} s  {:>12.0} {unit}/s",
        d.as_secs_f64(),
        count as f64 / d.as_secs_f64()
    );
}

fn main() {
    // Zero-latency calls under the consecutive policy: the hot path.
    let mut text = String::from("breaker c fail_max=5 reset=10ms success=2\n");
    for i in 0..2_000_000u64 {
        let outcome = if (i / 7) % 3 == 0 { "err" } else { "ok" };
        text += &format!("{}us c {outcome}\n", i);
    }
    let trace = parse("consecutive", &text).expect("valid");
    let (d, events) = best(|| replay_core(&trace));
    report("consecutive, breaker-core (events)", d, events, "events");
    let (d, events) = best(|| replay_model(&trace));
    report("consecutive, reference model (events)", d, events, "events");

    let day = generate(Scenario::Outage, 1, 86_400_000_000_000, 100);
    let lines = day.lines().count() as u64;
    let (d, trace) = best(|| parse("day", &day).expect("valid"));
    report("parse a day at 100 calls/s (lines)", d, lines, "lines");
    let (d, events) = best(|| replay_core(&trace));
    report(
        "replay a day at 100 calls/s, breaker-core",
        d,
        events,
        "events",
    );
    let (d, _) = best(|| {
        let trace = parse("day", &day).expect("valid");
        replay_core(&trace)
    });
    report(
        "parse + replay a day at 100 calls/s (lines)",
        d,
        lines,
        "lines",
    );
}
