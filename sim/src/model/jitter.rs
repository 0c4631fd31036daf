//! The model's own retry waits: splitmix64, Lemire's multiply-shift, FNV-1a,
//! written from their published definitions (nothing from breaker-core).

/// splitmix64's increment (the golden ratio in 64 bits).
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64's finaliser: two xor-shift-multiply rounds and a last xor-shift.
fn finalise(x: u64) -> u64 {
    let x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// FNV-1a, 64 bits, of `text`'s bytes.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One breaker's generator of waits.
#[derive(Debug, Clone)]
pub(super) struct Waits {
    state: u64,
    base: u64,
    max: u64,
}

impl Waits {
    /// The generator of breaker `name` under `seed`: the state starts at
    /// `finalise(seed ^ finalise(fnv1a(name)))`, so breakers draw apart.
    pub(super) fn new(seed: u64, name: &str, (base, max): (u64, u64)) -> Waits {
        Waits {
            state: finalise(seed ^ finalise(fnv1a(name))),
            base,
            max,
        }
    }

    /// The next 64 random bits: add the increment, then finalise.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        finalise(self.state)
    }

    /// The wait after failed attempt `k` (0-based): a draw in
    /// `[0, min(max, base * 2^k)]`, both ends included, scaled by the high
    /// half of a 128-bit product (no division, no rejection).
    pub(super) fn after(&mut self, k: u32) -> u64 {
        let grown = if k < 64 {
            u128::from(self.base) << k
        } else {
            u128::MAX
        };
        let ceiling = grown.min(u128::from(self.max));
        let draw = u128::from(self.next());
        // `ceiling + 1` values; when that is 2^64 the draw itself is uniform.
        ((draw * (ceiling + 1)) >> 64) as u64
    }
}

/// One breaker's dice for adaptive throttling.
///
/// Its seed is the first output of the generator of label
/// `"adaptive/" + name` under the trace's seed (the generator [`Waits`]
/// starts from); the dice then run splitmix64 from that seed, as the real
/// breaker does after `Breaker::reseed(seed)`.
#[derive(Debug, Clone)]
pub(super) struct Dice {
    state: u64,
}

impl Dice {
    /// The dice of breaker `name` under `seed`.
    pub(super) fn new(seed: u64, name: &str) -> Dice {
        let first = finalise(
            finalise(seed ^ finalise(fnv1a(&format!("adaptive/{name}")))).wrapping_add(GOLDEN),
        );
        Dice { state: first }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        finalise(self.state)
    }

    /// A uniform number in `[0, bound)`, `bound` > 0: one draw scaled by
    /// the high half of a 128-bit product while `bound` fits in 64 bits,
    /// else two draws joined and reduced modulo `bound`.
    pub(super) fn below(&mut self, bound: u128) -> u128 {
        if bound <= 1 << 64 {
            (u128::from(self.next()) * bound) >> 64
        } else {
            let high = u128::from(self.next());
            ((high << 64) | u128::from(self.next())) % bound
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_from_zero_gives_its_published_first_outputs() {
        let mut w = Waits {
            state: 0,
            base: 1,
            max: 1,
        };
        assert_eq!(w.next(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(w.next(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn fnv1a_of_known_strings() {
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn waits_stay_under_a_doubling_ceiling_capped_at_max() {
        let mut w = Waits::new(5, "db", (100, 1000));
        for k in 0..80 {
            let cap = [100, 200, 400, 800]
                .get(k as usize)
                .copied()
                .unwrap_or(1000);
            assert!(w.after(k) <= cap, "{k}");
        }
        let mut full = Waits::new(1, "x", (u64::MAX, u64::MAX));
        let _ = full.after(0);
        let mut one = Waits::new(1, "x", (1, 1));
        let draws: Vec<u64> = (0..200).map(|_| one.after(0)).collect();
        assert!(draws.contains(&0) && draws.contains(&1));
    }
}
