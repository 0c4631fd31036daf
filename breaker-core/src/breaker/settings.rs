//! The configuration in force and what the state machine derives from it,
//! swapped whole when an operator reconfigures the breaker.
//!
//! A decision reads the settings once, through one pointer, and decides with
//! that one snapshot: it can see the configuration before a reconfiguration
//! or after it, never half of each (SEMANTICS.md, "Reconfiguration"). The
//! fast paths read none of it; they test the `detours` byte, which a
//! reconfiguration rewrites.
//!
//! A snapshot is never freed while its breaker lives (`crate::kept`), so
//! `Breaker::config` can lend one out; a breaker keeps one snapshot per
//! distinct configuration it ever had, not one per change.

use super::detours::{ADAPTIVE, TIMED, WINDOWED};
use crate::config::{Config, Window};
use crate::kept::Kept;
use crate::policy::{Consecutive, nanos};

/// One configuration and what the state machine derives from it.
pub(crate) struct Settings {
    pub(crate) config: Config,
    /// The consecutive policy (its run is the word's `aux` in Closed).
    pub(crate) consecutive: Consecutive,
    /// `max_half_open_wait` in nanoseconds, 0 when it is not set.
    pub(crate) half_open_wait: u64,
    /// Whether a windowed policy is active: outcomes then go through the lock.
    pub(crate) windowed: bool,
    /// Whether successes on a full count window skip the lock (`batched`):
    /// a rate policy over a count window, and neither adaptive throttling
    /// (which counts successes as they end) nor the consecutive policy, which
    /// must see successes in the same order as the window. The time window of
    /// `within` only looks at failures.
    pub(crate) batch_successes: bool,
    /// Whether adaptive throttling decides admissions (under the lock).
    pub(crate) adaptive: bool,
    /// Whether calls are timed (a `slow` latency is configured).
    pub(crate) timed: bool,
    /// Whether outcomes need their end time: timed calls, or a time window.
    pub(crate) dated: bool,
    /// `ramp` in nanoseconds, 0 when there is none.
    pub(crate) ramp: u64,
}

impl Settings {
    fn new(config: Config) -> Settings {
        let windowed =
            config.within().is_some() || config.has_rate_policy() || config.adaptive().is_some();
        let time_window = matches!(config.window(), Window::Time(_));
        Settings {
            consecutive: Consecutive::for_config(&config),
            half_open_wait: config.max_half_open_wait().map_or(0, nanos),
            windowed,
            batch_successes: config.consecutive().is_none()
                && config.adaptive().is_none()
                && config.has_rate_policy()
                && !time_window,
            adaptive: config.adaptive().is_some(),
            ramp: config.ramp().map_or(0, nanos),
            timed: config.slow().is_some(),
            dated: config.slow().is_some()
                || config.within().is_some()
                || config.adaptive().is_some()
                || (config.has_rate_policy() && time_window),
            config,
        }
    }

    /// The `detours` bits these settings ask for (`TAPPED` is not theirs).
    pub(crate) fn detours(&self) -> u8 {
        (if self.timed { TIMED } else { 0 })
            | (if self.windowed { WINDOWED } else { 0 })
            | (if self.adaptive { ADAPTIVE } else { 0 })
    }
}

/// The settings in force, and every snapshot the breaker has had (one per
/// distinct configuration: see `crate::kept`).
pub(crate) struct SettingsCell(Kept<Settings>);

impl SettingsCell {
    pub(crate) fn new(config: Config) -> SettingsCell {
        SettingsCell(Kept::new(Settings::new(config)))
    }

    /// The settings in force.
    #[inline]
    pub(crate) fn get(&self) -> &Settings {
        self.0.get()
    }

    /// Puts `config` in force (under the breaker's control lock, so that
    /// settings change between decisions made under it, never during one).
    pub(crate) fn set(&self, config: Config) -> &Settings {
        self.0
            .set_with(|s| s.config == config, || Settings::new(config.clone()))
    }

    /// How many snapshots the breaker keeps.
    #[cfg(test)]
    pub(crate) fn kept(&self) -> usize {
        self.0.kept()
    }
}

#[cfg(all(test, not(breaker_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_seen_before_is_reused_not_kept_again() {
        let a: Config = "fail_max = 3".parse().unwrap();
        let b: Config = "fail_max = 4".parse().unwrap();
        let cell = SettingsCell::new(a.clone());
        let first: *const Settings = cell.get();
        for _ in 0..100 {
            cell.set(b.clone());
            assert_eq!(cell.get().config, b);
            cell.set(a.clone());
        }
        assert_eq!(cell.kept(), 2, "one snapshot per distinct configuration");
        assert!(std::ptr::eq(first, cell.get()), "the first one, reused");
    }

    #[test]
    fn derived_settings_follow_the_configuration() {
        let cell = SettingsCell::new(Config::default());
        assert_eq!(cell.get().detours(), 0);
        assert!(cell.get().consecutive.is_on());
        let s = cell.set("failure_rate = 50, window = 10".parse().unwrap());
        assert_eq!(s.detours(), WINDOWED);
        assert!(s.batch_successes && !s.dated && !s.consecutive.is_on());
        let s = cell.set("slow = 1s, slow_rate = 50, window = 10s".parse().unwrap());
        assert_eq!(s.detours(), WINDOWED | TIMED);
        assert!(!s.batch_successes && s.dated && s.timed);
        let s = cell.set("adaptive = 2".parse().unwrap());
        assert_eq!(s.detours(), WINDOWED | ADAPTIVE);
    }
}
