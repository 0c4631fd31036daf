//! Exact event logs of small traces, checked by hand against SEMANTICS.md,
//! for both breaker-core and the reference model.

fn both(text: &str) -> (String, String) {
    let trace = breaker_sim::trace::parse("t", text).unwrap();
    let names: Vec<String> = trace.breakers.iter().map(|b| b.name.clone()).collect();
    let model = breaker_sim::log::render(&breaker_sim::model::replay(&trace), &names);
    let real = breaker_sim::log::render(
        &breaker_sim::subject::real::replay("t", &trace).unwrap(),
        &names,
    );
    (model, real)
}

fn assert_log(text: &str, expected: &[&str]) {
    let expected: String = expected.iter().map(|l| format!("{l}\n")).collect();
    let (model, real) = both(text);
    assert_eq!(model, expected, "reference model");
    assert_eq!(real, expected, "breaker-core");
}

#[test]
fn consecutive_failures_open_then_trials_close_with_a_straggling_trial() {
    assert_log(
        "breaker db fail_max=2 reset=30s\n0s db ok\n10ms db err\n+5ms db err 200ms\n16ms db ok\n216ms db err\n30.215s db ok\n30.216s db ok 1s\n30.5s db ok\n30.6s db ok\n",
        &[
            r#"{"t_ns":0,"breaker":"db","call":1,"event":"admitted","state":"closed"}"#,
            r#"{"t_ns":0,"breaker":"db","call":1,"event":"ended","outcome":"success","latency_ns":0,"state":"closed"}"#,
            r#"{"t_ns":10000000,"breaker":"db","call":2,"event":"admitted","state":"closed"}"#,
            r#"{"t_ns":10000000,"breaker":"db","call":2,"event":"ended","outcome":"failure","latency_ns":0,"state":"closed"}"#,
            r#"{"t_ns":15000000,"breaker":"db","call":3,"event":"admitted","state":"closed"}"#,
            r#"{"t_ns":16000000,"breaker":"db","call":4,"event":"admitted","state":"closed"}"#,
            r#"{"t_ns":16000000,"breaker":"db","call":4,"event":"ended","outcome":"success","latency_ns":0,"state":"closed"}"#,
            r#"{"t_ns":215000000,"breaker":"db","call":3,"event":"ended","outcome":"failure","latency_ns":200000000,"state":"closed"}"#,
            r#"{"t_ns":216000000,"breaker":"db","call":5,"event":"admitted","state":"closed"}"#,
            r#"{"t_ns":216000000,"breaker":"db","call":5,"event":"ended","outcome":"failure","latency_ns":0,"state":"open"}"#,
            r#"{"t_ns":216000000,"breaker":"db","event":"transition","from":"closed","to":"open","reason":"2 consecutive failures"}"#,
            r#"{"t_ns":30215000000,"breaker":"db","call":6,"event":"rejected","state":"open","retry_after_ns":1000000}"#,
            r#"{"t_ns":30216000000,"breaker":"db","call":7,"event":"admitted","state":"half_open"}"#,
            r#"{"t_ns":30216000000,"breaker":"db","event":"transition","from":"open","to":"half_open","reason":"open for 30s"}"#,
            r#"{"t_ns":30500000000,"breaker":"db","call":8,"event":"admitted","state":"half_open"}"#,
            r#"{"t_ns":30500000000,"breaker":"db","call":8,"event":"ended","outcome":"success","latency_ns":0,"state":"half_open"}"#,
            r#"{"t_ns":30600000000,"breaker":"db","call":9,"event":"admitted","state":"half_open"}"#,
            r#"{"t_ns":30600000000,"breaker":"db","call":9,"event":"ended","outcome":"success","latency_ns":0,"state":"closed"}"#,
            r#"{"t_ns":30600000000,"breaker":"db","event":"transition","from":"half_open","to":"closed","reason":"2 successful trials"}"#,
            r#"{"t_ns":31216000000,"breaker":"db","call":7,"event":"ended","outcome":"success","latency_ns":1000000000,"straggler":true,"state":"closed"}"#,
        ],
    );
}

#[test]
fn timeouts_slow_calls_and_ignored_errors() {
    assert_log(
        "breaker t timeout=100ms slow=50ms fail_max=1 reset=1s success=1\n0s t ok 100ms\n1s t ignored 50ms\n2s t ok 101ms\n2.05s t err\n3.1s t ok\n",
        &[
            r#"{"t_ns":0,"breaker":"t","call":1,"event":"admitted","state":"closed"}"#,
            // Exactly the timeout is not a timeout; it is slow (> 50ms).
            r#"{"t_ns":100000000,"breaker":"t","call":1,"event":"ended","outcome":"success","latency_ns":100000000,"slow":true,"state":"closed"}"#,
            r#"{"t_ns":1000000000,"breaker":"t","call":2,"event":"admitted","state":"closed"}"#,
            // An ignored error is a success; exactly `slow` is not slow.
            r#"{"t_ns":1050000000,"breaker":"t","call":2,"event":"ended","outcome":"success","latency_ns":50000000,"state":"closed"}"#,
            r#"{"t_ns":2000000000,"breaker":"t","call":3,"event":"admitted","state":"closed"}"#,
            r#"{"t_ns":2050000000,"breaker":"t","call":4,"event":"admitted","state":"closed"}"#,
            r#"{"t_ns":2050000000,"breaker":"t","call":4,"event":"ended","outcome":"failure","latency_ns":0,"state":"open"}"#,
            r#"{"t_ns":2050000000,"breaker":"t","event":"transition","from":"closed","to":"open","reason":"1 consecutive failure"}"#,
            // 101ms > 100ms: ends at start + timeout, a timeout, from the Closed period that ended.
            r#"{"t_ns":2100000000,"breaker":"t","call":3,"event":"ended","outcome":"timeout","latency_ns":100000000,"slow":true,"straggler":true,"state":"open"}"#,
            r#"{"t_ns":3100000000,"breaker":"t","call":5,"event":"admitted","state":"half_open"}"#,
            r#"{"t_ns":3100000000,"breaker":"t","event":"transition","from":"open","to":"half_open","reason":"open for 1s"}"#,
            r#"{"t_ns":3100000000,"breaker":"t","call":5,"event":"ended","outcome":"success","latency_ns":0,"state":"closed"}"#,
            r#"{"t_ns":3100000000,"breaker":"t","event":"transition","from":"half_open","to":"closed","reason":"1 successful trial"}"#,
        ],
    );
}

#[test]
fn actions_that_keep_the_state_report_no_transition_but_take_effect() {
    assert_log(
        "breaker m\n0s m ok 5s\n1s m trip\n2s m trip\n2.5s m ok\n5s m reset\n5s m reset\n",
        &[
            r#"{"t_ns":0,"breaker":"m","call":1,"event":"admitted","state":"closed"}"#,
            r#"{"t_ns":1000000000,"breaker":"m","event":"action","action":"trip","state":"open"}"#,
            r#"{"t_ns":1000000000,"breaker":"m","event":"transition","from":"closed","to":"open","reason":"manual trip"}"#,
            // trip() while Open restarts the period: a trial is 30s after 2s.
            r#"{"t_ns":2000000000,"breaker":"m","event":"action","action":"trip","state":"open"}"#,
            r#"{"t_ns":2500000000,"breaker":"m","call":2,"event":"rejected","state":"open","retry_after_ns":29500000000}"#,
            // At 5s the call's end comes before the line.
            r#"{"t_ns":5000000000,"breaker":"m","call":1,"event":"ended","outcome":"success","latency_ns":5000000000,"straggler":true,"state":"open"}"#,
            r#"{"t_ns":5000000000,"breaker":"m","event":"action","action":"reset","state":"closed"}"#,
            r#"{"t_ns":5000000000,"breaker":"m","event":"transition","from":"open","to":"closed","reason":"manual reset"}"#,
            r#"{"t_ns":5000000000,"breaker":"m","event":"action","action":"reset","state":"closed"}"#,
        ],
    );
}

#[test]
fn forced_open_and_half_open_rejections_carry_no_retry_after() {
    assert_log(
        "breaker f fail_max=1 reset=1s half_open=1\n0s f force_open\n0s f ok\n0s f reset\n0s f err\n1s f ok 1ms\n1s f ok\n",
        &[
            r#"{"t_ns":0,"breaker":"f","event":"action","action":"force_open","state":"forced_open"}"#,
            r#"{"t_ns":0,"breaker":"f","event":"transition","from":"closed","to":"forced_open","reason":"manual force_open"}"#,
            r#"{"t_ns":0,"breaker":"f","call":1,"event":"rejected","state":"forced_open"}"#,
            r#"{"t_ns":0,"breaker":"f","event":"action","action":"reset","state":"closed"}"#,
            r#"{"t_ns":0,"breaker":"f","event":"transition","from":"forced_open","to":"closed","reason":"manual reset"}"#,
            r#"{"t_ns":0,"breaker":"f","call":2,"event":"admitted","state":"closed"}"#,
            r#"{"t_ns":0,"breaker":"f","call":2,"event":"ended","outcome":"failure","latency_ns":0,"state":"open"}"#,
            r#"{"t_ns":0,"breaker":"f","event":"transition","from":"closed","to":"open","reason":"1 consecutive failure"}"#,
            r#"{"t_ns":1000000000,"breaker":"f","call":3,"event":"admitted","state":"half_open"}"#,
            r#"{"t_ns":1000000000,"breaker":"f","event":"transition","from":"open","to":"half_open","reason":"open for 1s"}"#,
            r#"{"t_ns":1000000000,"breaker":"f","call":4,"event":"rejected","state":"half_open"}"#,
            r#"{"t_ns":1001000000,"breaker":"f","call":3,"event":"ended","outcome":"success","latency_ns":1000000,"state":"half_open"}"#,
        ],
    );
}

#[test]
fn undecided_trials_reopen_at_the_first_call_or_trial_outcome_after_max_half_open_wait() {
    assert_log(
        "breaker h fail_max=1 reset=10s backoff=2 half_open=1 max_half_open_wait=5s\n0s h err\n10s h ok 20s\n14.999999999s h ok\n15s h ok\n35s h ok 1s\n40s h ok\n80s h ok 5s\n",
        &[
            r#"{"t_ns":0,"breaker":"h","call":1,"event":"admitted","state":"closed"}"#,
            r#"{"t_ns":0,"breaker":"h","call":1,"event":"ended","outcome":"failure","latency_ns":0,"state":"open"}"#,
            r#"{"t_ns":0,"breaker":"h","event":"transition","from":"closed","to":"open","reason":"1 consecutive failure"}"#,
            r#"{"t_ns":10000000000,"breaker":"h","call":2,"event":"admitted","state":"half_open"}"#,
            r#"{"t_ns":10000000000,"breaker":"h","event":"transition","from":"open","to":"half_open","reason":"open for 10s"}"#,
            // One permit, held by the hung trial; the wait has not run out.
            r#"{"t_ns":14999999999,"breaker":"h","call":3,"event":"rejected","state":"half_open"}"#,
            // At HalfOpen + 5s the call reopens the breaker, grown by backoff, and is rejected by it.
            r#"{"t_ns":15000000000,"breaker":"h","call":4,"event":"rejected","state":"open","retry_after_ns":20000000000}"#,
            r#"{"t_ns":15000000000,"breaker":"h","event":"transition","from":"half_open","to":"open","reason":"trials undecided after 5s"}"#,
            r#"{"t_ns":30000000000,"breaker":"h","call":2,"event":"ended","outcome":"success","latency_ns":20000000000,"straggler":true,"state":"open"}"#,
            r#"{"t_ns":35000000000,"breaker":"h","call":5,"event":"admitted","state":"half_open"}"#,
            r#"{"t_ns":35000000000,"breaker":"h","event":"transition","from":"open","to":"half_open","reason":"open for 20s"}"#,
            r#"{"t_ns":36000000000,"breaker":"h","call":5,"event":"ended","outcome":"success","latency_ns":1000000000,"state":"half_open"}"#,
            // No trial in flight, one success of two: still undecided.
            r#"{"t_ns":40000000000,"breaker":"h","call":6,"event":"rejected","state":"open","retry_after_ns":40000000000}"#,
            r#"{"t_ns":40000000000,"breaker":"h","event":"transition","from":"half_open","to":"open","reason":"trials undecided after 5s"}"#,
            r#"{"t_ns":80000000000,"breaker":"h","call":7,"event":"admitted","state":"half_open"}"#,
            r#"{"t_ns":80000000000,"breaker":"h","event":"transition","from":"open","to":"half_open","reason":"open for 40s"}"#,
            // A trial ending exactly at the wait's end decides too late: it straggles.
            r#"{"t_ns":85000000000,"breaker":"h","call":7,"event":"ended","outcome":"success","latency_ns":5000000000,"straggler":true,"state":"open"}"#,
            r#"{"t_ns":85000000000,"breaker":"h","event":"transition","from":"half_open","to":"open","reason":"trials undecided after 5s"}"#,
        ],
    );
}

#[test]
fn metrics_only_admits_everything_and_reports_its_dry_runs_moves() {
    assert_log(
        "breaker m fail_max=2 reset=1s success=1\n0s m metrics_only\n1ms m err\n2ms m err\n3ms m ok\n1.002s m ok\n2s m reset\n",
        &[
            r#"{"t_ns":0,"breaker":"m","event":"action","action":"metrics_only","state":"metrics_only"}"#,
            r#"{"t_ns":0,"breaker":"m","event":"transition","from":"closed","to":"metrics_only","reason":"manual metrics_only"}"#,
            r#"{"t_ns":1000000,"breaker":"m","call":1,"event":"admitted","state":"metrics_only"}"#,
            r#"{"t_ns":1000000,"breaker":"m","call":1,"event":"ended","outcome":"failure","latency_ns":0,"state":"metrics_only"}"#,
            r#"{"t_ns":2000000,"breaker":"m","call":2,"event":"admitted","state":"metrics_only"}"#,
            r#"{"t_ns":2000000,"breaker":"m","call":2,"event":"ended","outcome":"failure","latency_ns":0,"state":"metrics_only"}"#,
            // The dry run would open; the breaker stays MetricsOnly.
            r#"{"t_ns":2000000,"breaker":"m","event":"transition","from":"closed","to":"open","reason":"2 consecutive failures","dry_run":true}"#,
            // Admitted, though the dry run would have rejected it.
            r#"{"t_ns":3000000,"breaker":"m","call":3,"event":"admitted","state":"metrics_only"}"#,
            r#"{"t_ns":3000000,"breaker":"m","call":3,"event":"ended","outcome":"success","latency_ns":0,"state":"metrics_only"}"#,
            r#"{"t_ns":1002000000,"breaker":"m","call":4,"event":"admitted","state":"metrics_only"}"#,
            r#"{"t_ns":1002000000,"breaker":"m","event":"transition","from":"open","to":"half_open","reason":"open for 1s","dry_run":true}"#,
            r#"{"t_ns":1002000000,"breaker":"m","call":4,"event":"ended","outcome":"success","latency_ns":0,"state":"metrics_only"}"#,
            r#"{"t_ns":1002000000,"breaker":"m","event":"transition","from":"half_open","to":"closed","reason":"1 successful trial","dry_run":true}"#,
            r#"{"t_ns":2000000000,"breaker":"m","event":"action","action":"reset","state":"closed"}"#,
            r#"{"t_ns":2000000000,"breaker":"m","event":"transition","from":"metrics_only","to":"closed","reason":"manual reset"}"#,
        ],
    );
}

/// docs/semantics.md: a dry run follows the page as a live breaker would,
/// and a trial ending at or after `max_half_open_wait` is a straggler, in the
/// reference model and in breaker-core's dry run alike.
#[test]
fn a_dry_run_trial_deciding_after_max_half_open_wait_straggles() {
    assert_log(
        "breaker w fail_max=1 reset=1s max_half_open_wait=5s\n0s w metrics_only\n0s w err\n1s w ok 5s\n",
        &[
            r#"{"t_ns":0,"breaker":"w","event":"action","action":"metrics_only","state":"metrics_only"}"#,
            r#"{"t_ns":0,"breaker":"w","event":"transition","from":"closed","to":"metrics_only","reason":"manual metrics_only"}"#,
            r#"{"t_ns":0,"breaker":"w","call":1,"event":"admitted","state":"metrics_only"}"#,
            r#"{"t_ns":0,"breaker":"w","call":1,"event":"ended","outcome":"failure","latency_ns":0,"state":"metrics_only"}"#,
            r#"{"t_ns":0,"breaker":"w","event":"transition","from":"closed","to":"open","reason":"1 consecutive failure","dry_run":true}"#,
            r#"{"t_ns":1000000000,"breaker":"w","call":2,"event":"admitted","state":"metrics_only"}"#,
            r#"{"t_ns":1000000000,"breaker":"w","event":"transition","from":"open","to":"half_open","reason":"open for 1s","dry_run":true}"#,
            r#"{"t_ns":6000000000,"breaker":"w","call":2,"event":"ended","outcome":"success","latency_ns":5000000000,"straggler":true,"state":"metrics_only"}"#,
            r#"{"t_ns":6000000000,"breaker":"w","event":"transition","from":"half_open","to":"open","reason":"trials undecided after 5s","dry_run":true}"#,
        ],
    );
}

#[test]
fn adaptive_drops_in_closed_by_the_seeded_dice_and_successes_stop_the_drops() {
    // Seed 0, breaker `a`: the dice start at the first draw of the
    // generator of "adaptive/a"; their draws, as fractions of 2^64, are
    // 0.969, 0.711, 0.858, 0.381, 0.456, 0.506, 0.456, 0.707. A call is
    // dropped when the draw falls below (R - 2A) / (R + 1).
    let mut expected = Vec::new();
    let admitted = |t: u64, call: u32, outcome: &str, state: &str| {
        [
            format!(
                r#"{{"t_ns":{t},"breaker":"a","call":{call},"event":"admitted","state":"closed"}}"#
            ),
            format!(
                r#"{{"t_ns":{t},"breaker":"a","call":{call},"event":"ended","outcome":"{outcome}","latency_ns":0,"state":"{state}"}}"#
            ),
        ]
    };
    let dropped = |t: u64, call: u32| {
        format!(r#"{{"t_ns":{t},"breaker":"a","call":{call},"event":"rejected","state":"closed"}}"#)
    };
    const MS: u64 = 1_000_000;
    // R = 0: nothing to drop, no draw. Then p = 1/2, 2/3, 3/4 against
    // draws 0.969, 0.711, 0.858: let through.
    for (i, t) in [0, 10, 20, 30].into_iter().enumerate() {
        expected.extend(admitted(t * MS, i as u32 + 1, "failure", "closed"));
    }
    // p = 4/5 (a drop is not a request) against 0.381, 0.456, 0.506: dropped,
    // the successes among them too.
    expected.extend([
        dropped(40 * MS, 5),
        dropped(50 * MS, 6),
        dropped(60 * MS, 7),
    ]);
    expected.extend([
        r#"{"t_ns":70000000,"breaker":"a","event":"action","action":"trip","state":"open"}"#.to_string(),
        r#"{"t_ns":70000000,"breaker":"a","event":"transition","from":"closed","to":"open","reason":"manual trip"}"#.to_string(),
        r#"{"t_ns":80000000,"breaker":"a","event":"action","action":"reset","state":"closed"}"#.to_string(),
        r#"{"t_ns":80000000,"breaker":"a","event":"transition","from":"open","to":"closed","reason":"manual reset"}"#.to_string(),
    ]);
    // Closed again: the buckets are empty. One success (A = 1) covers two
    // requests with K = 2: no draw until R = 3 (p = 1/4 against 0.456), then
    // p = 2/5 against 0.707.
    expected.extend(admitted(85 * MS, 8, "success", "closed"));
    for (i, t) in [90, 100, 110, 120].into_iter().enumerate() {
        expected.extend(admitted(t * MS, i as u32 + 9, "failure", "closed"));
    }
    // At 1.5s every bucket of (0.5s, 1.5s] is empty: p = 0.
    expected.extend(admitted(1500 * MS, 13, "success", "closed"));
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_log(
        "breaker a adaptive=2 window=1s\n0ms a err\n10ms a err\n20ms a err\n30ms a err\n40ms a err\n50ms a ok\n60ms a ok\n70ms a trip\n80ms a reset\n85ms a ok\n90ms a err\n100ms a err\n110ms a err\n120ms a err\n1.5s a ok\n",
        &expected,
    );
}
