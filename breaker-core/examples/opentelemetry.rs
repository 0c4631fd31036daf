//! The breakers of a registry through OpenTelemetry: observable instruments
//! read from their statistics at each collection, and transitions as log
//! records. This example prints both with the SDK's in-memory exporters; a
//! service would install an OTLP exporter (crate `opentelemetry-otlp`)
//! instead, and pass the same providers.
//!
//! Run: `cargo run -p breaker-core --example opentelemetry --features opentelemetry`

use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::{Error, Registry};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let metrics = InMemoryMetricExporter::default();
    let meters = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(metrics.clone()).build())
        .build();
    let logs = InMemoryLogExporter::default();
    let loggers = SdkLoggerProvider::builder()
        .with_simple_exporter(logs.clone())
        .build();

    // Once, at start: instruments for every breaker of the registry, and a
    // log record for each transition. Nothing more runs per call.
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let clock = ManualClock::new();
    registry.use_clock(clock.clone());
    breaker_core::opentelemetry::observe(registry, &meters.meter("checkout"));
    breaker_core::opentelemetry::log_transitions(registry, &loggers);

    let payments =
        registry.get_or_create("payments", || "fail_max = 2, reset = 10s".parse().unwrap());
    payments.call(|| Ok::<_, Error>(()))?;
    for _ in 0..2 {
        let _ = payments
            .call(|| Err::<(), _>(Error::timeout("payments".into(), Duration::from_secs(1))));
    }
    let _ = payments.call(|| Ok::<_, Error>(())); // rejected: the breaker is open

    meters.force_flush()?;
    for resource in metrics.get_finished_metrics()? {
        for scope in resource.scope_metrics() {
            for metric in scope.metrics() {
                // One line per point: the metric, its unit, its labels, its value.
                let show = |labels: String, value: &dyn std::fmt::Display| {
                    println!("{} [{}] {{{labels}}} {value}", metric.name(), metric.unit());
                };
                match metric.data() {
                    AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                        for point in sum.data_points() {
                            show(labels(point.attributes()), &point.value());
                        }
                    }
                    AggregatedMetrics::F64(MetricData::Gauge(gauge)) => {
                        for point in gauge.data_points() {
                            show(labels(point.attributes()), &point.value());
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    loggers.force_flush()?;
    for log in logs.get_emitted_logs()? {
        println!(
            "log {:?} {:?}: {:?}",
            log.record.event_name(),
            log.record.severity_text(),
            log.record.body()
        );
    }
    Ok(())
}

/// A point's attributes as `key=value, ...`.
fn labels<'a>(attributes: impl Iterator<Item = &'a opentelemetry::KeyValue>) -> String {
    attributes
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect::<Vec<_>>()
        .join(", ")
}
