//! A proptest: random configurations and random call sequences (overlapping
//! calls, every outcome, cancellations, time passing, operator actions) drive
//! a real `Breaker` and a small reference model written straight from
//! SEMANTICS.md; after every step both must agree on the decision, the
//! retry-after, whether an outcome was a straggler or slow, and the state.
//!
//! The model is deliberately naive: it keeps every outcome of the period in a
//! list and recounts the windows from scratch at each step. Its MetricsOnly
//! holds a second model, live, as the dry run: a call it would reject is
//! admitted and feeds nothing.

use std::time::Duration;

use breaker_core::clock::{LaggingClock, ManualClock};
use breaker_core::{Breaker, Config, Error, Permit, State};
use proptest::prelude::*;

/// The configuration as the test generated it, before any defaulting.
#[derive(Clone, Debug)]
struct Params {
    fail_max: Option<u32>,
    within: Option<u64>,
    failure_rate: Option<u32>,        // hundredths of a percent
    window: Option<Result<u32, u64>>, // Ok(calls) or Err(nanos)
    min_calls: Option<u32>,
    slow: Option<u64>,
    slow_rate: Option<u32>,
    reset: u64,
    backoff: Option<u64>, // millionths
    reset_max: Option<u64>,
    success: u32,
    half_open: Option<u32>,
    max_half_open_wait: Option<u64>,
}

impl Params {
    fn config(&self) -> Option<Config> {
        let ns = Duration::from_nanos;
        let mut b = Config::builder()
            .reset(ns(self.reset))
            .success(self.success);
        if let Some(n) = self.fail_max {
            b = b.fail_max(n);
        }
        if let Some(w) = self.within {
            b = b.within(ns(w));
        }
        if let Some(p) = self.failure_rate {
            b = b.failure_rate(f64::from(p) / 100.0);
        }
        match self.window {
            Some(Ok(k)) => b = b.window_calls(k),
            Some(Err(w)) => b = b.window_time(ns(w)),
            None => {}
        }
        if let Some(m) = self.min_calls {
            b = b.min_calls(m);
        }
        if let Some(s) = self.slow {
            b = b.slow(ns(s));
        }
        if let Some(p) = self.slow_rate {
            b = b.slow_rate(f64::from(p) / 100.0);
        }
        if let Some(f) = self.backoff {
            b = b.backoff(f as f64 / 1e6);
        }
        if let Some(m) = self.reset_max {
            b = b.reset_max(ns(m));
        }
        if let Some(h) = self.half_open {
            b = b.half_open(h);
        }
        if let Some(w) = self.max_half_open_wait {
            b = b.max_half_open_wait(ns(w));
        }
        b.build().ok()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Closed,
    Open,
    HalfOpen,
    ForcedOpen,
    Disabled,
    MetricsOnly,
}

struct Call {
    period: u64,
    start: u64,
    /// In MetricsOnly: the dry run's period when admitted, and the dry run's
    /// own call (none for a call it would have rejected).
    dry: Option<(u64, Option<Box<Call>>)>,
}

/// SEMANTICS.md, naively.
struct Model {
    p: Params,
    state: St,
    period_id: u64,
    run: u32,
    /// (end time, failure, slow) of every outcome of this Closed period.
    outcomes: Vec<(u64, bool, bool)>,
    t0: u64,
    open_for: u64,
    trials: u32,
    trial_successes: u32,
    /// When the current HalfOpen began.
    half_open_at: u64,
    /// The dry run, in MetricsOnly.
    dry: Option<Box<Model>>,
}

#[derive(Debug, PartialEq)]
enum Decision {
    Admitted,
    Rejected(Option<u64>),
}

impl Model {
    fn new(p: Params) -> Model {
        Model {
            open_for: p.reset,
            p,
            state: St::Closed,
            period_id: 0,
            run: 0,
            outcomes: Vec::new(),
            t0: 0,
            trials: 0,
            trial_successes: 0,
            half_open_at: 0,
            dry: None,
        }
    }

    /// HalfOpen for `max_half_open_wait` or longer at `t`.
    fn undecided(&self, t: u64) -> bool {
        self.state == St::HalfOpen
            && self
                .p
                .max_half_open_wait
                .is_some_and(|w| t >= self.half_open_at + w)
    }

    /// Opens again after a failed (or undecided) trial, with backoff.
    fn reopen(&mut self, t: u64) {
        self.open_for = match self.p.backoff {
            Some(f) => {
                let grown = (u128::from(self.open_for) * u128::from(f) / 1_000_000) as u64;
                grown.min(self.p.reset_max.unwrap_or(u64::MAX))
            }
            None => self.p.reset,
        };
        self.enter(St::Open, t);
    }

    fn enter(&mut self, state: St, t: u64) {
        self.state = state;
        self.period_id += 1;
        self.dry = None;
        match state {
            St::MetricsOnly => self.dry = Some(Box::new(Model::new(self.p.clone()))),
            St::Closed => {
                self.run = 0;
                self.outcomes.clear();
                self.open_for = self.p.reset;
            }
            St::Open => self.t0 = t,
            St::HalfOpen => {
                self.trials = 0;
                self.trial_successes = 0;
                self.half_open_at = t;
            }
            _ => {}
        }
    }

    fn start(&mut self, t: u64) -> (Decision, Option<Call>) {
        let admit = |m: &Model| {
            (
                Decision::Admitted,
                Some(Call {
                    period: m.period_id,
                    start: t,
                    dry: None,
                }),
            )
        };
        match self.state {
            St::MetricsOnly => {
                let dry = self.dry.as_mut().expect("a dry run in MetricsOnly");
                let (_, dry_call) = dry.start(t);
                let (decision, call) = admit(self);
                let mut call = call.expect("admitted");
                call.dry = Some((self.dry.as_ref().unwrap().period_id, dry_call.map(Box::new)));
                (decision, Some(call))
            }
            St::Closed | St::Disabled => admit(self),
            St::ForcedOpen => (Decision::Rejected(None), None),
            St::Open if t < self.t0 + self.open_for => {
                (Decision::Rejected(Some(self.t0 + self.open_for - t)), None)
            }
            St::Open => {
                self.enter(St::HalfOpen, t);
                self.trials = 1;
                admit(self)
            }
            St::HalfOpen if self.undecided(t) => {
                self.reopen(t);
                (Decision::Rejected(Some(self.open_for)), None)
            }
            St::HalfOpen => {
                if self.trials < self.p.half_open.unwrap_or(self.p.success) {
                    self.trials += 1;
                    admit(self)
                } else {
                    (Decision::Rejected(None), None)
                }
            }
        }
    }

    /// Returns (straggler, slow).
    fn end(&mut self, call: Call, failure: Option<bool>, t: u64) -> (bool, bool) {
        let slow = self.p.slow.is_some_and(|s| t - call.start > s);
        if call.period != self.period_id {
            return (true, slow);
        }
        if let (St::MetricsOnly, Some((dry_period, dry_call))) = (self.state, call.dry) {
            let dry = self.dry.as_mut().expect("a dry run in MetricsOnly");
            if dry.period_id != dry_period {
                return (true, slow);
            }
            // The dry run's straggler (a trial ending after its wait) is the
            // call's, as for a live breaker.
            return match dry_call {
                Some(dry_call) => (dry.end(*dry_call, failure, t).0, slow),
                None => (false, slow),
            };
        }
        let Some(failure) = failure else {
            if self.state == St::HalfOpen {
                self.trials -= 1;
            }
            return (false, slow);
        };
        if self.undecided(t) {
            // Too late: the trials expired first, and this one is a straggler.
            self.reopen(t);
            return (true, slow);
        }
        match self.state {
            St::Closed => {
                let tripped = self.trips(t, failure, slow);
                if tripped {
                    self.enter(St::Open, t);
                }
            }
            St::HalfOpen if failure => self.reopen(t),
            St::HalfOpen => {
                self.trials -= 1;
                self.trial_successes += 1;
                if self.trial_successes >= self.p.success {
                    self.enter(St::Closed, t);
                }
            }
            _ => {}
        }
        (false, slow)
    }

    fn trips(&mut self, t: u64, failure: bool, slow: bool) -> bool {
        let p = &self.p;
        self.run = if failure { self.run + 1 } else { 0 };
        self.outcomes.push((t, failure, slow));
        let consecutive = match (p.fail_max, p.within, p.failure_rate) {
            (Some(n), None, _) => Some(n),
            (None, _, None) => Some(5),
            _ => None,
        };
        if consecutive.is_some_and(|n| self.run >= n) {
            return true;
        }
        if let (Some(n), Some(w)) = (p.fail_max, p.within) {
            let recent = self.outcomes.iter().filter(|o| o.1 && o.0 + w > t).count();
            if recent >= n as usize {
                return true;
            }
        }
        let window: Vec<&(u64, bool, bool)> = match p.window.unwrap_or(Ok(100)) {
            Ok(k) => self.outcomes.iter().rev().take(k as usize).collect(),
            Err(w) => self.outcomes.iter().filter(|o| o.0 + w > t).collect(),
        };
        let min_calls = p
            .min_calls
            .unwrap_or(p.window.unwrap_or(Ok(100)).unwrap_or(10));
        let calls = window.len() as u64;
        if calls < u64::from(min_calls) {
            return false;
        }
        let over = |count: usize, rate: Option<u32>| {
            rate.is_some_and(|r| count as u64 * 10_000 >= u64::from(r) * calls)
        };
        over(window.iter().filter(|o| o.1).count(), p.failure_rate)
            || over(window.iter().filter(|o| o.2).count(), p.slow_rate)
    }

    fn act(&mut self, action: u8, t: u64) {
        match action {
            0 => {
                self.open_for = self.p.reset;
                if self.state == St::Open {
                    self.t0 = t;
                } else {
                    self.enter(St::Open, t);
                }
            }
            1 if self.state != St::ForcedOpen => self.enter(St::ForcedOpen, t),
            2 if self.state != St::Disabled => self.enter(St::Disabled, t),
            3 => {
                self.open_for = self.p.reset;
                if self.state == St::Closed {
                    self.run = 0;
                    self.outcomes.clear();
                } else {
                    self.enter(St::Closed, t);
                }
            }
            4 if self.state != St::MetricsOnly => self.enter(St::MetricsOnly, t),
            _ => {}
        }
    }

    /// Where the dry run is, in MetricsOnly.
    fn dry_state(&self) -> Option<St> {
        self.dry.as_ref().map(|d| d.state)
    }
}

fn st(s: State) -> St {
    match s {
        State::Closed => St::Closed,
        State::Open => St::Open,
        State::HalfOpen => St::HalfOpen,
        State::ForcedOpen => St::ForcedOpen,
        State::Disabled => St::Disabled,
        State::MetricsOnly => St::MetricsOnly,
        other => panic!("unexpected state {other:?}"),
    }
}

#[derive(Clone, Debug)]
enum Op {
    Start,
    /// End the n-th oldest call in flight: 0 success, 1 failure, 2 cancel.
    End(usize, u8),
    Advance(u64),
    Act(u8),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        4 => Just(Op::Start),
        4 => (0usize..4, 0u8..3).prop_map(|(i, k)| Op::End(i, k)),
        3 => (0u64..30).prop_map(|ms| Op::Advance(ms * 1_000_000)),
        1 => (0u8..5).prop_map(Op::Act),
    ];
    proptest::collection::vec(op, 1..80)
}

fn params() -> impl Strategy<Value = Params> {
    let ms = |lo: u64, hi: u64| (lo..hi).prop_map(|m| m * 1_000_000);
    (
        (
            proptest::option::of(1u32..5),
            proptest::option::of(ms(1, 60)),
            proptest::option::of(prop_oneof![
                Just(2500u32),
                Just(5000),
                Just(6667),
                Just(10000)
            ]),
            proptest::option::of(prop_oneof![(1u32..8).prop_map(Ok), ms(1, 60).prop_map(Err)]),
            proptest::option::of(1u32..6),
        ),
        (
            proptest::option::of(ms(1, 20)),
            proptest::option::of(prop_oneof![Just(3000u32), Just(5000), Just(10000)]),
            ms(1, 40),
            proptest::option::of(prop_oneof![
                Just(1_000_000u64),
                Just(1_500_000),
                Just(2_000_000)
            ]),
            proptest::option::of(ms(40, 120)),
            1u32..4,
            proptest::option::of(1u32..4),
            proptest::option::of(ms(1, 50)),
        ),
    )
        .prop_map(
            |(
                (fail_max, within, failure_rate, window, min_calls),
                (
                    slow,
                    slow_rate,
                    reset,
                    backoff,
                    reset_max,
                    success,
                    half_open,
                    max_half_open_wait,
                ),
            )| {
                // Repair the combinations the builder refuses, so almost every
                // case runs (the refusals themselves are tested in config.rs).
                let has_rate = failure_rate.is_some() || slow_rate.is_some();
                let window = window.filter(|_| has_rate);
                let min_calls = min_calls.filter(|_| has_rate).map(|m| match window {
                    Some(Ok(k)) => m.min(k),
                    _ => m.min(100),
                });
                Params {
                    fail_max,
                    within: within.filter(|_| fail_max.is_some()),
                    failure_rate,
                    window,
                    min_calls,
                    slow: slow.or(slow_rate.map(|_| 5_000_000)),
                    slow_rate,
                    reset,
                    backoff,
                    reset_max: reset_max.filter(|_| backoff.is_some()),
                    success,
                    half_open,
                    max_half_open_wait,
                }
            },
        )
}

/// Runs `ops` on a breaker and the model. With `tick`, the breaker's clock is
/// a [`LaggingClock`]: its cheap reading lags as the real clock's does, so an
/// Open rejection may tell a `retry_after` up to two ticks longer than the
/// model's, never shorter, and every decision must still be the model's.
fn run(p: Params, ops: Vec<Op>, tick: Option<u64>) -> Result<(), TestCaseError> {
    let config = p.config();
    prop_assume!(config.is_some(), "a combination the builder refuses");
    let config = config.unwrap_or_default();
    let (clock, breaker, lag) = match tick {
        Some(tick) => {
            let lagging = LaggingClock::new(Duration::from_nanos(tick));
            let breaker = Breaker::with_clock("model", config, lagging.clone());
            (lagging.manual(), breaker, 2 * tick)
        }
        None => {
            let clock = ManualClock::new();
            (
                clock.clone(),
                Breaker::with_clock("model", config, clock),
                0,
            )
        }
    };
    let mut model = Model::new(p);
    let mut calls: Vec<(Permit<'_>, Call)> = Vec::new();
    let mut t = 0u64;
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Start => {
                let real = breaker.acquire();
                let (expected, call) = model.start(t);
                match (real, call) {
                    (Ok(permit), Some(call)) => calls.push((permit, call)),
                    (Err(Error::Rejected { retry_after, .. }), None) => {
                        let told = retry_after.map(|d| d.as_nanos() as u64);
                        let exact = match (told, &expected) {
                            (Some(told), Decision::Rejected(Some(left)))
                                if (*left..=left.saturating_add(lag)).contains(&told) =>
                            {
                                Decision::Rejected(Some(*left))
                            }
                            _ => Decision::Rejected(told),
                        };
                        prop_assert_eq!(exact, expected, "step {} (told {:?})", step, told)
                    }
                    (real, _) => {
                        prop_assert!(false, "step {step}: real {real:?}, model {expected:?}")
                    }
                }
            }
            Op::End(i, kind) if !calls.is_empty() => {
                let (permit, call) = calls.remove(i % calls.len());
                match kind {
                    2 => {
                        drop(permit);
                        model.end(call, None, t);
                    }
                    _ => {
                        let failure = kind == 1;
                        let recorded = if failure {
                            permit.failure()
                        } else {
                            permit.success()
                        };
                        let (straggler, slow) = model.end(call, Some(failure), t);
                        prop_assert_eq!(
                            (recorded.straggler, recorded.slow),
                            (straggler, slow),
                            "step {}",
                            step
                        );
                    }
                }
            }
            Op::End(..) => {}
            Op::Advance(d) => {
                t += d;
                clock.advance(Duration::from_nanos(d));
            }
            Op::Act(a) => {
                match a {
                    0 => breaker.trip(),
                    1 => breaker.force_open(),
                    2 => breaker.disable(),
                    3 => breaker.reset(),
                    _ => breaker.metrics_only(),
                }
                model.act(a, t);
            }
        }
        prop_assert_eq!(st(breaker.state()), model.state, "step {}", step);
        prop_assert_eq!(
            breaker.stats().dry_run.map(st),
            model.dry_state(),
            "step {}",
            step
        );
    }
    Ok(())
}

// Seeded, so every run checks the same cases; set PROPTEST_RNG_SEED to explore others.
proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, rng_seed: proptest::test_runner::RngSeed::Fixed(std::env::var("PROPTEST_RNG_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261124)), ..ProptestConfig::default() })]

    #[test]
    fn breaker_agrees_with_the_reference_model(p in params(), ops in ops()) {
        run(p, ops, None)?;
    }

    /// The same on a clock whose cheap reading lags (1 ns to 50 ms ticks).
    #[test]
    fn breaker_agrees_with_the_model_on_a_lagging_clock(
        p in params(),
        ops in ops(),
        tick in 1u64..50_000_000,
    ) {
        run(p, ops, Some(tick))?;
    }
}

#[test]
fn the_model_check_finds_a_known_difference() {
    // A model that ignores `success` must be caught: the check is not vacuous.
    let p = Params {
        fail_max: Some(1),
        within: None,
        failure_rate: None,
        window: None,
        min_calls: None,
        slow: None,
        slow_rate: None,
        reset: 1,
        backoff: None,
        reset_max: None,
        success: 2,
        half_open: None,
        max_half_open_wait: None,
    };
    let mut wrong = p.clone();
    wrong.success = 1;
    let config = p.config().unwrap();
    let clock = ManualClock::new();
    let breaker = Breaker::with_clock("x", config, clock.clone());
    let mut model = Model::new(wrong);
    breaker.acquire().unwrap().failure();
    let (_, call) = model.start(0);
    model.end(call.unwrap(), Some(true), 0);
    clock.advance(Duration::from_nanos(1));
    breaker.acquire().unwrap().success();
    let (_, call) = model.start(1);
    model.end(call.unwrap(), Some(false), 1);
    assert_ne!(st(breaker.state()), model.state);
}
