//! `tune` ranks whole policies (the grid axis `policy`) on generated
//! incidents, the same way every time, and the reference model agrees with
//! breaker-core on adaptive throttling over those incidents.

mod support;

use std::process::{Command, Output};

use breaker_sim::generate::{Scenario, generate};

/// The grid of the README's table.
const GRID: &str =
    "policy=fail_max=5|failure_rate=50,window=10s|adaptive=1.5,window=10s|adaptive=2,window=10s";

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_breaker-sim"))
        .args(args)
        .output()
        .unwrap()
}

/// `breaker-sim gen --scenario NAME --seed 7 --duration 10m --rps 50`, saved.
fn generated(name: &str, declaration: Option<&str>) -> String {
    let scenario = Scenario::from_name(name).unwrap();
    let mut text = generate(scenario, 7, 600_000_000_000, 50);
    if let Some(decl) = declaration {
        let (header, rest) = text.split_once('\n').unwrap();
        let (_, calls) = rest.split_once('\n').unwrap();
        text = format!("{header}\n{decl}\n{calls}");
    }
    let file = format!(
        "{name}{}.trace",
        if declaration.is_some() { "-x" } else { "" }
    );
    support::write("tune", &file, text)
}

fn tune(path: &str) -> String {
    let out = sim(&["tune", path, "--grid", GRID]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The configurations of a table, best first.
fn ranking(table: &str) -> Vec<String> {
    table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect()
}

#[test]
fn tune_ranks_policies_deterministically_on_brownout_flapping_and_outage() {
    for (name, expected) in [
        (
            "brownout",
            [
                "failure_rate=50,window=10s",
                "adaptive=1.5,window=10s",
                "adaptive=2,window=10s",
                "fail_max=5",
            ],
        ),
        (
            "flapping",
            [
                "fail_max=5",
                "adaptive=1.5,window=10s",
                "adaptive=2,window=10s",
                "failure_rate=50,window=10s",
            ],
        ),
        (
            "outage",
            [
                "fail_max=5",
                "failure_rate=50,window=10s",
                "adaptive=1.5,window=10s",
                "adaptive=2,window=10s",
            ],
        ),
    ] {
        let path = generated(name, None);
        let table = tune(&path);
        assert_eq!(table, tune(&path), "{name}: the same table twice");
        let header = table.lines().next().unwrap();
        for column in [
            "failures let through",
            "good rejected",
            "time to detect",
            "time to recover",
        ] {
            assert!(header.contains(column), "{header}");
        }
        assert_eq!(ranking(&table), expected, "{name}:\n{table}");
    }
}

#[test]
fn model_and_core_agree_on_adaptive_throttling_through_the_incidents() {
    for (name, seed) in [("brownout", "0"), ("flapping", "1"), ("outage", "42")] {
        let path = generated(name, Some("breaker dep adaptive=1.5 window=10s timeout=2s"));
        let out = sim(&["check", &path, "--seed", seed]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name}: {stdout}");
        assert!(stdout.contains("events identical"), "{stdout}");
        let run = sim(&["run", &path, "--seed", seed, "--events", "-"]);
        let drops = String::from_utf8_lossy(&run.stdout)
            .matches(r#""event":"rejected","state":"closed""#)
            .count();
        assert!(drops > 100, "{name}: only {drops} drops");
    }
}
