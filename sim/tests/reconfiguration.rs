//! `configure` lines (SEMANTICS.md, "Reconfiguration"): one rule a test,
//! each replayed through breaker-core and the reference model, whose logs
//! must be the same line for line; each test then pins what the rule says
//! on that log.

/// The log of `text` (JSON Lines), the same through breaker-core and the model.
fn log(text: &str) -> Vec<String> {
    let trace = breaker_sim::trace::parse("t", text).unwrap();
    let names: Vec<String> = trace.breakers.iter().map(|b| b.name.clone()).collect();
    let model = breaker_sim::log::render(&breaker_sim::model::replay(&trace), &names);
    let real = breaker_sim::log::render(
        &breaker_sim::subject::real::replay("t", &trace).unwrap(),
        &names,
    );
    assert_eq!(model, real, "breaker-core and the model differ on\n{text}");
    model.lines().map(str::to_string).collect()
}

/// The `configured` events' keys, in order.
fn configured(log: &[String]) -> Vec<String> {
    log.iter()
        .filter(|l| l.contains("\"event\":\"configured\""))
        .map(|l| {
            let keys = l.split("\"keys\":\"").nth(1).unwrap_or("");
            keys.split('"').next().unwrap_or("").to_string()
        })
        .collect()
}

/// The transitions as `t_ns from>to (reason)`.
fn transitions(log: &[String]) -> Vec<String> {
    let field = |l: &str, name: &str| {
        let key = format!("\"{name}\":");
        let rest = l.split(&key).nth(1).unwrap_or("");
        rest.trim_start_matches('"')
            .split(['"', ','])
            .next()
            .unwrap_or("")
            .to_string()
    };
    log.iter()
        .filter(|l| l.contains("\"event\":\"transition\""))
        .map(|l| {
            format!(
                "{} {}>{} ({})",
                field(l, "t_ns"),
                field(l, "from"),
                field(l, "to"),
                field(l, "reason")
            )
        })
        .collect()
}

const S: u64 = 1_000_000_000;

#[test]
fn a_configure_line_comes_after_the_ends_of_its_instant_and_writes_the_state() {
    let log =
        log("breaker db fail_max=2\n0s db ok 1s\n1s db err\n1s db configure fail_max=3 reset=1m\n");
    assert_eq!(
        log,
        [
            r#"{"t_ns":0,"breaker":"db","call":1,"event":"admitted","state":"closed"}"#,
            r#"{"t_ns":1000000000,"breaker":"db","call":1,"event":"ended","outcome":"success","latency_ns":1000000000,"state":"closed"}"#,
            r#"{"t_ns":1000000000,"breaker":"db","call":2,"event":"admitted","state":"closed"}"#,
            r#"{"t_ns":1000000000,"breaker":"db","call":2,"event":"ended","outcome":"failure","latency_ns":0,"state":"closed"}"#,
            r#"{"t_ns":1000000000,"breaker":"db","event":"configured","keys":"fail_max=3 reset=1m","state":"closed"}"#,
        ]
    );
}

#[test]
fn a_line_that_changes_no_value_writes_nothing_and_is_still_applied() {
    // `fail_max=5` is the default's value: no event, but it is now written,
    // so the consecutive policy stays beside the failure rate added later.
    let kept = log(
        "breaker a\n0s a configure fail_max=5\n1s a configure failure_rate=90 window=10\n2s a err\n2s a err\n2s a err\n2s a err\n2s a err\n",
    );
    assert_eq!(
        configured(&kept),
        ["failure_rate=90 window=10 min_calls=10"]
    );
    assert_eq!(
        transitions(&kept),
        [format!("{} closed>open (5 consecutive failures)", 2 * S)]
    );
    // Without it the rate policy ends the default one, whose 5 is no more.
    let ended = log(
        "breaker a\n1s a configure failure_rate=90 window=10\n2s a err\n2s a err\n2s a err\n2s a err\n2s a err\n",
    );
    assert_eq!(
        configured(&ended),
        ["fail_max= failure_rate=90 window=10 min_calls=10"]
    );
    assert!(transitions(&ended).is_empty());
}

#[test]
fn a_new_threshold_keeps_the_counts_and_applies_at_the_next_outcome() {
    // Consecutive: a run of 3 meets fail_max 2 at the next failure, not before.
    let log1 = log(
        "breaker a fail_max=5\n0s a err\n0s a err\n0s a err\n1s a configure fail_max=2\n2s a err\n",
    );
    assert_eq!(
        transitions(&log1),
        [format!("{} closed>open (4 consecutive failures)", 2 * S)]
    );
    // Failures within a time: kept for a new fail_max.
    let log2 = log(
        "breaker a fail_max=5 within=10s\n0s a err\n1s a err\n2s a configure fail_max=3\n3s a err\n",
    );
    assert_eq!(
        transitions(&log2),
        [format!("{} closed>open (3 failures within 10s)", 3 * S)]
    );
    // Failure rate: the window of 3 is kept; 2 of 4 reach the new 50%.
    let log3 = log(
        "breaker a failure_rate=80 window=4\n0s a err\n1s a err\n2s a ok\n3s a configure failure_rate=50\n4s a ok\n",
    );
    assert_eq!(
        transitions(&log3),
        [format!(
            "{} closed>open (2 of 4 calls failed (threshold 50%))",
            4 * S
        )]
    );
    // Slow-call rate: the slow calls are kept for a new slow_rate.
    let log4 = log(
        "breaker a slow=100ms slow_rate=90 window=4\n0s a ok 200ms\n1s a ok 200ms\n2s a ok 200ms\n3s a configure slow_rate=50\n4s a ok\n",
    );
    assert_eq!(
        transitions(&log4),
        [format!(
            "{} closed>open (3 of 4 calls slow (threshold 50%))",
            4 * S
        )]
    );
}

#[test]
fn another_parameter_changed_restarts_that_policy_empty() {
    // A new `within`.
    let within = log(
        "breaker a fail_max=3 within=10s\n0s a err\n1s a err\n2s a configure within=20s\n3s a err\n4s a err\n",
    );
    assert!(transitions(&within).is_empty(), "{within:?}");
    // A new window, and a new min_calls.
    for patch in ["window=5", "min_calls=3"] {
        let text = format!(
            "breaker a failure_rate=50 window=4\n0s a err\n1s a err\n2s a err\n3s a configure {patch}\n4s a ok\n5s a ok\n"
        );
        assert!(transitions(&log(&text)).is_empty(), "{patch}");
    }
    // The default min_calls follows the window: a new window of the same
    // size with min_calls written changes nothing, so the window is kept.
    let same = log(
        "breaker a failure_rate=50 window=4 min_calls=4\n0s a err\n1s a err\n2s a err\n3s a configure window=4\n4s a err\n",
    );
    assert_eq!(configured(&same), Vec::<String>::new());
    assert_eq!(transitions(&same).len(), 1);
    let follows = log(
        "breaker a failure_rate=50 window=4\n0s a err\n1s a err\n2s a err\n3s a configure window=6\n4s a err\n5s a err\n6s a err\n7s a err\n8s a err\n9s a err\n",
    );
    assert_eq!(configured(&follows), ["window=6 min_calls=6"]);
    assert_eq!(
        transitions(&follows),
        [format!(
            "{} closed>open (6 of 6 calls failed (threshold 50%))",
            9 * S
        )]
    );
    // A new `slow` restarts the slow-call rate only; the failure rate keeps its window.
    let slow = log(
        "breaker a slow=100ms slow_rate=50 failure_rate=50 window=4\n0s a ok 200ms\n1s a err\n2s a configure slow=150ms\n3s a ok 200ms\n4s a ok 200ms\n5s a err\n",
    );
    assert_eq!(
        transitions(&slow),
        [format!(
            "{} closed>open (2 of 4 calls failed (threshold 50%))",
            5 * S
        )]
    );
}

#[test]
fn a_newly_active_policy_starts_empty_and_one_no_longer_active_is_dropped() {
    // The slow-call rate, newly active, counts only what ends after it.
    let added = log(
        "breaker a failure_rate=90 window=4\n0s a ok 200ms\n1s a ok 200ms\n2s a configure slow=100ms slow_rate=50\n3s a ok 200ms\n4s a ok 200ms\n5s a ok 200ms\n6s a ok 200ms\n",
    );
    assert_eq!(
        transitions(&added),
        [format!(
            "{} closed>open (4 of 4 calls slow (threshold 50%))",
            6 * S + 200_000_000
        )]
    );
    // A consecutive policy newly active starts from 0.
    let back = log(
        "breaker a failure_rate=90 window=100\n0s a err\n0s a err\n1s a configure fail_max=2\n2s a err\n3s a err\n",
    );
    assert_eq!(
        transitions(&back),
        [format!("{} closed>open (2 consecutive failures)", 3 * S)]
    );
    // `within` turns the consecutive policy into a count in a time window.
    let moved =
        log("breaker a fail_max=3\n0s a err\n0s a err\n1s a configure within=10s\n2s a err\n");
    assert!(transitions(&moved).is_empty(), "{moved:?}");
}

#[test]
fn an_open_period_keeps_its_end_and_the_next_opening_lasts_the_new_reset() {
    let log = log(
        "breaker a fail_max=1 reset=10s backoff=2\n0s a err\n10s a err\n15s a configure reset=1s\n29s a ok\n30s a err\n31s a err\n33s a ok\n",
    );
    assert!(log.iter().any(|l| l.contains(r#""t_ns":29000000000,"breaker":"a","call":3,"event":"rejected","state":"open","retry_after_ns":1000000000"#)));
    assert_eq!(
        transitions(&log),
        [
            "0 closed>open (1 consecutive failure)".to_string(),
            format!("{} open>half_open (open for 10s)", 10 * S),
            format!("{} half_open>open (trial failed)", 10 * S),
            format!("{} open>half_open (open for 20s)", 30 * S),
            format!("{} half_open>open (trial failed)", 30 * S),
            format!("{} open>half_open (open for 1s)", 31 * S),
            format!("{} half_open>open (trial failed)", 31 * S),
            format!("{} open>half_open (open for 2s)", 33 * S),
        ]
    );
}

#[test]
fn trials_in_flight_go_on_and_success_and_half_open_apply_from_the_next() {
    let log = log(
        "breaker a fail_max=1 reset=1s success=3 half_open=1\n0s a err\n1s a ok 1s\n1.5s a ok\n1.5s a configure half_open=2\n1.5s a ok 1s\n2s a configure success=1\n2.2s a ok\n",
    );
    assert!(log.iter().any(|l| l.contains(
        r#""t_ns":1500000000,"breaker":"a","call":3,"event":"rejected","state":"half_open""#
    )));
    assert!(log.iter().any(|l| l.contains(
        r#""t_ns":1500000000,"breaker":"a","call":4,"event":"admitted","state":"half_open""#
    )));
    // The trial of 1s ended at 2s, before the change: 1 success, already
    // the new `success`. The next successful trial, the one of 2.2s (a
    // permit came back at 2s), closes; the trial of 1.5s then straggles.
    assert_eq!(
        transitions(&log).last().unwrap(),
        &format!(
            "{} half_open>closed (2 successful trials)",
            2 * S + 200_000_000
        )
    );
    assert!(log.last().unwrap().contains(
        r#""call":4,"event":"ended","outcome":"success","latency_ns":1000000000,"straggler":true"#
    ));
}

#[test]
fn a_new_timeout_cuts_only_the_calls_admitted_after_it() {
    let log = log("breaker a timeout=1s\n0s a ok 2s\n0.5s a configure timeout=3s\n0.5s a ok 2s\n");
    assert!(log.iter().any(|l| {
        l.contains(r#""call":1,"event":"ended","outcome":"timeout","latency_ns":1000000000"#)
    }));
    assert!(log.iter().any(|l| {
        l.contains(r#""call":2,"event":"ended","outcome":"success","latency_ns":2000000000"#)
    }));
}

#[test]
fn manual_modes_stay_and_the_dry_run_follows_the_new_configuration() {
    let forced = log(
        "breaker a fail_max=3\n0s a force_open\n1s a configure fail_max=1 reset=1s\n2s a ok\n3s a reset\n4s a err\n",
    );
    assert!(forced.iter().any(|l| l.contains(r#""t_ns":1000000000,"breaker":"a","event":"configured","keys":"fail_max=1 reset=1s","state":"forced_open""#)));
    assert_eq!(
        transitions(&forced).last().unwrap(),
        &format!("{} closed>open (1 consecutive failure)", 4 * S)
    );
    let dry = log(
        "breaker a fail_max=3 reset=10s\n0s a metrics_only\n1s a err\n2s a err\n3s a configure fail_max=2\n4s a err\n",
    );
    assert_eq!(
        transitions(&dry).last().unwrap(),
        &format!("{} closed>open (3 consecutive failures)", 4 * S)
    );
    assert!(dry.last().unwrap().contains("\"dry_run\":true"));
}

/// Calls every 100ms that fail, then `patch` at 3s, then more calls.
fn adaptive_trace(declaration: &str, patches: [&str; 2]) -> String {
    let mut text = format!("{declaration}\n");
    for i in 0..30 {
        text += &format!("{}ms a err\n", i * 100);
    }
    text += &format!("3s a configure {}\n", patches[0]);
    for i in 30..60 {
        text += &format!("{}ms a err\n", i * 100);
    }
    text += &format!("6s a configure {}\n", patches[1]);
    for i in 60..90 {
        text += &format!(
            "{}ms a {}\n",
            i * 100,
            if i % 3 == 0 { "ok" } else { "err" }
        );
    }
    text
}

#[test]
fn adaptive_keeps_its_counts_for_a_new_k_and_restarts_for_a_new_window() {
    // Seeded drops: only the agreement of breaker-core and the model is pinned.
    let log = log(&adaptive_trace(
        "breaker a adaptive=1.5",
        ["adaptive=2", "window=20s"],
    ));
    assert_eq!(configured(&log), ["adaptive=2", "window=20s min_calls=10"]);
    assert!(
        log.iter().any(|l| l.contains("\"rejected\"")),
        "it throttled"
    );
}

/// breaker-core's `ConfigBuilder::from(&Config)` leaves `window` out when
/// no rate policy reads it, so a patch of a breaker with `adaptive` and a
/// time `window` puts the adaptive window back to its default 10s (and
/// reports `window=100 min_calls=100`), where SEMANTICS.md says the patch
/// changes only its own keys.
#[test]
fn adaptive_keeps_its_time_window_across_a_patch_of_another_key() {
    let log = log(&adaptive_trace(
        "breaker a adaptive=1.5 window=5s",
        ["adaptive=2", "reset=1m"],
    ));
    assert_eq!(configured(&log), ["adaptive=2", "reset=1m"]);
}

/// `trip()` while Open after a change of `reset`: breaker-core keeps the
/// flag that makes the next failed trial reopen for `reset`, so backoff
/// does not grow from the trip's period (as it does after a trip from
/// HalfOpen, which clears it).
#[test]
fn a_trip_while_open_is_the_opening_that_takes_the_new_reset() {
    let log = log(
        "breaker a fail_max=1 reset=10s backoff=2\n0s a err\n1s a configure reset=20s\n2s a trip\n22s a err\n43s a ok\n",
    );
    // Tripped at 2s for the new 20s; the trial at 22s fails: 20s x 2.
    assert!(
        log.last()
            .unwrap()
            .contains(r#""call":3,"event":"rejected","state":"open","retry_after_ns":19000000000"#)
    );
}
