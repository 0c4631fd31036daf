//! The async `#[circuit_breaker]` functions of `breaker_sim::subject::attr::asynchronous`,
//! driven under tokio's paused clock, write the same event log as the direct
//! replay through `Breaker`, byte for byte: for the shipped traces and for
//! seeded generated traces. (One process, one replay at a time: the
//! registry is global, so the tests run in turn.)

mod support;

use std::sync::Mutex;

use breaker_sim::generate::{Scenario, generate, generate_with};
use breaker_sim::trace::{Trace, parse};

/// The global registry's clock and breakers serve one replay at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn names(trace: &Trace) -> Vec<String> {
    trace.breakers.iter().map(|b| b.name.clone()).collect()
}

/// The direct replay's log and the async attribute mode's, rendered.
fn both(file: &str, trace: &Trace) -> (String, Result<String, String>) {
    let names = names(trace);
    let direct = breaker_sim::log::render(
        &breaker_sim::subject::real::replay(file, trace).unwrap(),
        &names,
    );
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let annotated = breaker_sim::subject::attr::asynchronous::replay(file, trace)
        .map(|events| breaker_sim::log::render(&events, &names));
    (direct, annotated)
}

fn shipped(name: &str) -> (String, String) {
    let path = format!("{}/traces/{name}.trace", support::package_dir().display());
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

/// Asserts that both logs are the same; returns the direct one.
fn assert_same(file: &str, text: &str) -> String {
    let trace = parse(file, text).unwrap();
    let (direct, annotated) = both(file, &trace);
    let annotated = annotated.unwrap_or_else(|e| panic!("{e}"));
    assert!(direct.contains("\"event\":\"ended\""), "{file}: calls ran");
    if direct != annotated {
        let at = direct
            .lines()
            .zip(annotated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "{file}: logs differ at line {}:\n direct: {}\n async:  {}",
            at + 1,
            direct.lines().nth(at).unwrap_or("(end)"),
            annotated.lines().nth(at).unwrap_or("(end)")
        );
    }
    direct
}

#[test]
fn shipped_traces_write_the_direct_replays_log() {
    for name in [
        "outage",
        "flapping",
        "half_open",
        "manual",
        "rates",
        "operator",
    ] {
        let (path, text) = shipped(name);
        let _ = assert_same(&path, &text);
    }
}

/// backoff.trace has one call that sleeps 1 ns. tokio's timers fire on whole
/// milliseconds, so under tokio that call would end at 24.001 s rather than
/// 24 s + 1 ns, and the breaker would close 1 ms late: the mode refuses the
/// trace, naming the call. With that sleep made 1 ms (the rest unchanged,
/// including `f`'s zero-latency calls 3 ns apart, which do not sleep), the
/// logs are the same.
#[test]
fn backoff_is_refused_for_its_one_nanosecond_sleep_and_the_same_otherwise() {
    let (path, text) = shipped("backoff");
    let trace = parse(&path, &text).unwrap();
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let e = breaker_sim::subject::attr::asynchronous::replay(&path, &trace).unwrap_err();
    drop(_turn);
    assert_eq!(
        e,
        format!(
            "{path}:3:1: call 13 of `b` (at 24s) would end at 24s1ns, but tokio's timers fire on whole milliseconds (up to about 2.2 years); the async attribute mode replays only calls that sleep until such a time"
        )
    );
    let whole = text.replace("24s     b ok 1ns", "24s     b ok 1ms");
    assert_ne!(whole, text);
    let _ = assert_same(&path, &whole);
}

/// Every scenario of `gen`, three seeds each, at millisecond resolution.
#[test]
fn generated_traces_write_the_direct_replays_log() {
    let mut timeouts = 0;
    for name in Scenario::NAMES {
        let scenario = Scenario::from_name(name).unwrap();
        for seed in 1..=3 {
            let text = generate_with(scenario, seed, 120_000_000_000, 20, 1_000_000);
            let log = assert_same(&format!("gen-{name}-{seed}.trace"), &text);
            timeouts += log.matches("\"outcome\":\"timeout\"").count();
        }
    }
    // The attribute's own timer cut some of them (the `slow` scenario).
    assert!(timeouts > 0);
}

/// At the default microsecond resolution, calls end between milliseconds.
#[test]
fn microsecond_traces_are_refused_before_anything_runs() {
    let text = generate(Scenario::Outage, 1, 10_000_000_000, 20);
    let trace = parse("us.trace", &text).unwrap();
    let e = breaker_sim::subject::attr::asynchronous::check("us.trace", &trace).unwrap_err();
    assert!(
        e.message
            .contains("tokio's timers fire on whole milliseconds"),
        "{e}"
    );
    assert_eq!(e.line, 2, "at the declaration");
}

#[test]
fn refuses_a_configuration_without_an_async_function() {
    let trace = parse("t", "breaker zz fail_max=9\n").unwrap();
    let e = breaker_sim::subject::attr::asynchronous::check("t", &trace).unwrap_err();
    assert!(
        e.message
            .contains("no unused annotated async function is configured"),
        "{e}"
    );
    // Two breakers of one configuration need two functions: there is one.
    let trace = parse("t", "breaker a fail_max=2\nbreaker b fail_max=2\n").unwrap();
    let e = breaker_sim::subject::attr::asynchronous::check("t", &trace).unwrap_err();
    assert_eq!(e.line, 2, "{e}");
}
