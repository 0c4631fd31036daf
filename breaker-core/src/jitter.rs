//! The seedable randomness the library draws from: the jitter between
//! retries and the dice of adaptive throttling.
//!
//! It stands alone so that the state machine and the policies can draw from
//! it without importing retry, which stands on the breaker. Seedable, because
//! every test and the simulator replay a run exactly; one atomic counter,
//! because draws come from many threads at once and must never repeat.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A small seedable random generator (splitmix64) for the jitter: the same
/// seed gives the same sequence on every platform. Shared by reference: each
/// draw advances one atomic counter, so concurrent draws never repeat a value
/// (their order then follows the threads' order).
///
/// ```
/// use breaker_core::retry::Jitter;
///
/// let a = Jitter::new(42);
/// let b = Jitter::new(42);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.up_to(10) <= 10);
/// ```
#[derive(Debug)]
pub struct Jitter {
    state: AtomicU64,
}

impl Clone for Jitter {
    /// A generator at the same point of the same sequence.
    fn clone(&self) -> Self {
        Jitter {
            state: AtomicU64::new(self.state.load(Ordering::Relaxed)),
        }
    }
}

impl Jitter {
    /// The generator of `seed`.
    pub const fn new(seed: u64) -> Jitter {
        Jitter {
            state: AtomicU64::new(seed),
        }
    }

    /// Restarts the generator at the sequence of `seed`.
    pub fn reseed(&self, seed: u64) {
        self.state.store(seed, Ordering::Relaxed);
    }

    /// A generator seeded from the process's hash randomness (different in
    /// every process).
    pub fn from_entropy() -> Jitter {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(GAMMA);
        Jitter::new(hasher.finish())
    }

    /// The generator of `seed` for one user of it (`label`, such as a
    /// function's path): different labels draw independent sequences from one
    /// seed. The attribute seeds each function's retries with
    /// `Jitter::derive(seed, "module::function")`, `seed` from
    /// [`Registry::seed_retries`](crate::Registry::seed_retries).
    pub fn derive(seed: u64, label: &str) -> Jitter {
        // FNV-1a: stable across Rust versions and platforms, unlike `Hash`.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in label.bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        Jitter::new(mix(seed ^ mix(hash)))
    }

    /// The next 64 random bits.
    pub fn next_u64(&self) -> u64 {
        mix(self
            .state
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA))
    }

    /// A uniform number in `[0, max]`, both ends included, from one draw
    /// (Lemire's multiply-shift: no division, bias below 2^-64 per value).
    pub fn up_to(&self, max: u64) -> u64 {
        let draw = self.next_u64();
        match max.checked_add(1) {
            Some(span) => ((u128::from(draw) * u128::from(span)) >> 64) as u64,
            None => draw,
        }
    }
}

impl Jitter {
    /// A uniform number in `[0, bound)` (`bound` > 0): one draw by
    /// [`up_to`](Jitter::up_to) when `bound` fits in 64 bits, else two (the
    /// 128-bit value they make, modulo `bound`; bias below 2^-64). Adaptive
    /// throttling and the slow start draw this way, as docs/semantics.md pins.
    pub(crate) fn below(&self, bound: u128) -> u128 {
        match u64::try_from(bound - 1) {
            Ok(max) => u128::from(self.up_to(max)),
            Err(_) => ((u128::from(self.next_u64()) << 64) | u128::from(self.next_u64())) % bound,
        }
    }
}

/// splitmix64's output function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_to_covers_both_ends() {
        let j = Jitter::new(1);
        let draws: Vec<u64> = (0..2000).map(|_| j.up_to(3)).collect();
        for v in 0..=3 {
            assert!(draws.contains(&v), "{v} never drawn");
        }
        assert_eq!(j.up_to(0), 0);
        let _ = j.up_to(u64::MAX);
    }

    #[test]
    fn splitmix_matches_its_reference_values() {
        // splitmix64 seeded with 0: the first outputs of the reference implementation.
        let j = Jitter::new(0);
        assert_eq!(j.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(j.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn derived_generators_differ_by_label_and_repeat_by_seed() {
        assert_ne!(
            Jitter::derive(1, "a::f").next_u64(),
            Jitter::derive(1, "a::g").next_u64()
        );
        assert_eq!(
            Jitter::derive(1, "a::f").next_u64(),
            Jitter::derive(1, "a::f").next_u64()
        );
    }
}
