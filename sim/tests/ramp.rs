//! Slow start after recovery, `ramp = D` (SEMANTICS.md "Slow start after
//! recovery", pinned in docs/semantics.md): one rule a test, each replayed
//! through breaker-core and the reference model, whose logs must be the
//! same line for line (so every draw is the same draw); each test then
//! pins what the rule says on that log.

const S: u64 = 1_000_000_000;

/// The log of `text` under `seed` (JSON Lines), the same through
/// breaker-core and the model.
fn log_seeded(text: &str, seed: u64) -> Vec<String> {
    let trace = breaker_sim::trace::parse("t", text).unwrap();
    let names: Vec<String> = trace.breakers.iter().map(|b| b.name.clone()).collect();
    let model = breaker_sim::log::render(&breaker_sim::model::replay_seeded(&trace, seed), &names);
    let real = breaker_sim::log::render(
        &breaker_sim::subject::real::replay_seeded("t", &trace, seed).unwrap(),
        &names,
    );
    assert_eq!(model, real, "breaker-core and the model differ on\n{text}");
    model.lines().map(str::to_string).collect()
}

fn log(text: &str) -> Vec<String> {
    log_seeded(text, 0)
}

/// A breaker `a` with `keys` that opens at 0s and closes by one
/// successful trial at 1s (tc = 1s), then the lines of `rest`.
fn closed_by_trials_at_1s(keys: &str, rest: &str) -> String {
    format!("breaker a fail_max=1 reset=1s success=1 {keys}\n0s a err\n1s a ok\n{rest}")
}

/// `n` call lines of `outcome` at `at`.
fn calls(at: &str, outcome: &str, n: usize) -> String {
    format!("{at} a {outcome}\n").repeat(n)
}

/// The time of an event line.
fn t_ns(line: &str) -> u64 {
    line.split("\"t_ns\":")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap()
}

/// (admitted, rejected) among the calls that arrived at `t`.
fn verdicts_at(log: &[String], t: u64) -> (usize, usize) {
    let at = |kind: &str| {
        log.iter()
            .filter(|l| t_ns(l) == t && l.contains(&format!("\"event\":\"{kind}\"")))
            .count()
    };
    (at("admitted"), at("rejected"))
}

/// The transitions as `t_ns from>to (reason)`, dry runs marked.
fn transitions(log: &[String]) -> Vec<String> {
    let field = |l: &str, name: &str| {
        let key = format!("\"{name}\":\"");
        let rest = l.split(&key).nth(1).unwrap_or("");
        rest.split('"').next().unwrap_or("").to_string()
    };
    log.iter()
        .filter(|l| l.contains("\"event\":\"transition\""))
        .map(|l| {
            let dry = if l.contains("\"dry_run\":true") {
                " dry"
            } else {
                ""
            };
            format!(
                "{} {}>{} ({}){dry}",
                t_ns(l),
                field(l, "from"),
                field(l, "to"),
                field(l, "reason")
            )
        })
        .collect()
}

#[test]
fn a_ramp_starts_when_trials_close_and_its_share_grows_from_a_tenth_to_all() {
    let rest = [
        calls("1s", "ok", 300),
        calls("6s", "ok", 300),
        calls("11s", "ok", 100),
    ]
    .concat();
    let log = log(&closed_by_trials_at_1s("ramp=10s", &rest));
    // At tc the share is 1/10; halfway 0.55; from tc + D on, every call.
    let (start, _) = verdicts_at(&log, S);
    let (middle, _) = verdicts_at(&log, 6 * S);
    // The trial at 1s is one of the admissions at 1s.
    assert!((15..=50).contains(&(start - 1)), "{start}");
    assert!((130..=200).contains(&middle), "{middle}");
    assert_eq!(verdicts_at(&log, 11 * S), (100, 0));
}

#[test]
fn a_call_the_ramp_turns_away_is_rejected_in_closed_without_retry_after() {
    let log = log(&closed_by_trials_at_1s("ramp=10s", &calls("2s", "ok", 20)));
    let rejected: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("\"event\":\"rejected\""))
        .collect();
    assert!(!rejected.is_empty());
    for line in rejected {
        assert!(line.contains("\"state\":\"closed\""), "{line}");
        assert!(!line.contains("retry_after_ns"), "{line}");
    }
    // No transition: the breaker stays Closed throughout the ramp.
    assert_eq!(transitions(&log).len(), 3);
}

#[test]
fn no_ramp_at_creation_nor_after_a_reset() {
    let created = log(&format!("breaker a ramp=1h\n{}", calls("0s", "ok", 100)));
    assert_eq!(verdicts_at(&created, 0), (100, 0));
    // reset() from Open closes outright.
    let reset_from_open = log(&format!(
        "breaker a fail_max=1 ramp=1h\n0s a err\n1s a reset\n{}",
        calls("1s", "ok", 100)
    ));
    assert_eq!(verdicts_at(&reset_from_open, S), (100, 0));
    // reset() while Closed ends the ramp in progress.
    let reset_in_ramp = log(&closed_by_trials_at_1s(
        "ramp=1h",
        &format!("1s a reset\n{}", calls("2s", "ok", 100)),
    ));
    assert_eq!(verdicts_at(&reset_in_ramp, 2 * S), (100, 0));
}

#[test]
fn a_failure_run_reopens_the_breaker_during_the_ramp_and_the_next_closing_ramps_again() {
    let log = log(&closed_by_trials_at_1s(
        "ramp=1h",
        &[
            calls("2s", "err", 100),
            calls("3s", "ok", 1),
            calls("3s", "ok", 100),
        ]
        .concat(),
    ));
    // The first admitted failure of the ramp reopens (fail_max = 1): the
    // calls the ramp turned away before it fed no policy.
    let t = transitions(&log);
    assert_eq!(
        t[3],
        format!("{} closed>open (1 consecutive failure)", 2 * S)
    );
    assert_eq!(
        t[5],
        format!("{} half_open>closed (1 successful trial)", 3 * S)
    );
    // Closed again by a trial: a new ramp from 3s turns calls away again.
    let (_, rejected) = verdicts_at(&log, 3 * S);
    assert!(rejected > 50, "{rejected}");
}

#[test]
fn leaving_closed_ends_the_ramp() {
    let log = log(&closed_by_trials_at_1s(
        "ramp=1h",
        &format!("2s a trip\n3s a reset\n{}", calls("3s", "ok", 100)),
    ));
    assert_eq!(verdicts_at(&log, 3 * S), (100, 0));
}

#[test]
fn a_reconfiguration_keeps_tc_and_takes_the_new_d_from_the_next_call() {
    // Shortened to 2s at 2s: from tc + 2s = 3s on, every call.
    let shorter = log(&closed_by_trials_at_1s(
        "ramp=10s",
        &format!("2s a configure ramp=2s\n{}", calls("3s", "ok", 100)),
    ));
    assert!(shorter.iter().any(|l| l.contains("\"keys\":\"ramp=2s\"")));
    assert_eq!(verdicts_at(&shorter, 3 * S), (100, 0));
    // Lengthened to 1h: at 20s, well past the old end, the ramp goes on.
    let longer = log(&closed_by_trials_at_1s(
        "ramp=10s",
        &format!("2s a configure ramp=1h\n{}", calls("20s", "ok", 100)),
    ));
    assert!(verdicts_at(&longer, 20 * S).1 > 50);
}

#[test]
fn a_ramp_set_while_none_is_in_progress_starts_none() {
    // Closed by trials without a ramp, then given one.
    let none = log(&closed_by_trials_at_1s(
        "",
        &format!("1s a configure ramp=1h\n{}", calls("2s", "ok", 100)),
    ));
    assert_eq!(verdicts_at(&none, 2 * S), (100, 0));
    // A ramp a call has seen end is not brought back by a longer one.
    let seen_over = log(&closed_by_trials_at_1s(
        "ramp=1s",
        &format!(
            "2.5s a ok\n3s a configure ramp=1h\n{}",
            calls("4s", "ok", 100)
        ),
    ));
    assert_eq!(verdicts_at(&seen_over, 4 * S), (100, 0));
}

/// The ramp of 1s from tc = 1s is over at 2s; no call comes before the
/// change at 3s lengthens `ramp` to 1h.
const OVER_UNSEEN: &str = "3s a configure ramp=1h\n4s a ok\n4s a ok\n4s a ok\n4s a ok\n";

#[test]
fn a_ramp_over_before_a_longer_one_is_set_stays_over_in_the_model() {
    let trace =
        breaker_sim::trace::parse("t", &closed_by_trials_at_1s("ramp=1s", OVER_UNSEEN)).unwrap();
    let names = vec!["a".to_string()];
    let model = breaker_sim::log::render(&breaker_sim::model::replay(&trace), &names);
    let model: Vec<String> = model.lines().map(str::to_string).collect();
    assert_eq!(verdicts_at(&model, 4 * S), (4, 0));
}

/// breaker-core ends a ramp only at the first call at or past tc + D, so
/// a change lengthening `ramp` before that call brings the ramp back
/// (call 3 at 4s is rejected in closed); with a call in between it does
/// not (`a_ramp_set_while_none_is_in_progress_starts_none`).
/// docs/semantics.md: a ramp lasts while t < tc + D, and a ramp set while
/// none is in progress starts none. Reported; the proptest steers around it.
#[test]
fn a_ramp_over_before_a_longer_one_is_set_stays_over_in_core_too() {
    let log = log(&closed_by_trials_at_1s("ramp=1s", OVER_UNSEEN));
    assert_eq!(verdicts_at(&log, 4 * S), (4, 0));
}

/// docs/semantics.md: the dry run ramps as the live breaker would. It
/// closes by its trial at 1s; of the failures that follow at once, the ones
/// its ramp would shed (nine in ten) feed nothing, and the first it admits
/// opens it again (fail_max = 1). Without the ramp, the first would.
#[test]
fn the_dry_run_ramps_as_the_live_breaker_would() {
    let dry = |keys: &str| {
        log(&format!(
            "breaker a fail_max=1 reset=1s success=1 {keys}\n0s a metrics_only\n0s a err\n1s a ok\n{}",
            calls("1s", "err", 40)
        ))
    };
    // The call whose end the dry run's reopening follows.
    let reopened_by = |log: &[String]| {
        let at = log
            .iter()
            .rposition(|l| {
                l.contains("\"from\":\"closed\",\"to\":\"open\"") && l.contains("dry_run")
            })
            .expect("the dry run opens again");
        let call = log[..at]
            .iter()
            .rev()
            .find(|l| l.contains("\"event\":\"ended\""))
            .unwrap();
        call.split("\"call\":")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    assert_eq!(reopened_by(&dry("")), 3, "unramped: the first failure");
    let ramped = dry("ramp=1h");
    assert!(reopened_by(&ramped) > 3, "ramped: a later one");
    assert!(
        ramped.iter().all(|l| !l.contains("\"event\":\"rejected\"")),
        "MetricsOnly admits every call"
    );
}

#[test]
fn the_draws_follow_the_seed() {
    let text = closed_by_trials_at_1s("ramp=10s", &calls("2s", "ok", 50));
    assert_ne!(log_seeded(&text, 0), log_seeded(&text, 1));
}

#[test]
fn ramp_with_adaptive_is_a_trace_error_at_the_key() {
    let e = breaker_sim::trace::parse("t", "breaker a adaptive=2 ramp=10s\n").unwrap_err();
    assert_eq!((e.line, e.column), (1, 22), "{e}");
    assert!(
        e.message.contains("`ramp` cannot be used with `adaptive`"),
        "{e}"
    );
    let e = breaker_sim::trace::parse("t", "breaker a ramp=10s\n0s a configure adaptive=2\n")
        .unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    assert!(e.message.contains("`ramp`"), "{e}");
    let e = breaker_sim::trace::parse("t", "breaker a ramp=0s\n").unwrap_err();
    assert!(e.message.contains("`ramp`"), "{e}");
}
