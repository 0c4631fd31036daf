//! The Lua scripts the store runs in Redis: every read-modify-write of the
//! shared state is one script, so it is atomic, and every script reads
//! Redis' own clock. [`Scripts`] loads them, each with the shared prelude.

use ::redis::Script;

use super::fleet::FleetScripts;
use super::wire::EPOCH_SKEW;

// Every script reads Redis's own clock (TIME), so opened_at never depends on
// a process's clock, and the time left is measured where it is stored.
const CLOCK: &str = "
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
";

// How the scripts read what they hold: a number is digits only (the rule
// `wire::whole` follows), anything else is nil and never reaches arithmetic,
// so no junk in Redis makes a script fail. A hash a replica would refuse
// (`wire::check_hash`) counts as holding no state, so the next write repairs
// it instead of joining it. `skew_us` is `EPOCH_SKEW`; ARGV `longest` is the
// writer's longest open period, in ms.
const HELD: &str = "
local function num(s)
  if s and string.match(s, '^%d+$') then return tonumber(s) end
  return nil
end
local states = {closed = true, open = true, forced_open = true, disabled = true, metrics_only = true}
-- {state, epoch, left, period, junk}: 'none' for no state or a refused one.
local function held(h, longest)
  local cur, epoch = h[1], num(h[2])
  if not cur then return 'none', 0, 0, 0, false end
  if not states[cur] or not epoch or epoch > now_us + skew_us then return 'none', 0, 0, 0, true end
  if cur ~= 'open' then return cur, epoch, 0, 0, false end
  local at, period = num(h[3]), num(h[4])
  if not at or not period then return 'none', 0, 0, 0, true end
  local left = math.max(0, at + period - now)
  if period > longest or left > longest then return 'none', 0, 0, 0, true end
  return cur, epoch, left, period, false
end
";

// The hash as it is, with the clock: {now_ms, now_us, state, epoch,
// opened_at, period, reason}; the store checks it (`wire::check_hash`).
const READ: &str = "
local h = redis.call('HMGET', KEYS[1], 'state', 'epoch', 'opened_at', 'period', 'reason')
return {now, now_us, h[1], h[2], h[3], h[4], h[5]}
";

// Writes a transition unless the shared state overrules it; returns
// {written, now_ms, now_us, state, epoch, opened_at, period, reason} of the
// hash now held. KEYS: hash, trials, failures, channel.
// ARGV: state, remaining_ms, period_ms, reason, manual, seen_epoch, origin,
// name, longest_ms.
const PUBLISH: &str = "
local h = redis.call('HMGET', KEYS[1], 'state', 'epoch', 'opened_at', 'period', 'reason')
local cur, epoch, left, _, junk = held(h, tonumber(ARGV[9]))
local kept = {0, now, now_us, h[1], h[2], h[3], h[4], h[5]}
local state = ARGV[1]
if ARGV[5] ~= '1' and not junk then
  if state == 'open' and cur == 'open' and left > 0 then return kept end
  local newer = epoch > tonumber(ARGV[6])
  if newer and ((cur == 'open' and left > 0) or cur == 'forced_open' or cur == 'disabled') then
    return kept
  end
  if state == 'closed' and (cur == 'closed' or cur == 'none') then return kept end
end
local next_epoch = string.format('%.0f', math.max(epoch + 1, now_us))
local opened_at = string.format('%.0f', now - (tonumber(ARGV[3]) - tonumber(ARGV[2])))
redis.call('HSET', KEYS[1], 'state', state, 'epoch', next_epoch,
  'opened_at', opened_at, 'period', ARGV[3], 'reason', ARGV[4])
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('PUBLISH', KEYS[4], next_epoch .. '\\n' .. state .. '\\n' .. ARGV[2]
  .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[7] .. '\\n' .. string.len(ARGV[8]) .. '\\n' .. ARGV[8] .. ARGV[4])
return {1, now, now_us, state, next_epoch, opened_at, ARGV[3], ARGV[4]}
";

// The trial-permit counter is `generation:count`. A new counter (after a
// write DEL'd it, or it expired) starts a generation of Redis' clock in µs,
// so a permit goes back only to the count it was taken from
// (`store::permits`). Junk counts as no counter.
const PERMITS: &str = "
local function permits(v)
  if not v then return nil, 0 end
  local g, n = string.match(v, '^(%d+):(%d+)$')
  if not g then return nil, 0 end
  return g, tonumber(n)
end
";

// Takes a half-open trial permit if fewer than ARGV[1] are out; each taking
// extends the counter's life to ARGV[2] ms. Returns {1, generation}, or
// {0, ''} when ARGV[1] are out.
// KEYS: trials.
const ACQUIRE: &str = "
local g, n = permits(redis.call('GET', KEYS[1]))
if n >= tonumber(ARGV[1]) then return {0, ''} end
g = g or string.format('%.0f', now_us)
redis.call('SET', KEYS[1], g .. ':' .. string.format('%.0f', n + 1), 'PX', ARGV[2])
return {1, g}
";

// Gives back a permit taken from generation ARGV[1]: nothing when the
// counter is of another (a write cleared it since, or it expired); never
// below zero. KEYS: trials.
const RELEASE: &str = "
local g, n = permits(redis.call('GET', KEYS[1]))
if g ~= ARGV[1] or n == 0 then return 0 end
redis.call('SET', KEYS[1], g .. ':' .. string.format('%.0f', n - 1), 'KEEPTTL')
return 1
";

// Counts a failure in Closed; the failure that reaches the threshold opens the
// breaker for everyone. A counter that is not a number starts again, with its
// window. KEYS: hash, trials, failures, channel.
// ARGV: fail_max, window_ms, period_ms, name, longest_ms.
const FAILURE: &str = "
local h = redis.call('HMGET', KEYS[1], 'state', 'epoch', 'opened_at', 'period')
local cur, epoch = held(h, tonumber(ARGV[5]))
if cur ~= 'closed' and cur ~= 'none' then return 0 end
local counted = num(redis.call('GET', KEYS[3]))
local n = (counted or 0) + 1
local ttl = redis.call('PTTL', KEYS[3])
if not counted or ttl < 0 then ttl = ARGV[2] end
redis.call('SET', KEYS[3], string.format('%.0f', n), 'PX', ttl)
if n < tonumber(ARGV[1]) then return 0 end
local next_epoch = string.format('%.0f', math.max(epoch + 1, now_us))
local reason = n .. ' failures across replicas'
redis.call('HSET', KEYS[1], 'state', 'open', 'epoch', next_epoch,
  'opened_at', string.format('%.0f', now), 'period', ARGV[3], 'reason', reason)
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('PUBLISH', KEYS[4], next_epoch .. '\\nopen\\n' .. ARGV[3] .. '\\n'
  .. ARGV[3] .. '\\ncluster\\n' .. string.len(ARGV[4]) .. '\\n' .. ARGV[4] .. reason)
return 1
";

// Writes a breaker's reconfigured keys, the whole set, unless a change made
// later by Redis' clock is held (the latest change wins, a tie keeps what is
// held); the hash is rewritten whole, so junk in it is repaired by the next
// honest write.
// Returns {written, now_us}. KEYS: config hash, configs channel.
// ARGV: origin, name, at_us of the change (0: now), then key, value pairs.
const CONFIGURE: &str = "
local at = num(ARGV[3]) or 0
if at == 0 or at > now_us then at = now_us end
-- Junk held (another type, a time that is no time or from Redis' future,
-- as `configs::check` refuses it) is overwritten, never obeyed.
local held = 0
if redis.call('TYPE', KEYS[1])['ok'] == 'hash' then
  held = num(redis.call('HGET', KEYS[1], '_at')) or 0
  if held > now_us + skew_us then held = 0 end
  if held > 0 and at <= held then return {0, now_us} end
end
local stamp = string.format('%.0f', at)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '_at', stamp, '_origin', ARGV[1], unpack(ARGV, 4))
redis.call('PUBLISH', KEYS[2], stamp .. '\\n' .. ARGV[1] .. '\\n' .. ARGV[2])
return {1, now_us}
";

// One replica's own opening, under a quorum: counted among the replicas that
// opened the breaker within the window (one open period), and shared only if
// it completes the quorum. An Open or an operator's mode already held is
// joined or obeyed by the publish that follows, so it needs no quorum.
// Returns {reached, openings, replicas}. KEYS: hash, openings, replicas.
// ARGV: quorum, replica, window_ms, longest_ms.
const QUORUM: &str = "
local h = redis.call('HMGET', KEYS[1], 'state', 'epoch', 'opened_at', 'period')
local cur, _, left = held(h, tonumber(ARGV[4]))
if (cur == 'open' and left > 0) or cur == 'forced_open' or cur == 'disabled' then
  return {1, 0, 0}
end
-- Junk of another type is replaced, never a reason to fail.
for _, key in ipairs({KEYS[2], KEYS[3]}) do
  local kind = redis.call('TYPE', key)['ok']
  if kind ~= 'zset' and kind ~= 'none' then redis.call('DEL', key) end
end
redis.call('ZADD', KEYS[3], now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%.0f', now - tonumber(ARGV[3])))
redis.call('ZADD', KEYS[2], now, ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local openings = redis.call('ZCARD', KEYS[2])
local replicas = redis.call('ZCARD', KEYS[3])
if openings >= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[2])
  return {1, openings, replicas}
end
return {0, openings, replicas}
";

pub(super) struct Scripts {
    pub(super) configure: Script,
    pub(super) read: Script,
    pub(super) publish: Script,
    pub(super) acquire: Script,
    pub(super) release: Script,
    pub(super) failure: Script,
    pub(super) quorum: Script,
    pub(super) fleet: FleetScripts,
}

impl Scripts {
    pub(super) fn new() -> Scripts {
        let skew_us = EPOCH_SKEW.as_micros();
        let with = |prelude: &str, body: &str| {
            Script::new(&format!(
                "local skew_us = {skew_us}\n{CLOCK}{prelude}{body}"
            ))
        };
        let script = |body: &str| with(HELD, body);
        Scripts {
            configure: script(CONFIGURE),
            read: script(READ),
            publish: script(PUBLISH),
            acquire: with(PERMITS, ACQUIRE),
            release: with(PERMITS, RELEASE),
            failure: script(FAILURE),
            quorum: script(QUORUM),
            fleet: FleetScripts::new(),
        }
    }
}
