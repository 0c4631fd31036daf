//! `adaptive = K`: client-side throttling as in Google's SRE book (and go-zero,
//! kratos). Over a time window of R requests of which A were accepted
//! (succeeded), a new call is rejected with probability
//! `max(0, (R - K*A) / (R + 1))`. There is no Open state: the breaker sheds
//! load in proportion to the failures it sees, and sheds less as successes
//! return.
//!
//! R counts the calls that were let through, as kratos counts them (its
//! breaker marks the outcome of admitted calls only), not the dropped ones:
//! were drops counted, a window full of them would hold the probability near
//! 1 long after the dependency recovered (1 is a fixed point of the formula
//! when drops count; with K > 1 it is left only at a rate of K per window).
//!
//! The window is ten buckets of a tenth of `window` each; R and A are the sums
//! over the buckets not older than the window, the current (partial) bucket
//! included. The probability is computed in integers and the draw comes from
//! the breaker's seedable generator, so a replay with the same seed drops the
//! same calls.

use crate::config::Factor;
use crate::jitter::Jitter;

/// Buckets per window.
const BUCKETS: u64 = 10;

#[derive(Clone, Copy, Default)]
struct Bucket {
    /// The bucket's number (time / bucket length); counts belong to it only
    /// while it is within the window.
    index: u64,
    requests: u64,
    accepts: u64,
}

pub(crate) struct Adaptive {
    k: Factor,
    bucket_len: u64,
    buckets: [Bucket; BUCKETS as usize],
}

impl Adaptive {
    pub(crate) fn new(k: Factor, window: u64) -> Adaptive {
        Adaptive {
            k,
            bucket_len: (window / BUCKETS).max(1),
            buckets: [Bucket::default(); BUCKETS as usize],
        }
    }

    /// The same counts, throttled with a new K.
    pub(crate) fn with_k(self, k: Factor) -> Adaptive {
        Adaptive { k, ..self }
    }

    /// The bucket of time `at`, emptied first if it held an older bucket's counts.
    fn bucket(&mut self, at: u64) -> &mut Bucket {
        let index = at / self.bucket_len;
        let bucket = &mut self.buckets[(index % BUCKETS) as usize];
        if bucket.index != index {
            *bucket = Bucket {
                index,
                ..Bucket::default()
            };
        }
        bucket
    }

    /// R and A over the window ending at `now`.
    fn totals(&self, now: u64) -> (u64, u64) {
        let current = now / self.bucket_len;
        self.buckets
            .iter()
            .filter(|b| b.index <= current && current - b.index < BUCKETS)
            .fold((0, 0), |(r, a), b| (r + b.requests, a + b.accepts))
    }

    /// The drop probability at `now` as a fraction `numerator / denominator`
    /// (numerator 0: nothing is dropped).
    fn odds(&self, now: u64) -> (u128, u128) {
        let (requests, accepts) = self.totals(now);
        // (R - K*A) / (R + 1), with K in millionths.
        let weighted = u128::from(accepts) * u128::from(self.k.millionths());
        let total = u128::from(requests) * 1_000_000;
        let denominator = (u128::from(requests) + 1) * 1_000_000;
        (total.saturating_sub(weighted), denominator)
    }

    /// A call arrives at `now`: whether it is dropped. A call let through
    /// counts as a request.
    pub(crate) fn admit(&mut self, now: u64, random: &Jitter) -> bool {
        let (numerator, denominator) = self.odds(now);
        // Draw only when something can be dropped, so that a healthy breaker
        // consumes no randomness (a replay's draws start where the failures do).
        let dropped = numerator > 0 && random.below(denominator) < numerator;
        if !dropped {
            self.bucket(now).requests += 1;
        }
        dropped
    }

    /// An admitted call succeeded at `at`: one more accept.
    pub(crate) fn accepted(&mut self, at: u64) {
        self.bucket(at).accepts += 1;
    }

    pub(crate) fn clear(&mut self) {
        self.buckets = [Bucket::default(); BUCKETS as usize];
    }

    /// The drop probability at `now`, for the statistics.
    pub(crate) fn drop_probability(&self, now: u64) -> f64 {
        let (numerator, denominator) = self.odds(now);
        numerator as f64 / denominator as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn k(value: f64) -> Factor {
        crate::Config::builder()
            .adaptive(value)
            .build()
            .unwrap()
            .adaptive()
            .unwrap()
    }

    #[test]
    fn nothing_is_dropped_while_every_request_is_accepted() {
        let mut a = Adaptive::new(k(1.5), 10_000 * MS);
        let random = Jitter::new(1);
        for t in 0..1000 {
            assert!(!a.admit(t * MS, &random));
            a.accepted(t * MS);
        }
        assert_eq!(a.drop_probability(1000 * MS), 0.0);
    }

    #[test]
    fn the_probability_is_the_formula_of_the_sre_book() {
        let mut a = Adaptive::new(k(2.0), 10_000 * MS);
        // R = 10 requests, A = 2 accepted: (10 - 2*2) / 11.
        let bucket = a.bucket(0);
        bucket.requests = 10;
        bucket.accepts = 2;
        assert!((a.drop_probability(10 * MS) - 6.0 / 11.0).abs() < 1e-12);
    }

    #[test]
    fn dropped_calls_are_not_requests() {
        let mut a = Adaptive::new(k(1.0), 10_000 * MS);
        let random = Jitter::new(5);
        a.bucket(0).requests = 1000; // all failed: p = 1000/1001
        let dropped = (0..100).filter(|_| a.admit(0, &random)).count() as u64;
        assert_eq!(a.totals(0).0, 1000 + 100 - dropped);
    }

    #[test]
    fn buckets_older_than_the_window_leave_it() {
        let mut a = Adaptive::new(k(1.0), 1_000 * MS); // ten buckets of 100ms
        a.bucket(0).requests = 50; // none accepted
        assert!(a.drop_probability(999 * MS) > 0.9);
        // At 1s the bucket [0, 100ms) is ten buckets old: out of the window.
        assert_eq!(a.drop_probability(1_000 * MS), 0.0);
    }

    #[test]
    fn the_drop_rate_follows_the_probability() {
        let mut a = Adaptive::new(k(1.0), 10_000 * MS);
        let random = Jitter::new(7);
        a.bucket(0).requests = 100; // A = 0: p = 100/101 at first
        let mut dropped = 0;
        let p = a.drop_probability(0);
        let mut expected = 0.0;
        for _ in 0..10_000 {
            expected += a.drop_probability(0);
            if a.admit(0, &random) {
                dropped += 1;
            } else {
                a.accepted(0); // the dependency is back: the probability falls
            }
        }
        assert!(p > 0.99);
        let expected = expected.round() as i64;
        assert!(
            (dropped - expected).abs() < 150,
            "dropped {dropped}, expected about {expected}"
        );
    }

    #[test]
    fn the_same_seed_drops_the_same_calls() {
        let run = |seed| {
            let mut a = Adaptive::new(k(1.5), 10_000 * MS);
            let random = Jitter::new(seed);
            (0..500u64)
                .map(|i| {
                    let dropped = a.admit(i * MS, &random);
                    if i % 3 == 0 {
                        a.accepted(i * MS);
                    }
                    dropped
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }
}
