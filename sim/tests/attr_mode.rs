//! The `#[circuit_breaker]` functions of `breaker_sim::subject::attr::sync`, driven from the
//! shipped traces, write the same event log as the direct replay through
//! `Breaker`. (One process, so each trace's breakers are used once.)

#[test]
fn annotated_functions_write_the_same_log_as_the_direct_replay() {
    for name in ["outage", "flapping", "half_open", "backoff", "manual"] {
        let path = format!("{}/traces/{name}.trace", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let trace = breaker_sim::trace::parse(&path, &text).unwrap();
        let direct = breaker_sim::subject::real::replay(&path, &trace).unwrap();
        let annotated = breaker_sim::subject::attr::sync::replay(&path, &trace).unwrap();
        let names: Vec<String> = trace.breakers.iter().map(|b| b.name.clone()).collect();
        if let Some(d) = breaker_sim::check::compare(&direct, &annotated, &names) {
            panic!("{name}: {d}");
        }
    }
}

#[test]
fn refuses_a_breaker_without_an_annotated_function_or_with_another_config() {
    let trace = breaker_sim::trace::parse("t", "breaker zz\n").unwrap();
    let e = breaker_sim::subject::attr::sync::AttrSubject::for_trace("t", &trace)
        .err()
        .unwrap();
    assert!(
        e.message.contains("no annotated function for breaker `zz`"),
        "{e}"
    );
    let trace = breaker_sim::trace::parse("t", "breaker db fail_max=4\n").unwrap();
    let e = breaker_sim::subject::attr::sync::AttrSubject::for_trace("t", &trace)
        .err()
        .unwrap();
    assert!(
        e.message
            .contains("the annotated function `db` is configured"),
        "{e}"
    );
    let trace = breaker_sim::trace::parse("t", "breaker db timeout=1s\n").unwrap();
    let e = breaker_sim::subject::attr::sync::AttrSubject::for_trace("t", &trace)
        .err()
        .unwrap();
    assert!(e.message.contains("timeout"), "{e}");
}
