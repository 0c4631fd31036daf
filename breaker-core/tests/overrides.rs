//! Operators' overrides and `Registry::configure`, on registries of their own
//! (the process environment is never touched): the attribute's registration
//! path, what a mistake leaves, what is logged, and when `configure` may
//! still replace a breaker.

use std::io::Write;
use std::sync::{Arc, Mutex};

use breaker_core::overrides::{Origin, Overrides};
use breaker_core::{Config, ConfigureError, Error, Registry, circuit_breaker};

#[derive(Debug)]
struct AppError(#[allow(dead_code)] Error);

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError(e)
    }
}

#[circuit_breaker(ovr_payments, fail_max = 5, reset = 30s)]
fn payments() -> Result<u32, AppError> {
    Ok(1)
}

#[circuit_breaker("ovr-payments-eu", failure_rate = 50, window = 20)]
fn payments_eu() -> Result<u32, AppError> {
    Ok(1)
}

/// A registry holding every annotated function's breaker of this binary,
/// created through the attribute's registration path with `overrides`.
fn annotated(overrides: Overrides) -> Registry {
    let registry = Registry::with_overrides(overrides);
    breaker_core::__private::register_annotated(&registry);
    registry
}

fn config(registry: &Registry, name: &str) -> String {
    registry.get(name).expect(name).config().to_keys()
}

#[test]
fn variables_override_the_attributes_values_at_registration() {
    let registry = annotated(Overrides::new().vars([
        ("BREAKER_OVR_PAYMENTS_FAIL_MAX", "10"),
        ("BREAKER_OVR_PAYMENTS_EU_WINDOW", "10s"),
    ]));
    assert_eq!(config(&registry, "ovr_payments"), "fail_max = 10");
    assert_eq!(
        config(&registry, "ovr-payments-eu"),
        "failure_rate = 50, window = 10s"
    );
    assert!(registry.config_errors().is_empty());
    let _ = (payments(), payments_eu());
}

#[test]
fn a_bad_variable_keeps_the_attributes_values_and_is_retrievable() {
    let registry = annotated(Overrides::new().vars([
        ("BREAKER_OVR_PAYMENTS_FAIL_MAX", "10"),
        ("BREAKER_OVR_PAYMENTS_RESET", "0s"),
    ]));
    assert_eq!(config(&registry, "ovr_payments"), "fail_max = 5");
    let errors = registry.config_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].to_string(),
        "environment variable `BREAKER_OVR_PAYMENTS_RESET`: breaker `ovr_payments`, `reset`: must be between 1ns and 365 days, got 0s"
    );
    assert_eq!(errors[0].breaker(), Some("ovr_payments"));
    assert_eq!(errors[0].key(), Some("reset"));
    assert_eq!(
        errors[0].origin(),
        &Origin::Env {
            var: "BREAKER_OVR_PAYMENTS_RESET".into()
        }
    );
}

/// Collects what a `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_mistake_is_logged_on_the_breaker_target() {
    // The process-wide subscriber, not a thread's own: other tests of this
    // binary hit the same callsites on their threads first, and a callsite
    // whose interest was cached while only they ran would skip a scoped one.
    static LOG: std::sync::OnceLock<Log> = std::sync::OnceLock::new();
    let log = LOG.get_or_init(|| {
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_target(true)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
        log
    });
    let registry =
        Registry::with_overrides(Overrides::new().vars([("BREAKER_LOGGED_SUCESS", "3")]));
    registry.get_or_create("logged", Config::default);
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("ERROR breaker:"), "{text}");
    assert!(
        text.contains("environment variable `BREAKER_LOGGED_SUCESS`: breaker `logged`, `sucess`: unknown key; did you mean `success` (`BREAKER_LOGGED_SUCCESS`)?"),
        "{text}"
    );
    assert!(text.contains("keeps its configuration"), "{text}");
}

#[test]
fn configure_replaces_an_annotated_breaker_nobody_holds_yet() {
    let registry = annotated(Overrides::new());
    registry
        .configure("ovr_payments", "fail_max = 2, reset = 1m".parse().unwrap())
        .unwrap();
    assert_eq!(
        config(&registry, "ovr_payments"),
        "fail_max = 2, reset = 1m"
    );
    // `get` handed it out: from now on it is in use.
    assert_eq!(
        registry.configure("ovr_payments", Config::default()),
        Err(ConfigureError::InUse {
            name: "ovr_payments".into()
        })
    );
    assert_eq!(
        config(&registry, "ovr_payments"),
        "fail_max = 2, reset = 1m"
    );
}

#[test]
fn configure_before_creation_wins_over_the_code_and_loses_to_the_operator() {
    let registry = Registry::with_overrides(Overrides::new().vars([("BREAKER_DB_RESET", "5m")]));
    registry
        .configure("db", "fail_max = 2, reset = 1m".parse().unwrap())
        .unwrap();
    let db = registry.get_or_create("db", || "fail_max = 9".parse().unwrap());
    assert_eq!(db.config().to_keys(), "fail_max = 2, reset = 5m");
}

#[test]
fn configure_refuses_a_breaker_in_use_and_says_how_to_change_it() {
    let registry = Registry::new();
    let db = registry.get_or_create("db-main", Config::default);
    let err = registry
        .configure("db-main", "fail_max = 2".parse().unwrap())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "breaker `db-main` is already in use (handed out by the registry or called), so its configuration can no longer change; configure it before its first use, or override it from outside with `BREAKER_CONFIG` or `BREAKER_DB_MAIN_<KEY>`"
    );
    assert_eq!(db.config(), &Config::default());
    let listed = Registry::new();
    listed.configure("a", Config::default()).unwrap();
    let _ = listed.list();
    assert!(listed.configure("a", Config::default()).is_err());
}

#[cfg(feature = "config-file")]
#[test]
fn the_file_and_the_variables_layer_over_the_attribute() {
    let registry = annotated(
        Overrides::new()
            .file(
                "ops.toml",
                "[ovr_payments]\nfail_max = 8\nreset = \"2m\"\n\n[\"ovr-payments-eu\"]\nmin_calls = 30\n",
            )
            .vars([("BREAKER_OVR_PAYMENTS_FAIL_MAX", "9")]),
    );
    assert_eq!(
        config(&registry, "ovr_payments"),
        "fail_max = 9, reset = 2m"
    );
    // `min_calls = 30` is above the attribute's count window of 20: refused,
    // and pointed at where the operator wrote it.
    assert_eq!(
        config(&registry, "ovr-payments-eu"),
        "failure_rate = 50, window = 20"
    );
    let errors: Vec<String> = registry
        .config_errors()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        errors,
        [
            "ops.toml:6:13: breaker `ovr-payments-eu`, `min_calls`: must be at most the count window (20), got 30"
        ]
    );
}
