//! The fleet through Redis. Every [`INTERVAL`] each replica describes its
//! breakers in a hash of its own, `{namespace}:fleet:{replica}` (one field a
//! breaker, `_at` the time by Redis' clock), which expires after three
//! intervals, and lists itself in the sorted set `{namespace}:replicas`
//! (scored by that time). `GET /fleet` reads every replica seen within
//! [`FORGET_MS`] back in one script, and each description is checked here
//! before it is shown: one that does not parse, or whose time is far from
//! Redis' clock, is left out and reported once.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{RedisError, Script};

use super::hub::Core;
use super::wire::{Fault, Refused, shown};
use crate::State;
use crate::store::{Fleet, Replica, ReplicaBreaker};

/// How often a replica describes its breakers.
pub(super) const INTERVAL: Duration = Duration::from_secs(1);
/// A description expires after three intervals: a replica that stopped
/// describing itself shows as not live within that.
const EXPIRE_MS: u64 = 3_000;
/// Replicas last seen longer ago are forgotten (dropped from the set).
const FORGET_MS: u64 = 10 * 60 * 1000;
/// The most replicas a read lists (the most recently seen).
const MOST_REPLICAS: u64 = 1_000;
/// A description dated further from Redis' clock than this is refused.
const SKEW_MS: u64 = 10_000;

// Writes this replica's description whole and lists the replica; junk of
// another type at either key is replaced. KEYS: description, replicas.
// ARGV: replica, expire_ms, forget_ms, then name, value pairs.
const DESCRIBE: &str = "
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('TYPE', KEYS[2])['ok'] ~= 'zset' then redis.call('DEL', KEYS[2]) end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '_at', string.format('%.0f', now), unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%.0f', now - tonumber(ARGV[3])))
return now
";

// Every replica seen within forget_ms, most recent first, with its
// description: {now, {replica, seen, {field, value, ...}}, ...}. A key of
// another type reads as no description. KEYS: replicas.
// ARGV: namespace, forget_ms, most.
const READ: &str = "
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
if redis.call('TYPE', KEYS[1])['ok'] ~= 'zset' then return {now, out} end
local listed = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf',
  string.format('%.0f', now - tonumber(ARGV[2])), 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
for i = 1, #listed, 2 do
  local key = ARGV[1] .. ':fleet:' .. listed[i]
  local fields = {}
  if redis.call('TYPE', key)['ok'] == 'hash' then fields = redis.call('HGETALL', key) end
  table.insert(out, {listed[i], math.floor(tonumber(listed[i + 1])), fields})
end
return {now, out}
";

pub(super) struct FleetScripts {
    describe: Script,
    read: Script,
}

impl FleetScripts {
    pub(super) fn new() -> FleetScripts {
        FleetScripts {
            describe: Script::new(DESCRIBE),
            read: Script::new(READ),
        }
    }
}

/// One breaker's field value: `state admitted rejected failures retry_ms`,
/// with `-` for no retry.
fn value(b: &ReplicaBreaker) -> String {
    let mut v = format!(
        "{} {} {} {} ",
        b.state.as_str(),
        b.admitted,
        b.rejected,
        b.failures
    );
    match b.retry_after {
        Some(after) => {
            let _ = write!(v, "{}", after.as_millis());
        }
        None => v.push('-'),
    }
    v
}

fn parse_value(v: &[u8]) -> Option<ReplicaBreaker> {
    let text = std::str::from_utf8(v).ok()?;
    let mut words = text.split(' ');
    let name = words.next()?;
    // Every state, half-open included: a description is a replica's own view.
    let state = State::ALL.into_iter().find(|s| s.as_str() == name)?;
    let mut number = || -> Option<u64> {
        let w = words.next()?;
        (!w.is_empty() && w.len() <= 19 && w.bytes().all(|b| b.is_ascii_digit()))
            .then(|| w.parse().ok())
            .flatten()
    };
    let (admitted, rejected, failures) = (number()?, number()?, number()?);
    let retry_after = match words.next()? {
        "-" => None,
        w if !w.is_empty() && w.len() <= 12 && w.bytes().all(|b| b.is_ascii_digit()) => {
            Some(Duration::from_millis(w.parse().ok()?))
        }
        _ => return None,
    };
    if words.next().is_some() {
        return None;
    }
    Some(ReplicaBreaker::new(
        state,
        admitted,
        rejected,
        failures,
        retry_after,
    ))
}

/// Describes this replica's breakers: every breaker that joined the store,
/// the first of each name.
pub(super) async fn describe(
    core: &Core,
    scripts: &FleetScripts,
    conn: &mut MultiplexedConnection,
) -> Result<(), RedisError> {
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    for link in core.all_links() {
        if fields.contains_key(&link.name) {
            continue;
        }
        let Some(breaker) = link.breaker.upgrade() else {
            continue;
        };
        let stats = breaker.stats();
        let (admitted, rejected, failures) = {
            let mut last = link.described.0.lock().unwrap_or_else(|e| e.into_inner());
            let now = (stats.admitted, stats.rejected, stats.failures);
            let interval = (
                now.0.saturating_sub(last.0),
                now.1.saturating_sub(last.1),
                now.2.saturating_sub(last.2),
            );
            *last = now;
            interval
        };
        let described = ReplicaBreaker::new(
            stats.state,
            admitted,
            rejected,
            failures,
            breaker.retry_after(),
        );
        fields.insert(link.name.clone(), value(&described));
    }
    let mut invocation = scripts.describe.prepare_invoke();
    invocation
        .key(format!("{}:fleet:{}", core.options.namespace, core.replica))
        .key(&core.replicas_key)
        .arg(&core.replica)
        .arg(EXPIRE_MS)
        .arg(FORGET_MS);
    for (name, value) in &fields {
        invocation.arg(name).arg(value);
    }
    let now_ms: u64 = invocation.invoke_async(conn).await?;
    core.note_redis_time(now_ms.saturating_mul(1000));
    Ok(())
}

/// The read script's reply: Redis' time, then each replica with when it was
/// last seen and its description's fields.
type Read = (u64, Vec<(Vec<u8>, u64, Vec<Vec<u8>>)>);

/// Reads every replica seen recently, each description checked.
pub(super) async fn read(
    core: &Core,
    scripts: &FleetScripts,
    conn: &mut MultiplexedConnection,
) -> Result<Fleet, RedisError> {
    let (now, listed): Read = scripts
        .read
        .key(&core.replicas_key)
        .arg(&core.options.namespace)
        .arg(FORGET_MS)
        .arg(MOST_REPLICAS)
        .invoke_async(conn)
        .await?;
    let replicas = listed
        .into_iter()
        .map(|(id, seen, fields)| {
            // Shown as text, cut: a name is whatever a replica chose.
            let id: String = String::from_utf8_lossy(&id).chars().take(128).collect();
            match check(now, &fields) {
                Ok(Some((at, breakers))) => Replica::new(
                    id,
                    Duration::from_millis(now.saturating_sub(at)),
                    true,
                    breakers,
                ),
                Ok(None) => not_live(id, now, seen),
                Err(refused) => {
                    core.refuse_description(&id, &refused);
                    not_live(id, now, seen)
                }
            }
        })
        .collect();
    Ok(Fleet::new(replicas, INTERVAL))
}

fn not_live(id: String, now: u64, seen: u64) -> Replica {
    Replica::new(
        id,
        Duration::from_millis(now.saturating_sub(seen)),
        false,
        BTreeMap::new(),
    )
}

/// A description's time (Redis ms) and breakers.
type Description = (u64, BTreeMap<String, ReplicaBreaker>);

/// A description checked; `None` when there is none (expired).
fn check(now: u64, fields: &[Vec<u8>]) -> Result<Option<Description>, Refused> {
    if fields.is_empty() {
        return Ok(None);
    }
    let mut at = None;
    let mut breakers = BTreeMap::new();
    for pair in fields.chunks(2) {
        let [name, value] = pair else {
            return Err(Refused::new(Fault::Description, "an odd number of fields"));
        };
        if name.as_slice() == b"_at" {
            let parsed = std::str::from_utf8(value)
                .ok()
                .filter(|v| !v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok());
            match parsed {
                Some(t) if t.abs_diff(now) <= SKEW_MS => at = Some(t),
                Some(t) => {
                    return Err(Refused::new(
                        Fault::DescriptionTime,
                        format!("_at {t} against Redis' {now}"),
                    ));
                }
                None => return Err(Refused::new(Fault::DescriptionTime, shown(value))),
            }
            continue;
        }
        let Ok(name) = std::str::from_utf8(name) else {
            return Err(Refused::new(Fault::Description, shown(name)));
        };
        let Some(breaker) = parse_value(value) else {
            return Err(Refused::new(
                Fault::Description,
                format!("{}: {}", shown(name.as_bytes()), shown(value)),
            ));
        };
        breakers.insert(name.to_owned(), breaker);
    }
    match at {
        Some(at) => Ok(Some((at, breakers))),
        None => Err(Refused::new(Fault::DescriptionTime, "no _at")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<Vec<u8>> {
        pairs
            .iter()
            .flat_map(|(f, v)| [f.as_bytes().to_vec(), v.as_bytes().to_vec()])
            .collect()
    }

    #[test]
    fn a_description_reads_back_as_written() {
        let open = ReplicaBreaker::new(State::Open, 0, 17, 0, Some(Duration::from_millis(1250)));
        let closed = ReplicaBreaker::new(State::Closed, 40, 0, 3, None);
        let written = fields(&[
            ("_at", "1000"),
            ("db", &value(&open)),
            ("api", &value(&closed)),
        ]);
        let (at, breakers) = check(1500, &written).unwrap().unwrap();
        assert_eq!(at, 1000);
        assert_eq!(breakers["db"], open);
        assert_eq!(breakers["api"], closed);
        assert_eq!(check(1500, &[]).unwrap(), None, "expired: none");
    }

    #[test]
    fn junk_descriptions_are_refused_whole() {
        for (pairs, fault) in [
            (vec![("db", "closed 1 2 3 -")], Fault::DescriptionTime),
            (
                vec![("_at", "x"), ("db", "closed 1 2 3 -")],
                Fault::DescriptionTime,
            ),
            (vec![("_at", "99999999")], Fault::DescriptionTime),
            (
                vec![("_at", "1000"), ("db", "sleepy 1 2 3 -")],
                Fault::Description,
            ),
            (
                vec![("_at", "1000"), ("db", "closed 1 2 -")],
                Fault::Description,
            ),
            (
                vec![("_at", "1000"), ("db", "closed 1 2 3 - extra")],
                Fault::Description,
            ),
            (
                vec![("_at", "1000"), ("db", "closed -1 2 3 -")],
                Fault::Description,
            ),
            (
                vec![("_at", "1000"), ("db", "open 1 2 3 99999999999999999")],
                Fault::Description,
            ),
            (vec![("_at", "1000"), ("db", "")], Fault::Description),
        ] {
            let refused = check(1500, &fields(&pairs)).unwrap_err();
            assert_eq!(refused.fault, fault, "{pairs:?}");
        }
        let odd = vec![b"_at".to_vec()];
        assert_eq!(check(1500, &odd).unwrap_err().fault, Fault::Description);
        let not_utf8 = vec![
            b"_at".to_vec(),
            b"1000".to_vec(),
            vec![0xff],
            b"closed 1 2 3 -".to_vec(),
        ];
        assert_eq!(
            check(1500, &not_utf8).unwrap_err().fault,
            Fault::Description
        );
    }
}
