// The bucketed sliding-window Lua script: a few counters per client, never more than the limit in any window.
import { defineScript, type RedisClient } from '../redis/index.js';
import { type ClockedScript, createClockedScript, LUA_NOW } from './clocked-script.js';
import { LUA_ARGS, LUA_REPLY } from './limit-script.js';

/**
 * KEYS[1]: one client's buckets, a hash whose field `b * 8 + r` (b: bucket number, counted in buckets of
 * Redis time since the epoch; r: the rule's position from 0) holds the units rule r admitted in bucket b.
 * ARGV as {@link LUA_ARGS} says, with (windowMs, limit, bucketUs) per rule, and ARGV[4] as {@link LUA_NOW} says.
 *
 * A rule counts every bucket that overlaps its window (now - w, now], the oldest one whole: the counted span
 * always covers the window, so no window ever holds more than the limit, and it reaches back at most one
 * bucket further, which bounds how early it can refuse.
 *
 * Reply: see {@link LUA_REPLY}.
 */
const LUA = `${LUA_ARGS}${LUA_NOW}local rules = #spec / 3
local windows, limits, sizes, firsts, totals, oldest = {}, {}, {}, {}, {}, {}
for r = 1, rules do
  windows[r] = spec[3 * r - 2] * 1000
  limits[r] = spec[3 * r - 1]
  sizes[r] = spec[3 * r]
  firsts[r] = math.floor((now - windows[r]) / sizes[r])
  totals[r] = 0
end
local fields = redis.call('HGETALL', key)
local stale = {}
for i = 1, #fields, 2 do
  local f = tonumber(fields[i])
  local r = f % 8 + 1
  local b = (f - r + 1) / 8
  if r > rules or b < firsts[r] then
    stale[#stale + 1] = fields[i]
  else
    totals[r] = totals[r] + tonumber(fields[i + 1])
    if oldest[r] == nil or b < oldest[r] then oldest[r] = b end
  end
end
-- Buckets that left every window go now, in slices that stay within Lua's stack.
for i = 1, #stale, 500 do
  redis.call('HDEL', key, unpack(stale, i, math.min(i + 499, #stale)))
end
local allowed = 1
for r = 1, rules do
  if totals[r] + cost > limits[r] then allowed = 0 end
end
local added = 0
if allowed == 1 and record and cost > 0 then
  local ttl = 0
  local opened = false
  for r = 1, rules do
    local current = math.floor(now / sizes[r])
    if redis.call('HINCRBY', key, string.format('%d', current * 8 + r - 1), cost) == cost then opened = true end
    -- The current bucket is counted until (current + 1) * size + window.
    local left = (current + 1) * sizes[r] + windows[r] - now
    if left > ttl then ttl = left end
    if oldest[r] == nil or current < oldest[r] then oldest[r] = current end
  end
  -- The expiry is a time fixed by the current buckets: set when one of them opens, it stays right until the next.
  if opened then redis.call('PEXPIREAT', key, string.format('%d', math.ceil((now + ttl) / 1000))) end
  added = cost
end
local buckets = nil
local reply = { allowed, now }
for r = 1, rules do
  local n = totals[r] + added
  local reset = 0
  if n > 0 then reset = (oldest[r] + 1) * sizes[r] + windows[r] - now end
  local retry = 0
  if allowed == 0 and totals[r] + cost > limits[r] then
    if cost > limits[r] then
      retry = -1
    else
      if buckets == nil then
        buckets = {}
        for q = 1, rules do buckets[q] = {} end
        for i = 1, #fields, 2 do
          local f = tonumber(fields[i])
          local q = f % 8 + 1
          local b = (f - q + 1) / 8
          if q <= rules and b >= firsts[q] then
            buckets[q][#buckets[q] + 1] = { b, tonumber(fields[i + 1]) }
          end
        end
        for q = 1, rules do table.sort(buckets[q], function(x, y) return x[1] < y[1] end) end
      end
      -- The request fits once the oldest buckets holding this many units have left the window.
      local need = totals[r] + cost - limits[r]
      local freed = 0
      for _, bucket in ipairs(buckets[r]) do
        freed = freed + bucket[2]
        if freed >= need then
          retry = math.ceil(((bucket[1] + 1) * sizes[r] + windows[r] - now) / 1000)
          break
        end
      end
    end
  end
  reply[#reply + 1] = limits[r] - n
  reply[#reply + 1] = math.ceil(reset / 1000)
  reply[#reply + 1] = retry
end
${LUA_REPLY}`;

/** The script, defined once for the module; registered once per client by {@link createSlidingWindow}. */
export const SLIDING_WINDOW_SCRIPT = defineScript<string>({
  name: 'rlSlidingWindow',
  keys: 1,
  lua: LUA,
});

/** One rule as the script sees it. */
export interface WindowRule {
  readonly windowMs: number;
  readonly limit: number;
}

/** The bucket length of a rule in µs: rounded up, so `precision` buckets always cover the window. */
export function bucketMicros(windowMs: number, precision: number): number {
  return Math.ceil((windowMs * 1000) / precision);
}

/** Registers the script on `client` and precomputes the arguments for `rules` (longest window first). */
export function createSlidingWindow(
  client: RedisClient,
  rules: readonly WindowRule[],
  precision: number,
): ClockedScript {
  const ruleArgs: number[] = [];
  for (const rule of rules) ruleArgs.push(rule.windowMs, rule.limit, bucketMicros(rule.windowMs, precision));
  return createClockedScript(client, SLIDING_WINDOW_SCRIPT, ruleArgs, rules.length);
}
