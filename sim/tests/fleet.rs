//! Replaying across a fleet (`--replicas N`): the shipped fleet trace runs
//! and checks, a fleet of one is the replay of old byte for byte, calls go
//! to the replicas in turn or to the one named, and mistakes name their
//! place or their argument.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_breaker-sim"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn temp_trace(name: &str, text: &str) -> String {
    support::write("fleet", name, text)
}

fn traces() -> PathBuf {
    support::package_dir().join("traces")
}

fn shipped() -> Vec<String> {
    let mut traces: Vec<String> = std::fs::read_dir(traces())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "trace"))
        .map(|p| p.display().to_string())
        .collect();
    traces.sort();
    traces
}

const PARTITIONED: [&str; 6] = ["--replicas", "5", "--link", "5ms", "--partition", "2"];

#[test]
fn the_shipped_fleet_trace_prints_a_fleet_summary_that_check_verifies() {
    let fleet = traces().join("fleet.trace").display().to_string();
    let plain: Vec<&str> = vec!["--replicas", "5"];
    let mut partitioned: Vec<&str> = PARTITIONED.to_vec();
    partitioned.push("40s..60s");
    for fleet_args in [plain, partitioned] {
        let mut run = vec!["run", "-q", fleet.as_str()];
        run.extend(&fleet_args);
        let out = sim(&run);
        assert!(out.status.success(), "{}", stderr(&out));
        let summary = stdout(&out);
        assert!(
            summary.starts_with("db: fleet of 5 replicas: 700 calls, "),
            "{summary}"
        );
        for r in 1..=5 {
            assert!(
                summary.contains(&format!("\n  replica {r}: 140 calls, ")),
                "{summary}"
            );
        }
        let mut check = vec!["check", "-q", fleet.as_str()];
        check.extend(&fleet_args);
        let out = sim(&check);
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
        let report = stdout(&out);
        assert!(
            report.contains(": ok, fleet of 5 replicas (link "),
            "{report}"
        );
        assert!(report.contains("(cap 2)"), "{report}");
    }
    // The partition shows: replica 2 runs trials on local state.
    let mut check = vec!["check", "-q", fleet.as_str()];
    check.extend(PARTITIONED);
    check.push("40s..60s");
    let report = stdout(&sim(&check));
    assert!(
        report.contains("3 decided locally on replicas cut off"),
        "{report}"
    );
    assert!(report.contains("1 partition healed"), "{report}");
}

#[test]
fn a_fleet_of_one_replays_every_shipped_trace_as_the_breaker_alone() {
    for trace in shipped() {
        let alone = sim(&["run", "-q", &trace, "--events", "-"]);
        let one = sim(&["run", "-q", &trace, "--events", "-", "--replicas", "1"]);
        assert!(alone.status.success(), "{trace}: {}", stderr(&alone));
        assert_eq!(stdout(&alone), stdout(&one), "{trace}: the log");
        assert_eq!(stderr(&alone), stderr(&one), "{trace}: the summary");
        let alone = sim(&["run", "-q", &trace]);
        let one = sim(&["run", "-q", &trace, "--replicas", "1"]);
        assert_eq!(stdout(&alone), stdout(&one), "{trace}: the summary");
        let alone = sim(&["check", "-q", &trace]);
        let one = sim(&["check", "-q", &trace, "--replicas", "1"]);
        assert_eq!(stdout(&alone), stdout(&one), "{trace}: check");
        assert_eq!(alone.status.code(), one.status.code());
    }
}

#[test]
fn the_replay_of_old_is_unchanged_byte_for_byte() {
    // Logs and summaries of the shipped traces as the replay wrote them
    // before fleets existed (`tests/data/alone`, written by that build).
    let data = support::package_dir().join("tests/data/alone");
    let mut compared = 0;
    for trace in shipped() {
        let name = PathBuf::from(&trace)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let Ok(log) = std::fs::read_to_string(data.join(format!("{name}.log"))) else {
            continue;
        };
        let summary = std::fs::read_to_string(data.join(format!("{name}.summary"))).unwrap();
        let out = sim(&["run", "-q", &trace, "--events", "-"]);
        assert_eq!(stdout(&out), log, "{trace}: the log");
        let out = sim(&["run", "-q", &trace]);
        assert_eq!(stdout(&out), summary, "{trace}: the summary");
        compared += 1;
    }
    assert!(compared >= 11, "{compared} traces compared");
}

#[test]
fn calls_go_to_the_replicas_in_turn_or_to_the_one_named_and_events_say_which() {
    let path = temp_trace(
        "turns.trace",
        "breaker db fail_max=1 reset=10s\n0s db ok\n1s db ok\n2s db ok\n3s db@3 ok\n4s db ok\n5s db@2 trip\n",
    );
    let out = sim(&["run", "-q", &path, "--replicas", "3", "--events", "-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = stdout(&out);
    let admitted: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("\"event\":\"admitted\""))
        .collect();
    let replicas: Vec<&str> = admitted
        .iter()
        .map(|l| &l[l.find("\"replica\":").unwrap() + 10..][..1])
        .collect();
    assert_eq!(replicas, ["1", "2", "3", "3", "1"]);
    assert!(
        log.contains(
            r#"{"t_ns":5000000000,"breaker":"db","replica":2,"event":"action","action":"trip","state":"open"}"#
        ),
        "{log}"
    );
    for r in [1, 3] {
        assert!(
            log.contains(&format!(
                r#"{{"t_ns":5000000000,"breaker":"db","replica":{r},"event":"transition","from":"closed","to":"open","reason":"remote: manual trip"}}"#
            )),
            "{log}"
        );
    }
    // Every event of a fleet names its replica; a replay alone names none.
    assert!(log.lines().all(|l| l.contains("\"replica\":")));
    let path = temp_trace("alone.trace", "breaker db\n0s db ok\n1s db trip\n");
    let alone = sim(&["run", "-q", &path, "--events", "-"]);
    assert!(alone.status.success());
    assert!(!stdout(&alone).contains("\"replica\""));
}

#[test]
fn a_bad_replica_in_the_trace_is_reported_at_its_place() {
    let path = temp_trace("replica.trace", "breaker db\n0s db ok\n1s db@0 ok\n");
    let out = sim(&["run", &path, "--replicas", "5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing replayed");
    assert_eq!(
        stderr(&out).trim_end(),
        format!(
            "{path}:3:7: no replica 0 of `db`: expected a replica from 1 to 5 (`--replicas 5`)"
        )
    );
    let path = temp_trace("replica7.trace", "breaker db\n0s db ok\n1s   db@7 trip\n");
    let out = sim(&["check", &path, "--replicas", "5"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim_end(),
        format!(
            "{path}:3:9: no replica 7 of `db`: expected a replica from 1 to 5 (`--replicas 5`)"
        )
    );
    let out = sim(&["run", &path]);
    assert_eq!(
        stderr(&out).trim_end(),
        format!(
            "{path}:3:9: no replica 7 of `db`: this replay has one replica; name replicas in a replay of a fleet (`--replicas N`)"
        )
    );
    let path = temp_trace("replicax.trace", "breaker db\n0s db@x ok\n");
    let out = sim(&["run", &path, "--replicas", "2"]);
    assert_eq!(
        stderr(&out).trim_end(),
        format!(
            "{path}:2:7: expected a replica number after `db@`, found `x`: expected a replica from 1 to 2 (`--replicas 2`)"
        )
    );
}

#[test]
fn mistakes_in_the_fleet_s_arguments_name_the_argument() {
    let fleet = traces().join("fleet.trace").display().to_string();
    let cases: [(&[&str], &str); 6] = [
        (
            &["--replicas", "5", "--link", "5"],
            "error: bad --link `5`: duration `5` has no unit",
        ),
        (
            &["--replicas", "5", "--partition", "6", "1m..2m"],
            "error: bad --partition `6 1m..2m`: no replica 6; expected a replica from 1 to 5 (`--replicas 5`)",
        ),
        (
            &["--replicas", "5", "--partition", "2", "2m..1m"],
            "error: bad --partition `2 2m..1m`: the partition must end after it starts",
        ),
        (
            &["--replicas", "5", "--partition", "2", "1m"],
            "error: bad --partition `2 1m`: expected a span `FROM..TO`",
        ),
        (
            &["--link", "5ms"],
            "error: --link 5ms needs a fleet: give --replicas N with N > 1",
        ),
        (
            &["--partition", "2", "1m..2m"],
            "error: --partition 2 1m..2m needs a fleet: give --replicas N with N > 1",
        ),
    ];
    for (args, expected) in cases {
        for command in ["run", "check"] {
            let mut all = vec![command, fleet.as_str()];
            all.extend(args);
            let out = sim(&all);
            assert_eq!(out.status.code(), Some(2), "{all:?}");
            assert!(
                stderr(&out).starts_with(expected),
                "{all:?}: {}",
                stderr(&out)
            );
        }
    }
    let out = sim(&["run", &fleet, "--replicas", "3", "--via", "model"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--replicas replays through breaker-core"));
}

#[test]
fn tune_ranks_configurations_for_the_fleet() {
    let fleet = traces().join("fleet.trace").display().to_string();
    let grid = "fail_max=2,5 reset=2s,10s";
    let out = sim(&[
        "tune",
        "-q",
        &fleet,
        "--replicas",
        "5",
        "--link",
        "5ms",
        "--grid",
        grid,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert_eq!(
        table.lines().count(),
        5,
        "a header and 4 configurations: {table}"
    );
    let alone = stdout(&sim(&["tune", "-q", &fleet, "--grid", grid]));
    assert_ne!(
        table, alone,
        "the fleet ranks otherwise than a breaker alone"
    );
    // The same ranking whatever the threads.
    let one_job = sim(&[
        "tune",
        "-q",
        &fleet,
        "--replicas",
        "5",
        "--link",
        "5ms",
        "--grid",
        grid,
        "-j",
        "1",
    ]);
    assert_eq!(stdout(&one_job), table);
    let out = sim(&[
        "tune",
        "-q",
        &fleet,
        "--replicas",
        "5",
        "--change",
        "at=30s fail_max=2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("with --replicas, give --grid"));
}

/// The adopted openings of a fleet summary, summed over the replicas.
fn adopted(summary: &str) -> u64 {
    summary
        .lines()
        .filter_map(|l| {
            l.split(" opens (")
                .nth(1)
                .or_else(|| l.split(" open (").nth(1))
        })
        .filter_map(|rest| rest.split(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn a_quorum_keeps_openings_local_until_enough_replicas_open_and_check_verifies_it() {
    let fleet = traces().join("fleet.trace").display().to_string();
    let mut adopted_by_quorum = Vec::new();
    for quorum in ["1", "2", "5"] {
        let args = ["--replicas", "5", "--quorum", quorum];
        let mut run = vec!["run", "-q", fleet.as_str()];
        run.extend(args);
        let out = sim(&run);
        assert!(out.status.success(), "quorum {quorum}: {}", stderr(&out));
        adopted_by_quorum.push(adopted(&stdout(&out)));
        let mut check = vec!["check", "-q", fleet.as_str()];
        check.extend(args);
        let out = sim(&check);
        assert!(
            out.status.success(),
            "quorum {quorum}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(
            stdout(&out).contains(": ok, fleet of 5 replicas"),
            "{}",
            stdout(&out)
        );
    }
    // Each replica must open on its own before a quorum of all five shares
    // anything: no replica adopts an opening it did not make.
    assert_eq!(adopted_by_quorum[2], 0, "{adopted_by_quorum:?}");
    assert!(
        adopted_by_quorum[0] > adopted_by_quorum[1] && adopted_by_quorum[1] > 0,
        "fewer adopted openings as the quorum grows: {adopted_by_quorum:?}"
    );

    for (args, said) in [
        (
            vec!["--replicas", "5", "--quorum", "6"],
            "bad --quorum 6: expected from 1",
        ),
        (
            vec!["--replicas", "5", "--quorum", "0"],
            "bad --quorum 0: expected from 1",
        ),
        (vec!["--quorum", "2"], "--quorum 2 needs a fleet"),
    ] {
        let mut run = vec!["run", "-q", fleet.as_str()];
        run.extend(&args);
        let out = sim(&run);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(said), "{args:?}: {}", stderr(&out));
    }
}

/// The race the fleet check found in the store's rules: a trial ending in
/// its half-open period after another replica's write cleared the permits,
/// before its replica heard of that write, gave back a permit of the new
/// count. The smallest trace that showed it, replayed with the link delay
/// that showed it: the check (which allows no excess over the cap) passes.
#[test]
fn a_permit_cleared_by_a_write_lets_no_extra_trial_in() {
    let out = sim(&[
        "gen",
        "--scenario",
        "flapping",
        "--seed",
        "3",
        "--duration",
        "30m",
        "--rps",
        "200",
        "--breakers",
        "3",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let trace = temp_trace("permit-race.trace", &stdout(&out));
    let out = sim(&["check", "-q", &trace, "--replicas", "7", "--link", "300ms"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("at most 2 trials in flight across the fleet (cap 2)"),
        "{}",
        stdout(&out)
    );
}

/// `--cluster-failures`: failures in Closed counted across the replicas, as
/// the Redis store's `cluster_failures(true)`. Six failures dealt in turn to
/// three replicas of `fail_max=3` open none alone (two each); counted
/// together, the third opens every replica, and `check` verifies it.
#[test]
fn cluster_failures_open_every_replica_on_the_fleets_sum() {
    let trace = temp_trace(
        "cluster-failures.trace",
        "breaker db fail_max=3 reset=10s\n0s db err\n1s db err\n2s db err\n3s db err\n4s db err\n5s db err\n6s db ok\n",
    );
    let alone = sim(&["run", "-q", &trace, "--replicas", "3", "--events", "-"]);
    assert!(alone.status.success(), "{}", stderr(&alone));
    assert!(
        !stdout(&alone).contains("\"transition\""),
        "{}",
        stdout(&alone)
    );
    let counted = sim(&[
        "run",
        "-q",
        &trace,
        "--replicas",
        "3",
        "--cluster-failures",
        "--events",
        "-",
    ]);
    assert!(counted.status.success(), "{}", stderr(&counted));
    let log = stdout(&counted);
    for r in 1..=3 {
        let opened = format!(
            "{{\"t_ns\":2000000000,\"breaker\":\"db\",\"replica\":{r},\"event\":\"transition\",\"from\":\"closed\",\"to\":\"open\",\"reason\":\"remote: 3 failures across replicas\"}}"
        );
        assert!(log.contains(&opened), "replica {r}: {log}");
    }
    for link in ["0ms", "500ms"] {
        let check = sim(&[
            "check",
            "-q",
            &trace,
            "--replicas",
            "3",
            "--link",
            link,
            "--cluster-failures",
        ]);
        assert!(
            check.status.success(),
            "{}{}",
            stdout(&check),
            stderr(&check)
        );
        assert!(
            stdout(&check).contains("1 shared opening"),
            "{}",
            stdout(&check)
        );
    }
    let without_fleet = sim(&["run", "-q", &trace, "--cluster-failures"]);
    assert_eq!(without_fleet.status.code(), Some(2));
    assert!(stderr(&without_fleet).contains("--cluster-failures needs a fleet"));
}
