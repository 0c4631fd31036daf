//! The breakers through OpenTelemetry, read back by the SDK's in-memory
//! exporters: every family as an observable instrument with its unit and
//! attributes, the values read from the breakers' statistics at collection,
//! and each transition as a log record.

use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::{Error, Registry};
use opentelemetry::logs::{AnyValue, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

/// One data point: the instrument, its unit, its attributes (sorted), its value.
#[derive(Debug, PartialEq)]
struct Point {
    name: String,
    unit: String,
    attributes: Vec<(String, String)>,
    value: f64,
}

/// Collects once, and every data point of the last collection.
fn collect(provider: &SdkMeterProvider, exporter: &InMemoryMetricExporter) -> Vec<Point> {
    exporter.reset();
    provider.force_flush().expect("a collection");
    let mut points = Vec::new();
    let finished = exporter.get_finished_metrics().expect("metrics");
    for resource in finished.iter() {
        for scope in resource.scope_metrics() {
            for metric in scope.metrics() {
                let mut push = |attributes: Vec<(String, String)>, value: f64| {
                    let mut attributes = attributes;
                    attributes.sort();
                    points.push(Point {
                        name: metric.name().to_owned(),
                        unit: metric.unit().to_owned(),
                        attributes,
                        value,
                    });
                };
                let pairs = |kvs: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| {
                    kvs.map(|kv| (kv.key.to_string(), kv.value.to_string()))
                        .collect::<Vec<_>>()
                };
                match metric.data() {
                    AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                        assert!(sum.is_monotonic(), "{} is a counter", metric.name());
                        for p in sum.data_points() {
                            push(pairs(&mut p.attributes()), p.value() as f64);
                        }
                    }
                    AggregatedMetrics::F64(MetricData::Gauge(gauge)) => {
                        for p in gauge.data_points() {
                            push(pairs(&mut p.attributes()), p.value());
                        }
                    }
                    other => panic!("{}: unexpected data {other:?}", metric.name()),
                }
            }
        }
    }
    points
}

fn value(points: &[Point], name: &str, attributes: &[(&str, &str)]) -> Option<f64> {
    let mut wanted: Vec<(String, String)> = attributes
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    wanted.sort();
    points
        .iter()
        .find(|p| p.name == name && p.attributes == wanted)
        .map(|p| p.value)
}

fn unit(points: &[Point], name: &str) -> String {
    points
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no {name} in {points:#?}"))
        .unit
        .clone()
}

struct Setup {
    registry: &'static Registry,
    clock: ManualClock,
    meters: SdkMeterProvider,
    metrics: InMemoryMetricExporter,
    loggers: SdkLoggerProvider,
    logs: InMemoryLogExporter,
}

fn setup() -> Setup {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let clock = ManualClock::new();
    registry.use_clock(clock.clone());
    let metrics = InMemoryMetricExporter::default();
    let meters = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(metrics.clone()).build())
        .build();
    let logs = InMemoryLogExporter::default();
    let loggers = SdkLoggerProvider::builder()
        .with_simple_exporter(logs.clone())
        .build();
    breaker_core::opentelemetry::observe(registry, &meters.meter("breaker-test"));
    breaker_core::opentelemetry::log_transitions(registry, &loggers);
    Setup {
        registry,
        clock,
        meters,
        metrics,
        loggers,
        logs,
    }
}

fn fail() -> Result<(), Error> {
    Err(Error::timeout("payments".into(), Duration::from_secs(1)))
}

#[test]
fn counters_and_gauges_are_read_from_the_breakers_at_each_collection() {
    let s = setup();
    let payments = s
        .registry
        .get_or_create("payments", || "fail_max = 2, reset = 10s".parse().unwrap());
    payments.call(|| Ok::<_, Error>(())).unwrap();
    let _ = payments.call(fail);

    let first = collect(&s.meters, &s.metrics);
    let p = [("breaker.name", "payments")];
    let outcome = |o: &'static str| [("breaker.name", "payments"), ("outcome", o)];
    assert_eq!(
        value(&first, "breaker.calls", &outcome("success")),
        Some(1.0)
    );
    assert_eq!(
        value(&first, "breaker.calls", &outcome("failure")),
        Some(1.0)
    );
    assert_eq!(value(&first, "breaker.consecutive_failures", &p), Some(1.0));
    assert_eq!(
        value(
            &first,
            "breaker.state",
            &[("breaker.name", "payments"), ("state", "closed")]
        ),
        Some(1.0)
    );
    assert_eq!(unit(&first, "breaker.calls"), "{call}");
    assert_eq!(unit(&first, "breaker.state"), "1");

    // Nothing is pushed per call: the next collection reads the new totals.
    let _ = payments.call(fail);
    let _ = payments.call(|| Ok::<_, Error>(()));
    let second = collect(&s.meters, &s.metrics);
    assert_eq!(
        value(&second, "breaker.calls", &outcome("failure")),
        Some(2.0)
    );
    assert_eq!(value(&second, "breaker.rejections", &p), Some(1.0));
    assert_eq!(
        value(
            &second,
            "breaker.state",
            &[("breaker.name", "payments"), ("state", "open")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &second,
            "breaker.transitions",
            &[
                ("breaker.name", "payments"),
                ("from", "closed"),
                ("to", "open")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(unit(&second, "breaker.transitions"), "{transition}");
}

#[test]
fn every_family_is_an_instrument_and_rates_are_ratios() {
    let s = setup();
    let search = s.registry.get_or_create("search", || {
        "failure_rate = 50, window = 10, min_calls = 4"
            .parse()
            .unwrap()
    });
    for _ in 0..3 {
        search.call(|| Ok::<_, Error>(())).unwrap();
    }
    let _ = search.call(fail);
    s.registry
        .get_or_create("ads", || "adaptive = 2".parse().unwrap());
    let points = collect(&s.meters, &s.metrics);
    let s_ = [("breaker.name", "search")];
    assert_eq!(value(&points, "breaker.failure_rate", &s_), Some(0.25));
    assert_eq!(unit(&points, "breaker.failure_rate"), "1");
    assert_eq!(
        value(
            &points,
            "breaker.drop_probability",
            &[("breaker.name", "ads")]
        ),
        Some(0.0)
    );
    for name in [
        "breaker.calls",
        "breaker.rejections",
        "breaker.half_open.trials",
        "breaker.would_reject",
        "breaker.slow_calls",
        "breaker.calls.in_flight",
        "breaker.state",
        "breaker.consecutive_failures",
        "breaker.failure_rate",
        "breaker.drop_probability",
    ] {
        assert!(points.iter().any(|p| p.name == name), "no {name}");
    }
}

#[test]
fn transitions_are_log_records_with_the_breaker_and_the_reason() {
    let s = setup();
    let payments = s.registry.get_or_create("payments", || {
        "fail_max = 1, reset = 10s, success = 1".parse().unwrap()
    });
    s.clock.advance(Duration::from_secs(3));
    let _ = payments.call(fail);
    s.clock.advance(Duration::from_secs(10));
    payments.call(|| Ok::<_, Error>(())).unwrap();

    s.loggers.force_flush().expect("logs flushed");
    let logs = s.logs.get_emitted_logs().expect("logs");
    let records: Vec<_> = logs.iter().map(|l| &l.record).collect();
    assert_eq!(records.len(), 3, "closed -> open -> half_open -> closed");
    let first = records[0];
    assert_eq!(first.event_name(), Some("breaker.transition"));
    assert_eq!(first.severity_number(), Some(Severity::Warn));
    assert!(first.timestamp().is_some());
    let attribute = |record: &opentelemetry_sdk::logs::SdkLogRecord, key: &str| {
        record
            .attributes_iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        attribute(first, "breaker.name"),
        Some(AnyValue::from("payments".to_owned()))
    );
    assert_eq!(
        attribute(first, "breaker.from"),
        Some(AnyValue::from("closed"))
    );
    assert_eq!(attribute(first, "breaker.to"), Some(AnyValue::from("open")));
    assert_eq!(
        attribute(first, "breaker.reason"),
        Some(AnyValue::from("1 consecutive failure".to_owned()))
    );
    assert_eq!(
        attribute(first, "breaker.at_ms"),
        Some(AnyValue::from(3_000i64))
    );
    assert_eq!(
        attribute(first, "breaker.dry_run"),
        Some(AnyValue::from(false))
    );
    match first.body() {
        Some(AnyValue::String(body)) => {
            assert_eq!(
                body.as_str(),
                "breaker payments: closed -> open (1 consecutive failure)"
            )
        }
        other => panic!("body {other:?}"),
    }
    assert_eq!(records[2].severity_number(), Some(Severity::Info));
    assert_eq!(
        attribute(records[2], "breaker.to"),
        Some(AnyValue::from("closed"))
    );
}
