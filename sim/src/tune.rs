//! `breaker-sim tune`: replay one trace under every configuration of a grid
//! and rank the configurations.
//!
//! A grid is `key=spec ...`, each spec a comma list (`reset=5s,30s,1m`) or an
//! inclusive integer range (`fail_max=3..10`). Every combination overrides
//! those keys on every breaker of the trace (or on one, with `--breaker`).
//! Configurations are ranked by harm (failures let through + good calls
//! rejected), then by time to detect the outage.

use crate::config::{BreakerConfig, KEYS};
use crate::duration::format_duration;
use crate::log::{Event, EventKind, State};
use crate::suggest::did_you_mean;
use crate::trace::{Item, Trace};

/// Most combinations a grid may have.
pub const MAX_COMBINATIONS: usize = 100_000;

/// One axis of a grid: a key and the values to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axis {
    /// The configuration key.
    pub key: String,
    /// Its values, as text.
    pub values: Vec<String>,
}

/// Parses `fail_max=3..10 reset=5s,30s`.
pub fn parse_grid(text: &str) -> Result<Vec<Axis>, String> {
    let mut axes: Vec<Axis> = Vec::new();
    for word in text.split_whitespace() {
        let Some((key, spec)) = word.split_once('=') else {
            return Err(format!(
                "expected `key=values` in the grid, found `{word}` (such as `fail_max=3..10` or `reset=5s,30s`)"
            ));
        };
        if !KEYS.contains(&key) {
            return Err(format!(
                "unknown key `{key}` in the grid{}",
                did_you_mean(key, KEYS.iter().copied())
            ));
        }
        if axes.iter().any(|a| a.key == key) {
            return Err(format!("key `{key}` appears twice in the grid"));
        }
        // `retry_backoff` values are ranges themselves (`10ms..1s`): a list only.
        let range = spec.split_once("..").filter(|_| key != "retry_backoff");
        let values: Vec<String> = match range {
            Some((lo, hi)) => {
                let hi = hi.strip_prefix('=').unwrap_or(hi);
                let (Ok(lo), Ok(hi)) = (lo.parse::<u64>(), hi.parse::<u64>()) else {
                    return Err(format!(
                        "bad range `{spec}` for `{key}`; expected integers such as `3..10`"
                    ));
                };
                if lo > hi || hi - lo >= MAX_COMBINATIONS as u64 {
                    return Err(format!(
                        "bad range `{spec}` for `{key}`; expected LOW..HIGH with LOW <= HIGH"
                    ));
                }
                (lo..=hi).map(|v| v.to_string()).collect()
            }
            None => spec.split(',').map(str::to_string).collect(),
        };
        if values.iter().any(String::is_empty) {
            return Err(format!("empty value for `{key}` in the grid"));
        }
        axes.push(Axis {
            key: key.to_string(),
            values,
        });
    }
    if axes.is_empty() {
        return Err(
            "the grid is empty; expected `key=values ...` such as `fail_max=3..10 reset=5s,30s`"
                .into(),
        );
    }
    let total = axes
        .iter()
        .try_fold(1usize, |n, a| n.checked_mul(a.values.len()));
    if total.is_none_or(|n| n > MAX_COMBINATIONS) {
        return Err(format!(
            "the grid has more than {MAX_COMBINATIONS} combinations"
        ));
    }
    Ok(axes)
}

/// Every combination of the grid, as `(key, value)` lists, first axis slowest.
pub fn combinations(axes: &[Axis]) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for axis in axes {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                axis.values.iter().map(move |v| {
                    let mut c = prefix.clone();
                    c.push((axis.key.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    out
}

/// `config` with `overrides` applied, validated again.
pub fn with_overrides(
    config: &BreakerConfig,
    overrides: &[(String, String)],
) -> Result<BreakerConfig, String> {
    let mut out = BreakerConfig::default();
    let kept = config
        .raw
        .iter()
        .filter(|(k, _)| !overrides.iter().any(|(o, _)| o == k));
    for (key, value) in kept.chain(overrides.iter()) {
        out.set(key, value).map_err(|e| e.message)?;
    }
    out.validate().map_err(|e| e.message)?;
    Ok(out)
}

/// How one configuration did on the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Score {
    /// Admitted calls that failed or timed out.
    pub failures_let_through: u64,
    /// Rejected calls that would have succeeded.
    pub good_rejected: u64,
    /// From the first failing call line to the first Closed -> Open; `None` if it never opened.
    pub detect_ns: Option<u64>,
}

impl Score {
    /// Failures let through plus good calls rejected.
    pub fn harm(&self) -> u64 {
        self.failures_let_through + self.good_rejected
    }
}

/// Scores a replay's events against the trace that produced them.
pub fn score(trace: &Trace, events: &[Event]) -> Score {
    // The line of each call, per breaker, by call number.
    let mut lines: Vec<Vec<usize>> = vec![Vec::new(); trace.breakers.len()];
    let mut first_failure: Option<u64> = None;
    for (idx, line) in trace.lines.iter().enumerate() {
        if let Item::Call { .. } = line.item() {
            lines[line.breaker()].push(idx);
            if first_failure.is_none() && fails(trace, idx, 0) {
                first_failure = Some(line.t_ns);
            }
        }
    }
    let mut s = Score {
        failures_let_through: 0,
        good_rejected: 0,
        detect_ns: None,
    };
    for e in events {
        match &e.kind {
            EventKind::Ended { outcome, .. } if outcome.is_failure() => s.failures_let_through += 1,
            EventKind::Rejected { call, attempt, .. } => {
                let line = usize::try_from(*call)
                    .ok()
                    .and_then(|c| lines.get(e.breaker)?.get(c.checked_sub(1)?).copied());
                if line.is_some_and(|line| !fails(trace, line, *attempt)) {
                    s.good_rejected += 1;
                }
            }
            EventKind::Transition {
                from: State::Closed,
                to: State::Open,
                dry_run: false,
                ..
            } if s.detect_ns.is_none() => {
                s.detect_ns = first_failure.map(|f| e.t_ns.saturating_sub(f));
            }
            _ => {}
        }
    }
    s
}

/// Whether attempt `attempt` of the call on line `line` would fail if admitted.
fn fails(trace: &Trace, line: usize, attempt: u32) -> bool {
    let Some((outcome, latency_ns)) = trace.attempt(line, attempt) else {
        return false;
    };
    let timeout = trace.lines[line].breaker();
    let timeout = trace.breakers[timeout].config.timeout;
    outcome.is_failure() || timeout.is_some_and(|t| latency_ns > t)
}

/// The ranking as a text table.
pub fn table(rows: &[(String, Score)]) -> String {
    let width = rows
        .iter()
        .map(|(c, _)| c.len())
        .max()
        .unwrap_or(0)
        .max("config".len());
    let mut out = format!(
        "{:>4}  {:<width$}  {:>20}  {:>13}  {:>12}\n",
        "rank", "config", "failures let through", "good rejected", "detected in"
    );
    for (i, (config, s)) in rows.iter().enumerate() {
        let detect = s
            .detect_ns
            .map_or_else(|| "never".to_string(), format_duration);
        out += &format!(
            "{:>4}  {:<width$}  {:>20}  {:>13}  {:>12}\n",
            i + 1,
            config,
            s.failures_let_through,
            s.good_rejected,
            detect
        );
    }
    out
}

/// Sorts rows best first: least harm, then fastest detection (never last), then grid order.
pub fn rank(rows: &mut [(String, Score)]) {
    rows.sort_by_key(|(_, s)| (s.harm(), s.detect_ns.is_none(), s.detect_ns));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges_and_lists() {
        let axes = parse_grid("fail_max=3..5 reset=5s,30s").unwrap();
        assert_eq!(axes[0].values, ["3", "4", "5"]);
        assert_eq!(axes[1].values, ["5s", "30s"]);
        assert_eq!(combinations(&axes).len(), 6);
        assert_eq!(parse_grid("fail_max=3..=4").unwrap()[0].values, ["3", "4"]);
        let axes = parse_grid("retry=1..3 retry_backoff=10ms..1s,1s..5s").unwrap();
        assert_eq!(axes[0].values, ["1", "2", "3"]);
        assert_eq!(axes[1].values, ["10ms..1s", "1s..5s"]);
    }

    #[test]
    fn rejects_bad_grids() {
        assert!(parse_grid("").is_err());
        assert!(
            parse_grid("fail_mx=3")
                .unwrap_err()
                .contains("did you mean `fail_max`?")
        );
        assert!(parse_grid("fail_max=5..3").is_err());
        assert!(parse_grid("fail_max").is_err());
        assert!(parse_grid("reset=1s, ").is_err());
        assert!(parse_grid("fail_max=1 fail_max=2").is_err());
        assert!(
            parse_grid("fail_max=1..1000 success=1..1000")
                .unwrap_err()
                .contains("combinations")
        );
    }

    #[test]
    fn overrides_replace_keys_and_revalidate() {
        let mut c = BreakerConfig::default();
        c.set("fail_max", "5").unwrap();
        c.set("reset", "10s").unwrap();
        let o = with_overrides(&c, &[("fail_max".into(), "3".into())]).unwrap();
        assert_eq!((o.fail_max, o.reset), (Some(3), 10_000_000_000));
        assert!(with_overrides(&c, &[("slow_rate".into(), "50".into())]).is_err());
    }

    #[test]
    fn scores_harm_and_detection() {
        let trace = crate::trace::parse(
            "t",
            "breaker a fail_max=2 reset=10s\n0s a ok\n1s a err\n2s a err\n3s a ok\n4s a err\n",
        )
        .unwrap();
        let s = score(&trace, &crate::model::replay(&trace));
        assert_eq!(
            s,
            Score {
                failures_let_through: 2,
                good_rejected: 1,
                detect_ns: Some(1_000_000_000)
            }
        );
    }
}
