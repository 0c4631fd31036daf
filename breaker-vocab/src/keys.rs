//! The table of the attribute's keys: each key's name, the kind of value it
//! takes with its limits, its default and one line of doc, in the order of
//! API.md. The lists each reader accepts are drawn from this one table, so a
//! new key is added here once and every reader knows it.

/// The largest `fail_max`, count `window` and `min_calls`.
pub const MAX_COUNT: u32 = 1_000_000;
/// The largest `success` and `half_open`.
pub const MAX_TRIALS: u32 = 65_535;
/// The largest `backoff` and `adaptive` factor.
pub const MAX_FACTOR: u32 = 1_000;
/// The most attempts of `retry`.
pub const MAX_ATTEMPTS: u32 = 100;
/// The largest `max_keys`.
pub const MAX_KEYS: u32 = 1_000_000;
/// The longest duration any key accepts: 365 days, in nanoseconds.
pub const MAX_DURATION_NANOS: u64 = 365 * 24 * 3_600 * 1_000_000_000;

/// The kind of value a key takes, with its limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The breaker's name: an identifier or a string.
    Name,
    /// A whole number from 1 to `max`.
    Count {
        /// The largest value allowed.
        max: u32,
    },
    /// A duration from 1ns to [`MAX_DURATION_NANOS`].
    Duration,
    /// A percentage in (0, 100] with at most two decimals.
    Percent,
    /// A factor from 1 to `max` with at most six decimals.
    Factor {
        /// The largest factor allowed.
        max: u32,
    },
    /// A call count from 1 to `max_calls`, or a duration.
    Window {
        /// The largest count window.
        max_calls: u32,
    },
    /// `base..max`: two durations, base <= max.
    DurationRange,
    /// A path to a function.
    Path,
    /// An expression over the function's arguments, optionally labelled.
    Expr,
    /// One of a few words, written bare.
    Choice {
        /// The words accepted.
        values: &'static [&'static str],
    },
}

/// What a key configures, which decides which readers accept it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The breaker itself: the attribute, `Config`'s text form, operators'
    /// overrides and traces all accept it.
    Breaker,
    /// How the annotated function's caller retries: the attribute and traces.
    Call,
    /// A keyed breaker's table: the attribute and operators' overrides.
    Keyed,
    /// Code the attribute generates around the function: the attribute only.
    Code,
}

/// One key of the attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    /// The key as written: `fail_max`.
    pub name: &'static str,
    /// The value it takes, with its limits.
    pub kind: Kind,
    /// What it configures.
    pub scope: Scope,
    /// Its value when not given, as it would be written, if it has one that
    /// does not depend on other keys.
    pub default: Option<&'static str>,
    /// What it does, in one line.
    pub doc: &'static str,
}

const fn key(
    name: &'static str,
    kind: Kind,
    scope: Scope,
    default: Option<&'static str>,
    doc: &'static str,
) -> Key {
    Key {
        name,
        kind,
        scope,
        default,
        doc,
    }
}

use Kind::{Choice, Count, Duration, DurationRange, Expr, Factor, Name, Path, Percent, Window};
use Scope::{Breaker, Call, Code, Keyed};

/// Every key of the attribute, in the order of API.md.
pub const TABLE: [Key; 26] = [
    key(
        "name",
        Name,
        Code,
        None,
        "The breaker's name (the function's by default).",
    ),
    key(
        "fail_max",
        Count { max: MAX_COUNT },
        Breaker,
        None,
        "Consecutive failures that open the breaker; with `within`, failures within that time (5 when no policy is given).",
    ),
    key(
        "within",
        Duration,
        Breaker,
        None,
        "Turns `fail_max` into that many failures within this long.",
    ),
    key(
        "failure_rate",
        Percent,
        Breaker,
        None,
        "The failure rate over the window that opens the breaker.",
    ),
    key(
        "window",
        Window {
            max_calls: MAX_COUNT,
        },
        Breaker,
        Some("100"),
        "The window of the rate policies and of `adaptive`: the last N calls, or the calls that ended within a duration.",
    ),
    key(
        "min_calls",
        Count { max: MAX_COUNT },
        Breaker,
        None,
        "Outcomes the window must hold before a rate is evaluated (the count window, or 10).",
    ),
    key(
        "slow",
        Duration,
        Breaker,
        None,
        "The latency above which a call is slow.",
    ),
    key(
        "slow_rate",
        Percent,
        Breaker,
        None,
        "The slow-call rate over the window that opens the breaker; needs `slow`.",
    ),
    key(
        "reset",
        Duration,
        Breaker,
        Some("30s"),
        "How long the breaker stays Open before it lets a trial through.",
    ),
    key(
        "backoff",
        Factor { max: MAX_FACTOR },
        Breaker,
        None,
        "The factor a failed trial multiplies the open period by.",
    ),
    key(
        "reset_max",
        Duration,
        Breaker,
        None,
        "The cap on the open period under `backoff`.",
    ),
    key(
        "success",
        Count { max: MAX_TRIALS },
        Breaker,
        Some("2"),
        "Successful trials that close the breaker from HalfOpen.",
    ),
    key(
        "half_open",
        Count { max: MAX_TRIALS },
        Breaker,
        None,
        "Trials allowed in flight at once in HalfOpen (`success` by default).",
    ),
    key(
        "timeout",
        Duration,
        Breaker,
        None,
        "The time after which a guarded async call counts as a failure.",
    ),
    key(
        "max_half_open_wait",
        Duration,
        Breaker,
        None,
        "How long a half-open breaker waits for its trials to decide before it opens again.",
    ),
    key(
        "fallback",
        Path,
        Code,
        None,
        "The function called instead when the breaker rejects a call.",
    ),
    key(
        "fallback_on",
        Choice {
            values: &["rejection", "failure"],
        },
        Code,
        Some("rejection"),
        "Which calls the fallback answers: rejected ones, or also those that ran and failed; needs `fallback`.",
    ),
    key(
        "failure",
        Path,
        Code,
        None,
        "The `fn(&E) -> bool` that decides which errors count as failures.",
    ),
    key(
        "ok_is_failure",
        Path,
        Code,
        None,
        "The `fn(&T) -> bool` that counts an `Ok` value as a failure.",
    ),
    key(
        "retry",
        Count { max: MAX_ATTEMPTS },
        Call,
        None,
        "Attempts per call, retried while the breaker admits them (1: no retry).",
    ),
    key(
        "retry_backoff",
        DurationRange,
        Call,
        Some("100ms..5s"),
        "The waits between attempts: from base, doubling, up to max; needs `retry`.",
    ),
    key(
        "key",
        Expr,
        Code,
        None,
        "An expression over the arguments: one breaker per distinct value.",
    ),
    key(
        "max_keys",
        Count { max: MAX_KEYS },
        Keyed,
        Some("1000"),
        "The most live keys of a keyed breaker; needs `key`.",
    ),
    key(
        "idle",
        Duration,
        Keyed,
        Some("10m"),
        "How long a key of a keyed breaker may go unused before it is dropped; needs `key`.",
    ),
    key(
        "adaptive",
        Factor { max: MAX_FACTOR },
        Breaker,
        None,
        "Adaptive throttling with this K over the time `window` (10s by default).",
    ),
    key(
        "ramp",
        Duration,
        Breaker,
        None,
        "Slow start: after closing on its trials, admit a share of calls growing from 10% to all over this long.",
    ),
];

/// Keys whose names API.md reserves for later work: refused as such, not as typos.
pub const RESERVED: [&str; 1] = ["metrics_only"];

/// Every key the attribute accepts, in the order of [`TABLE`].
pub const ATTRIBUTE_KEYS: [&str; 26] = names(&[Breaker, Call, Keyed, Code], true);

/// The keys of a breaker's own configuration (`Config`, operators' text), in
/// the order of SEMANTICS.md.
pub const CONFIG_KEYS: [&str; 16] = names(&[Breaker], true);

/// The keys a trace's `breaker` declaration accepts: the breaker's, then the
/// caller's retries.
pub const TRACE_KEYS: [&str; 18] = names(&[Breaker, Call], false);

/// The key named `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Key> {
    TABLE.iter().find(|k| k.name == name)
}

/// The names of the keys in `scopes`: in the table's order when `interleave`,
/// else scope by scope in the order given. Fails to compile when `N` is not
/// their number.
const fn names<const N: usize>(scopes: &[Scope], interleave: bool) -> [&'static str; N] {
    let mut out = [""; N];
    let mut n = 0;
    let passes = if interleave { 1 } else { scopes.len() };
    let mut pass = 0;
    while pass < passes {
        let mut i = 0;
        while i < TABLE.len() {
            let scope = TABLE[i].scope as u8;
            let mut s = 0;
            let mut wanted = false;
            while s < scopes.len() {
                if scopes[s] as u8 == scope && (interleave || s == pass) {
                    wanted = true;
                }
                s += 1;
            }
            if wanted {
                out[n] = TABLE[i].name;
                n += 1;
            }
            i += 1;
        }
        pass += 1;
    }
    assert!(n == N, "the list's length is not the number of its keys");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_none_is_reserved() {
        for (i, key) in TABLE.iter().enumerate() {
            assert!(
                TABLE[i + 1..].iter().all(|other| other.name != key.name),
                "{} twice",
                key.name
            );
            assert!(!RESERVED.contains(&key.name), "{}", key.name);
        }
    }

    #[test]
    fn the_lists_follow_the_table() {
        assert_eq!(ATTRIBUTE_KEYS[0], "name");
        assert_eq!(ATTRIBUTE_KEYS[24], "adaptive");
        assert_eq!(ATTRIBUTE_KEYS[25], "ramp");
        assert_eq!(CONFIG_KEYS[0], "fail_max");
        assert_eq!(CONFIG_KEYS[13], "max_half_open_wait");
        assert_eq!(CONFIG_KEYS[14], "adaptive");
        assert_eq!(CONFIG_KEYS[15], "ramp");
        assert_eq!(&TRACE_KEYS[..16], &CONFIG_KEYS[..]);
        assert_eq!(&TRACE_KEYS[16..], &["retry", "retry_backoff"]);
        assert_eq!(find("reset").and_then(|k| k.default), Some("30s"));
        assert_eq!(find("fail_mx"), None);
    }

    #[test]
    fn defaults_are_within_their_limits() {
        for key in TABLE {
            let Some(default) = key.default else { continue };
            match key.kind {
                Count { max } => {
                    let n: u32 = default.parse().unwrap();
                    assert!((1..=max).contains(&n), "{}", key.name);
                }
                Window { max_calls } => {
                    let n: u32 = default.parse().unwrap();
                    assert!((1..=max_calls).contains(&n), "{}", key.name);
                }
                Duration => {
                    let ns = crate::duration::parse(default, crate::duration::Grammar::TEXT);
                    assert!(ns.is_ok_and(|ns| (1..=MAX_DURATION_NANOS).contains(&ns)));
                }
                DurationRange => assert!(default.contains("..")),
                Choice { values } => assert!(values.contains(&default), "{}", key.name),
                _ => panic!("{} has a default of an unexpected kind", key.name),
            }
        }
    }
}
