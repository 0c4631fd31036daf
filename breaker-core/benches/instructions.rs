//! A plain loop for instruction counts, the measure that does not drift on a
//! shared machine: `scripts/instructions` runs each case under callgrind for
//! 100k and 200k calls and reports the difference per call. The cases guard
//! the same calls as `hot_path.rs`.
//!
//! `cargo bench -p breaker-core --bench instructions -- <case> <calls>`;
//! without a case it lists them (so that a plain `cargo bench` passes over it).
//!
//! The contenders are written out again here rather than shared with
//! `hot_path.rs` through a module: moved into one, the same source compiled
//! to 68 instructions per `Breaker::call` instead of 60 (and 4.7 ns instead
//! of 3.5 in `hot_path`), so the two files keep the code whose figures
//! BENCHMARKS.md reports.

use std::fmt;
use std::hint::black_box;
use std::time::Duration;

use breaker_core::clock::{Clock, MonotonicClock};
use breaker_core::{Breaker, Config, Error};
use failsafe::CircuitBreaker as _;

#[derive(Debug)]
struct Fail;

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fail")
    }
}

impl From<Error> for Fail {
    fn from(_: Error) -> Fail {
        Fail
    }
}

#[inline(never)]
fn work(x: u64) -> Result<u64, Fail> {
    Ok(black_box(x).wrapping_add(1))
}

#[inline(never)]
fn failing(_x: u64) -> Result<u64, Fail> {
    Err(Fail)
}

#[breaker_core::circuit_breaker(instructions_annotated)]
#[inline(never)]
fn annotated(x: u64) -> Result<u64, Fail> {
    Ok(black_box(x).wrapping_add(1))
}

#[inline(never)]
fn work_keeping_errors(x: u64) -> Result<u64, Error> {
    Ok(black_box(x).wrapping_add(1))
}

fn failsafe_breaker() -> impl failsafe::CircuitBreaker {
    let policy = failsafe::failure_policy::consecutive_failures(
        5,
        failsafe::backoff::constant(Duration::from_secs(3600)),
    );
    failsafe::Config::new().failure_policy(policy).build()
}

fn recloser_breaker(closed_len: usize) -> recloser::Recloser {
    recloser::Recloser::custom()
        .error_rate(0.5)
        .closed_len(closed_len)
        .open_wait(Duration::from_secs(3600))
        .build()
}

fn mixed(breaker: &Breaker, n: u64) {
    for i in 0..n {
        let out = if i % 4 == 0 {
            breaker.call(|| failing(i))
        } else {
            breaker.call(|| work(i))
        };
        let _ = black_box(out);
    }
}

const CASES: &[&str] = &[
    "direct",
    "annotated",
    "call",
    "permit",
    "failsafe",
    "recloser",
    "rejection",
    "rejection_small_error",
    "failsafe_rejection",
    "recloser_rejection",
    "mixed_consecutive",
    "mixed_rate",
];

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (Some(case), Some(n)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<u64>().ok()),
    ) else {
        println!(
            "usage: instructions <case> <calls>; cases: {}",
            CASES.join(", ")
        );
        return;
    };
    // The real clock's recent time is kept by a thread that the first cheap
    // reading starts, as in a service; under valgrind it runs only when this
    // one waits, so start it and wait once (see scripts/instructions).
    let _ = MonotonicClock.coarse();
    std::thread::sleep(Duration::from_millis(20));
    match case.as_str() {
        "direct" => (0..n).for_each(|i| drop(black_box(work(i)))),
        "annotated" => (0..n).for_each(|i| drop(black_box(annotated(i)))),
        "call" => {
            let b = Breaker::new("bench", Config::default());
            (0..n).for_each(|i| drop(black_box(b.call(|| work(i)))));
        }
        "permit" => {
            let b = Breaker::new("bench", Config::default());
            for i in 0..n {
                let permit = b.acquire().unwrap();
                let out = work(i);
                permit.success();
                let _ = black_box(out);
            }
        }
        "failsafe" => {
            let b = failsafe_breaker();
            (0..n).for_each(|i| drop(black_box(b.call(|| work(i)))));
        }
        "recloser" => {
            let b = recloser_breaker(100);
            (0..n).for_each(|i| drop(black_box(b.call(|| work(i)))));
        }
        "rejection" | "rejection_small_error" => {
            let config = Config::builder().reset(Duration::from_secs(3600)).build();
            let b = Breaker::new("bench", config.unwrap());
            b.trip();
            if case == "rejection" {
                (0..n).for_each(|i| drop(black_box(b.call(|| work_keeping_errors(i)))));
            } else {
                (0..n).for_each(|i| drop(black_box(b.call(|| work(i)))));
            }
        }
        "failsafe_rejection" => {
            let b = failsafe_breaker();
            (0..5).for_each(|i| drop(b.call(|| failing(i))));
            (0..n).for_each(|i| drop(black_box(b.call(|| work(i)))));
        }
        "recloser_rejection" => {
            let b = recloser_breaker(1);
            (0..2).for_each(|i| drop(b.call(|| failing(i))));
            (0..n).for_each(|i| drop(black_box(b.call(|| work(i)))));
        }
        "mixed_consecutive" => mixed(&Breaker::new("bench", Config::default()), n),
        "mixed_rate" => {
            let config = Config::builder()
                .failure_rate(50.0)
                .window_calls(100)
                .build();
            mixed(&Breaker::new("bench", config.unwrap()), n)
        }
        other => {
            eprintln!("unknown case {other}; cases: {}", CASES.join(", "));
            std::process::exit(2);
        }
    }
}
