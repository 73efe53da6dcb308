// The Lua scripts of page-view tracking: batch flush, live summary, period salts and beacons.
import { defineScript, defineVariadicScript } from '../redis/index.js';

/**
 * Upper edges (exclusive) of the time-on-page histogram buckets, in ms: <5 s, <15 s, <30 s, <1 min, <3 min,
 * <10 min, <30 min and the last bucket for everything longer.
 */
export const TIME_ON_PAGE_BUCKET_EDGES_MS: readonly number[] = Object.freeze([
  5_000, 15_000, 30_000, 60_000, 180_000, 600_000, 1_800_000,
]);

/**
 * Applies one chunk of buffered counts, exactly once.
 *
 * KEYS[1] is this chunk's marker: `SET NX` on it makes a retried chunk (after a timeout whose command still
 * ran) a no-op. KEYS[2 .. 1+ARGV[2]] are markers of chunks whose success the caller has seen, deleted now so
 * at most one marker per instance lives between flushes. The remaining keys are data keys.
 * ARGV[1] is the marker TTL in ms, ARGV[2] the number of markers to delete, then groups of
 * `keyIndex, op, expireAtSeconds, count, items...` (keyIndex counts from the first data key) where op `h` = HINCRBY field/increment pairs,
 * `p` = PFADD elements, `P` = PFADD `count` elements of one length packed into one string, `s` = HSET
 * field/value pairs. Every touched key gets its EXPIREAT.
 * Returns 1 when applied, 0 when this chunk had been applied before.
 */
export const FLUSH_SCRIPT = defineVariadicScript<number>({
  name: 'pvFlush',
  lua: `
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
local nDelete = tonumber(ARGV[2])
for i = 2, 1 + nDelete do redis.call('DEL', KEYS[i]) end
local i = 3
local n = #ARGV
while i <= n do
  local key = KEYS[1 + nDelete + tonumber(ARGV[i])]
  local op = ARGV[i + 1]
  local expireAt = ARGV[i + 2]
  local count = tonumber(ARGV[i + 3])
  i = i + 4
  if op == 'P' then
    local packed = ARGV[i]
    local width = #packed / count
    local batch = {}
    for j = 0, count - 1 do
      batch[#batch + 1] = string.sub(packed, j * width + 1, (j + 1) * width)
      if #batch == 1000 then
        redis.call('PFADD', key, unpack(batch))
        batch = {}
      end
    end
    if #batch > 0 then redis.call('PFADD', key, unpack(batch)) end
    i = i + 1
  elseif op == 'p' then
    local last = i + count - 1
    local j = i
    while j <= last do
      local k = math.min(j + 999, last)
      redis.call('PFADD', key, unpack(ARGV, j, k))
      j = k + 1
    end
    i = i + count
  elseif op == 'h' then
    for j = i, i + 2 * count - 1, 2 do redis.call('HINCRBY', key, ARGV[j], ARGV[j + 1]) end
    i = i + 2 * count
  else
    for j = i, i + 2 * count - 1, 2 do redis.call('HSET', key, ARGV[j], ARGV[j + 1]) end
    i = i + 2 * count
  end
  redis.call('EXPIREAT', key, expireAt)
end
return 1
`,
});

/**
 * Computes the live summary over the last minutes and (when ARGV[2] names a channel) publishes it.
 *
 * KEYS[1..n] are per-minute visitor HyperLogLogs, KEYS[n+1..2n] per-minute route→views hashes.
 * ARGV[1] = n, ARGV[2] = channel or '', ARGV[3] = the summary object (JSON) to extend, ARGV[4] = how many
 * top routes to include, ARGV[5] = the window in ms. Returns the JSON it published.
 */
export const LIVE_SCRIPT = defineVariadicScript<string>({
  name: 'pvLive',
  lua: `
local n = tonumber(ARGV[1])
local visitors = redis.call('PFCOUNT', unpack(KEYS, 1, n))
local views = {}
local total = 0
for i = n + 1, 2 * n do
  local h = redis.call('HGETALL', KEYS[i])
  for j = 1, #h, 2 do
    local v = tonumber(h[j + 1])
    views[h[j]] = (views[h[j]] or 0) + v
    total = total + v
  end
end
local list = {}
for route, v in pairs(views) do list[#list + 1] = { route, v } end
table.sort(list, function(a, b) return a[2] > b[2] or (a[2] == b[2] and a[1] < b[1]) end)
local top = {}
for i = 1, math.min(#list, tonumber(ARGV[4])) do top[list[i][1]] = list[i][2] end
local summary = cjson.decode(ARGV[3])
summary.live = { windowMs = tonumber(ARGV[5]), visitors = visitors, views = total, routes = top }
local out = cjson.encode(summary)
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], out) end
return out
`,
});

/**
 * Returns the salt of a period, creating it from ARGV[1] (random bytes from the caller; Lua has no secure
 * randomness) when there is none. ARGV[2] = when the salt expires (unix ms): after its period, so visitor
 * hashes of different periods cannot be linked.
 */
export const SALT_SCRIPT = defineScript<string>({
  name: 'pvSalt',
  keys: 1,
  lua: `
local salt = redis.call('GET', KEYS[1])
if salt then return salt end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
return ARGV[1]
`,
});

/**
 * Stores one time-on-page beacon. Beacons carry the page's cumulative visible time and a sequence number;
 * KEYS[1] (the token's state `<seq>:<ms>`) makes each (token, seq) count once and turns later beacons of the
 * same view into increments: the view counts once in `n`, its time is added once, and its histogram bucket
 * moves as the time grows. KEYS[2..] are the time hashes of the view's periods.
 * ARGV: seq, ms (already clamped), token expiry (unix ms), route field prefix, then EXPIREAT seconds per hash.
 * Returns -1 for a replayed or stale beacon (nothing written), else the milliseconds added.
 */
export const BEACON_SCRIPT = defineVariadicScript<number>({
  name: 'pvBeacon',
  lua: `
local edges = { ${TIME_ON_PAGE_BUCKET_EDGES_MS.join(', ')} }
local function bucket(v)
  for i = 1, #edges do if v < edges[i] then return i - 1 end end
  return #edges
end
local seq = tonumber(ARGV[1])
local ms = tonumber(ARGV[2])
local prev = redis.call('GET', KEYS[1])
local prevMs = 0
if prev then
  local sep = string.find(prev, ':', 1, true)
  if seq <= tonumber(string.sub(prev, 1, sep - 1)) then return -1 end
  prevMs = tonumber(string.sub(prev, sep + 1))
  if ms < prevMs then ms = prevMs end
end
redis.call('SET', KEYS[1], seq .. ':' .. ms, 'PXAT', ARGV[3])
local route = ARGV[4]
local newBucket = bucket(ms)
local oldBucket = bucket(prevMs)
for i = 2, #KEYS do
  local key = KEYS[i]
  if prev then
    if ms > prevMs then redis.call('HINCRBY', key, route .. ' ms', ms - prevMs) end
    if oldBucket ~= newBucket then
      redis.call('HINCRBY', key, route .. ' b' .. oldBucket, -1)
      redis.call('HINCRBY', key, route .. ' b' .. newBucket, 1)
    end
  else
    redis.call('HINCRBY', key, route .. ' n', 1)
    if ms > 0 then redis.call('HINCRBY', key, route .. ' ms', ms) end
    redis.call('HINCRBY', key, route .. ' b' .. newBucket, 1)
  end
  redis.call('EXPIREAT', key, ARGV[3 + i])
end
return ms - prevMs
`,
});
