//! Several OS processes share breakers through one SQLite file: this test
//! binary, started again as a child in the role of a service process, on a
//! file in a directory of the test's own. Real clock, real file, real
//! processes; every wait is bounded and every margin generous.

mod sqlite_support;

use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use breaker_core::store::sqlite::SqliteStore;
use breaker_core::{Breaker, Config, Error, Registry, State};
use sqlite_support::{Process, TempDir, eventually, raw, say, unix_ms, unix_us};

/// The environment variable that turns this binary into a service process:
/// the path of the file.
const ROLE: &str = "BREAKER_SQLITE_PROCESS";

// ---------------------------------------------------------------------------
// The process: a child driven by commands on its standard input.
// ---------------------------------------------------------------------------

/// The entry point of the processes the tests below start. Run as an
/// ordinary test (without `BREAKER_SQLITE_PROCESS`), it does nothing.
#[test]
fn process_entry_point() {
    let Ok(path) = std::env::var(ROLE) else {
        return;
    };
    // The store's reports go to the test's output (stderr is inherited).
    tracing_subscriber::fmt()
        .without_time()
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    let env = |key: &str, default: u64| {
        std::env::var(key)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let store = SqliteStore::builder(path)
        .poll_interval(Duration::from_millis(env("POLL_MS", 20)))
        .trial_ttl(Duration::from_millis(env("TRIAL_TTL_MS", 10_000)))
        // Two processes and a busy machine: waits far longer than a real
        // service would choose, so that no lock is ever taken for an outage.
        .budget(Duration::from_secs(3))
        .busy_timeout(Duration::from_secs(2))
        .open()
        .expect("a store");
    let registry = Registry::new();
    registry.use_store(store.clone());
    let config = Config::builder()
        .fail_max(env("FAIL_MAX", 2) as u32)
        .reset(Duration::from_millis(env("RESET_MS", 30_000)))
        .success(env("SUCCESS", 2) as u32)
        .half_open(env("HALF_OPEN", 2) as u32)
        .build()
        .expect("a valid config");
    let name = std::env::var("BREAKER_NAME").unwrap_or_else(|_| "shared".into());
    let breaker = registry.get_or_create(&name, || config);
    say(&format!("ready {}", status(&breaker)));

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
            ["status"] => say(&format!("status {}", status(&breaker))),
            ["trip"] => {
                breaker.trip();
                say(&format!("tripped {}", unix_ms()));
            }
            ["reset"] => {
                breaker.reset();
                say(&format!("reset {}", unix_ms()));
            }
            ["trials", run_ms, call_ms] => {
                let run = Duration::from_millis(run_ms.parse().unwrap_or(1000));
                let call = Duration::from_millis(call_ms.parse().unwrap_or(100));
                let trials = Arc::new(Mutex::new(Vec::new()));
                std::thread::scope(|s| {
                    // Two threads, so that without coordination two
                    // processes could run four trials at once.
                    for _ in 0..2 {
                        let (breaker, trials) = (&breaker, trials.clone());
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
                store.flush(Duration::from_secs(2));
                break;
            }
            _ => say(&format!("unknown command {line}")),
        }
    }
}

/// `state retry_after_ms now_ms` (retry_after -1 when there is none). Never
/// starts a trial: a status is asked of an Open breaker.
fn status(breaker: &Breaker) -> String {
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

/// A process on the file of `dir`, with `env`.
fn start(dir: &TempDir, env: &[(&str, &str)]) -> Process {
    let file = dir.file("breakers.db");
    let file = file.to_str().expect("a UTF-8 temporary path");
    let mut env = env.to_vec();
    env.push((ROLE, file));
    Process::start("process_entry_point", &env)
}

// ---------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------

#[test]
fn two_processes_on_one_file_share_transitions_and_manual_actions() {
    let dir = TempDir::new("share");
    let env = [("BREAKER_NAME", "orders"), ("FAIL_MAX", "2")];
    let mut a = start(&dir, &env);
    let mut b = start(&dir, &env);
    assert_eq!(a.expect("ready")[0], "closed");
    assert_eq!(b.expect("ready")[0], "closed");

    b.send("watch open");
    a.send("fail 2");
    let failed = a.expect("failed");
    assert_eq!(failed[0], "open", "two failures open the breaker locally");
    let opened_at: u64 = failed[1].parse().unwrap();
    let seen = b.next_line();
    assert_eq!(
        seen[0], "seen",
        "the other process never saw the Open: {seen:?}"
    );
    let lag = seen[2].parse::<u64>().unwrap().saturating_sub(opened_at);
    eprintln!("the other process saw the Open {lag} ms after it was made");
    // The poll interval is 20 ms; a second covers a loaded machine.
    assert!(lag <= 1000, "the other process saw the Open {lag} ms later");

    // An operator's reset in B closes A too.
    a.send("watch closed");
    b.send("reset");
    b.expect("reset");
    assert_eq!(a.next_line()[0], "seen", "the reset never reached A");
    a.quit();
    b.quit();
}

#[test]
fn a_process_killed_with_an_open_breaker_and_started_again_starts_open_with_the_time_left() {
    let dir = TempDir::new("restart");
    let env = [
        ("BREAKER_NAME", "ledger"),
        ("FAIL_MAX", "2"),
        ("RESET_MS", "4000"),
    ];
    let mut first = start(&dir, &env);
    first.expect("ready");
    first.send("fail 2");
    let failed = first.expect("failed");
    assert_eq!(failed[0], "open");
    let opened_at: u64 = failed[1].parse().unwrap();
    // The store's thread writes the Open within moments; then the process
    // is killed, as a crash or an impatient deploy would end it (no flush).
    let file = dir.file("breakers.db");
    let written = eventually(Duration::from_secs(3), || {
        raw(&file)
            .query_row(
                "SELECT state FROM breaker_state WHERE name = 'ledger'",
                [],
                |r| r.get::<_, String>(0),
            )
            .is_ok_and(|state| state == "open")
    });
    assert!(written, "the Open was never written to the file");
    first.kill();

    // A new process, after the first one is gone: it starts Open, with the
    // time left of the first one's open period, not a new one.
    let second = start(&dir, &env);
    let ready = second.expect("ready");
    assert_eq!(ready[0], "open", "the restarted process starts Open");
    let retry_after: i64 = ready[1].parse().unwrap();
    let now: u64 = ready[2].parse().unwrap();
    let expected = 4000 - (now - opened_at) as i64;
    assert!(
        expected > 0,
        "the machine took {} ms to restart a process: the Open had ended",
        now - opened_at
    );
    eprintln!("restarted: retry_after {retry_after} ms, time left {expected} ms");
    assert!(
        (retry_after - expected).abs() <= 250,
        "retry_after {retry_after} ms, expected about {expected} ms"
    );
    second.quit();
}

#[test]
fn across_two_processes_no_more_than_half_open_trials_run_at_once() {
    let dir = TempDir::new("trials");
    let env = [
        ("BREAKER_NAME", "search"),
        ("RESET_MS", "300"),
        // Trials never close the breaker here, so that every admitted call
        // for the whole run is a trial.
        ("SUCCESS", "60000"),
        ("HALF_OPEN", "2"),
    ];
    let mut processes: Vec<Process> = (0..2).map(|_| start(&dir, &env)).collect();
    for p in &processes {
        p.expect("ready");
    }
    processes[0].send("trip");
    processes[0].expect("tripped");
    let other = &mut processes[1];
    let open = eventually(Duration::from_secs(3), || {
        other.send("status");
        other.expect("status")[0] == "open"
    });
    assert!(open, "the trip reached the other process");
    for p in &mut processes {
        p.send("trials 1500 60");
    }
    let mut events = Vec::new();
    for p in &processes {
        for line in p.collect_until("trials done") {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let ["trial", start, stop] = words.as_slice() {
                events.push((start.parse::<u64>().unwrap(), 1i32));
                events.push((stop.parse::<u64>().unwrap(), -1i32));
            }
        }
    }
    let trials = events.len() / 2;
    // Ends before starts at the same instant: a permit given back is free.
    events.sort();
    let (mut running, mut most) = (0, 0);
    for (_, delta) in &events {
        running += delta;
        most = most.max(running);
    }
    eprintln!("{trials} trials, at most {most} at once");
    assert!(trials >= 4, "only {trials} trials ran in 1.5 s");
    assert!(
        most <= 2,
        "{most} trials ran at once across the processes (half_open = 2)"
    );
    for p in processes {
        p.quit();
    }
}

#[test]
fn a_permit_held_by_a_process_that_died_lapses_after_the_trial_ttl() {
    let dir = TempDir::new("lease");
    let env = [
        ("BREAKER_NAME", "payments"),
        ("RESET_MS", "1500"),
        ("HALF_OPEN", "1"),
        ("TRIAL_TTL_MS", "2000"),
    ];
    let mut a = start(&dir, &env);
    let mut b = start(&dir, &env);
    a.expect("ready");
    b.expect("ready");
    a.send("trip");
    a.expect("tripped");
    b.send("watch open");
    assert_eq!(b.next_line()[0], "seen", "B adopts A's Open");

    // A takes the one permit when the open period ends, and dies with it.
    a.send("hold");
    let held = a.expect("held");
    let held_at: u64 = held[0].parse().unwrap();
    a.kill();

    b.send("take");
    let took = b.expect("took");
    let took_at: u64 = took[0].parse().unwrap();
    eprintln!(
        "B's first trial {} ms after A took the permit",
        took_at.saturating_sub(held_at)
    );
    // `held` is printed just after the permit was taken: a little slack.
    assert!(
        took_at + 250 >= held_at + 2000,
        "B ran a trial {} ms after A took the only permit, before its lease (2 s) lapsed \
         ({} calls refused before)",
        took_at.saturating_sub(held_at),
        took[1]
    );
    b.quit();
}
