/**
 * The Lua scripts of the Redis lease store. Each runs atomically on the server, so a check and
 * the write it guards can never be split by another client (the classic "SET NX PX, then extend
 * or delete only if the token matches").
 *
 * Keys (one hash tag, so they share a cluster slot): the lease key `<prefix>k:<id>` holds the
 * token as a string with a PX expiry (Redis itself ends the lease); `<prefix>info` maps id to
 * "token|ttlMs|generated|[holder,metadataJson]"; `<prefix>deadlines` is a sorted set of id by
 * deadline (server ms), swept to report expiries, so an expiry is reported even if no store was
 * running at the moment it happened (keyspace notifications would be lost); `<prefix>fence` is
 * the INCR counter that hands out fencing tokens. A token is never below the server's time in
 * microseconds (ms x 1000), so tokens keep growing even if Redis restarts with its data lost, as
 * long as its clock does not go back and grants stay under 1000 a millisecond.
 *
 * Times are the server's (`TIME`), so clients' clocks never matter.
 */

const NOW = `local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: lease key, info, deadlines, fence. ARGV: id, ttlMs, generated (0/1), tail JSON.
 * Returns {0} when held, else {1, token, claimedInfo or '', claimedLateMs or ''}: a previous
 * lease of this id that expired but was not swept yet is claimed here, so its event is not lost. */
export const GRANT = `${NOW}
if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
local old = redis.call('HGET', KEYS[2], ARGV[1])
local late = ''
if old then
  local score = redis.call('ZSCORE', KEYS[3], ARGV[1])
  if score then late = string.format('%d', now - tonumber(score)) end
  redis.call('ZREM', KEYS[3], ARGV[1])
else
  old = ''
end
local n = redis.call('INCR', KEYS[4])
local floor = now * 1000
if n < floor then
  n = floor
  redis.call('SET', KEYS[4], string.format('%d', n))
end
local token = string.format('%d', n)
redis.call('SET', KEYS[1], token, 'NX', 'PX', ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], token .. '|' .. ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[4])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[1])
return {1, token, old, late}`;

/** KEYS: lease key, info, deadlines. ARGV: id, token or ''. Returns {0} not found, {-1, current}
 * token mismatch, {1, info} kept alive. */
export const KEEPALIVE = `${NOW}
local v = redis.call('GET', KEYS[1])
if not v then return {0} end
if ARGV[2] ~= '' and v ~= ARGV[2] then return {-1, v} end
local info = redis.call('HGET', KEYS[2], ARGV[1])
if not info then return {0} end
local ttl = tonumber(string.match(info, '^%d+|(%d+)|'))
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[3], now + ttl, ARGV[1])
return {1, info}`;

/** KEYS: lease key, info, deadlines. ARGV: id, token or ''. Same answers as KEEPALIVE. */
export const REVOKE = `
local v = redis.call('GET', KEYS[1])
if not v then return {0} end
if ARGV[2] ~= '' and v ~= ARGV[2] then return {-1, v} end
local info = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if not info then return {0} end
return {1, info}`;

/** KEYS: lease key, info. ARGV: id. Returns {0} or {1, info, pttl}. */
export const GET = `
local v = redis.call('GET', KEYS[1])
if not v then return {0} end
local info = redis.call('HGET', KEYS[2], ARGV[1])
if not info then return {0} end
return {1, info, redis.call('PTTL', KEYS[1])}`;

/** KEYS: deadlines, info. ARGV: batch size, lease key prefix. Claims up to a batch of leases past
 * their deadline whose key is gone; returns a flat list id, info, lateMs, ... */
export const SWEEP = `${NOW}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, id in ipairs(due) do
  local key = ARGV[2] .. id
  local pttl = redis.call('PTTL', key)
  if pttl > 0 then
    redis.call('ZADD', KEYS[1], now + pttl, id)
  else
    local score = redis.call('ZSCORE', KEYS[1], id)
    redis.call('ZREM', KEYS[1], id)
    local info = redis.call('HGET', KEYS[2], id)
    redis.call('HDEL', KEYS[2], id)
    if pttl == -1 then redis.call('DEL', key) end
    table.insert(out, id)
    table.insert(out, info or '')
    table.insert(out, string.format('%d', now - tonumber(score)))
  end
end
return out`;
