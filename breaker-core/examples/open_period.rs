//! An Open period on the real clock, as a service meets it: the breaker
//! opens, sits idle, opens again, and every call says when it was let
//! through. It prints each call as `at_ms:ok` or `at_ms:r<retry_after_ms>`
//! and exits with an error if a trial came before `reset` or well after it.
//!
//! Run it with `cargo run -p breaker-core --example open_period`
//! (`./scripts/test` runs it too). Printed on a 2-core VM:
//!
//! ```text
//! idle 1000 ms after opening (reset 300 ms): 1000:ok
//! called every 50 ms after opening (reset 300 ms): 0:r300 50:r251 100:r203 150:r151 200:r103 250:r51 300:ok
//! ```

use std::process::ExitCode;
use std::thread::sleep;
use std::time::{Duration, Instant};

use breaker_core::clock::{Clock, MonotonicClock};
use breaker_core::{Breaker, Config, Error};

const RESET: Duration = Duration::from_millis(300);
/// Scheduling of this program's own sleeps on a busy machine.
const SLACK: Duration = Duration::from_millis(150);

#[derive(Debug)]
struct Down;

impl From<Error> for Down {
    fn from(_: Error) -> Down {
        Down
    }
}

impl std::fmt::Display for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("down")
    }
}

/// Opens `breaker`; the instants before and after the call that opened it.
fn open(breaker: &Breaker) -> (Instant, Instant) {
    let before = Instant::now();
    let _ = breaker.call(|| Err::<(), Down>(Down));
    (before, Instant::now())
}

/// Calls every `every` until a call is let through; what each call saw,
/// or what went wrong.
fn calls(breaker: &Breaker, idle: Duration, every: Duration) -> Result<Vec<String>, String> {
    let (before, after) = open(breaker);
    sleep(idle);
    let latest = after + RESET + MonotonicClock.coarse().1 + SLACK;
    let mut seen = Vec::new();
    loop {
        let asked = Instant::now();
        let at = (asked - after).as_millis();
        match breaker.acquire() {
            Ok(permit) => {
                permit.success();
                seen.push(format!("{at}:ok"));
                if asked < before + RESET {
                    return Err(format!("a trial {at} ms after opening, before reset"));
                }
                return Ok(seen);
            }
            Err(error) => {
                let told = error.retry_after().unwrap_or_default().as_millis();
                seen.push(format!("{at}:r{told}"));
                if asked > latest {
                    return Err(format!(
                        "still open {at} ms after opening: {}",
                        seen.join(" ")
                    ));
                }
            }
        }
        sleep(every);
    }
}

fn main() -> ExitCode {
    let config = || Config::builder().fail_max(1).reset(RESET).build();
    let (Ok(first), Ok(second)) = (config(), config()) else {
        eprintln!("the configuration is valid");
        return ExitCode::FAILURE;
    };
    let runs = [
        (
            "idle 1000 ms after opening",
            Breaker::new("idle", first),
            1000,
        ),
        (
            "called every 50 ms after opening",
            Breaker::new("busy", second),
            0,
        ),
    ];
    for (what, breaker, idle) in runs {
        match calls(
            &breaker,
            Duration::from_millis(idle),
            Duration::from_millis(50),
        ) {
            Ok(seen) => println!(
                "{what} (reset {} ms): {}",
                RESET.as_millis(),
                seen.join(" ")
            ),
            Err(problem) => {
                eprintln!("{what}: {problem}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
