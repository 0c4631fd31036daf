//! Retry replay (`retry=N retry_backoff=base..max` on a declaration):
//! exact logs checked by hand, both breaker-core and the reference model
//! writing them, with the waits computed here from breaker-core's public
//! `Backoff` and `Jitter` (so the logs pin where each wait goes, not what
//! the generator draws).

use std::time::Duration;

use breaker_core::retry::{Backoff, Jitter};

fn both(text: &str, seed: u64) -> (String, String) {
    let trace = breaker_sim::trace::parse("t", text).unwrap();
    let names: Vec<String> = trace.breakers.iter().map(|b| b.name.clone()).collect();
    let model = breaker_sim::log::render(&breaker_sim::model::replay_seeded(&trace, seed), &names);
    let real = breaker_sim::log::render(
        &breaker_sim::subject::real::replay_seeded("t", &trace, seed).unwrap(),
        &names,
    );
    (model, real)
}

fn assert_log(text: &str, seed: u64, expected: &[String]) {
    let expected: String = expected.iter().map(|l| format!("{l}\n")).collect();
    let (model, real) = both(text, seed);
    assert_eq!(model, expected, "reference model");
    assert_eq!(real, expected, "breaker-core");
}

/// The first `n` waits breaker `name` draws under `seed`, in ns, for failed
/// attempts `ks` in turn.
fn waits(seed: u64, name: &str, base: Duration, max: Duration, ks: &[u32]) -> Vec<u64> {
    let backoff = Backoff::new(base, max).unwrap();
    let jitter = Jitter::derive(seed, name);
    ks.iter()
        .map(|&k| backoff.delay(k, &jitter).as_nanos() as u64)
        .collect()
}

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

#[test]
fn failed_attempts_are_retried_after_drawn_waits_until_one_succeeds() {
    let w = waits(
        3,
        "db",
        Duration::from_millis(100),
        Duration::from_secs(1),
        &[0, 1],
    );
    assert!(w[0] <= 100 * MS && w[1] <= 200 * MS);
    // Attempt 0 fails at 10ms; attempt 1 starts after w0, fails after 10ms;
    // attempt 2 starts after w1 and succeeds after 5ms.
    let a1 = 10 * MS + w[0];
    let a2 = a1 + 10 * MS + w[1];
    assert_log(
        "breaker db fail_max=5 retry=4 retry_backoff=100ms..1s\n0s db err,err,ok 10ms,10ms,5ms\n",
        3,
        &[
            r#"{"t_ns":0,"breaker":"db","call":1,"event":"admitted","state":"closed"}"#.into(),
            r#"{"t_ns":10000000,"breaker":"db","call":1,"event":"ended","outcome":"failure","latency_ns":10000000,"state":"closed"}"#.into(),
            format!(r#"{{"t_ns":{a1},"breaker":"db","call":1,"attempt":1,"event":"admitted","state":"closed"}}"#),
            format!(r#"{{"t_ns":{},"breaker":"db","call":1,"attempt":1,"event":"ended","outcome":"failure","latency_ns":10000000,"state":"closed"}}"#, a1 + 10 * MS),
            format!(r#"{{"t_ns":{a2},"breaker":"db","call":1,"attempt":2,"event":"admitted","state":"closed"}}"#),
            format!(r#"{{"t_ns":{},"breaker":"db","call":1,"attempt":2,"event":"ended","outcome":"success","latency_ns":5000000,"state":"closed"}}"#, a2 + 5 * MS),
        ],
    );
}

#[test]
fn a_rejected_retry_ends_the_call() {
    let w = waits(
        0,
        "db",
        Duration::from_millis(100),
        Duration::from_secs(5),
        &[0],
    );
    // The first failure opens the breaker; the retry meets the Open period.
    assert_log(
        "breaker db fail_max=1 reset=10s retry=3\n1s db err\n",
        0,
        &[
            r#"{"t_ns":1000000000,"breaker":"db","call":1,"event":"admitted","state":"closed"}"#.into(),
            r#"{"t_ns":1000000000,"breaker":"db","call":1,"event":"ended","outcome":"failure","latency_ns":0,"state":"open"}"#.into(),
            r#"{"t_ns":1000000000,"breaker":"db","event":"transition","from":"closed","to":"open","reason":"1 consecutive failure"}"#.into(),
            format!(
                r#"{{"t_ns":{},"breaker":"db","call":1,"attempt":1,"event":"rejected","state":"open","retry_after_ns":{}}}"#,
                S + w[0],
                10 * S - w[0]
            ),
        ],
    );
}

#[test]
fn timeouts_are_retried_panics_and_successes_are_not() {
    let w = waits(
        9,
        "t",
        Duration::from_millis(1),
        Duration::from_millis(1),
        &[0],
    );
    // Call 1 times out (2s > 1s) and is retried, the retry succeeding at once;
    // call 2 panics: recorded as a failure, not retried; call 3 is an ignored
    // error: a success, not retried.
    let a1 = S + w[0];
    assert_log(
        "breaker t timeout=1s retry=3 retry_backoff=1ms..1ms\n0s t ok,ok 2s,0s\n10s t panic\n11s t ignored\n",
        9,
        &[
            r#"{"t_ns":0,"breaker":"t","call":1,"event":"admitted","state":"closed"}"#.into(),
            r#"{"t_ns":1000000000,"breaker":"t","call":1,"event":"ended","outcome":"timeout","latency_ns":1000000000,"state":"closed"}"#.into(),
            format!(r#"{{"t_ns":{a1},"breaker":"t","call":1,"attempt":1,"event":"admitted","state":"closed"}}"#),
            format!(r#"{{"t_ns":{a1},"breaker":"t","call":1,"attempt":1,"event":"ended","outcome":"success","latency_ns":0,"state":"closed"}}"#),
            r#"{"t_ns":10000000000,"breaker":"t","call":2,"event":"admitted","state":"closed"}"#.into(),
            r#"{"t_ns":10000000000,"breaker":"t","call":2,"event":"ended","outcome":"failure","latency_ns":0,"state":"closed"}"#.into(),
            r#"{"t_ns":11000000000,"breaker":"t","call":3,"event":"admitted","state":"closed"}"#.into(),
            r#"{"t_ns":11000000000,"breaker":"t","call":3,"event":"ended","outcome":"success","latency_ns":0,"state":"closed"}"#.into(),
        ],
    );
}

#[test]
fn at_one_instant_ends_come_first_then_retries_then_the_traces_lines() {
    let w = waits(1, "o", Duration::from_secs(1), Duration::from_secs(1), &[0]);
    let r = w[0];
    let at = format!("{r}ns");
    // Call 1 fails at 0 and retries at r; call 2 (line 2) ends at r; call 3
    // is a line at r. At r: call 2's end first (its success resets the
    // consecutive run, so the retry's failure does not open the breaker),
    // then call 1's retry, then call 3.
    let text = format!(
        "breaker o fail_max=2 retry=2 retry_backoff=1s..1s\n0s o err\n0s o ok {at}\n{at} o ok\n"
    );
    assert_log(
        &text,
        1,
        &[
            r#"{"t_ns":0,"breaker":"o","call":1,"event":"admitted","state":"closed"}"#.into(),
            r#"{"t_ns":0,"breaker":"o","call":1,"event":"ended","outcome":"failure","latency_ns":0,"state":"closed"}"#.into(),
            r#"{"t_ns":0,"breaker":"o","call":2,"event":"admitted","state":"closed"}"#.into(),
            format!(r#"{{"t_ns":{r},"breaker":"o","call":2,"event":"ended","outcome":"success","latency_ns":{r},"state":"closed"}}"#),
            format!(r#"{{"t_ns":{r},"breaker":"o","call":1,"attempt":1,"event":"admitted","state":"closed"}}"#),
            format!(r#"{{"t_ns":{r},"breaker":"o","call":1,"attempt":1,"event":"ended","outcome":"failure","latency_ns":0,"state":"closed"}}"#),
            format!(r#"{{"t_ns":{r},"breaker":"o","call":3,"event":"admitted","state":"closed"}}"#),
            format!(r#"{{"t_ns":{r},"breaker":"o","call":3,"event":"ended","outcome":"success","latency_ns":0,"state":"closed"}}"#),
        ],
    );
}

#[test]
fn each_breaker_draws_from_its_own_generator_in_the_order_attempts_fail() {
    // Two breakers, one seed: `b` fails first (at 1ms), then `a` (at 2ms),
    // then `a` again (at 3ms). Each breaker's k-th draw is its own.
    let wa = waits(
        4,
        "a",
        Duration::from_secs(1),
        Duration::from_secs(1),
        &[0, 0],
    );
    let wb = waits(4, "b", Duration::from_secs(1), Duration::from_secs(1), &[0]);
    let text = "breaker a retry=2 retry_backoff=1s..1s\nbreaker b retry=2 retry_backoff=1s..1s\n1ms b err,ok\n2ms a err,ok\n3ms a err,ok\n";
    let trace = breaker_sim::trace::parse("t", text).unwrap();
    for events in [
        breaker_sim::model::replay_seeded(&trace, 4),
        breaker_sim::subject::real::replay_seeded("t", &trace, 4).unwrap(),
    ] {
        let retries: Vec<(usize, u64, u64)> = events
            .iter()
            .filter_map(|e| match e.kind {
                breaker_sim::log::EventKind::Admitted {
                    call, attempt: 1, ..
                } => Some((e.breaker, call, e.t_ns)),
                _ => None,
            })
            .collect();
        let mut expected = vec![
            (1, 1, MS + wb[0]),
            (0, 1, 2 * MS + wa[0]),
            (0, 2, 3 * MS + wa[1]),
        ];
        expected.sort_by_key(|e| e.2);
        assert_eq!(retries, expected);
    }
}

// ---- the engine's retry loop against breaker-core's own `Retry` ----------------------

use breaker_core::clock::ManualClock;
use breaker_core::retry::Retry;
use breaker_core::{Breaker, Error};
use proptest::prelude::*;

/// The error of a call run by breaker-core's `Retry`.
#[derive(Debug)]
enum CallError {
    Failed,
    Ignored,
    Breaker(Error),
}

impl From<Error> for CallError {
    fn from(e: Error) -> Self {
        CallError::Breaker(e)
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Failed => f.write_str("simulated failure"),
            CallError::Ignored => f.write_str("simulated ignored error"),
            CallError::Breaker(e) => write!(f, "{e}"),
        }
    }
}

/// The state `Jitter::derive(seed, name)` starts from, for `Retry::with_seed`
/// (which takes a plain seed): FNV-1a of the name, then splitmix64's finaliser.
fn derived(seed: u64, name: &str) -> u64 {
    fn finalise(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    finalise(seed ^ finalise(hash))
}

/// One call line: its attempts' outcomes (0 ok, 1 err, 2 ignored, 3 panic)
/// and latencies in ms.
type Call = (Vec<u8>, Vec<u32>);

/// What a replay amounted to: the transitions (time, from, to, reason), and
/// per call the attempts admitted and whether the last one asked was rejected.
type Outline = (Vec<(u64, String, String, String)>, Vec<(u32, bool)>);

const WORDS: [&str; 4] = ["ok", "err", "ignored", "panic"];

/// The trace of `calls`, one second apart (each call's attempts and waits
/// end well within it), and the attempts each call really lists: `err`s then
/// one other outcome at most.
fn trace_text(config: &str, calls: &[Call]) -> String {
    let mut text = format!("breaker db {config}\n");
    for (i, (outcomes, latencies)) in calls.iter().enumerate() {
        let outcomes: Vec<&str> = outcomes.iter().map(|&o| WORDS[o as usize]).collect();
        let latencies: Vec<String> = latencies.iter().map(|l| format!("{l}ms")).collect();
        text += &format!(
            "{}s db {} {}\n",
            i + 1,
            outcomes.join(","),
            latencies.join(",")
        );
    }
    text
}

fn through_sim(text: &str, seed: u64) -> Outline {
    let trace = breaker_sim::trace::parse("t", text).unwrap();
    let events = breaker_sim::subject::real::replay_seeded("t", &trace, seed).unwrap();
    assert_eq!(
        breaker_sim::check::compare(
            &breaker_sim::model::replay_seeded(&trace, seed),
            &events,
            &[]
        ),
        None,
        "model and core"
    );
    let mut transitions = Vec::new();
    let mut calls: Vec<(u32, bool)> = Vec::new();
    use breaker_sim::log::EventKind;
    for e in &events {
        match &e.kind {
            EventKind::Admitted { call, .. } | EventKind::Rejected { call, .. } => {
                let call = *call as usize;
                if calls.len() < call {
                    calls.resize(call, (0, false));
                }
                let rejected = matches!(e.kind, EventKind::Rejected { .. });
                calls[call - 1].0 += u32::from(!rejected);
                calls[call - 1].1 = rejected;
            }
            EventKind::Transition {
                from, to, reason, ..
            } => transitions.push((
                e.t_ns,
                from.as_str().to_string(),
                to.as_str().to_string(),
                reason.clone(),
            )),
            _ => {}
        }
    }
    (transitions, calls)
}

fn through_retry(
    breaker_config: &str,
    attempts: u32,
    backoff_ms: (u64, u64),
    calls: &[Call],
    seed: u64,
) -> Outline {
    let clock = ManualClock::new();
    let breaker = Breaker::with_clock("db", breaker_config.parse().unwrap(), clock.clone());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    breaker.on_transition(move |t| {
        sink.lock().unwrap().push((
            t.at.as_nanos() as u64,
            t.from.as_str().to_string(),
            t.to.as_str().to_string(),
            t.reason.to_string(),
        ))
    });
    let backoff = Backoff::new(
        Duration::from_millis(backoff_ms.0),
        Duration::from_millis(backoff_ms.1),
    )
    .unwrap();
    let retry = Retry::new(attempts)
        .with_backoff(backoff)
        .with_seed(derived(seed, "db"))
        .with_sleeper(clock.clone());
    let mut outline = Vec::new();
    for (i, (outcomes, latencies)) in calls.iter().enumerate() {
        clock.set(Duration::from_secs(i as u64 + 1));
        let mut k = 0usize;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            retry.call_when(
                &breaker,
                |e: &CallError| !matches!(e, CallError::Ignored),
                || {
                    let pick = |len: usize| k.min(len - 1);
                    let outcome = outcomes[pick(outcomes.len())];
                    let latency = latencies[pick(latencies.len())];
                    k += 1;
                    clock.advance(Duration::from_millis(u64::from(latency)));
                    match outcome {
                        0 => Ok(()),
                        1 => Err(CallError::Failed),
                        2 => Err(CallError::Ignored),
                        _ => std::panic::panic_any("simulated panic"),
                    }
                },
            )
        }));
        let rejected = matches!(result, Ok(Err(CallError::Breaker(_))));
        outline.push((k as u32, rejected));
    }
    let transitions = seen.lock().unwrap().clone();
    (transitions, outline)
}

fn call() -> impl Strategy<Value = Call> {
    (0u8..4, 0usize..4, proptest::collection::vec(0u32..20, 1..4)).prop_map(
        |(last, errs, latencies)| {
            let outcomes: Vec<u8> = std::iter::repeat_n(1, errs).chain([last]).collect();
            let latencies = latencies[..latencies.len().min(outcomes.len())].to_vec();
            (outcomes, latencies)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, rng_seed: proptest::test_runner::RngSeed::Fixed(5), failure_persistence: None, ..ProptestConfig::default() })]

    /// Calls one after another, each with its retries: the simulator's
    /// replay and breaker-core's `Retry::call_when` on a `ManualClock` make
    /// the same attempts, see the same rejections, and move the breaker the
    /// same way at the same times.
    #[test]
    fn sequential_calls_retry_as_breaker_cores_retry_does(
        fail_max in 1u32..4,
        reset_s in 1u32..4,
        success in 1u32..3,
        attempts in 4u32..6,
        (base, more) in (1u64..20, 0u64..40),
        calls in proptest::collection::vec(call(), 1..30),
        seed in any::<u64>(),
    ) {
        std::panic::set_hook(Box::new(|_| {}));
        let breaker_config = format!("fail_max={fail_max} reset={reset_s}s success={success}");
        let text = trace_text(
            &format!("{breaker_config} retry={attempts} retry_backoff={base}ms..{}ms", base + more),
            &calls,
        );
        let sim = through_sim(&text, seed);
        let core = through_retry(&breaker_config, attempts, (base, base + more), &calls, seed);
        let _ = std::panic::take_hook();
        prop_assert_eq!(sim, core, "{}", text);
    }
}
