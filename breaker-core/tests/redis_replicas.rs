//! Several replicas share breakers through a real redis-server: separate OS
//! processes (this test binary, started again as a child in the role of a
//! replica) and, for the cheaper checks, separate registries in one process.
//!
//! Each test starts its own redis-server on a free loopback port and kills it
//! when done. Without redis-server installed the tests fail, saying how to
//! install it; they never skip.

mod redis_support;

use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use breaker_core::store::redis::RedisStore;
use breaker_core::{Breaker, Config, Error, Reason, Registry, State};
use redis_support::{Process, RedisServer, commands, eventually, say, trials_at_once, unix_ms};

/// The environment variable that turns this binary into a replica.
const ROLE: &str = "BREAKER_REDIS_REPLICA";

// ---------------------------------------------------------------------------
// The replica: a child process driven by commands on its standard input.
// ---------------------------------------------------------------------------

/// The entry point of the replica processes the tests below start. Run as an
/// ordinary test (without `BREAKER_REDIS_REPLICA`), it does nothing.
#[test]
fn replica_process_entry_point() {
    let Ok(url) = std::env::var(ROLE) else { return };
    let env = |key: &str, default: u64| {
        std::env::var(key)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let store = RedisStore::builder(url)
        .namespace("replicas")
        .budget(Duration::from_millis(500))
        .connect()
        .expect("a store");
    let registry = Registry::new();
    registry.use_store(store.clone());
    let config = Config::builder()
        .fail_max(env("FAIL_MAX", 3) as u32)
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
            ["watch"] => {
                let deadline = Instant::now() + Duration::from_secs(5);
                let outcome = loop {
                    if breaker.call(|| Ok::<(), Error>(())).is_err() {
                        break format!("rejected {}", unix_ms());
                    }
                    if Instant::now() > deadline {
                        break "never".to_owned();
                    }
                    std::thread::sleep(Duration::from_millis(1));
                };
                say(&outcome);
            }
            ["status"] => say(&format!("status {}", status(&breaker))),
            ["configure", patch @ ..] => match breaker.reconfigure(&patch.join(" ")) {
                Ok(changed) => say(&format!("configured {} {}", unix_ms(), changed.join(","))),
                Err(e) => say(&format!("refused {e}")),
            },
            ["watchconfig", written] => {
                // Until the configuration in force writes `key=value`.
                let (key, value) = written.split_once('=').unwrap_or((written, ""));
                let wanted = format!("{key} = {value}");
                let deadline = Instant::now() + Duration::from_secs(5);
                let outcome = loop {
                    if breaker.config().to_keys().split(", ").any(|k| k == wanted) {
                        break format!("config {}", unix_ms());
                    }
                    if Instant::now() > deadline {
                        break "never".to_owned();
                    }
                    std::thread::sleep(Duration::from_millis(1));
                };
                say(&outcome);
            }
            ["config"] => say(&format!(
                "config {}",
                breaker.config().to_keys().replace(' ', "")
            )),
            ["trip"] => {
                breaker.trip();
                say("tripped");
            }
            ["trials", run_ms, call_ms] => commands::trials(&breaker, run_ms, call_ms),
            ["quit"] => {
                // What a well-behaved process does before it exits.
                store.flush(Duration::from_secs(1));
                break;
            }
            _ => say(&format!("unknown command {line}")),
        }
    }
}

/// `state retry_after_ms now_ms` (retry_after -1 when there is none).
fn status(breaker: &Breaker) -> String {
    let retry = match breaker.acquire() {
        Ok(permit) => {
            drop(permit);
            -1
        }
        Err(e) => e.retry_after().map_or(-1, |d| d.as_millis() as i64),
    };
    format!("{} {retry} {}", breaker.state(), unix_ms())
}

/// A replica on `server`, with `env`.
fn replica_process(server: &RedisServer, env: &[(&str, &str)]) -> Process {
    let url = server.url();
    let mut env = env.to_vec();
    env.push((ROLE, &url));
    Process::start("replica_process_entry_point", &env)
}

// ---------------------------------------------------------------------------
// Across OS processes.
// ---------------------------------------------------------------------------

#[test]
fn failures_in_one_process_open_the_breaker_in_two_others_within_100ms() {
    let server = RedisServer::start();
    let env = [("BREAKER_NAME", "orders"), ("FAIL_MAX", "3")];
    let mut replicas: Vec<Process> = (0..3).map(|_| replica_process(&server, &env)).collect();
    for r in &replicas {
        assert_eq!(r.expect("ready")[0], "closed");
    }
    for watcher in &mut replicas[1..] {
        watcher.send("watch");
    }
    replicas[0].send("fail 3");
    let failed = replicas[0].expect("failed");
    assert_eq!(failed[0], "open", "three failures open the breaker locally");
    let opened_at: u64 = failed[1].parse().unwrap();
    for watcher in &replicas[1..] {
        let seen = watcher.next_line();
        assert_eq!(
            seen[0], "rejected",
            "the other replica never rejected a call"
        );
        let rejected_at: u64 = seen[1].parse().unwrap();
        let lag = rejected_at.saturating_sub(opened_at);
        assert!(
            lag <= 100,
            "a replica rejected {lag} ms after the breaker opened elsewhere"
        );
    }
    for r in replicas {
        r.quit();
    }
}

#[test]
fn a_reconfiguration_in_one_process_reaches_two_others_within_100ms_and_a_late_joiner() {
    let server = RedisServer::start();
    let env = [("BREAKER_NAME", "quotes"), ("FAIL_MAX", "3")];
    let mut replicas: Vec<Process> = (0..3).map(|_| replica_process(&server, &env)).collect();
    for r in &replicas {
        assert_eq!(r.expect("ready")[0], "closed");
    }
    for watcher in &mut replicas[1..] {
        watcher.send("watchconfig fail_max=10");
    }
    replicas[0].send("configure fail_max=10 reset=1m");
    let configured = replicas[0].expect("configured");
    assert_eq!(configured[1], "fail_max,reset");
    let at: u64 = configured[0].parse().unwrap();
    for watcher in &replicas[1..] {
        let seen = watcher.next_line();
        assert_eq!(seen[0], "config", "the change never reached a replica");
        let lag = seen[1].parse::<u64>().unwrap().saturating_sub(at);
        assert!(
            lag <= 100,
            "a replica applied the change {lag} ms after it was made"
        );
    }
    // A process started later, with its own `fail_max = 3`, applies it too.
    let mut late = replica_process(&server, &env);
    late.expect("ready");
    late.send("config");
    assert_eq!(late.expect("config"), ["fail_max=10,reset=1m,half_open=2"]);
    for r in replicas.into_iter().chain([late]) {
        r.quit();
    }
}

#[test]
fn a_process_started_while_the_breaker_is_open_starts_open_with_the_time_left() {
    let server = RedisServer::start();
    let env = [
        ("BREAKER_NAME", "ledger"),
        ("FAIL_MAX", "2"),
        ("RESET_MS", "3000"),
    ];
    let mut first = replica_process(&server, &env);
    first.expect("ready");
    first.send("fail 2");
    let failed = first.expect("failed");
    assert_eq!(failed[0], "open");
    let opened_at: u64 = failed[1].parse().unwrap();
    first.quit();

    // A new process, after the first one is gone: it joins, it does not reset.
    std::thread::sleep(Duration::from_millis(400));
    let second = replica_process(&server, &env);
    let ready = second.expect("ready");
    assert_eq!(ready[0], "open", "the restarted process starts Open");
    let retry_after: i64 = ready[1].parse().unwrap();
    let now: u64 = ready[2].parse().unwrap();
    let expected = 3000 - (now - opened_at) as i64;
    assert!(
        (retry_after - expected).abs() <= 150,
        "retry_after {retry_after} ms, expected about {expected} ms"
    );
    second.quit();
}

#[test]
fn across_three_processes_no_more_than_half_open_trials_run_at_once() {
    let server = RedisServer::start();
    let env = [
        ("BREAKER_NAME", "search"),
        ("RESET_MS", "300"),
        // Trials never close the breaker here, so that every admitted call
        // for the whole run is a trial.
        ("SUCCESS", "60000"),
        ("HALF_OPEN", "2"),
    ];
    let mut replicas: Vec<Process> = (0..3).map(|_| replica_process(&server, &env)).collect();
    for r in &replicas {
        r.expect("ready");
    }
    replicas[0].send("trip");
    replicas[0].expect("tripped");
    for r in &mut replicas[1..] {
        let open = eventually(Duration::from_secs(2), || {
            r.send("status");
            r.expect("status")[0] == "open"
        });
        assert!(open, "the trip reached every replica");
    }
    for r in &mut replicas {
        r.send("trials 1500 60");
    }
    let (trials, most) = trials_at_once(&replicas);
    assert!(trials >= 4, "only {trials} trials ran in 1.5 s");
    assert!(
        most <= 2,
        "{most} trials ran at once across the replicas (half_open = 2)"
    );
    for r in replicas {
        r.quit();
    }
}

// ---------------------------------------------------------------------------
// Across registries of one process (each with its own store, as replicas).
// ---------------------------------------------------------------------------

fn replica(server: &RedisServer, cluster_failures: bool, name: &str, config: Config) -> Breaker {
    let store = RedisStore::builder(server.url())
        .namespace("in-process")
        .budget(Duration::from_millis(500))
        .cluster_failures(cluster_failures)
        .connect()
        .expect("a store");
    assert!(store.is_connected());
    let registry = Registry::new();
    registry.use_store(store);
    // The registry goes, the breaker (and its link to the store) stays.
    registry.get_or_create(name, || config)
}

fn fail(breaker: &Breaker) {
    let _ = breaker.call(|| Err::<(), Error>(Error::timeout("db".into(), Duration::ZERO)));
}

#[test]
fn manual_actions_propagate_to_every_replica() {
    let server = RedisServer::start();
    let a = replica(&server, false, "manual", Config::default());
    let b = replica(&server, false, "manual", Config::default());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    b.on_transition(move |t| log.lock().unwrap().push((t.to, t.reason.clone())));

    type Step<'a> = (&'a Breaker, fn(&Breaker), State);
    let steps: [Step<'_>; 5] = [
        (&a, Breaker::force_open, State::ForcedOpen),
        (&a, Breaker::reset, State::Closed),
        (&b, Breaker::disable, State::Disabled),
        (&b, Breaker::reset, State::Closed),
        (&a, Breaker::trip, State::Open),
    ];
    for (actor, action, expected) in steps {
        action(actor);
        let other = if std::ptr::eq(actor, &a) { &b } else { &a };
        assert!(
            eventually(Duration::from_secs(1), || other.state() == expected),
            "{expected} did not reach the other replica"
        );
    }
    let seen = seen.lock().unwrap();
    let states: Vec<State> = seen.iter().map(|(to, _)| *to).collect();
    assert_eq!(
        states,
        [
            State::ForcedOpen,
            State::Closed,
            State::Disabled,
            State::Closed,
            State::Open
        ],
        "each change reported once on the other replica"
    );
    let remote = |i: usize| matches!(seen[i].1, Reason::Remote { .. });
    assert!(
        remote(0) && remote(1) && remote(4),
        "applied changes carry Reason::Remote"
    );
    assert!(
        !remote(2) && !remote(3),
        "its own actions keep their reason"
    );
    let retry = b
        .call(|| Ok::<(), Error>(()))
        .unwrap_err()
        .retry_after()
        .unwrap();
    assert!(
        retry > Duration::from_secs(29),
        "the trip's open period was shared: {retry:?}"
    );
}

#[test]
fn cluster_wide_failure_counting_opens_every_replica_on_their_sum() {
    let server = RedisServer::start();
    let config = || Config::builder().fail_max(4).build().unwrap();
    let a = replica(&server, true, "sum", config());
    let b = replica(&server, true, "sum", config());
    for _ in 0..2 {
        fail(&a);
        fail(&b);
    }
    for breaker in [&a, &b] {
        assert!(
            eventually(Duration::from_secs(1), || breaker.state() == State::Open),
            "four failures across two replicas open both (fail_max = 4)"
        );
        let reason = breaker.open_reason().unwrap();
        assert_eq!(
            reason.reason.to_string(),
            "remote: 4 failures across replicas"
        );
    }
}

#[test]
fn a_trial_failing_in_one_replica_reopens_the_others() {
    let server = RedisServer::start();
    let config = || {
        Config::builder()
            .fail_max(1)
            .reset(Duration::from_millis(200))
            .success(1)
            .build()
            .unwrap()
    };
    let a = replica(&server, false, "race", config());
    let b = replica(&server, false, "race", config());
    fail(&a);
    assert!(eventually(Duration::from_secs(1), || b.state() == State::Open));
    // After the period, b's trial fails: Open again everywhere, for 200 ms.
    assert!(eventually(Duration::from_secs(2), || {
        match b.acquire() {
            Ok(permit) => {
                let _ = permit.failure();
                true
            }
            Err(_) => false,
        }
    }));
    // a's own period is over by now: unless the reopening reached it, its
    // next call is a trial, which would close it (success = 1), and that close
    // would lose to the Open written by b. Either way, a ends Open.
    assert!(eventually(Duration::from_secs(1), || {
        a.call(|| Ok::<(), Error>(()))
            .is_err_and(|e| e.retry_after().is_some())
    }));
    let rejected = a.call(|| Ok::<(), Error>(())).unwrap_err();
    assert_eq!(a.state(), State::Open);
    assert!(
        rejected
            .retry_after()
            .is_some_and(|d| d <= Duration::from_millis(200))
    );
}

#[test]
fn without_redis_breakers_work_on_local_state() {
    // Nothing listens on this port: the store starts disconnected.
    let url = format!("redis://127.0.0.1:{}/", redis_support::free_port());
    let store = RedisStore::builder(url)
        .connect_timeout(Duration::from_millis(200))
        .connect()
        .expect("an unreachable Redis is not an error");
    assert!(!store.is_connected());
    let registry = Registry::new();
    registry.use_store(store);
    let config = Config::builder()
        .fail_max(2)
        .reset(Duration::from_millis(50))
        .success(1)
        .build()
        .unwrap();
    let breaker = registry.get_or_create("alone", || config);
    breaker.call(|| Ok::<(), Error>(())).unwrap();
    fail(&breaker);
    fail(&breaker);
    assert_eq!(breaker.state(), State::Open);
    // The trial is decided locally, without waiting on the store.
    assert!(eventually(Duration::from_secs(1), || breaker
        .call(|| Ok::<(), Error>(()))
        .is_ok()));
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn a_url_that_cannot_be_parsed_is_an_error() {
    let error = RedisStore::builder("http://[not a redis url")
        .connect()
        .unwrap_err();
    assert!(error.to_string().contains("invalid Redis URL"), "{error}");
}
