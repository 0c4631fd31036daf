//! The configuration's contract as a whole: typed values and text build the
//! same configuration, defaults, policy selection, every rule's message,
//! and the text form's round trip.

use super::*;
use std::time::Duration;

fn err(b: ConfigBuilder) -> (String, String) {
    let e = b.build().unwrap_err();
    (e.field().to_owned(), e.to_string())
}

#[test]
fn typed_values_build_the_config_their_text_builds() {
    let typed = |pairs: &[(&str, Value)]| {
        pairs
            .iter()
            .try_fold(Config::builder(), |b, (k, v)| b.set_value(k, *v))
            .and_then(ConfigBuilder::build)
    };
    let text = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .try_fold(Config::builder(), |b, (k, v)| b.set(k, v))
            .and_then(ConfigBuilder::build)
    };
    assert_eq!(
        typed(&[
            ("fail_max", Value::Count(3)),
            ("reset", Value::Nanos(30_000_000_000))
        ]),
        text(&[("fail_max", "3"), ("reset", "30s")])
    );
    assert_eq!(
        typed(&[
            ("failure_rate", Value::Hundredths(5050)),
            ("window", Value::Count(20))
        ]),
        text(&[("failure_rate", "50.5"), ("window", "20")])
    );
    assert!(
        Config::builder()
            .set_value("fail_max", Value::Nanos(1))
            .is_err()
    );
}

#[test]
fn defaults_are_consecutive_five_thirty_seconds_two_trials() {
    let c = Config::default();
    assert_eq!(c.consecutive(), Some(5));
    assert_eq!(c.reset(), Duration::from_secs(30));
    assert_eq!(c.success(), 2);
    assert_eq!(c.half_open(), 2);
    assert_eq!(Config::builder().build().unwrap(), c);
}

#[test]
fn policy_selection_follows_the_contract() {
    let rate = Config::builder().failure_rate(50.0).build().unwrap();
    assert_eq!(rate.consecutive(), None);
    let slow = Config::builder()
        .slow(Duration::from_secs(1))
        .slow_rate(50.0)
        .build()
        .unwrap();
    assert_eq!(slow.consecutive(), Some(5));
    let within = Config::builder()
        .fail_max(3)
        .within(Duration::from_secs(10))
        .build()
        .unwrap();
    assert_eq!(within.consecutive(), None);
    assert_eq!(within.failures_within(), Some((3, Duration::from_secs(10))));
}

#[test]
fn validation_names_the_field_and_the_range() {
    assert_eq!(
        err(Config::builder().fail_max(0)),
        (
            "fail_max".into(),
            "invalid `fail_max`: must be between 1 and 1000000, got 0".into()
        )
    );
    assert_eq!(err(Config::builder().failure_rate(0.0)).0, "failure_rate");
    assert_eq!(
        err(Config::builder().failure_rate(12.345)).0,
        "failure_rate"
    );
    assert_eq!(err(Config::builder().slow_rate(50.0)).0, "slow_rate");
    assert_eq!(
        err(Config::builder().within(Duration::from_secs(1))).0,
        "within"
    );
    assert_eq!(
        err(Config::builder().reset_max(Duration::from_secs(60))).0,
        "reset_max"
    );
    assert_eq!(
        err(Config::builder()
            .backoff(2.0)
            .reset_max(Duration::from_secs(1)))
        .0,
        "reset_max"
    );
    assert_eq!(
        err(Config::builder()
            .failure_rate(50.0)
            .window_calls(10)
            .min_calls(11))
        .0,
        "min_calls"
    );
    assert_eq!(err(Config::builder().window_calls(10)).0, "window");
    assert_eq!(err(Config::builder().backoff(0.5)).0, "backoff");
    assert_eq!(err(Config::builder().success(0)).0, "success");
    assert_eq!(err(Config::builder().half_open(70_000)).0, "half_open");
    assert_eq!(err(Config::builder().reset(Duration::ZERO)).0, "reset");
    assert_eq!(err(Config::builder().timeout(Duration::ZERO)).0, "timeout");
}

#[test]
fn text_form_is_exact() {
    let c = Config::builder()
        .set("failure_rate", "33.33")
        .unwrap()
        .set("backoff", "1.5")
        .unwrap()
        .set("window", "20")
        .unwrap()
        .set("reset", "1m30s")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(c.failure_rate().unwrap().hundredths(), 3333);
    assert_eq!(c.backoff().unwrap().millionths(), 1_500_000);
    assert_eq!(c.window(), Window::Calls(20));
    assert_eq!(c.min_calls(), 20);
    assert_eq!(c.reset(), Duration::from_secs(90));
    assert_eq!(
        c.to_keys(),
        "failure_rate = 33.33, window = 20, reset = 1m30s, backoff = 1.5"
    );
    assert!(Config::builder().set("window", "ten").is_err());
    assert!(Config::builder().set("failure_rate", "33.333").is_err());
    assert_eq!(
        Config::builder()
            .set("sucess", "2")
            .unwrap_err()
            .to_string(),
        "invalid `sucess`: unknown key; did you mean `success`?"
    );
}

#[test]
fn text_round_trips_and_names_mistakes() {
    let c: Config = "fail_max=3 within=10s, reset = 1m30s,backoff =2 reset_max= 5m"
        .parse()
        .unwrap();
    assert_eq!(c.failures_within(), Some((3, Duration::from_secs(10))));
    assert_eq!(c.to_keys().parse::<Config>(), Ok(c));
    assert_eq!("".parse::<Config>(), Ok(Config::default()));
    for (text, field) in [
        ("fail_max", "fail_max"),
        ("fail_max =", "fail_max"),
        ("= 5", "="),
        ("fail_max=1 fail_max=2", "fail_max"),
        ("fail_max=x", "fail_max"),
        ("reset=0s", "reset"),
    ] {
        assert_eq!(text.parse::<Config>().unwrap_err().field(), field, "{text}");
    }
}

#[test]
fn factor_truncates_to_whole_nanoseconds() {
    let f = Factor::parse("1.1").unwrap();
    assert_eq!(f.apply(3), 3);
    assert_eq!(f.apply(10), 11);
    assert_eq!(Factor::parse("2").unwrap().apply(u64::MAX), u64::MAX);
}
