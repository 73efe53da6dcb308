// Lua scripts of the response cache. Each touches keys of one hash slot only, so all run on Cluster.
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
 * Keeps a hash of members (entry hash -> expiry, Redis time) alive at least `ttl + margin` and samples a few
 * members, dropping those expired, once it holds more than 32, so a busy set does not grow without bound.
 * Times in ms.
 */
const TRACK_MEMBER = `local function trackMember(key, member, now, ttl, margin)
  redis.call('HSET', key, member, string.format('%.0f', now + ttl))
  if redis.call('PTTL', key) < ttl + margin then redis.call('PEXPIRE', key, ttl + margin) end
  if redis.call('HLEN', key) > 32 then
    local sample = redis.call('HRANDFIELD', key, 4, 'WITHVALUES')
    for i = 1, #sample, 2 do
      if sample[i] ~= '!' and tonumber(sample[i + 1]) + margin < now then redis.call('HDEL', key, sample[i]) end
    end
  end
end`;

/**
 * Stores a packed entry unless an invalidation newer than the render's start left a tombstone there (tags)
 * or bumped its URL's invalidation count (field '!' of the URL's variant set) since the render read it, and
 * releases the fill lock when we hold it. A variant or private-scope entry is listed in the URL's variant set,
 * so invalidating the URL finds it; the URL's plain entry needs no listing.
 * KEYS: entry, lock, URL variant set (all in the URL's slot). ARGV: packed entry, PX, start generation
 * (-1: no tags), lock token ('' = none), variant ('' = the plain entry), the URL's invalidation count read
 * when the render began, margin ms.
 * Returns 1 when stored, 0 when refused.
 */
export const ENTRY_PUT = defineScript<number>({
  name: 'erkCacheEntryPut',
  keys: 3,
  lua: `${TOMBSTONE_NEWER}
${TRACK_MEMBER}
local stored = 0
local count = redis.call('HGET', KEYS[3], '!') or '0'
if count == ARGV[6] and not tombstoneNewer(tonumber(ARGV[3])) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  stored = 1
  if ARGV[5] ~= '' then
    ${NOW_MS}
    trackMember(KEYS[3], ARGV[5], now, tonumber(ARGV[2]), tonumber(ARGV[7]))
  end
end
if ARGV[4] ~= '' and redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
return stored`,
});

/**
 * Invalidates every entry of one URL (RFC 9111 §4.4): its plain entry and each variant and private-scope
 * entry listed in its variant set, then bumps the URL's invalidation count so renders that began earlier
 * are not stored. Tombstones stay (they guard against renders older than a tag invalidation). The variant
 * entries are named from the set rather than passed in KEYS: they are not known before the set is read, and
 * they share the URL's hash tag, so they are in this slot on Cluster too.
 * KEYS: URL variant set, plain entry. ARGV: entry key prefix (the plain entry's key), retention PX.
 * Returns the number of entries removed.
 */
export const URL_INVALIDATE = defineScript<number>({
  name: 'erkCacheUrlInvalidate',
  keys: 2,
  lua: `local removed = 0
local function drop(key)
  local head = redis.call('GETRANGE', key, 0, 0)
  if head ~= '' and string.byte(head, 1) ~= 209 then
    if string.byte(head, 1) == 225 then removed = removed + 1 end
    redis.call('UNLINK', key)
  end
end
drop(KEYS[2])
local fields = redis.call('HKEYS', KEYS[1])
for _, field in ipairs(fields) do
  if field ~= '!' then drop(ARGV[1] .. field) end
end
local count = tonumber(redis.call('HGET', KEYS[1], '!') or '0') + 1
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '!', string.format('%.0f', count))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return removed`,
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
${TRACK_MEMBER}
${NOW_MS}
trackMember(KEYS[1], ARGV[1], now, tonumber(ARGV[2]), tonumber(ARGV[4]))
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
