//! The command line: exit statuses and what it prints.

mod support;

use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_breaker-sim"))
        .args(args)
        .output()
        .unwrap()
}

fn temp_trace(name: &str, text: &str) -> String {
    support::write("cli", name, text)
}

#[test]
fn bad_trace_exits_2_with_file_line_column_and_replays_nothing() {
    let path = temp_trace("bad.trace", "breaker db fail_max=3\n0s db ok\n1s dbb err\n");
    for args in [
        vec!["run", path.as_str(), "--events", "-"],
        vec!["check", path.as_str()],
    ] {
        let out = sim(&args);
        assert_eq!(out.status.code(), Some(2));
        assert!(out.stdout.is_empty(), "nothing replayed");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.trim_end(),
            format!("{path}:3:4: unknown breaker `dbb`; did you mean `db`?")
        );
    }
}

#[test]
fn a_configure_line_with_an_invalid_result_exits_2_at_its_key() {
    let path = temp_trace(
        "bad_configure.trace",
        "breaker db failure_rate=50 window=10\n0s db err\n1s db configure min_calls=20\n",
    );
    for args in [
        vec!["run", path.as_str(), "--events", "-"],
        vec!["check", path.as_str()],
        vec!["run", "--via", "model", path.as_str(), "--events", "-"],
    ] {
        let out = sim(&args);
        assert_eq!(out.status.code(), Some(2));
        assert!(out.stdout.is_empty(), "nothing replayed");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim_end(),
            format!("{path}:3:17: `min_calls` (20) must not exceed `window` (10 calls)")
        );
    }
}

#[test]
fn run_writes_a_configured_event_for_a_configure_line() {
    let path = temp_trace(
        "configure.trace",
        "breaker db fail_max=5 reset=30s\n3m db configure fail_max=10 reset=1m\n",
    );
    let out = sim(&["run", &path, "--events", "-"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"t_ns\":180000000000,\"breaker\":\"db\",\"event\":\"configured\",\"keys\":\"fail_max=10 reset=1m\",\"state\":\"closed\"}\n"
    );
}

#[test]
fn check_replays_nothing_when_any_trace_is_bad() {
    let good = temp_trace("good.trace", "breaker a\n0s a ok\n");
    let bad = temp_trace("bad2.trace", "breaker a fail_mx=1\n");
    let out = sim(&["check", &good, &bad]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `fail_max`?"));
}

#[test]
fn missing_file_exits_2() {
    assert_eq!(sim(&["run", "/nonexistent/x.trace"]).status.code(), Some(2));
}

#[test]
fn run_prints_a_summary_per_breaker() {
    let path = temp_trace(
        "sum.trace",
        "breaker a fail_max=1 reset=10s\n0s a err\n1s a ok\n10s a ok\n",
    );
    let out = sim(&["run", &path]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "a: 3 calls, 2 admitted, 1 rejected, 1 failure let through, 2 transitions\n  time in closed 0s, open 10s\n"
    );
}

#[test]
fn run_writes_the_event_log_to_a_file() {
    let path = temp_trace("file.trace", "breaker a\n0s a ok\n");
    let out_path = format!("{path}.jsonl");
    let out = sim(&["run", &path, "--events", &out_path]);
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(&out_path).unwrap(),
        "{\"t_ns\":0,\"breaker\":\"a\",\"call\":1,\"event\":\"admitted\",\"state\":\"closed\"}\n\
         {\"t_ns\":0,\"breaker\":\"a\",\"call\":1,\"event\":\"ended\",\"outcome\":\"success\",\"latency_ns\":0,\"state\":\"closed\"}\n"
    );
}

#[test]
fn gen_is_deterministic_and_checks_clean() {
    for scenario in [
        "outage",
        "flapping",
        "brownout",
        "slow",
        "recovery-storm",
        "fragile-recovery",
    ] {
        let args = [
            "gen",
            "--scenario",
            scenario,
            "--seed",
            "42",
            "--duration",
            "2m",
            "--rps",
            "20",
        ];
        let a = sim(&args);
        assert!(a.status.success(), "{scenario}");
        assert_eq!(a.stdout, sim(&args).stdout);
        let path = temp_trace(
            &format!("{scenario}.trace"),
            &String::from_utf8_lossy(&a.stdout),
        );
        let out = sim(&["check", &path]);
        assert!(
            out.status.success(),
            "{scenario}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    assert_eq!(sim(&["gen", "--scenario", "nope"]).status.code(), Some(2));
}

#[test]
fn tune_ranks_every_combination_of_the_grid() {
    let trace = &format!("{}/traces/outage.trace", support::package_dir().display());
    let out = sim(&["tune", trace, "--grid", "fail_max=2..3 reset=10s,30s"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(lines[0].contains("let through"));
    assert!(lines[1].contains("fail_max=2 reset=30s"), "{stdout}");
    assert_eq!(
        sim(&["tune", trace, "--grid", "fail_mx=1"]).status.code(),
        Some(2)
    );
}

#[test]
fn tune_compares_keeping_the_configuration_with_changing_it_live() {
    let trace = &format!("{}/traces/outage.trace", support::package_dir().display());
    let out = sim(&[
        "tune",
        trace,
        "--change",
        "at=5s fail_max=2 reset=5s",
        "--change",
        "at=5s fail_max=20",
    ]);
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(table.lines().count(), 4, "{table}");
    for row in ["keep", "at 5s: fail_max=2 reset=5s", "at 5s: fail_max=20"] {
        assert!(table.contains(row), "{table}");
    }
    let bad = sim(&["tune", trace, "--change", "at=5s fail_mx=2"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("did you mean `fail_max`?"));
    let both = sim(&[
        "tune",
        trace,
        "--grid",
        "fail_max=2",
        "--change",
        "at=5s fail_max=2",
    ]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn plot_writes_an_svg_timeline() {
    let trace = &format!("{}/traces/outage.trace", support::package_dir().display());
    let out_path = temp_trace("timeline.svg", "");
    let out = sim(&["plot", trace, "-o", &out_path]);
    assert!(out.status.success());
    let svg = std::fs::read_to_string(&out_path).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("5 consecutive failures"));
}

#[test]
fn run_via_attr_shows_the_same_log_as_the_direct_replay() {
    let trace = &format!("{}/traces/outage.trace", support::package_dir().display());
    let direct = sim(&["run", trace, "--events", "-"]);
    let attr = sim(&["run", "--via", "attr", trace, "--events", "-"]);
    assert!(attr.status.success());
    assert_eq!(
        String::from_utf8_lossy(&direct.stdout),
        String::from_utf8_lossy(&attr.stdout)
    );
    let model = sim(&["run", "--via", "model", trace, "--events", "-"]);
    assert_eq!(direct.stdout, model.stdout);
    let rates = &format!("{}/traces/rates.trace", support::package_dir().display());
    assert_eq!(sim(&["run", "--via", "attr", rates]).status.code(), Some(2));
}

#[test]
fn run_via_attr_async_shows_the_same_log_or_replays_nothing() {
    for name in ["outage", "rates"] {
        let trace = format!("{}/traces/{name}.trace", support::package_dir().display());
        let direct = sim(&["run", &trace, "--events", "-"]);
        let attr = sim(&["run", "--via", "attr-async", &trace, "--events", "-"]);
        assert!(attr.status.success(), "{name}");
        assert_eq!(direct.stdout, attr.stdout, "{name}");
        assert_eq!(direct.stderr, attr.stderr, "{name}: the summary");
    }
    let backoff = &format!("{}/traces/backoff.trace", support::package_dir().display());
    let out = sim(&["run", "--via", "attr-async", backoff, "--events", "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing replayed");
    assert!(String::from_utf8_lossy(&out.stderr).contains("whole milliseconds"));
}

#[test]
fn gen_writes_to_the_resolution_asked() {
    let out = sim(&[
        "gen",
        "--scenario",
        "slow",
        "--duration",
        "30s",
        "--resolution",
        "1ms",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(
        "# breaker-sim gen --scenario slow --seed 1 --duration 30s --rps 20 --resolution 1ms\n"
    ));
    let trace = breaker_sim::trace::parse("gen", &text).unwrap();
    assert!(trace.lines.iter().all(|l| l.t_ns % 1_000_000 == 0));
    assert_eq!(
        sim(&["gen", "--scenario", "slow", "--resolution", "0s"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn a_seed_replays_retries_byte_for_byte_and_another_seed_draws_other_waits() {
    let trace = &format!("{}/traces/retries.trace", support::package_dir().display());
    let log = |seed: &str, via: &str| {
        let out = sim(&["run", trace, "--via", via, "--seed", seed, "--events", "-"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let seven = log("7", "core");
    assert!(String::from_utf8_lossy(&seven).contains("\"attempt\":1,"));
    assert_eq!(seven, log("7", "core"), "same seed, same bytes");
    assert_eq!(seven, log("7", "model"), "the model draws the same waits");
    assert_ne!(seven, log("8", "core"), "another seed, other waits");
    let default = sim(&["run", trace, "--events", "-"]).stdout;
    assert_eq!(default, log("0", "core"), "the default seed is 0");
    for seed in ["0", "7", "8", "18446744073709551615"] {
        let out = sim(&["check", "--seed", seed, trace]);
        assert!(
            out.status.success(),
            "seed {seed}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let out = sim(&["run", "--via", "attr", trace]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("retries"));
}

#[test]
fn tune_takes_retry_keys_and_a_seed() {
    let trace = &format!("{}/traces/retries.trace", support::package_dir().display());
    let out = sim(&[
        "tune",
        trace,
        "--grid",
        "retry=1..3 retry_backoff=10ms..100ms,1s..5s",
        "--seed",
        "3",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 7, "{stdout}");
    assert!(
        stdout.contains("retry=1 retry_backoff=10ms..100ms"),
        "{stdout}"
    );
}

// ---- run --real-time (sim/src/subject/realtime.rs; its replays are checked in real_time.rs)

#[test]
fn the_command_line_refuses_what_real_time_cannot_do_and_names_the_flag() {
    let path = temp_trace(
        "short.trace",
        "breaker a fail_max=1 reset=100ms\n0ms a err\n50ms a ok\n",
    );
    for (args, message) in [
        (
            vec!["--via", "model", "--real-time"],
            "error: --real-time replays through breaker-core only (--via core), not --via model",
        ),
        (
            vec!["--via", "attr-async", "--real-time"],
            "error: --real-time replays through breaker-core only (--via core), not --via attr-async",
        ),
        (vec!["--speed", "2"], "error: --speed needs --real-time"),
        (
            vec!["--real-time", "--speed", "0"],
            "error: --speed must be a finite number > 0 (such as 1 or 2.5), got 0",
        ),
        (
            vec!["--real-time", "--speed=-1"],
            "error: --speed must be a finite number > 0 (such as 1 or 2.5), got -1",
        ),
        (
            vec!["--real-time", "--speed", "inf"],
            "error: --speed must be a finite number > 0 (such as 1 or 2.5), got inf",
        ),
    ] {
        let mut all = vec!["run", path.as_str(), "--events", "-"];
        all.extend(args);
        let out = sim(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?}");
        assert!(out.stdout.is_empty(), "nothing replayed: {all:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).trim_end(), message);
    }
    let out = sim(&["run", path.as_str(), "--real-time", "--speed", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'--speed <F>'"));
}

#[test]
fn the_command_line_replays_on_the_real_clock() {
    let path = temp_trace(
        "run.trace",
        "breaker a fail_max=1 reset=100ms success=1\n0ms a err\n50ms a ok\n200ms a ok\n",
    );
    let out = sim(&[
        "run",
        path.as_str(),
        "--real-time",
        "--speed",
        "2",
        "--events",
        "-",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stdout);
    let kinds: Vec<&str> = log
        .lines()
        .map(|l| {
            l.split("\"event\":\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or("")
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "admitted",
            "ended",
            "transition",
            "rejected",
            "admitted",
            "transition",
            "ended",
            "transition"
        ],
        "{log}"
    );
}
