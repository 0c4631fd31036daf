//! The row a table-backed store keeps for each breaker, and the checks a row
//! passes before a breaker believes it. Backend-neutral: the SQLite store
//! reads its rows into a [`RawRow`] and decides here, and a store on another
//! database can share the same format, checks and rules.
//!
//! A row is anyone's to write: an operator's `UPDATE`, another version's bug,
//! a file damaged on disk. A row is adopted only when every column parses
//! and it holds a state this breaker could have made itself: an open period
//! no longer than its configuration can produce, times within [`CLOCK_MARGIN`]
//! of the wall clock. Everything else is a [`Refused`] row, which the store
//! reports once and otherwise ignores; the breaker keeps its local state.
//!
//! Times are wall-clock unix milliseconds (the version, unix microseconds),
//! because a row outlives the process that wrote it and monotonic time does
//! not survive a restart. Whose wall clock is the store's choice ([`Now`]):
//! the processes sharing a SQLite file share their host's; those sharing a
//! PostgreSQL table, on several hosts, use the server's.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::store::Remote;
use crate::{Config, MAX_DURATION, State};

/// The columns a read selects, in the order of [`RawRow`].
pub(crate) const COLUMNS: &str = "state, open_until_ms, period_ms, reason, changed_at_ms, version";

/// The columns of a table store's first shape, as versions before
/// `trials_epoch` made it, in alphabetical order: a table of exactly these
/// is given the epoch column when a store opens on it (`sqlite::schema`,
/// `postgres::schema`, each in its own SQL).
pub(crate) const FIRST_SHAPE: [&str; 9] = [
    "changed_at_ms",
    "name",
    "open_until_ms",
    "period_ms",
    "reason",
    "state",
    "trials",
    "trials_until_ms",
    "version",
];

/// How far a row's times may lie past what this breaker could have made: a
/// step back of the wall clock (NTP) between the write and the read. Within
/// it, an Open is adopted with its time left cut to the longest open period;
/// past it, refused.
pub(crate) const CLOCK_MARGIN: Duration = Duration::from_secs(1);

/// How far ahead of the wall clock a version (µs) may be. Every write sets
/// the version to `max(version + 1, now in µs)`, so an honest version runs
/// ahead only by writes made within one microsecond or by a step back of the
/// clock; one beyond an hour would make every honest write after it look
/// old until the clock caught up.
pub(crate) const VERSION_SKEW: Duration = Duration::from_secs(3600);

/// The longest reason adopted, in bytes; a longer one is cut at a character
/// boundary (a reason is shown in logs and errors, not parsed).
const MAX_REASON: usize = 1024;

/// The wall clock, read once for a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Now {
    /// Unix milliseconds.
    pub ms: u64,
    /// Unix microseconds.
    pub us: u64,
}

impl Now {
    /// The wall clock now (0 before 1970).
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub fn read() -> Now {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Now {
            ms: saturate(since.as_millis()),
            us: saturate(since.as_micros()),
        }
    }

    /// The time `us` (unix microseconds) on another clock: a database
    /// server's, for a store whose processes run on several hosts.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub fn from_us(us: u64) -> Now {
        Now { ms: us / 1000, us }
    }
}

/// One column as the database holds it: a store's own type system (SQLite's
/// is dynamic: any column may hold any of these) mapped onto five cases.
/// PostgreSQL's typed columns hold only NULL, integers and text.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) enum Field {
    Null,
    Integer(i64),
    Real(f64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

/// A breaker's row as read, column by column ([`COLUMNS`]).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RawRow {
    pub state: Field,
    pub open_until_ms: Field,
    pub period_ms: Field,
    pub reason: Field,
    pub changed_at_ms: Field,
    pub version: Field,
}

/// What was wrong with a row: one warning per kind and breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Fault {
    /// `state` is not a state name (or not text, or not UTF-8).
    State,
    /// `version` is not a whole number.
    Version,
    /// `version` is further ahead of the wall clock than [`VERSION_SKEW`].
    FutureVersion,
    /// An Open whose `open_until_ms` is not a whole number.
    OpenUntil,
    /// An Open whose `period_ms` is not a whole number above zero.
    Period,
    /// An Open, or a time left, longer than this breaker's longest open
    /// period plus [`CLOCK_MARGIN`].
    TooLong,
    /// An Open that began in the future: more time left than its period.
    FutureOpen,
    /// `changed_at_ms` is not a whole number.
    ChangedAt,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::State => "a state that is not a state name",
            Fault::Version => "a version that is not a whole number",
            Fault::FutureVersion => "a version more than an hour ahead of the clock",
            Fault::OpenUntil => "an Open whose open_until_ms is not a whole number",
            Fault::Period => "an Open whose period_ms is not a whole number above zero",
            Fault::TooLong => "an Open longer than this breaker's longest open period",
            Fault::FutureOpen => "an Open that began in the future",
            Fault::ChangedAt => "a changed_at_ms that is not a whole number",
        })
    }
}

/// A row that was not adopted: its kind, and what it held (for the report).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refused {
    pub fault: Fault,
    pub detail: String,
}

impl Refused {
    fn new(fault: Fault, detail: impl Into<String>) -> Refused {
        Refused {
            fault,
            detail: detail.into(),
        }
    }
}

/// A row that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Checked {
    pub version: u64,
    pub remote: Remote,
    /// An Open whose deadline has passed: how long ago it ended. Such a row
    /// is not adopted (a breaker would open for no time), only reported.
    pub ended_ago: Option<Duration>,
}

/// What this breaker accepts: the clock and its own longest open period.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub now: Now,
    /// [`longest_open`] in ms, rounded up.
    pub longest_ms: u64,
}

impl Limits {
    /// The limits of a breaker with `config` at `now`.
    pub fn new(config: &Config, now: Now) -> Limits {
        let longest = longest_open(config);
        let partial = u64::from(longest.subsec_nanos() % 1_000_000 != 0);
        Limits {
            now,
            longest_ms: millis(longest).saturating_add(partial),
        }
    }
}

/// The longest open period `config` can produce: `reset`, or with `backoff`
/// the cap `reset_max` (any duration a config may hold when there is none).
/// A `trip_for` longer than this is an operator's choice in one process; the
/// others cannot tell it from junk, and refuse it.
pub(crate) fn longest_open(config: &Config) -> Duration {
    match config.backoff() {
        None => config.reset(),
        Some(_) => config
            .reset_max()
            .map_or(MAX_DURATION, |cap| cap.max(config.reset())),
    }
}

/// Checks a row: `Ok(None)` when there is none, `Ok(Some)` when every column
/// the state needs parses and is within `limits`. Outside Open,
/// `open_until_ms` and `period_ms` mean nothing and are not read.
pub(crate) fn check(row: Option<&RawRow>, limits: &Limits) -> Result<Option<Checked>, Refused> {
    let Some(row) = row else { return Ok(None) };
    let state = parse_state_field(&row.state)?;
    let version = whole(&row.version).ok_or_else(|| refused(Fault::Version, &row.version))?;
    let skew = saturate(VERSION_SKEW.as_micros());
    if version > limits.now.us.saturating_add(skew) {
        return Err(Refused::new(
            Fault::FutureVersion,
            format!("version {version}, clock {} µs", limits.now.us),
        ));
    }
    let changed_at =
        whole(&row.changed_at_ms).ok_or_else(|| refused(Fault::ChangedAt, &row.changed_at_ms))?;
    let (remaining_ms, period_ms, ended_ago) = if state == State::Open {
        open_times(row, limits)?
    } else {
        (0, 0, None)
    };
    let mut remote = Remote::new(
        state,
        Duration::from_millis(remaining_ms),
        Duration::from_millis(period_ms),
        Arc::from(bounded_reason(&row.reason)),
    );
    if state == State::Closed && crate::reason::is_trials_close(&remote.reason) {
        // A close on trials: a breaker with `ramp` ramps from it.
        remote = remote.recovered(Duration::from_millis(
            limits.now.ms.saturating_sub(changed_at),
        ));
    }
    Ok(Some(Checked {
        version,
        remote,
        ended_ago,
    }))
}

/// An Open's time left and period, each within the limits.
fn open_times(row: &RawRow, limits: &Limits) -> Result<(u64, u64, Option<Duration>), Refused> {
    let until =
        whole(&row.open_until_ms).ok_or_else(|| refused(Fault::OpenUntil, &row.open_until_ms))?;
    let period = whole(&row.period_ms)
        .filter(|&p| p > 0)
        .ok_or_else(|| refused(Fault::Period, &row.period_ms))?;
    let margin = millis(CLOCK_MARGIN);
    let longest = limits.longest_ms;
    let now = limits.now.ms;
    let left = until.saturating_sub(now);
    if period > longest || left > longest.saturating_add(margin) {
        return Err(Refused::new(
            Fault::TooLong,
            format!("{left} ms left of {period} ms, longest {longest} ms"),
        ));
    }
    if left > period.saturating_add(margin) {
        return Err(Refused::new(
            Fault::FutureOpen,
            format!("{left} ms left of a {period} ms period"),
        ));
    }
    let ended_ago = (until <= now).then(|| Duration::from_millis(now - until));
    Ok((left.min(period), period, ended_ago))
}

/// What a row holds, as a write's compare-and-set reads it: a row a reader
/// would refuse counts as none (`junk`), so the next write repairs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Held {
    pub state: Option<State>,
    pub version: u64,
    /// In Open: the time left, ms (0 once elapsed).
    pub left_ms: u64,
    pub junk: bool,
}

impl Held {
    /// The row as a writer with `limits` sees it.
    pub fn of(row: Option<&RawRow>, limits: &Limits) -> Held {
        match check(row, limits) {
            Ok(Some(checked)) => Held {
                state: Some(checked.remote.state),
                version: checked.version,
                left_ms: millis(checked.remote.remaining),
                junk: false,
            },
            Ok(None) => Held {
                state: None,
                version: 0,
                left_ms: 0,
                junk: false,
            },
            Err(_) => Held {
                state: None,
                version: 0,
                left_ms: 0,
                junk: true,
            },
        }
    }
}

/// A transition to write, with what the breaker knew when it made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Write {
    pub state: State,
    /// In Open: the time left when it was made, ms.
    pub remaining_ms: u64,
    pub period_ms: u64,
    pub reason: String,
    pub manual: bool,
    /// The newest version the breaker had seen: a newer Open held overrules
    /// a policy's transition.
    pub seen: u64,
    /// When it was made, unix ms: a write delayed (a locked file) ends the
    /// open period when it would have ended, not later.
    pub at_ms: u64,
}

/// The row a write puts in place of what is held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NewRow {
    pub state: &'static str,
    pub open_until_ms: i64,
    pub period_ms: i64,
    pub reason: String,
    pub changed_at_ms: i64,
    pub version: i64,
}

impl NewRow {
    /// The row as a read would find it.
    pub fn as_raw(&self) -> RawRow {
        RawRow {
            state: Field::Text(self.state.as_bytes().to_vec()),
            open_until_ms: Field::Integer(self.open_until_ms),
            period_ms: Field::Integer(self.period_ms),
            reason: Field::Text(self.reason.as_bytes().to_vec()),
            changed_at_ms: Field::Integer(self.changed_at_ms),
            version: Field::Integer(self.version),
        }
    }
}

/// Whether `held` overrules `write` (the row stays, and the writer adopts
/// it), else the row to write. The rules of every shared-state store:
///
/// - an operator's action (`manual`) always writes, and so does any write
///   over junk;
/// - opening while an Open is held and not yet elapsed joins it (the first
///   opener's deadline stands);
/// - a policy's transition gives way to a row newer than what the writer has
///   seen that holds an Open not yet elapsed, a ForcedOpen or a Disabled:
///   an Open seen elsewhere wins over a local close;
/// - a Closed over no row or a Closed row writes nothing.
pub(crate) fn decide(held: &Held, write: &Write, now: Now) -> Option<NewRow> {
    if !write.manual && !held.junk {
        let open_held = held.state == Some(State::Open) && held.left_ms > 0;
        if write.state == State::Open && open_held {
            return None;
        }
        let newer = held.version > write.seen;
        let mode_held = matches!(held.state, Some(State::ForcedOpen | State::Disabled));
        if newer && (open_held || mode_held) {
            return None;
        }
        if write.state == State::Closed && matches!(held.state, None | Some(State::Closed)) {
            return None;
        }
    }
    let (open_until, period) = if write.state == State::Open {
        let left = write.remaining_ms.min(write.period_ms);
        (write.at_ms.saturating_add(left), write.period_ms.max(1))
    } else {
        (0, 0)
    };
    Some(NewRow {
        state: write.state.as_str(),
        open_until_ms: signed(open_until),
        period_ms: signed(period),
        reason: write.reason.clone(),
        changed_at_ms: signed(now.ms),
        version: signed(held.version.saturating_add(1).max(now.us)),
    })
}

/// A whole number: an integer at least zero (a text of ASCII digits, as a
/// database without types may hold one, counts too); anything else is not.
fn whole(field: &Field) -> Option<u64> {
    match field {
        Field::Integer(n) => u64::try_from(*n).ok(),
        Field::Text(text) if !text.is_empty() && text.iter().all(u8::is_ascii_digit) => {
            std::str::from_utf8(text).ok()?.parse().ok()
        }
        _ => None,
    }
}

fn parse_state_field(field: &Field) -> Result<State, Refused> {
    match field {
        Field::Text(text) => std::str::from_utf8(text)
            .ok()
            .and_then(parse_state)
            .ok_or_else(|| refused(Fault::State, field)),
        _ => Err(refused(Fault::State, field)),
    }
}

/// The state names a row holds. HalfOpen is never shared.
pub(crate) fn parse_state(name: &str) -> Option<State> {
    match name {
        "closed" => Some(State::Closed),
        "open" => Some(State::Open),
        "forced_open" => Some(State::ForcedOpen),
        "disabled" => Some(State::Disabled),
        "metrics_only" => Some(State::MetricsOnly),
        _ => None,
    }
}

fn bounded_reason(field: &Field) -> String {
    let mut text = match field {
        Field::Text(bytes) | Field::Blob(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Field::Integer(n) => n.to_string(),
        Field::Real(x) => x.to_string(),
        Field::Null => String::new(),
    };
    if text.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn refused(fault: Fault, field: &Field) -> Refused {
    Refused::new(fault, shown(field))
}

/// A column as the report shows it: its type, printable, and short.
pub(crate) fn shown(field: &Field) -> String {
    let text = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let mut shown: String = text.chars().take(64).collect();
        if text.chars().nth(64).is_some() {
            shown.push('…');
        }
        format!("{shown:?}")
    };
    match field {
        Field::Null => "NULL".to_owned(),
        Field::Integer(n) => format!("integer {n}"),
        Field::Real(x) => format!("real {x}"),
        Field::Text(bytes) if std::str::from_utf8(bytes).is_err() => {
            format!("text {} (not UTF-8)", text(bytes))
        }
        Field::Text(bytes) => format!("text {}", text(bytes)),
        Field::Blob(bytes) => format!("blob of {} bytes", bytes.len()),
    }
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    saturate(d.as_millis())
}

fn saturate(n: u128) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// A time or version as a database's 64-bit signed integer, saturating.
pub(crate) fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Now = Now {
        ms: 1_700_000_000_000,
        us: 1_700_000_000_000_000,
    };

    fn limits() -> Limits {
        let config = Config::builder()
            .reset(Duration::from_millis(500))
            .build()
            .unwrap();
        Limits::new(&config, NOW)
    }

    fn row(state: &str, until: i64, period: i64) -> RawRow {
        RawRow {
            state: Field::Text(state.as_bytes().to_vec()),
            open_until_ms: Field::Integer(until),
            period_ms: Field::Integer(period),
            reason: Field::Text(b"why".to_vec()),
            changed_at_ms: Field::Integer(NOW.ms as i64),
            version: Field::Integer(NOW.us as i64),
        }
    }

    fn fault(row: &RawRow) -> Option<Fault> {
        check(Some(row), &limits()).err().map(|r| r.fault)
    }

    const MS: i64 = NOW.ms as i64;

    #[test]
    fn a_sound_open_is_adopted_with_the_time_left() {
        let checked = check(Some(&row("open", MS + 400, 500)), &limits())
            .unwrap()
            .unwrap();
        assert_eq!(checked.version, NOW.us);
        assert_eq!(checked.remote.state, State::Open);
        assert_eq!(checked.remote.remaining, Duration::from_millis(400));
        assert_eq!(checked.remote.period, Duration::from_millis(500));
        assert_eq!(&*checked.remote.reason, "why");
        assert_eq!(checked.ended_ago, None);
    }

    #[test]
    fn no_row_is_no_shared_state() {
        assert_eq!(check(None, &limits()), Ok(None));
    }

    #[test]
    fn an_elapsed_open_says_how_long_ago_it_ended() {
        let checked = check(Some(&row("open", MS - 250, 500)), &limits())
            .unwrap()
            .unwrap();
        assert_eq!(checked.remote.remaining, Duration::ZERO);
        assert_eq!(checked.ended_ago, Some(Duration::from_millis(250)));
    }

    #[test]
    fn every_junk_column_is_refused_for_its_own_reason() {
        let junk = [
            Field::Null,
            Field::Integer(-1),
            Field::Real(1.5),
            Field::Text(b"".to_vec()),
            Field::Text(b"x".to_vec()),
            Field::Text(b"-5".to_vec()),
            Field::Text(b" 5".to_vec()),
            Field::Text(b"\xff\xfe".to_vec()),
            Field::Blob(vec![1, 2]),
        ];
        for field in junk {
            let mut bad = row("open", MS + 100, 500);
            bad.version = field.clone();
            assert_eq!(fault(&bad), Some(Fault::Version), "{field:?}");
            let mut bad = row("open", MS + 100, 500);
            bad.open_until_ms = field.clone();
            assert_eq!(fault(&bad), Some(Fault::OpenUntil), "{field:?}");
            let mut bad = row("open", MS + 100, 500);
            bad.period_ms = field.clone();
            assert_eq!(fault(&bad), Some(Fault::Period), "{field:?}");
            let mut bad = row("open", MS + 100, 500);
            bad.changed_at_ms = field.clone();
            assert_eq!(fault(&bad), Some(Fault::ChangedAt), "{field:?}");
            let mut bad = row("open", MS + 100, 500);
            bad.state = field.clone();
            assert_eq!(fault(&bad), Some(Fault::State), "{field:?}");
        }
        for state in ["", "half_open", "OPEN", "abc"] {
            assert_eq!(fault(&row(state, MS, 500)), Some(Fault::State));
        }
        assert_eq!(fault(&row("open", MS + 100, 0)), Some(Fault::Period));
    }

    #[test]
    fn an_open_longer_than_the_breaker_can_make_is_refused_past_the_margin() {
        let margin = CLOCK_MARGIN.as_millis() as i64;
        assert_eq!(fault(&row("open", MS + 400, 501)), Some(Fault::TooLong));
        assert_eq!(fault(&row("open", i64::MAX, 500)), Some(Fault::TooLong));
        assert_eq!(
            fault(&row("open", MS + 500 + margin + 1, 500)),
            Some(Fault::TooLong)
        );
        let within = check(Some(&row("open", MS + 500 + margin, 500)), &limits())
            .unwrap()
            .unwrap();
        assert_eq!(within.remote.remaining, Duration::from_millis(500), "cut");
    }

    #[test]
    fn an_open_that_began_in_the_future_is_refused() {
        let config = Config::builder()
            .reset(Duration::from_secs(60))
            .build()
            .unwrap();
        let limits = Limits::new(&config, NOW);
        let future = row("open", MS + 50_000, 1_000);
        let refused = check(Some(&future), &limits).unwrap_err();
        assert_eq!(refused.fault, Fault::FutureOpen);
    }

    #[test]
    fn a_version_from_the_future_is_refused_one_within_the_skew_is_not() {
        let skew = VERSION_SKEW.as_micros() as i64;
        let mut edge = row("closed", 0, 0);
        edge.version = Field::Integer(NOW.us as i64 + skew);
        assert_eq!(fault(&edge), None);
        edge.version = Field::Integer(NOW.us as i64 + skew + 1);
        assert_eq!(fault(&edge), Some(Fault::FutureVersion));
        edge.version = Field::Integer(i64::MAX);
        assert_eq!(fault(&edge), Some(Fault::FutureVersion));
    }

    #[test]
    fn outside_open_the_period_columns_are_not_read() {
        let mut closed = row("closed", -5, -5);
        closed.open_until_ms = Field::Text(b"junk".to_vec());
        let checked = check(Some(&closed), &limits()).unwrap().unwrap();
        assert_eq!(checked.remote.state, State::Closed);
    }

    #[test]
    fn a_reason_that_is_not_utf8_or_is_huge_is_kept_printable_and_short() {
        let mut raw = row("open", MS + 100, 500);
        raw.reason = Field::Text(b"\xff\xfeok".to_vec());
        let checked = check(Some(&raw), &limits()).unwrap().unwrap();
        assert_eq!(&*checked.remote.reason, "\u{fffd}\u{fffd}ok");
        raw.reason = Field::Text("é".repeat(2000).into_bytes());
        let checked = check(Some(&raw), &limits()).unwrap().unwrap();
        assert!(checked.remote.reason.len() <= MAX_REASON);
    }

    #[test]
    fn a_close_on_trials_carries_how_long_ago_it_was() {
        let mut closed = row("closed", 0, 0);
        closed.reason = Field::Text(b"2 successful trials".to_vec());
        closed.changed_at_ms = Field::Integer(MS - 300);
        let checked = check(Some(&closed), &limits()).unwrap().unwrap();
        assert_eq!(
            checked.remote.recovered_ago,
            Some(Duration::from_millis(300))
        );
    }

    fn write(state: State, manual: bool, seen: u64) -> Write {
        Write {
            state,
            remaining_ms: 500,
            period_ms: 500,
            reason: "r".into(),
            manual,
            seen,
            at_ms: NOW.ms - 100,
        }
    }

    fn held(state: Option<State>, version: u64, left_ms: u64) -> Held {
        Held {
            state,
            version,
            left_ms,
            junk: false,
        }
    }

    #[test]
    fn an_open_joins_a_running_open_and_ends_when_it_would_have() {
        let open = held(Some(State::Open), 7, 300);
        assert_eq!(decide(&open, &write(State::Open, false, 7), NOW), None);
        let written = decide(&held(None, 0, 0), &write(State::Open, false, 0), NOW).unwrap();
        assert_eq!(
            written.open_until_ms,
            MS - 100 + 500,
            "from when it was made"
        );
        assert_eq!(written.version, NOW.us as i64);
    }

    #[test]
    fn an_open_seen_elsewhere_wins_over_a_policy_close_not_over_an_operator() {
        let open = held(Some(State::Open), 9, 300);
        assert_eq!(decide(&open, &write(State::Closed, false, 8), NOW), None);
        assert!(decide(&open, &write(State::Closed, false, 9), NOW).is_some());
        assert!(decide(&open, &write(State::Closed, true, 8), NOW).is_some());
        let forced = held(Some(State::ForcedOpen), 9, 0);
        assert_eq!(decide(&forced, &write(State::Open, false, 8), NOW), None);
        let elapsed = held(Some(State::Open), 9, 0);
        assert!(decide(&elapsed, &write(State::Closed, false, 8), NOW).is_some());
    }

    #[test]
    fn a_close_over_nothing_writes_nothing_and_junk_is_written_over() {
        assert_eq!(
            decide(&held(None, 0, 0), &write(State::Closed, false, 0), NOW),
            None
        );
        let junk = Held {
            junk: true,
            ..held(None, 0, 0)
        };
        assert!(decide(&junk, &write(State::Closed, false, 0), NOW).is_some());
    }

    #[test]
    fn versions_grow_past_the_held_one_and_the_clock() {
        let ahead = held(Some(State::Closed), NOW.us + 10, 0);
        let row = decide(&ahead, &write(State::Open, true, 0), NOW).unwrap();
        assert_eq!(row.version, NOW.us as i64 + 11);
    }

    #[test]
    fn a_written_row_reads_back_as_what_was_written() {
        let row = decide(&held(None, 0, 0), &write(State::Open, false, 0), NOW).unwrap();
        let checked = check(Some(&row.as_raw()), &limits()).unwrap().unwrap();
        assert_eq!(checked.remote.state, State::Open);
        assert_eq!(checked.remote.remaining, Duration::from_millis(400));
        assert_eq!(checked.version, NOW.us);
    }
}
