// The bucketed sliding-window Lua script: a few counters per client, never more than the limit in any window.
import {
  type BatchReplies,
  defineVariadicScript,
  type RedisCaller,
  type RedisClient,
} from '../redis/index.js';
import { createLimitScript, type LimitScript, LUA_BATCH, LUA_HEAD } from './limit-script.js';

/**
 * Each request's key: one client's buckets, a hash whose field `b * 8 + r` (b: bucket number, counted in
 * buckets of Redis time since the epoch; r: the rule's position from 0) holds the units rule r admitted in
 * bucket b. ARGV as {@link LUA_HEAD} says, with (windowMs, limit, bucketUs) per rule.
 *
 * A rule counts every bucket that overlaps its window (now - w, now], the oldest one whole: the counted span
 * always covers the window, so no window ever holds more than the limit, and it reaches back at most one
 * bucket further, which bounds how early it can refuse. A key's buckets are read once per batch and what the
 * batch admitted is added to them once, at its end: a client with many requests in one batch costs one read
 * and one write per rule.
 *
 * Reply: see {@link LUA_BATCH}.
 */
const LUA = `${LUA_HEAD}local rules = #spec / 3
local windows, limits, sizes, firsts = {}, {}, {}, {}
for r = 1, rules do
  windows[r] = spec[3 * r - 2] * 1000
  limits[r] = spec[3 * r - 1]
  sizes[r] = spec[3 * r]
  firsts[r] = math.floor((now - windows[r]) / sizes[r])
end
-- Each field's bucket and rule (r from 1), or nil for a field of a rule this limiter no longer has.
local function bucketOf(field)
  local f = tonumber(field)
  local r = f % 8 + 1
  if r > rules then return nil end
  return (f - r + 1) / 8, r
end
-- What the batch knows of each key: per rule the units its window holds and the oldest bucket holding some,
-- and the units it admitted into its current buckets, written by finish.
local states, changed = {}, {}
local function load(key)
  local fields = redis.call('HGETALL', key)
  local totals, oldest, stale = {}, {}, {}
  for r = 1, rules do totals[r] = 0 end
  for i = 1, #fields, 2 do
    local b, r = bucketOf(fields[i])
    if b == nil or b < firsts[r] then
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
  return { totals = totals, oldest = oldest, added = 0 }
end
-- The current bucket of each rule, its field, and how long the key must live once one of them opens: the
-- current bucket is counted until (current + 1) * size + window.
local currents, currentFields, ttl = {}, {}, 0
for r = 1, rules do
  currents[r] = math.floor(now / sizes[r])
  currentFields[r] = string.format('%d', currents[r] * 8 + r - 1)
  local left = (currents[r] + 1) * sizes[r] + windows[r] - now
  if left > ttl then ttl = left end
end
-- The live buckets of each rule, oldest first, with what this batch admitted: only a refusal that can ever
-- fit needs them.
local function bucketsOf(key, state)
  local fields = redis.call('HGETALL', key)
  local counts, order = {}, {}
  for i = 1, #fields, 2 do
    counts[fields[i]] = tonumber(fields[i + 1])
    order[#order + 1] = fields[i]
  end
  for r = 1, rules do
    local f = currentFields[r]
    if state.added > 0 then
      if counts[f] == nil then order[#order + 1] = f end
      counts[f] = (counts[f] or 0) + state.added
    end
  end
  local buckets = {}
  for r = 1, rules do buckets[r] = {} end
  for _, f in ipairs(order) do
    local b, r = bucketOf(f)
    if b ~= nil and b >= firsts[r] then buckets[r][#buckets[r] + 1] = { b, counts[f] } end
  end
  for r = 1, rules do table.sort(buckets[r], function(x, y) return x[1] < y[1] end) end
  return buckets
end
local function check(key, cost, record)
  local state = states[key]
  if state == nil then
    state = load(key)
    states[key] = state
  end
  local totals, oldest = state.totals, state.oldest
  local allowed = 1
  for r = 1, rules do
    if totals[r] + cost > limits[r] then allowed = 0 end
  end
  local added = 0
  if allowed == 1 and record and cost > 0 then
    for r = 1, rules do
      if oldest[r] == nil or currents[r] < oldest[r] then oldest[r] = currents[r] end
    end
    if state.added == 0 then changed[#changed + 1] = key end
    state.added = state.added + cost
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
        if buckets == nil then buckets = bucketsOf(key, state) end
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
  for r = 1, rules do totals[r] = totals[r] + added end
  return reply
end
-- Adds what the batch admitted to each key's current buckets. The expiry is a time fixed by the current
-- buckets: set when one of them opens, it stays right until the next.
local function finish()
  for _, key in ipairs(changed) do
    local units = states[key].added
    local opened = false
    for r = 1, rules do
      if redis.call('HINCRBY', key, currentFields[r], units) == units then opened = true end
    end
    if opened then redis.call('PEXPIREAT', key, string.format('%d', math.ceil((now + ttl) / 1000))) end
  end
end
${LUA_BATCH}`;

/** The script, defined once for the module; registered once per client by {@link createSlidingWindow}. */
export const SLIDING_WINDOW_SCRIPT = defineVariadicScript<BatchReplies<string>>({
  name: 'rlSlidingWindow',
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
  caller?: RedisCaller,
): LimitScript {
  const ruleNumbers: number[] = [];
  for (const rule of rules)
    ruleNumbers.push(rule.windowMs, rule.limit, bucketMicros(rule.windowMs, precision));
  return createLimitScript(
    client,
    { script: SLIDING_WINDOW_SCRIPT, ruleNumbers, rules: rules.length },
    caller,
  );
}
