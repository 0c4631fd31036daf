//! A replica as an OS process, from the inside: the commands a test sends
//! to a process that holds a breaker joined to a store (`fail N`, `watch
//! STATE`, `status`, `trip`, `reset`, `trials RUN_MS CALL_MS`, `hold`,
//! `take`, `quit`), each answered with a tagged line ([`say`]). The SQLite
//! and PostgreSQL process tests drive their processes with them.

use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use breaker_core::{Breaker, Config, Error, State};

use super::{say, unix_ms, unix_us};

/// Sends the store's reports to the test's output (the process's stderr is
/// inherited).
pub fn report_to_stderr() {
    tracing_subscriber::fmt()
        .without_time()
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
}

/// A number the test set in the process's environment, or `default`.
pub fn env(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The process's breaker: its name (`BREAKER_NAME`, default `shared`) and
/// configuration (`FAIL_MAX` 2, `RESET_MS` 30000, `SUCCESS` 2, `HALF_OPEN` 2).
pub fn breaker_from_env() -> (String, Config) {
    let config = Config::builder()
        .fail_max(env("FAIL_MAX", 2) as u32)
        .reset(Duration::from_millis(env("RESET_MS", 30_000)))
        .success(env("SUCCESS", 2) as u32)
        .half_open(env("HALF_OPEN", 2) as u32)
        .build()
        .expect("a valid config");
    let name = std::env::var("BREAKER_NAME").unwrap_or_else(|_| "shared".into());
    (name, config)
}

/// Answers the commands on standard input until `quit` (after `flush`,
/// what a well-behaved process does before it exits) or its end.
pub fn serve(breaker: &Breaker, flush: impl FnOnce()) {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["fail", n] => {
                for _ in 0..n.parse::<u32>().unwrap_or(1) {
                    let _ = breaker
                        .call(|| Err::<(), Error>(Error::timeout("db".into(), Duration::ZERO)));
                }
                say(&format!("failed {} {}", breaker.state(), unix_ms()));
            }
            ["watch", wanted] => {
                // Until the breaker is in state `wanted`, for at most 5 s.
                let deadline = Instant::now() + Duration::from_secs(5);
                let outcome = loop {
                    if breaker.state().to_string() == *wanted {
                        break format!("seen {wanted} {}", unix_ms());
                    }
                    if Instant::now() > deadline {
                        break format!("never {}", breaker.state());
                    }
                    std::thread::sleep(Duration::from_millis(1));
                };
                say(&outcome);
            }
            ["status"] => say(&format!("status {}", status(breaker))),
            ["trip"] => {
                breaker.trip();
                say(&format!("tripped {}", unix_ms()));
            }
            ["reset"] => {
                breaker.reset();
                say(&format!("reset {}", unix_ms()));
            }
            ["trials", run_ms, call_ms] => trials(breaker, run_ms, call_ms),
            ["hold"] => {
                // Takes a trial permit and never gives it back: the test
                // kills this process while it holds it.
                let deadline = Instant::now() + Duration::from_secs(10);
                loop {
                    if let Ok(permit) = breaker.acquire() {
                        say(&format!("held {}", unix_ms()));
                        std::mem::forget(permit);
                        break;
                    }
                    if Instant::now() > deadline {
                        say("never");
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            ["take"] => {
                // Until a trial is admitted: when, and how many were refused.
                let deadline = Instant::now() + Duration::from_secs(10);
                let mut refused = 0;
                loop {
                    match breaker.acquire() {
                        Ok(permit) => {
                            let at = unix_ms();
                            let _ = permit.success();
                            say(&format!("took {at} {refused}"));
                            break;
                        }
                        Err(_) => refused += 1,
                    }
                    if Instant::now() > deadline {
                        say("never");
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            ["quit"] => {
                // What a well-behaved process does before it exits.
                flush();
                break;
            }
            _ => say(&format!("unknown command {line}")),
        }
    }
}

/// `state retry_after_ms now_ms` (retry_after -1 when there is none). Never
/// starts a trial: a status is asked of an Open breaker.
pub fn status(breaker: &Breaker) -> String {
    let state = breaker.state();
    let retry = if state == State::Open {
        match breaker.acquire() {
            Ok(permit) => {
                drop(permit);
                -1
            }
            Err(e) => e.retry_after().map_or(-1, |d| d.as_millis() as i64),
        }
    } else {
        -1
    };
    format!("{state} {retry} {}", unix_ms())
}

/// `trials RUN_MS CALL_MS`: for `RUN_MS`, two threads take every trial
/// permit they can and hold each `CALL_MS`, so that without coordination
/// N processes could run 2N trials at once; then each trial's start and
/// stop (unix µs), and `trials done`. Shared with the Redis replicas' own
/// command loop.
pub fn trials(breaker: &Breaker, run_ms: &str, call_ms: &str) {
    let run = Duration::from_millis(run_ms.parse().unwrap_or(1000));
    let call = Duration::from_millis(call_ms.parse().unwrap_or(100));
    let trials = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for _ in 0..2 {
            let trials = trials.clone();
            s.spawn(move || {
                let end = Instant::now() + run;
                while Instant::now() < end {
                    match breaker.acquire() {
                        Ok(permit) => {
                            let start = unix_us();
                            std::thread::sleep(call);
                            let stop = unix_us();
                            let _ = permit.success();
                            trials.lock().unwrap().push((start, stop));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            });
        }
    });
    for (start, stop) in trials.lock().unwrap().iter() {
        say(&format!("trial {start} {stop}"));
    }
    say("trials done");
}
