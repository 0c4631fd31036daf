//! The `metrics` facade publisher, seen through a recorder of this test's
//! own (thread-local, so tests do not share values).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::{Config, Error, Registry};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};

/// Every counter and gauge by `name{label=value,...}`, and every description.
#[derive(Default)]
struct Seen {
    values: Mutex<BTreeMap<String, (bool, Arc<AtomicU64>)>>,
    described: Mutex<Vec<String>>,
}

impl Seen {
    fn handle(&self, key: &Key, counter: bool) -> Arc<AtomicU64> {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        self.values
            .lock()
            .unwrap()
            .entry(name)
            .or_insert_with(|| (counter, Arc::new(AtomicU64::new(0))))
            .1
            .clone()
    }

    fn counter(&self, name: &str) -> u64 {
        match self.values.lock().unwrap().get(name) {
            Some((true, value)) => value.load(Ordering::SeqCst),
            other => panic!("no counter `{name}` ({:?})", other.map(|v| v.0)),
        }
    }

    fn gauge(&self, name: &str) -> f64 {
        match self.values.lock().unwrap().get(name) {
            Some((false, value)) => f64::from_bits(value.load(Ordering::SeqCst)),
            _ => panic!("no gauge `{name}`"),
        }
    }
}

impl Recorder for Seen {
    fn describe_counter(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
        self.described.lock().unwrap().push(key.as_str().to_owned());
    }
    fn describe_gauge(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
        self.described.lock().unwrap().push(key.as_str().to_owned());
    }
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key, true))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key, false))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

fn registry(clock: &ManualClock) -> Registry {
    let registry = Registry::new();
    registry.use_clock(clock.clone());
    registry.get_or_create("payments", || {
        Config::builder()
            .fail_max(2)
            .reset(Duration::from_secs(10))
            .success(1)
            .build()
            .expect("a valid config")
    });
    registry
}

fn fail(registry: &Registry, name: &str) {
    let breaker = registry.get(name).unwrap();
    let _ = breaker.call(|| Err::<(), _>(Error::timeout(name.into(), Duration::from_secs(1))));
}

#[test]
fn publish_copies_cumulative_counters_and_current_gauges() {
    let seen = Seen::default();
    let clock = ManualClock::new();
    let registry = registry(&clock);
    let payments = registry.get("payments").unwrap();
    metrics::with_local_recorder(&seen, || {
        payments.call(|| Ok::<_, Error>(())).unwrap();
        fail(&registry, "payments");
        fail(&registry, "payments");
        let _ = payments.acquire().unwrap_err();
        breaker_core::metrics::publish(&registry);
    });
    let b = "breaker=payments";
    assert_eq!(
        seen.counter(&format!("breaker_calls_total{{{b},outcome=success}}")),
        1
    );
    assert_eq!(
        seen.counter(&format!("breaker_calls_total{{{b},outcome=failure}}")),
        2
    );
    assert_eq!(
        seen.counter(&format!("breaker_calls_total{{{b},outcome=cancelled}}")),
        0
    );
    assert_eq!(seen.counter(&format!("breaker_rejections_total{{{b}}}")), 1);
    assert_eq!(seen.gauge(&format!("breaker_state{{{b},state=open}}")), 1.0);
    assert_eq!(
        seen.gauge(&format!("breaker_state{{{b},state=closed}}")),
        0.0
    );
    assert_eq!(seen.gauge(&format!("breaker_calls_in_flight{{{b}}}")), 0.0);

    // A second publish moves the gauges and keeps the counters cumulative.
    clock.advance(Duration::from_secs(10));
    metrics::with_local_recorder(&seen, || {
        payments.call(|| Ok::<_, Error>(())).unwrap();
        breaker_core::metrics::publish(&registry);
    });
    assert_eq!(
        seen.counter(&format!("breaker_calls_total{{{b},outcome=success}}")),
        2
    );
    assert_eq!(seen.gauge(&format!("breaker_state{{{b},state=open}}")), 0.0);
    assert_eq!(
        seen.gauge(&format!("breaker_state{{{b},state=closed}}")),
        1.0
    );
}

#[test]
fn transitions_are_counted_as_they_happen_by_state_left_and_entered() {
    let seen = Seen::default();
    let clock = ManualClock::new();
    let registry = registry(&clock);
    metrics::with_local_recorder(&seen, || {
        breaker_core::metrics::count_transitions(&registry);
        fail(&registry, "payments");
        fail(&registry, "payments");
        clock.advance(Duration::from_secs(10));
        fail(&registry, "payments"); // the trial fails
        clock.advance(Duration::from_secs(10));
        registry
            .get("payments")
            .unwrap()
            .call(|| Ok::<_, Error>(()))
            .unwrap();
    });
    let t = |from: &str, to: &str| {
        seen.counter(&format!(
            "breaker_transitions_total{{breaker=payments,from={from},to={to}}}"
        ))
    };
    assert_eq!(t("closed", "open"), 1);
    assert_eq!(t("open", "half_open"), 2);
    assert_eq!(t("half_open", "open"), 1, "a failed trial");
    assert_eq!(t("half_open", "closed"), 1, "trials that succeeded");
}

#[test]
fn describe_names_every_family() {
    let seen = Seen::default();
    metrics::with_local_recorder(&seen, breaker_core::metrics::describe);
    let described = seen.described.lock().unwrap();
    for family in [
        "breaker_calls_total",
        "breaker_rejections_total",
        "breaker_slow_calls_total",
        "breaker_transitions_total",
        "breaker_calls_in_flight",
        "breaker_state",
        "breaker_consecutive_failures",
        "breaker_failure_rate_ratio",
        "breaker_slow_call_rate_ratio",
        "breaker_half_open_trials_total",
        "breaker_would_reject_total",
        "breaker_drop_probability",
    ] {
        assert!(
            described.iter().any(|d| d == family),
            "{family} not described"
        );
    }
}

#[cfg(feature = "tokio")]
#[tokio::test(start_paused = true)]
async fn the_publisher_publishes_every_period_on_tokio_time() {
    let seen: &'static Seen = Box::leak(Box::default());
    let _guard = metrics::set_default_local_recorder(seen);
    let clock = ManualClock::new();
    let registry: &'static Registry = Box::leak(Box::new(registry(&clock)));
    let payments = registry.get("payments").unwrap();
    let publisher = breaker_core::metrics::spawn_publisher(registry, Duration::from_secs(5));
    let success = "breaker_calls_total{breaker=payments,outcome=success}";

    tokio::time::sleep(Duration::from_millis(1)).await; // the first tick is at once
    assert_eq!(seen.counter(success), 0);
    payments.call(|| Ok::<_, Error>(())).unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(seen.counter(success), 0, "not before the period");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(seen.counter(success), 1);
    publisher.abort();
}
