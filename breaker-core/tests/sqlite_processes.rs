//! Several OS processes share breakers through one SQLite file: this test
//! binary, started again as a child in the role of a service process, on a
//! file in a directory of the test's own. Real clock, real file, real
//! processes; every wait is bounded and every margin generous.

mod sqlite_support;

use std::time::Duration;

use breaker_core::Registry;
use breaker_core::store::sqlite::SqliteStore;
use sqlite_support::{Process, TempDir, commands, eventually, raw, say, trials_at_once};

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
    commands::report_to_stderr();
    let env = commands::env;
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
    let (name, config) = commands::breaker_from_env();
    let breaker = registry.get_or_create(&name, || config);
    say(&format!("ready {}", commands::status(&breaker)));

    commands::serve(&breaker, || {
        store.flush(Duration::from_secs(2));
    });
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
    let (trials, most) = trials_at_once(&processes);
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
