//! Seeded traces that look like real incidents (`breaker-sim gen`).
//!
//! The output is a pure function of (scenario, seed, duration, rps): the
//! generator uses its own splitmix64 and integer arithmetic only.

use std::fmt::Write as _;

use crate::duration::format_duration;

/// A small, fast, seedable generator (splitmix64).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
        }
    }

    /// True with probability `ppm` parts per million.
    pub fn chance(&mut self, ppm: u64) -> bool {
        self.below(1_000_000) < ppm
    }
}

/// The incidents `gen` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Hard down for a while in the middle.
    Outage,
    /// Down and up every few seconds.
    Flapping,
    /// The error rate rises slowly.
    Brownout,
    /// Latency grows until calls time out.
    Slow,
    /// The dependency is down, then comes back under a burst of traffic.
    RecoveryStorm,
    /// The dependency is down, then comes back fragile: its capacity grows
    /// from a tenth of the traffic to all of it, and it fails the calls
    /// over its capacity meanwhile.
    FragileRecovery,
}

impl Scenario {
    /// The scenarios' names on the command line.
    pub const NAMES: [&'static str; 6] = [
        "outage",
        "flapping",
        "brownout",
        "slow",
        "recovery-storm",
        "fragile-recovery",
    ];

    /// The scenario of a name.
    pub fn from_name(name: &str) -> Option<Scenario> {
        Some(match name {
            "outage" => Scenario::Outage,
            "flapping" => Scenario::Flapping,
            "brownout" => Scenario::Brownout,
            "slow" => Scenario::Slow,
            "recovery-storm" => Scenario::RecoveryStorm,
            "fragile-recovery" => Scenario::FragileRecovery,
            _ => return None,
        })
    }

    fn declaration(self) -> &'static str {
        match self {
            Scenario::Outage => "breaker dep fail_max=5 reset=10s success=2 timeout=2s",
            Scenario::Flapping => {
                "breaker dep failure_rate=50 window=20 min_calls=10 reset=5s backoff=2 reset_max=1m"
            }
            Scenario::Brownout => "breaker dep failure_rate=25 window=10s reset=15s success=3",
            Scenario::Slow => "breaker dep slow=300ms slow_rate=50 window=20 reset=10s timeout=1s",
            Scenario::RecoveryStorm => {
                "breaker dep fail_max=5 reset=5s success=3 half_open=3 timeout=1s"
            }
            Scenario::FragileRecovery => "breaker dep fail_max=5 reset=10s success=2 timeout=1s",
        }
    }

    /// At `t` of `total` (ns): failure chance (ppm) and latency range (ns).
    fn health(self, t: u64, total: u64) -> (u64, u64, u64) {
        const MS: u64 = 1_000_000;
        let frac_ppm = (u128::from(t) * 1_000_000 / u128::from(total.max(1))) as u64;
        match self {
            Scenario::Outage => {
                if (300_000..600_000).contains(&frac_ppm) {
                    (1_000_000, 1, 5 * MS)
                } else {
                    (10_000, 5 * MS, 50 * MS)
                }
            }
            Scenario::Flapping => {
                if (t / 4_000_000_000) % 2 == 1 {
                    (900_000, 1, 20 * MS)
                } else {
                    (10_000, 5 * MS, 40 * MS)
                }
            }
            Scenario::Brownout => (frac_ppm * 6 / 10, 5 * MS, 60 * MS),
            Scenario::Slow => {
                let base = 20 * MS + frac_ppm * 1_500 * MS / 1_000_000;
                (20_000, base / 2, base + base / 2)
            }
            Scenario::RecoveryStorm => {
                if frac_ppm < 400_000 {
                    (1_000_000, 1, 5 * MS)
                } else {
                    (30_000, 10 * MS, 80 * MS)
                }
            }
            Scenario::FragileRecovery => match frac_ppm {
                300_000..450_000 => (1_000_000, 1, 5 * MS),
                // Back at 45%, serving a tenth of the traffic and a further
                // 0.9 of it by 75%: with the traffic fixed, the share over
                // capacity, which fails, falls from 0.9 to 0.
                450_000..750_000 => {
                    let over = 900_000 * (750_000 - frac_ppm) / 300_000;
                    (over.max(10_000), 5 * MS, 80 * MS)
                }
                _ => (10_000, 5 * MS, 50 * MS),
            },
        }
    }

    /// Extra traffic factor at `t`: the recovery storm brings 5x load for 10 s after recovery.
    fn load(self, t: u64, total: u64) -> u64 {
        let back = total / 10 * 4;
        if self == Scenario::RecoveryStorm && t >= back && t < back + 10_000_000_000 {
            5
        } else {
            1
        }
    }
}

/// `ns` as a decimal number of `unit` (`scale` ns each), trailing zeros trimmed: `1.25s`.
fn decimal(ns: u64, scale: u64, unit: &str) -> String {
    let (whole, frac) = (ns / scale, ns % scale);
    if frac == 0 {
        return format!("{whole}{unit}");
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}{unit}", digits.trim_end_matches('0'))
}

/// The default resolution of generated times and latencies: 1 µs.
pub const RESOLUTION_NS: u64 = 1_000;

/// Writes a trace of `scenario` lasting `duration_ns`, about `rps` calls a
/// second, times and latencies to the microsecond.
pub fn generate(scenario: Scenario, seed: u64, duration_ns: u64, rps: u32) -> String {
    generate_with(scenario, seed, duration_ns, rps, RESOLUTION_NS)
}

/// [`generate`] with times and latencies rounded down to multiples of
/// `resolution_ns` (at least 1): `1_000_000` gives whole milliseconds, which
/// tokio's timers can keep (the async attribute mode needs them).
pub fn generate_with(
    scenario: Scenario,
    seed: u64,
    duration_ns: u64,
    rps: u32,
    resolution_ns: u64,
) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = generate_into(&mut out, scenario, seed, duration_ns, rps, resolution_ns, 1);
    String::from_utf8_lossy(&out).into_owned()
}

/// [`generate_with`], written line by line to `out` as it is made: a trace
/// of any length (a week at 1,000 calls a second) takes no memory. With
/// `breakers` above 1, the scenario's breaker is declared that many times
/// (`dep1`, `dep2`, ...) and the calls go to them in turn, so the same
/// traffic is spread over many breakers (a trace for memory per breaker).
pub fn generate_into(
    out: &mut impl std::io::Write,
    scenario: Scenario,
    seed: u64,
    duration_ns: u64,
    rps: u32,
    resolution_ns: u64,
    breakers: u32,
) -> std::io::Result<()> {
    let step = resolution_ns.max(1);
    let mut rng = SplitMix64::new(seed);
    let resolution = if step == RESOLUTION_NS {
        String::new()
    } else {
        format!(" --resolution {}", format_duration(step))
    };
    let breakers = breakers.max(1);
    let spread = if breakers == 1 {
        String::new()
    } else {
        format!(" --breakers {breakers}")
    };
    writeln!(
        out,
        "# breaker-sim gen --scenario {} --seed {seed} --duration {} --rps {rps}{resolution}{spread}",
        Scenario::NAMES[scenario as usize],
        format_duration(duration_ns)
    )?;
    let names: Vec<String> = if breakers == 1 {
        vec!["dep".to_string()]
    } else {
        (1..=breakers).map(|i| format!("dep{i}")).collect()
    };
    for name in &names {
        let declaration = scenario.declaration();
        let keys = declaration
            .strip_prefix("breaker dep")
            .unwrap_or(declaration);
        writeln!(out, "breaker {name}{keys}")?;
    }
    let mut turn = 0;
    let mut line = String::with_capacity(64);
    let mut t = 0u64;
    while t < duration_ns {
        let (fail_ppm, lo, hi) = scenario.health(t, duration_ns);
        let outcome = if rng.chance(fail_ppm) {
            if rng.chance(20_000) { "panic" } else { "err" }
        } else if rng.chance(20_000) {
            "ignored"
        } else {
            "ok"
        };
        // Latencies to the resolution, written in ms; times in seconds.
        let latency = (lo + rng.below(hi.saturating_sub(lo) + 1)) / step * step;
        line.clear();
        let _ = writeln!(
            line,
            "{} {} {outcome} {}",
            decimal(t, 1_000_000_000, "s"),
            names[turn],
            decimal(latency, 1_000_000, "ms")
        );
        turn = (turn + 1) % names.len();
        out.write_all(line.as_bytes())?;
        // Gaps uniform in [0.5, 1.5] of the mean interval.
        let mean = 1_000_000_000 / (u64::from(rps.max(1)) * scenario.load(t, duration_ns));
        t = t
            .saturating_add((mean / 2 + rng.below(mean + 1)) / step * step)
            .max(t.saturating_add(step));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_trace() {
        for name in Scenario::NAMES {
            let s = Scenario::from_name(name).unwrap();
            let a = generate(s, 7, 60_000_000_000, 10);
            assert_eq!(a, generate(s, 7, 60_000_000_000, 10));
            assert_ne!(a, generate(s, 8, 60_000_000_000, 10));
            crate::trace::parse("gen", &a).unwrap();
        }
    }

    #[test]
    fn a_fragile_recovery_fails_the_share_over_capacity_less_and_less() {
        let text = generate(Scenario::FragileRecovery, 3, 600_000_000_000, 50);
        let trace = crate::trace::parse("gen", &text).unwrap();
        // Failing share of the call lines starting in [from, to) seconds.
        let share = |from: u64, to: u64| {
            let lines: Vec<bool> = text
                .lines()
                .filter_map(|l| {
                    let (t, rest) = l.split_once(" dep ")?;
                    let t = crate::duration::parse_duration(t).ok()? / 1_000_000_000;
                    (from..to).contains(&t).then(|| !rest.starts_with("ok"))
                })
                .collect();
            lines.iter().filter(|&&f| f).count() * 100 / lines.len()
        };
        assert!(trace.breakers[0].config.ramp.is_none());
        assert_eq!(share(200, 260), 100, "down");
        assert!((80..=92).contains(&share(270, 280)), "just back");
        assert!((40..=50).contains(&share(360, 370)), "halfway");
        assert!(share(440, 450) <= 8, "nearly all served");
        assert!(share(460, 600) <= 6, "healthy");
    }

    #[test]
    fn writes_exact_decimals() {
        assert_eq!(decimal(1_250_000_000, 1_000_000_000, "s"), "1.25s");
        assert_eq!(decimal(5_000, 1_000_000, "ms"), "0.005ms");
        assert_eq!(decimal(0, 1_000_000, "ms"), "0ms");
        for ns in [1, 999, 1_000_001, 86_399_999_999_999] {
            assert_eq!(
                crate::duration::parse_duration(&decimal(ns, 1_000_000_000, "s")),
                Ok(ns)
            );
        }
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = SplitMix64::new(1);
        assert!((0..1000).all(|_| r.below(10) < 10));
        assert_eq!(r.below(0), 0);
    }
}
