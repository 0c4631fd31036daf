//! The README's fragile-recovery table ("`ramp`: slow start after
//! recovery") is what its command prints, byte for byte, and breaker-core
//! agrees with the model on that trace with a ramp declared, under several
//! seeds.

mod support;

use std::process::{Command, Output};

use breaker_sim::generate::{Scenario, generate};

/// The grid of the README's table.
const GRID: &str = "ramp=none,10s,30s,1m,2m";

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_breaker-sim"))
        .args(args)
        .output()
        .unwrap()
}

/// `breaker-sim gen --scenario fragile-recovery --seed 7 --duration 10m
/// --rps 50`, its declaration given `extra` keys, saved as `name`.
fn fragile(name: &str, extra: &str) -> String {
    let text = generate(Scenario::FragileRecovery, 7, 600_000_000_000, 50);
    let text = text.replacen("timeout=1s\n", &format!("timeout=1s{extra}\n"), 1);
    support::write("ramp", name, text)
}

/// The table that follows the README's tune command for `GRID`.
fn readme_table() -> String {
    let readme = std::fs::read_to_string(support::package_dir().join("README.md")).unwrap();
    let command = readme.find(&format!("--grid \"{GRID}\"")).unwrap();
    let rest = &readme[command..];
    let start = rest.find("```\nrank").unwrap() + 4;
    let end = start + rest[start..].find("```").unwrap();
    rest[start..end].to_string()
}

#[test]
fn the_readme_table_is_what_tune_prints() {
    let path = fragile("fragile.trace", "");
    let out = sim(&["tune", &path, "--grid", GRID]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), readme_table());
}

#[test]
fn check_agrees_on_a_ramp_through_the_fragile_recovery() {
    let path = fragile("fragile-ramp.trace", " ramp=30s");
    for seed in ["0", "1", "42"] {
        let out = sim(&["check", &path, "--seed", seed]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "seed {seed}: {stdout}");
        assert!(stdout.contains("events identical"), "{stdout}");
    }
    let run = sim(&["run", &path, "--events", "-"]);
    let turned_away = String::from_utf8_lossy(&run.stdout)
        .matches(r#""event":"rejected","state":"closed""#)
        .count();
    assert!(turned_away > 100, "only {turned_away} calls turned away");
}
