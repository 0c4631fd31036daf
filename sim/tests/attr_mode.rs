//! The `#[circuit_breaker]` functions of `breaker_sim::subject::attr::sync`, driven from the
//! shipped traces, write the same event log as the direct replay through
//! `Breaker`. (One process, so each trace's breakers are used once.)

mod support;

#[test]
fn annotated_functions_write_the_same_log_as_the_direct_replay() {
    for name in [
        "outage",
        "flapping",
        "half_open",
        "backoff",
        "manual",
        "operator",
    ] {
        let path = format!("{}/traces/{name}.trace", support::package_dir().display());
        let text = std::fs::read_to_string(&path).unwrap();
        let trace = breaker_sim::trace::parse(&path, &text).unwrap();
        let direct = breaker_sim::subject::real::replay(&path, &trace).unwrap();
        let annotated = breaker_sim::subject::attr::sync::replay(&path, &trace).unwrap();
        let names: Vec<String> = trace.breakers.iter().map(|b| b.name.clone()).collect();
        if let Some(d) = breaker_sim::check::compare(&direct, &annotated, &names) {
            panic!("{name}: {d}");
        }
    }
    // operator.trace reconfigured `cfg`; the replay put its attribute's configuration back.
    let cfg = breaker_core::registry().get("cfg").unwrap();
    assert_eq!(
        cfg.config().to_keys(),
        "fail_max = 5, reset = 10s, half_open = 1"
    );
}

#[test]
fn refuses_configure_lines_the_annotated_functions_cannot_follow() {
    let refused = |text: &str| {
        let trace = breaker_sim::trace::parse("t", text).unwrap();
        breaker_sim::subject::attr::sync::AttrSubject::for_trace("t", &trace)
            .err()
            .unwrap()
    };
    let e = refused("breaker db fail_max=5 reset=10s success=2\n0s db configure timeout=1s\n");
    assert_eq!(e.line, 2, "{e}");
    assert!(e.message.contains("has no timer"), "{e}");
    let e = refused("breaker db fail_max=5 reset=10s success=2\n0s db configure adaptive=2\n");
    assert!(e.message.contains("`adaptive`"), "{e}");
    let e = refused("breaker db fail_max=5 reset=10s success=2\n0s db configure ramp=10s\n");
    assert!(e.message.contains("`ramp`"), "{e}");
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
