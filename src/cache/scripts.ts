// Lua scripts of the response cache. Each touches one key, or two keys sharing a hash tag, so all run on Cluster.
import { defineScript } from '../redis/index.js';

/*
 * Shared facts (see entry.ts): a value under an entry key starts with byte 0xE1 (entry), 0xD1 (tombstone,
 * followed by the invalidation generation in ASCII) or 0xC1 (hit-for-miss marker). Generations are integers
 * in milliseconds, below 2^53, written with %.0f so Lua never prints them in exponent form.
 */

/** Current Redis time in ms (Lua numbers are doubles: exact at this size). */
const NOW_MS =
  "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)";

/** True when the value at KEYS[1] is a tombstone newer than generation `g0` (g0 < 0: ignore tombstones). */
const TOMBSTONE_NEWER =
  "local function tombstoneNewer(g0) if g0 < 0 then return false end local head = redis.call('GETRANGE', KEYS[1], 0, 24) return string.byte(head, 1) == 209 and tonumber(string.sub(head, 2)) > g0 end";

/**
 * Stores a packed entry unless an invalidation newer than the render's start generation left a tombstone
 * there, and releases the fill lock when we hold it.
 * KEYS: entry, lock. ARGV: packed entry, PX, start generation (-1: no tags), lock token ('' = none).
 * Returns 1 when stored, 0 when refused.
 */
export const ENTRY_PUT = defineScript<number>({
  name: 'erkCacheEntryPut',
  keys: 2,
  lua: `${TOMBSTONE_NEWER}
local stored = 0
if not tombstoneNewer(tonumber(ARGV[3])) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  stored = 1
end
if ARGV[4] ~= '' and redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
return stored`,
});

/**
 * Releases the fill lock if we still hold it, and optionally leaves a hit-for-miss marker where no value is.
 * KEYS: lock, entry. ARGV: lock token, marker ('' = none), marker PX.
 */
export const LOCK_RELEASE = defineScript<number>({
  name: 'erkCacheLockRelease',
  keys: 2,
  lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3], 'NX') end
return 1`,
});

/**
 * Adds an entry to a tag set unless the tag was invalidated after the render began. The set is a hash
 * (entry hash -> its expiry, Redis time), its TTL is raised to cover the new entry plus a margin, so it never
 * expires before an entry it lists; a few random members are sampled and dropped once expired, so a busy tag
 * does not grow without bound.
 * KEYS: tag set, invalidation record. ARGV: entry hash, entry PX, start generation, margin ms.
 * Returns 1 when added, 0 when the tag was invalidated meanwhile.
 */
export const TAG_ADD = defineScript<number>({
  name: 'erkCacheTagAdd',
  keys: 2,
  lua: `local inv = redis.call('GET', KEYS[2])
if inv and tonumber(inv) > tonumber(ARGV[3]) then return 0 end
${NOW_MS}
local ttl = tonumber(ARGV[2])
local margin = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], string.format('%.0f', now + ttl))
if redis.call('PTTL', KEYS[1]) < ttl + margin then redis.call('PEXPIRE', KEYS[1], ttl + margin) end
if redis.call('HLEN', KEYS[1]) > 32 then
  local sample = redis.call('HRANDFIELD', KEYS[1], 4, 'WITHVALUES')
  for i = 1, #sample, 2 do
    if tonumber(sample[i + 1]) + margin < now then redis.call('HDEL', KEYS[1], sample[i]) end
  end
end
return 1`,
});

/**
 * Starts an invalidation: the cache's generation becomes max(previous + 1, Redis time in ms), so it only
 * grows, even if the key was lost. KEYS: generation. ARGV: retention PX. Returns the new generation.
 */
export const GENERATION_BUMP = defineScript<string>({
  name: 'erkCacheGenerationBump',
  keys: 1,
  lua: `${NOW_MS}
local previous = tonumber(redis.call('GET', KEYS[1]) or '0')
local gen = string.format('%.0f', math.max(previous + 1, now))
redis.call('SET', KEYS[1], gen, 'PX', ARGV[1])
return gen`,
});

/**
 * Invalidates one tag: records the generation (so renders that began earlier cannot add to it any more),
 * and removes and returns the set's members. KEYS: tag set, invalidation record. ARGV: generation, retention PX.
 */
export const TAG_INVALIDATE = defineScript<string[]>({
  name: 'erkCacheTagInvalidate',
  keys: 2,
  lua: `local previous = redis.call('GET', KEYS[2])
local gen = ARGV[1]
if previous and tonumber(previous) > tonumber(gen) then gen = previous end
redis.call('SET', KEYS[2], gen, 'PX', ARGV[2])
local members = redis.call('HKEYS', KEYS[1])
redis.call('UNLINK', KEYS[1])
return members`,
});

/**
 * Replaces an entry with a tombstone of the invalidation's generation: the entry is gone for readers, and a
 * render that began before the invalidation cannot store over it. KEYS: entry. ARGV: generation, retention PX.
 */
export const ENTRY_TOMBSTONE = defineScript<number>({
  name: 'erkCacheEntryTombstone',
  keys: 1,
  lua: `local head = redis.call('GETRANGE', KEYS[1], 0, 24)
if string.byte(head, 1) == 209 and tonumber(string.sub(head, 2)) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], '\\209' .. ARGV[1], 'PX', ARGV[2])
return 1`,
});

/** Deletes an entry key for clear(), keeping tombstones (they guard against racing renders). KEYS: entry. */
export const ENTRY_DROP = defineScript<number>({
  name: 'erkCacheEntryDrop',
  keys: 1,
  lua: `local head = redis.call('GETRANGE', KEYS[1], 0, 0)
if string.byte(head, 1) == 209 then return 0 end
return redis.call('UNLINK', KEYS[1])`,
});
