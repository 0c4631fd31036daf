//! Slow start after recovery (`ramp = D`) in the model: docs/semantics.md,
//! "Slow start after recovery", one rule a statement. A ramp starts only
//! when trials close the breaker, at that time tc; a call arriving in Closed
//! at t with e = t - tc < D is admitted when a draw u, uniform in [0, 10·D),
//! falls below D + 9·e, so the share grows from 1/10 to 1 over D.
//!
//! It draws from the breaker's one generator (the [`Dice`] adaptive
//! throttling draws from), handed in by the caller: the two are never
//! configured together, so their draws never interleave.

use super::jitter::Dice;

/// One breaker's slow start: its closing time while a ramp may be in progress.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Ramp {
    /// tc (ns): set when trials closed the breaker under a `ramp`; cleared
    /// by every move and by `reset()`. A MetricsOnly dry run, a live model
    /// of its own, ramps as the live breaker would.
    tc: Option<u64>,
}

impl Ramp {
    /// Trials closed the breaker at `now`: a ramp starts when one is configured.
    pub(super) fn start(&mut self, now: u64, d: Option<u64>) {
        if d.is_some() {
            self.tc = Some(now);
        }
    }

    /// The breaker left Closed, or an operator reset it: the ramp is over.
    pub(super) fn end(&mut self) {
        self.tc = None;
    }

    /// Whether a ramp of length `d` is in progress at `now`.
    fn in_progress(&self, now: u64, d: Option<u64>) -> bool {
        matches!((self.tc, d), (Some(tc), Some(d)) if now.saturating_sub(tc) < d)
    }

    /// A reconfiguration at `now` from `old` to `new`: a ramp in progress
    /// under `old` keeps its tc and takes `new` from the next call; one over
    /// by now, or a ramp set to none, is ended, so a later `ramp` starts
    /// none before the next closing.
    pub(super) fn reconfigure(&mut self, now: u64, old: Option<u64>, new: Option<u64>) {
        if !self.in_progress(now, old) || new.is_none() {
            self.tc = None;
        }
    }

    /// A call arriving in Closed at `now` under `ramp = d`: whether the
    /// ramp turns it away. One draw from `dice` while e = now - tc < d,
    /// none otherwise.
    pub(super) fn refuses(&mut self, now: u64, d: Option<u64>, dice: &mut Dice) -> bool {
        let (Some(tc), Some(d)) = (self.tc, d) else {
            return false;
        };
        let elapsed = now.saturating_sub(tc);
        if elapsed >= d {
            return false;
        }
        let (d, e) = (u128::from(d), u128::from(elapsed));
        dice.below(10 * d) >= d + 9 * e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    /// Admissions out of `n` calls at `e` into a ramp of `d`, each a fresh draw.
    fn admitted(d: u64, e: u64, n: u32) -> u32 {
        let mut dice = Dice::new(7, "db");
        let mut ramp = Ramp::default();
        ramp.start(0, Some(d));
        (0..n)
            .filter(|_| !ramp.refuses(e, Some(d), &mut dice))
            .count() as u32
    }

    #[test]
    fn the_share_grows_from_a_tenth_to_all_over_d() {
        let start = admitted(10 * S, 0, 10_000);
        let middle = admitted(10 * S, 5 * S, 10_000);
        assert!((900..1_100).contains(&start), "{start}");
        assert!((5_200..5_800).contains(&middle), "{middle}");
        assert_eq!(admitted(10 * S, 10 * S, 100), 100);
    }

    #[test]
    fn no_draw_outside_a_ramp() {
        let mut dice = Dice::new(1, "a");
        let untouched = dice.clone();
        let mut ramp = Ramp::default();
        assert!(!ramp.refuses(0, Some(S), &mut dice), "never started");
        ramp.start(0, Some(S));
        assert!(!ramp.refuses(S, Some(S), &mut dice), "over at tc + D");
        assert_eq!(dice.below(u128::MAX), untouched.clone().below(u128::MAX));
    }

    #[test]
    fn a_reconfiguration_keeps_tc_only_for_a_ramp_in_progress() {
        let mut ramp = Ramp::default();
        ramp.start(10 * S, Some(5 * S));
        ramp.reconfigure(12 * S, Some(5 * S), Some(60 * S));
        assert!(ramp.in_progress(40 * S, Some(60 * S)));
        ramp.reconfigure(13 * S, Some(60 * S), None);
        assert!(!ramp.in_progress(13 * S, Some(60 * S)));
        ramp.start(20 * S, Some(S));
        ramp.reconfigure(21 * S, Some(S), Some(60 * S));
        assert!(
            !ramp.in_progress(22 * S, Some(60 * S)),
            "over before the change"
        );
    }
}
