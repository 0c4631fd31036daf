//! What a replica reads from Redis, and the checks it passes before a breaker
//! believes it.
//!
//! Anything can be written into the store's keys and channel: an operator's
//! `HSET`, a bug in another version, a half-written value. A shared state is
//! adopted only when every field parses and it is one this breaker could have
//! made itself: an open period no longer than its configuration can produce,
//! an epoch no further ahead of Redis' own clock than [`EPOCH_SKEW`].
//! Everything else is a [`Refused`] value, which the store reports once and
//! otherwise ignores; the breaker keeps its local state.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::store::Remote;
use crate::{Config, MAX_DURATION, State};

/// How far ahead of Redis' clock (`TIME`, in µs) an epoch may be.
///
/// Every write sets the epoch to `max(epoch + 1, Redis time in µs)`, so an
/// honest epoch runs ahead of `TIME` only by the writes made within one
/// microsecond, or by a step back of the Redis host's clock (NTP, a failover
/// to a server whose clock is behind). An hour covers both by far; an epoch
/// beyond it would make every honest write after it look old, and stop
/// sharing until the clock caught up.
pub(super) const EPOCH_SKEW: Duration = Duration::from_secs(3600);

/// The longest reason adopted from Redis, in bytes; a longer one is cut at a
/// character boundary (a reason is shown in logs and errors, not parsed).
const MAX_REASON: usize = 1024;

/// The longest open period `config` can produce: `reset`, or with `backoff`
/// the cap `reset_max` (any duration a config may hold when there is none:
/// backoff alone has no ceiling but [`MAX_DURATION`]).
///
/// A `trip_for` longer than this is an operator's choice in one process; the
/// others cannot tell it from junk, and refuse it.
pub(super) fn longest_open(config: &Config) -> Duration {
    match config.backoff() {
        None => config.reset(),
        Some(_) => config
            .reset_max()
            .map_or(MAX_DURATION, |cap| cap.max(config.reset())),
    }
}

/// What was wrong with a value read from Redis: one warning per kind and
/// breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Fault {
    /// The hash's `state`, or a message's, is not a state name.
    State,
    /// The epoch is missing or not a whole number.
    Epoch,
    /// The epoch is further ahead of Redis' clock than [`EPOCH_SKEW`].
    FutureEpoch,
    /// An Open whose `opened_at` is missing or not a whole number.
    OpenedAt,
    /// An Open whose period (or a message's time left) is missing or not a
    /// whole number.
    Period,
    /// An Open longer than this breaker's [`longest_open`].
    TooLong,
    /// A message on the channel that does not parse.
    Message,
    /// Redis answered a script with an error (a key of another type).
    Reply,
    /// A reconfiguration whose keys or values this breaker refuses.
    Config,
    /// A reconfiguration whose time is missing, not a whole number, or
    /// further ahead of Redis' clock than [`EPOCH_SKEW`].
    ConfigTime,
    /// A replica's description of its breakers that does not parse.
    Description,
    /// A replica's description without a time, or dated far from Redis' clock.
    DescriptionTime,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::State => "a state that is not a state name",
            Fault::Epoch => "an epoch that is not a whole number",
            Fault::FutureEpoch => "an epoch more than an hour ahead of Redis' clock",
            Fault::OpenedAt => "an Open whose opened_at is not a whole number of ms",
            Fault::Period => "an Open whose period is not a whole number of ms",
            Fault::TooLong => "an Open longer than this breaker's longest open period",
            Fault::Message => "a message on the transitions channel that does not parse",
            Fault::Reply => "an error reply from Redis to a script (a key of another type?)",
            Fault::Config => "a reconfiguration this breaker refuses",
            Fault::ConfigTime => "a reconfiguration without a valid time (_at)",
            Fault::Description => "a replica's description of its breakers that does not parse",
            Fault::DescriptionTime => {
                "a replica's description without a time, or dated more than 10 s from Redis' clock"
            }
        })
    }
}

/// A value that was not adopted: its kind, and what it was (for the report).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Refused {
    pub fault: Fault,
    pub detail: String,
}

impl Refused {
    /// A refused value of kind `fault`; `detail` says what it was.
    pub fn new(fault: Fault, detail: impl Into<String>) -> Refused {
        Refused {
            fault,
            detail: detail.into(),
        }
    }
}

/// A shared state that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct CheckedState {
    pub epoch: u64,
    pub remote: Remote,
}

/// What this breaker accepts: Redis' clock and its own longest open period.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    /// Redis' `TIME` in µs, read with the value or estimated since.
    pub now_us: u64,
    /// [`longest_open`] in ms, rounded up.
    pub longest_ms: u64,
}

impl Limits {
    /// The limits of a breaker with `config`, at Redis time `now_us`.
    pub fn new(config: &Config, now_us: u64) -> Limits {
        let longest = longest_open(config);
        let partial = u64::from(longest.subsec_nanos() % 1_000_000 != 0);
        Limits {
            now_us,
            longest_ms: millis(longest).saturating_add(partial),
        }
    }

    fn check_epoch(&self, epoch: u64) -> Result<u64, Refused> {
        if from_the_future(epoch, self.now_us) {
            return Err(Refused::new(
                Fault::FutureEpoch,
                format!("epoch {epoch}, Redis time {} µs", self.now_us),
            ));
        }
        Ok(epoch)
    }

    fn check_open(&self, remaining_ms: u64, period_ms: u64) -> Result<(), Refused> {
        if remaining_ms > self.longest_ms || period_ms > self.longest_ms {
            return Err(Refused::new(
                Fault::TooLong,
                format!(
                    "{remaining_ms} ms left of {period_ms} ms, longest {} ms",
                    self.longest_ms
                ),
            ));
        }
        Ok(())
    }
}

/// The breaker's hash as a script read it, field by field, with Redis' clock
/// at that moment: `{now_ms, now_us, state, epoch, opened_at, period, reason}`
/// (a missing field is `None`). Scripts return the fields as they are, so no
/// junk in them can make a script fail.
pub(super) type RawHash = (u64, u64, Field, Field, Field, Field, Field);

/// One field of the hash as Redis holds it, `None` when it is missing.
pub(super) type Field = Option<Vec<u8>>;

/// The publish script's reply: whether it wrote (1) or was overruled (0),
/// then the hash now held, as in [`RawHash`].
pub(super) type PublishReply = (u64, u64, u64, Field, Field, Field, Field, Field);

/// Checks a hash: `Ok(None)` when it holds no state (the key is gone, or has
/// no `state` field), `Ok(Some)` when every field this state needs parses and
/// is within `limits`. For a state other than Open, `opened_at` and `period`
/// mean nothing and are not read.
pub(super) fn check_hash(raw: &RawHash, config: &Config) -> Result<Option<CheckedState>, Refused> {
    let (now_ms, now_us, state, epoch, opened_at, period, reason) = raw;
    let limits = Limits::new(config, *now_us);
    let Some(state) = state else {
        return Ok(None);
    };
    let state = parse_state_bytes(state)?;
    let epoch = limits.check_epoch(number(epoch.as_deref(), Fault::Epoch)?)?;
    let (remaining_ms, period_ms) = if state == State::Open {
        let opened_at = number(opened_at.as_deref(), Fault::OpenedAt)?;
        let period_ms = number(period.as_deref(), Fault::Period)?;
        let Some(end) = opened_at.checked_add(period_ms) else {
            return Err(Refused::new(
                Fault::TooLong,
                format!("opened at {opened_at} ms for {period_ms} ms"),
            ));
        };
        let remaining_ms = end.saturating_sub(*now_ms);
        limits.check_open(remaining_ms, period_ms)?;
        (remaining_ms, period_ms)
    } else {
        (0, 0)
    };
    Ok(Some(CheckedState {
        epoch,
        remote: remote(
            state,
            remaining_ms,
            period_ms,
            reason.as_deref().unwrap_or_default(),
        )
        .recovered_since(epoch, *now_us),
    }))
}

/// The epoch of a hash this store just wrote (no check: it wrote it).
pub(super) fn epoch_of(raw: &RawHash) -> Option<u64> {
    whole(raw.3.as_deref()?)
}

/// A transition pushed on the channel by some process:
/// `epoch\nstate\nremaining_ms\nperiod_ms\norigin\nname_len\n{name}{reason}`.
#[derive(Debug)]
pub(super) struct Message<'a> {
    pub epoch: u64,
    pub state: State,
    pub remaining_ms: u64,
    pub period_ms: u64,
    pub origin: &'a str,
    pub name: &'a str,
    pub reason: &'a str,
}

impl<'a> Message<'a> {
    /// The message in `payload`, if it has every field, each of its type.
    pub fn parse(payload: &'a [u8]) -> Option<Message<'a>> {
        let text = std::str::from_utf8(payload).ok()?;
        let mut fields = text.splitn(7, '\n');
        let epoch = whole(fields.next()?.as_bytes())?;
        let state = parse_state(fields.next()?)?;
        let remaining_ms = whole(fields.next()?.as_bytes())?;
        let period_ms = whole(fields.next()?.as_bytes())?;
        let origin = fields.next()?;
        let name_len = usize::try_from(whole(fields.next()?.as_bytes())?).ok()?;
        let rest = fields.next()?;
        let name = rest.get(..name_len)?;
        let reason = rest.get(name_len..)?;
        Some(Message {
            epoch,
            state,
            remaining_ms,
            period_ms,
            origin,
            name,
            reason,
        })
    }

    /// The epoch, if it is within `limits` (what an echo of a process's own
    /// write may raise its newest seen epoch to).
    pub fn epoch_within(&self, limits: &Limits) -> Result<u64, Refused> {
        limits.check_epoch(self.epoch)
    }

    /// The message as a shared state, if it is within `limits`.
    pub fn check(&self, limits: &Limits) -> Result<CheckedState, Refused> {
        let epoch = self.epoch_within(limits)?;
        if self.state == State::Open {
            limits.check_open(self.remaining_ms, self.period_ms)?;
        }
        Ok(CheckedState {
            epoch,
            remote: remote(
                self.state,
                self.remaining_ms,
                self.period_ms,
                self.reason.as_bytes(),
            )
            .recovered_since(epoch, limits.now_us),
        })
    }
}

fn remote(state: State, remaining_ms: u64, period_ms: u64, reason: &[u8]) -> Remote {
    Remote::new(
        state,
        Duration::from_millis(remaining_ms),
        Duration::from_millis(period_ms),
        Arc::from(bounded_reason(reason)),
    )
}

/// What a shared Closed says of how it closed.
trait Recovered {
    /// With the time of a close on trials: its epoch is the Redis time (µs)
    /// it was written at, `now_us` Redis time now.
    fn recovered_since(self, epoch: u64, now_us: u64) -> Remote;
}

impl Recovered for Remote {
    fn recovered_since(self, epoch: u64, now_us: u64) -> Remote {
        if self.state == State::Closed && crate::reason::is_trials_close(&self.reason) {
            let ago = Duration::from_micros(now_us.saturating_sub(epoch));
            self.recovered(ago)
        } else {
            self
        }
    }
}

fn bounded_reason(reason: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(reason).into_owned();
    if text.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// A whole number as Redis holds one: ASCII digits only (no sign, no blank,
/// no exponent), within u64. The scripts read numbers by the same rule.
/// Whether a time written in Redis (µs) is further ahead of Redis' clock
/// `now_us` than [`EPOCH_SKEW`]: no honest write made it.
pub(super) fn from_the_future(at_us: u64, now_us: u64) -> bool {
    let skew = u64::try_from(EPOCH_SKEW.as_micros()).unwrap_or(u64::MAX);
    at_us > now_us.saturating_add(skew)
}

/// A whole number written as ASCII digits only (no sign, no space).
pub(super) fn whole(text: &[u8]) -> Option<u64> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn number(field: Option<&[u8]>, fault: Fault) -> Result<u64, Refused> {
    let field = field.unwrap_or_default();
    whole(field).ok_or_else(|| Refused::new(fault, shown(field)))
}

fn parse_state_bytes(field: &[u8]) -> Result<State, Refused> {
    std::str::from_utf8(field)
        .ok()
        .and_then(parse_state)
        .ok_or_else(|| Refused::new(Fault::State, shown(field)))
}

/// A field as the report shows it: printable, and short.
pub(super) fn shown(field: &[u8]) -> String {
    let text = String::from_utf8_lossy(field);
    let mut shown: String = text.chars().take(64).collect();
    if text.chars().nth(64).is_some() {
        shown.push('…');
    }
    format!("{shown:?}")
}

/// The state names written in Redis. HalfOpen is never shared.
pub(super) fn parse_state(name: &str) -> Option<State> {
    match name {
        "closed" => Some(State::Closed),
        "open" => Some(State::Open),
        "forced_open" => Some(State::ForcedOpen),
        "disabled" => Some(State::Disabled),
        "metrics_only" => Some(State::MetricsOnly),
        _ => None,
    }
}

/// A duration in whole milliseconds, saturating: Redis' unit for periods.
pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: u64 = 1_700_000_000_000;
    const NOW_US: u64 = NOW_MS * 1000;

    fn config() -> Config {
        Config::builder()
            .reset(Duration::from_millis(500))
            .build()
            .unwrap()
    }

    fn hash(fields: [Option<&str>; 5]) -> RawHash {
        let [state, epoch, opened_at, period, reason] =
            fields.map(|f| f.map(|s| s.as_bytes().to_vec()));
        (NOW_MS, NOW_US, state, epoch, opened_at, period, reason)
    }

    fn open(epoch: &str, opened_at: &str, period: &str) -> RawHash {
        hash([
            Some("open"),
            Some(epoch),
            Some(opened_at),
            Some(period),
            Some("why"),
        ])
    }

    fn fault(raw: &RawHash) -> Option<Fault> {
        check_hash(raw, &config()).err().map(|r| r.fault)
    }

    #[test]
    fn a_sound_open_is_adopted_with_the_time_left() {
        let at = (NOW_MS - 100).to_string();
        let shared = check_hash(&open(&NOW_US.to_string(), &at, "500"), &config())
            .unwrap()
            .unwrap();
        assert_eq!(shared.epoch, NOW_US);
        assert_eq!(shared.remote.remaining, Duration::from_millis(400));
        assert_eq!(shared.remote.period, Duration::from_millis(500));
        assert_eq!(&*shared.remote.reason, "why");
    }

    #[test]
    fn a_hash_without_state_is_no_shared_state() {
        assert_eq!(check_hash(&hash([None; 5]), &config()), Ok(None));
    }

    #[test]
    fn every_junk_field_is_refused_for_its_own_reason() {
        let now = NOW_MS.to_string();
        let epoch = NOW_US.to_string();
        for junk in ["", "x", "-1", "1.5", " 5", "0x10", "1e3"] {
            let mut bad_state = open(&epoch, &now, "500");
            bad_state.2 = Some(junk.as_bytes().to_vec());
            assert_eq!(fault(&bad_state), Some(Fault::State), "{junk:?}");
            assert_eq!(fault(&open(junk, &now, "500")), Some(Fault::Epoch));
            assert_eq!(fault(&open(&epoch, junk, "500")), Some(Fault::OpenedAt));
            assert_eq!(fault(&open(&epoch, &now, junk)), Some(Fault::Period));
        }
        assert_eq!(
            fault(&open(&epoch, &now, "10000000000000")),
            Some(Fault::TooLong)
        );
        assert_eq!(
            fault(&open(&epoch, "18446744073709551615", "500")),
            Some(Fault::TooLong),
            "an end past u64"
        );
        assert_eq!(
            fault(&open(&u64::MAX.to_string(), &now, "500")),
            Some(Fault::FutureEpoch)
        );
        let mut no_epoch = open(&epoch, &now, "500");
        no_epoch.3 = None;
        assert_eq!(fault(&no_epoch), Some(Fault::Epoch));
    }

    #[test]
    fn an_epoch_within_the_skew_is_adopted() {
        let skew = EPOCH_SKEW.as_micros() as u64;
        let now = NOW_MS.to_string();
        let at_edge = (NOW_US + skew).to_string();
        assert_eq!(fault(&open(&at_edge, &now, "500")), None);
        let past = (NOW_US + skew + 1).to_string();
        assert_eq!(fault(&open(&past, &now, "500")), Some(Fault::FutureEpoch));
    }

    #[test]
    fn outside_open_the_period_fields_are_not_read() {
        let closed = hash([Some("closed"), Some("1"), Some("junk"), None, Some("\u{0}")]);
        let shared = check_hash(&closed, &config()).unwrap().unwrap();
        assert_eq!(shared.remote.state, State::Closed);
    }

    #[test]
    fn a_reason_that_is_not_utf8_or_is_huge_is_kept_printable_and_short() {
        let mut raw = open(&NOW_US.to_string(), &NOW_MS.to_string(), "500");
        raw.6 = Some(b"\xff\xfeok".to_vec());
        let shared = check_hash(&raw, &config()).unwrap().unwrap();
        assert_eq!(&*shared.remote.reason, "\u{fffd}\u{fffd}ok");
        raw.6 = Some("é".repeat(2000).into_bytes());
        let shared = check_hash(&raw, &config()).unwrap().unwrap();
        assert!(shared.remote.reason.len() <= MAX_REASON);
    }

    #[test]
    fn the_longest_open_period_follows_backoff_and_its_cap() {
        let reset = Duration::from_millis(500);
        assert_eq!(longest_open(&config()), reset);
        let capped = Config::builder()
            .reset(reset)
            .backoff(2.0)
            .reset_max(Duration::from_secs(8))
            .build()
            .unwrap();
        assert_eq!(longest_open(&capped), Duration::from_secs(8));
        let uncapped = Config::builder().reset(reset).backoff(2.0).build().unwrap();
        assert_eq!(longest_open(&uncapped), MAX_DURATION);
    }

    #[test]
    fn a_message_keeps_names_and_reasons_with_newlines() {
        let m =
            Message::parse(b"17\nopen\n250\n1000\np.1\n4\na\nb:5 consecutive\nfailures").unwrap();
        assert_eq!(
            (m.epoch, m.state, m.remaining_ms, m.period_ms),
            (17, State::Open, 250, 1000)
        );
        assert_eq!(
            (m.origin, m.name, m.reason),
            ("p.1", "a\nb:", "5 consecutive\nfailures")
        );
    }

    #[test]
    fn a_malformed_message_is_ignored() {
        for bad in [
            &b""[..],
            b"x\nopen\n1\n1\no\n1\nn",
            b"1\nhalf_open\n1\n1\no\n1\nn",
            b"1\nopen\n1\n1\no\n9\nn",
            b"1\nopen\n-1\n1\no\n1\nn",
            b"1\nopen\n1",
            b"\xff\xfe",
        ] {
            assert!(Message::parse(bad).is_none());
        }
    }

    #[test]
    fn a_well_formed_message_beyond_the_limits_is_refused() {
        let limits = Limits::new(&config(), NOW_US);
        let long = format!("{NOW_US}\nopen\n10000000000000\n10000000000000\no\n1\nnjunk");
        let long = Message::parse(long.as_bytes()).unwrap();
        assert_eq!(long.check(&limits).unwrap_err().fault, Fault::TooLong);
        let future = format!("{}\nclosed\n0\n0\no\n1\nnjunk", u64::MAX);
        let future = Message::parse(future.as_bytes()).unwrap();
        assert_eq!(future.check(&limits).unwrap_err().fault, Fault::FutureEpoch);
        let fine = format!("{NOW_US}\nopen\n400\n500\no\n1\nnok");
        assert!(
            Message::parse(fine.as_bytes())
                .unwrap()
                .check(&limits)
                .is_ok()
        );
    }
}
