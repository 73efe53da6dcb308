// The Lua scripts of the sessions middleware: each is one atomic step on one hash slot.
import {
  type BatchReplies,
  defineScript,
  defineVariadicScript,
  RETURN_BATCH_REPLIES,
} from '../redis/index.js';

/*
 * A session is a hash: one field per top-level data key (JSON value) plus meta fields that start with `@`:
 * `@c` created (ms), `@a` absolute deadline (ms), `@s` last seen (ms), and for signed-in sessions `@u` user id,
 * `@ua` user agent, `@ip` client IP, `@b` the binding fingerprint when `bind` is on, and `@m` the session's own
 * lifetime when the app set one (remember me: ms of inactivity it survives; '0' = a browser-session cookie that
 * keeps the default idle timeout). A data key that itself
 * starts with `@` is stored with one more `@` in front, so data can never overwrite meta.
 *
 * Times come from Redis TIME so every app instance agrees. The key's TTL is min(last touch + idle, absolute
 * deadline): Redis itself ends idle and absolute sessions. A user's index is a sorted set of session handles
 * scored by their absolute deadline; it lives under the same hash tag as the user's sessions.
 */

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function ms(n) return string.format('%.0f', n) end`;

/** HSET of ARGV[from..to] (field/value pairs) in chunks, so a large session never exceeds Lua's stack. */
const HSET_RANGE = `local function hsetRange(key, from, to)
  for i = from, to, 2000 do
    redis.call('HSET', key, unpack(ARGV, i, math.min(i + 1999, to)))
  end
end`;

/** The common prefix of a user's keys, from the index key `<prefix>{<tag>}:index`. */
const BASE_OF_INDEX = `local function baseOf(index) return string.sub(index, 1, -6) end`;

/**
 * Loads sessions and slides their idle timeout (each one's own `@m` lifetime when it has one): the reads of one
 * turn of the event loop in one call (see `ScriptBatcher`). KEYS: one session per read. ARGV: idle ms,
 * touchAfter ms. Replies, one per read: null when the session does not exist (or is past its absolute
 * deadline), else `{ttlMs, touched (0|1), {field, value, ...}}`.
 */
export const SESSION_READ = defineVariadicScript<BatchReplies<[number, number, string[]] | null>>({
  name: 'sessRead',
  lua: `${NOW}
local idle, touchAfter = tonumber(ARGV[1]), tonumber(ARGV[2])
local function read(key)
  local fields = redis.call('HGETALL', key)
  if #fields == 0 then return cjson.null end
  local abs, seen, life
  for i = 1, #fields, 2 do
    local f = fields[i]
    if f == '@a' then abs = tonumber(fields[i + 1])
    elseif f == '@s' then seen = tonumber(fields[i + 1])
    elseif f == '@m' then life = tonumber(fields[i + 1]) end
  end
  if abs == nil or abs <= now then
    redis.call('DEL', key)
    return cjson.null
  end
  if seen == nil or now - seen >= touchAfter then
    local lifetime = idle
    if life ~= nil and life > 0 then lifetime = life end
    local expires = math.min(now + lifetime, abs)
    redis.call('PEXPIREAT', key, ms(expires))
    redis.call('HSET', key, '@s', ms(now))
    return {expires - now, 1, fields}
  end
  return {redis.call('PTTL', key), 0, fields}
end
local replies = {}
for i = 1, #KEYS do replies[i] = read(KEYS[i]) end
${RETURN_BATCH_REPLIES}`,
});

/**
 * Creates an anonymous session; never overwrites an existing key.
 * KEYS: session. ARGV: idle ms, absolute ms, created (0 = now), absolute deadline (0 = now + absolute),
 * then field/value pairs.
 * Returns nil when the key exists, else `{ttlMs, created, absoluteDeadline}`.
 */
export const SESSION_CREATE = defineScript<[number, number, number] | null>({
  name: 'sessCreate',
  keys: 1,
  lua: `${NOW}
${HSET_RANGE}
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local created = tonumber(ARGV[3])
if created == 0 then created = now end
local abs = tonumber(ARGV[4])
if abs == 0 then abs = now + tonumber(ARGV[2]) end
if abs <= now then return false end
local expires = math.min(now + tonumber(ARGV[1]), abs)
if #ARGV > 4 then hsetRange(KEYS[1], 5, #ARGV) end
redis.call('HSET', KEYS[1], '@c', ms(created), '@a', ms(abs), '@s', ms(now))
redis.call('PEXPIREAT', KEYS[1], ms(expires))
return {expires - now, created, abs}`,
});

/**
 * Writes the changed fields of sessions, each only if it still exists: a request that finishes after a sign-out
 * or a revocation cannot bring the session back. The TTL is left alone (the read of the same request slid it,
 * and the cookie already says so) unless the request changed the session's lifetime or touched it: then the
 * expiry is set anew from now. The writes of one turn of the event loop go in one call (see `ScriptBatcher`),
 * applied in order.
 * KEYS: one session per write. ARGV, per write: new idle ms (0 = leave the TTL alone), number of pairs n,
 * number of deletions d, n field/value pairs, d fields to delete.
 * Replies, one per write: 1 when written, 0 when the session is gone.
 */
export const SESSION_UPDATE = defineVariadicScript<BatchReplies<number>>({
  name: 'sessUpdate',
  lua: `${NOW}
${HSET_RANGE}
local function update(key, at)
  local idle, pairs, deletions = tonumber(ARGV[at]), tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  local first = at + 3
  local lastPair = first + 2 * pairs - 1
  local last = lastPair + deletions
  if redis.call('EXISTS', key) == 0 then return 0, last + 1 end
  if pairs > 0 then hsetRange(key, first, lastPair) end
  for i = lastPair + 1, last, 2000 do
    redis.call('HDEL', key, unpack(ARGV, i, math.min(i + 1999, last)))
  end
  if idle > 0 then
    local abs = tonumber(redis.call('HGET', key, '@a'))
    redis.call('PEXPIREAT', key, ms(math.min(now + idle, abs)))
    redis.call('HSET', key, '@s', ms(now))
  end
  return 1, last + 1
end
local replies, at = {}, 1
for i = 1, #KEYS do replies[i], at = update(KEYS[i], at) end
${RETURN_BATCH_REPLIES}`,
});

/**
 * Creates a signed-in session in its user's slot and adds it to the user's index; optionally ends the
 * session it replaces (same slot) and evicts the user's oldest sessions beyond a limit.
 * KEYS: new session, user index, old session (same slot; ignored when ARGV[7] is 0).
 * ARGV: idle ms, absolute ms, created (0 = now), absolute deadline (0 = now + absolute), max sessions (0 = no
 * limit), new handle, end old (0 = no, 1 = yes, 2 = yes and it must exist), old handle, then field/value pairs.
 * Returns `{ttlMs, created, absoluteDeadline}`, 0 when the old session had to exist and does not, 1 when the
 * new key is taken.
 */
export const SESSION_JOIN = defineScript<[number, number, number] | 0 | 1>({
  name: 'sessJoin',
  keys: 3,
  lua: `${NOW}
${HSET_RANGE}
${BASE_OF_INDEX}
local endOld = tonumber(ARGV[7])
if endOld > 0 then
  local existed = redis.call('DEL', KEYS[3])
  redis.call('ZREM', KEYS[2], ARGV[8])
  if endOld == 2 and existed == 0 then return 0 end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
local created = tonumber(ARGV[3])
if created == 0 then created = now end
local abs = tonumber(ARGV[4])
if abs == 0 then abs = now + tonumber(ARGV[2]) end
if abs <= now then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ms(now))
local max = tonumber(ARGV[5])
if max > 0 then
  local base = baseOf(KEYS[2])
  local live = {}
  for _, member in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    if redis.call('EXISTS', base .. member) == 1 then
      live[#live + 1] = member
    else
      redis.call('ZREM', KEYS[2], member)
    end
  end
  local i = 1
  while #live - i + 1 >= max do
    redis.call('DEL', base .. live[i])
    redis.call('ZREM', KEYS[2], live[i])
    i = i + 1
  end
end
local expires = math.min(now + tonumber(ARGV[1]), abs)
if #ARGV > 8 then hsetRange(KEYS[1], 9, #ARGV) end
redis.call('HSET', KEYS[1], '@c', ms(created), '@a', ms(abs), '@s', ms(now))
redis.call('PEXPIREAT', KEYS[1], ms(expires))
redis.call('ZADD', KEYS[2], ms(abs), ARGV[6])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], last[2])
return {expires - now, created, abs}`,
});

/**
 * Ends one signed-in session and removes it from its user's index.
 * KEYS: session, user index. ARGV: handle, user id (when not empty, the session must belong to that user).
 * Returns 1 when a session was ended, 0 otherwise.
 */
export const SESSION_END = defineScript<number>({
  name: 'sessEnd',
  keys: 2,
  lua: `if ARGV[2] ~= '' then
  local owner = redis.call('HGET', KEYS[1], '@u')
  if owner ~= ARGV[2] then
    if owner == false then redis.call('ZREM', KEYS[2], ARGV[1]) end
    return 0
  end
end
local n = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return n`,
});

/**
 * Lists a user's live sessions and prunes index entries whose session has ended. The session keys are built
 * from the index key, so they share its hash tag and slot (Cluster serves the script from one node).
 * KEYS: user index. ARGV: user id.
 * Returns `{now, handle, created, lastSeen, userAgent, ip, ttlMs, ...}`.
 */
export const SESSION_LIST = defineScript<(string | number | null)[]>({
  name: 'sessList',
  keys: 1,
  lua: `${NOW}
${BASE_OF_INDEX}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms(now))
local base = baseOf(KEYS[1])
local out = {now}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = base .. member
  local v = redis.call('HMGET', key, '@u', '@c', '@s', '@ua', '@ip')
  if v[1] == false then
    redis.call('ZREM', KEYS[1], member)
  elseif v[1] == ARGV[1] then
    local ttl = redis.call('PTTL', key)
    out[#out + 1] = member
    out[#out + 1] = v[2]
    out[#out + 1] = v[3]
    out[#out + 1] = v[4]
    out[#out + 1] = v[5]
    out[#out + 1] = ttl
  end
end
return out`,
});

/**
 * Ends every session of a user except one, atomically, and empties the index accordingly.
 * KEYS: user index. ARGV: user id, handle to keep ('' for none).
 * Returns how many sessions were ended.
 */
export const SESSION_END_ALL = defineScript<number>({
  name: 'sessEndAll',
  keys: 1,
  lua: `${BASE_OF_INDEX}
local base = baseOf(KEYS[1])
local ended = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if member ~= ARGV[2] then
    local key = base .. member
    local owner = redis.call('HGET', key, '@u')
    if owner == ARGV[1] then
      ended = ended + redis.call('DEL', key)
      redis.call('ZREM', KEYS[1], member)
    elseif owner == false then
      redis.call('ZREM', KEYS[1], member)
    end
  end
end
return ended`,
});
