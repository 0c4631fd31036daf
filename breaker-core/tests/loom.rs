//! Model checks of the state machine's atomics with loom: every interleaving
//! of two or three threads through admission, outcomes, cancellation and
//! transitions.
//!
//! Run with `RUSTFLAGS="--cfg breaker_loom" cargo test --release -p breaker-core loom`
//! (`LOOM_MAX_PREEMPTIONS` widens the search; the default bound is 3).
#![cfg(breaker_loom)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::{Breaker, Config, State};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

type Log = Arc<Mutex<Vec<(State, State)>>>;

fn breaker(config: Config) -> (Breaker, ManualClock, Log) {
    let clock = ManualClock::new();
    let breaker = Breaker::with_clock("loom", config, clock.clone());
    let log: Log = Arc::default();
    let sink = log.clone();
    breaker.on_transition(move |t| sink.lock().unwrap().push((t.from, t.to)));
    (breaker, clock, log)
}

fn config(fail_max: u32, success: u32, half_open: u32) -> Config {
    Config::builder()
        .fail_max(fail_max)
        .reset(Duration::from_secs(1))
        .success(success)
        .half_open(half_open)
        .build()
        .unwrap()
}

/// Transitions chain from Closed and end in the breaker's current state.
fn assert_path(log: &Log, end: State) {
    let mut state = State::Closed;
    for &(from, to) in log.lock().unwrap().iter() {
        assert_eq!(from, state);
        assert_ne!(from, to);
        state = to;
    }
    assert_eq!(state, end);
}

/// One successful call and one failing call on two threads at once:
/// whether the success was admitted (and then whether it straggled), and
/// whether the failure was admitted.
fn race_success_and_failure(b: &Breaker) -> (Option<bool>, bool) {
    let ok = {
        let b = b.clone();
        thread::spawn(move || b.acquire().map(|p| p.success().straggler).ok())
    };
    let bad = {
        let b = b.clone();
        thread::spawn(move || b.acquire().map(|p| p.failure()).is_ok())
    };
    (ok.join().unwrap(), bad.join().unwrap())
}

#[test]
fn loom_racing_failures_open_the_breaker_exactly_once() {
    model(|| {
        let (b, _clock, log) = breaker(config(2, 1, 1));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                thread::spawn(move || {
                    if let Ok(p) = b.acquire() {
                        p.failure();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(b.state(), State::Open);
        assert_eq!(*log.lock().unwrap(), vec![(State::Closed, State::Open)]);
        assert_eq!(b.stats().transitions, 1);
    });
}

#[test]
fn loom_a_success_racing_a_tripping_failure_loses_no_count() {
    model(|| {
        let (b, _clock, log) = breaker(config(2, 1, 1));
        b.acquire().unwrap().failure();
        let (admitted_ok, admitted_bad) = race_success_and_failure(&b);
        let s = b.stats();
        assert_eq!(s.admitted + s.rejected, 3);
        assert_eq!(
            s.admitted,
            s.successes + s.failures + s.cancelled + s.in_flight
        );
        assert_eq!(s.in_flight, 0);
        assert!(admitted_bad, "the failing call starts in Closed");
        // The success is rejected only if the failure tripped the breaker first.
        // The breaker opened iff the failure was recorded before the success:
        // the success was then rejected or a straggler.
        assert_eq!(
            b.state() == State::Open,
            matches!(admitted_ok, None | Some(true))
        );
        assert_path(&log, b.state());
    });
}

#[test]
fn loom_a_batched_success_racing_a_tripping_failure_loses_no_count() {
    // A full count window: the success may skip the lock (policy::batched),
    // the failure takes it, takes in what was batched, and trips.
    model(|| {
        let config = Config::builder()
            .failure_rate(50.0)
            .window_calls(2)
            .reset(Duration::from_secs(1))
            .build()
            .unwrap();
        let (b, _clock, log) = breaker(config);
        b.acquire().unwrap().success();
        b.acquire().unwrap().success();
        let (admitted_ok, admitted_bad) = race_success_and_failure(&b);
        assert!(admitted_bad, "the failing call starts in Closed");
        let s = b.stats();
        assert_eq!(s.admitted + s.rejected, 4);
        assert_eq!(s.admitted, s.successes + s.failures + s.in_flight);
        assert_eq!(s.in_flight, 0);
        assert_eq!(s.failures, 1);
        // Whatever the order, the window held one failure in two and tripped.
        assert_eq!(b.state(), State::Open);
        assert_eq!(*log.lock().unwrap(), vec![(State::Closed, State::Open)]);
        let reason = b.open_reason().unwrap().reason.to_string();
        assert_eq!(reason, "1 of 2 calls failed (threshold 50%)");
        assert_eq!(s.failure_rate, Some(50.0));
        assert!(admitted_ok.is_none() || s.successes == 3);
    });
}

#[test]
fn loom_half_open_trials_in_flight_never_exceed_the_cap() {
    model(|| {
        let (b, clock, log) = breaker(config(1, 2, 1));
        b.trip();
        clock.advance(Duration::from_secs(1));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (b, in_flight) = (b.clone(), in_flight.clone());
                thread::spawn(move || {
                    if let Ok(p) = b.acquire() {
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(now <= 1, "{now} trials in flight with half_open = 1");
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        p.success();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let transitions = log.lock().unwrap().clone();
        // Exactly one Open -> HalfOpen, whoever came first.
        assert_eq!(
            transitions
                .iter()
                .filter(|t| **t == (State::Open, State::HalfOpen))
                .count(),
            1
        );
        assert_path(&log, b.state());
        // The second caller came after the first trial's success (two
        // successes close) or while it ran (rejected: one success of two).
        let s = b.stats();
        assert_eq!((s.admitted + s.rejected, s.in_flight), (2, 0));
        match s.rejected {
            0 => assert_eq!((b.state(), s.successes), (State::Closed, 2)),
            1 => assert_eq!((b.state(), s.successes), (State::HalfOpen, 1)),
            _ => panic!("both callers rejected: {s:?}"),
        }
    });
}

#[test]
fn loom_a_trial_success_racing_a_trial_failure_reopens_exactly_once() {
    model(|| {
        let (b, clock, log) = breaker(config(1, 2, 2));
        b.trip();
        clock.advance(Duration::from_secs(1));
        // The first call moves the breaker to HalfOpen; cancelling it leaves
        // both permits free for the racing trials.
        drop(b.acquire().unwrap());
        let t1 = {
            let b = b.clone();
            thread::spawn(move || b.acquire().map(|p| p.success()).is_ok())
        };
        let t2 = {
            let b = b.clone();
            thread::spawn(move || b.acquire().map(|p| p.failure()).is_ok())
        };
        t1.join().unwrap();
        assert!(
            t2.join().unwrap(),
            "the failing trial always finds a permit"
        );
        let out_of_half_open = log
            .lock()
            .unwrap()
            .iter()
            .filter(|t| t.0 == State::HalfOpen)
            .count();
        assert_eq!(out_of_half_open, 1);
        assert_eq!(b.state(), State::Open);
        assert_path(&log, State::Open);
    });
}

#[test]
fn loom_a_cancelled_trial_gives_its_permit_back() {
    model(|| {
        let (b, clock, log) = breaker(config(1, 1, 1));
        b.trip();
        clock.advance(Duration::from_secs(1));
        let canceller = {
            let b = b.clone();
            thread::spawn(move || {
                if let Ok(p) = b.acquire() {
                    drop(p);
                }
            })
        };
        let caller = {
            let b = b.clone();
            thread::spawn(move || b.acquire().map(|p| p.success()).is_ok())
        };
        canceller.join().unwrap();
        let succeeded = caller.join().unwrap();
        let s = b.stats();
        assert_eq!(s.in_flight, 0);
        assert_eq!(s.admitted, s.successes + s.cancelled);
        if !succeeded {
            // It was rejected while the other trial held the only permit,
            // which came back when that trial was cancelled.
            assert_eq!(b.state(), State::HalfOpen);
            assert!(b.acquire().map(|p| p.success()).is_ok());
        }
        assert_eq!(b.state(), State::Closed);
        assert_path(&log, State::Closed);
    });
}

#[test]
fn loom_a_manual_reset_racing_a_tripping_failure_keeps_a_valid_path() {
    model(|| {
        let (b, _clock, log) = breaker(config(1, 1, 1));
        let permit_holder = {
            let b = b.clone();
            thread::spawn(move || b.acquire().map(|p| p.failure().straggler).ok())
        };
        let operator = {
            let b = b.clone();
            thread::spawn(move || b.reset())
        };
        let failure = permit_holder.join().unwrap();
        operator.join().unwrap();
        // A reset while Closed ends no period (docs/semantics.md, Manual
        // control): the failure is never a straggler and always trips.
        assert_eq!(
            failure,
            Some(false),
            "admitted in Closed, never a straggler"
        );
        let s = b.stats();
        assert_eq!(
            (s.admitted, s.rejected, s.failures, s.in_flight),
            (1, 0, 1, 0)
        );
        assert_eq!(s.transitions as usize, log.lock().unwrap().len());
        assert_path(&log, b.state());
        // The reset came after the opening and closed it, or came first (no
        // transition) and the failure opened the breaker after it.
        let opened = vec![(State::Closed, State::Open)];
        let reopened_and_reset = vec![(State::Closed, State::Open), (State::Open, State::Closed)];
        let moves = log.lock().unwrap().clone();
        match b.state() {
            State::Closed => {
                assert_eq!(moves, reopened_and_reset);
                assert_eq!(s.consecutive_failures, 0, "the reset cleared the run");
            }
            State::Open => {
                assert_eq!(moves, opened);
                let reason = b.open_reason().unwrap().reason.to_string();
                assert_eq!(reason, "1 consecutive failure");
            }
            other => panic!("a reset and a failure left the breaker {other:?}"),
        }
    });
}

#[test]
fn loom_three_threads_through_trip_trial_and_operator() {
    model(|| {
        let (b, clock, log) = breaker(config(1, 1, 1));
        b.trip();
        clock.advance(Duration::from_secs(1));
        let trial = {
            let b = b.clone();
            thread::spawn(move || b.acquire().map(|p| p.success()).ok())
        };
        let failing = {
            let b = b.clone();
            thread::spawn(move || b.acquire().map(|p| p.failure().straggler).ok())
        };
        let operator = {
            let b = b.clone();
            thread::spawn(move || b.reset())
        };
        trial.join().unwrap();
        let failed = failing.join().unwrap();
        operator.join().unwrap();
        let s = b.stats();
        assert_eq!(s.admitted + s.rejected, 2);
        assert_eq!(s.admitted, s.successes + s.failures);
        assert_eq!(s.transitions as usize, log.lock().unwrap().len());
        assert_path(&log, b.state());
        // A half-open period ends with its one trial's outcome or with the
        // reset, so nothing is left undecided at the end.
        let state = b.state();
        assert!(
            matches!(state, State::Closed | State::Open),
            "ended {state:?}"
        );
        // Every failure of a current period opens the breaker (fail_max = 1
        // in Closed, a failed trial in HalfOpen); a straggler never does.
        let failure_opened = matches!(failed, Some(false));
        let openings = log
            .lock()
            .unwrap()
            .iter()
            .filter(|t| t.1 == State::Open)
            .count();
        assert_eq!(
            openings,
            1 + usize::from(failure_opened),
            "the trip, then {failed:?}"
        );
        if state == State::Open {
            assert!(failure_opened, "only the failing call reopens it");
            // Its new period started now: nothing is admitted.
            match b.acquire() {
                Err(e) => assert_eq!(e.retry_after(), Some(Duration::from_secs(1))),
                Ok(_) => panic!("admitted in a period that has just begun"),
            }
        } else {
            assert!(b.acquire().map(|p| p.success()).is_ok(), "Closed admits");
        }
    });
}

#[test]
fn loom_a_reconfiguration_racing_a_tripping_failure_loses_no_count() {
    model(|| {
        let (b, _clock, log) = breaker(config(2, 1, 1));
        b.acquire().unwrap().failure();
        let failing = {
            let b = b.clone();
            thread::spawn(move || b.acquire().map(|p| p.failure().straggler).ok())
        };
        let operator = {
            let b = b.clone();
            thread::spawn(move || b.reconfigure("fail_max = 3").unwrap())
        };
        let straggler = failing.join().unwrap();
        assert_eq!(operator.join().unwrap(), ["fail_max"]);
        assert_eq!(straggler, Some(false), "admitted in Closed, current");
        // Before the change the failure trips at 2; after it, it is the
        // second of the three the new threshold asks for.
        match b.state() {
            State::Open => assert_eq!(log.lock().unwrap().len(), 1),
            State::Closed => {
                assert_eq!(b.stats().consecutive_failures, 2);
                assert!(log.lock().unwrap().is_empty());
                b.acquire().unwrap().failure();
                assert_eq!(b.state(), State::Open, "the third trips");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(b.config().fail_max(), Some(3));
    });
}

#[test]
fn loom_a_reconfiguration_racing_a_trial_decides_with_one_configuration() {
    model(|| {
        let (b, clock, log) = breaker(config(1, 2, 2));
        b.acquire().unwrap().failure();
        clock.advance(Duration::from_secs(1));
        let first = b.acquire().unwrap();
        assert_eq!(b.state(), State::HalfOpen);
        let trial = {
            let b = b.clone();
            thread::spawn(move || b.acquire().map(|p| p.success().straggler).ok())
        };
        let operator = {
            let b = b.clone();
            thread::spawn(move || b.reconfigure("success = 1, half_open = 2").unwrap())
        };
        let straggler = trial.join().unwrap();
        operator.join().unwrap();
        assert_eq!(straggler, Some(false), "a second trial is always admitted");
        // After the change one success closes; before it, the trial's success
        // is the first of two, and the next successful trial closes.
        match b.state() {
            State::Closed => assert!(first.success().straggler),
            State::HalfOpen => {
                assert!(!first.success().straggler);
                assert_eq!(b.state(), State::Closed);
            }
            other => panic!("{other:?}"),
        }
        assert_path(&log, State::Closed);
    });
}
