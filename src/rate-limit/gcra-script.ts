// The GCRA Lua script: one theoretical arrival time per rule, a steady rate with bounded bursts.
import {
  type BatchReplies,
  defineVariadicScript,
  type RedisCaller,
  type RedisClient,
} from '../redis/index.js';
import { createLimitScript, type LimitScript, LUA_BATCH, LUA_HEAD } from './limit-script.js';

/**
 * Each request's key: one client's hash, field r (the rule's position from 1) holding its theoretical arrival
 * time (TAT) in whole µs of Redis time. ARGV as {@link LUA_HEAD} says, with (windowMs, limit, burst) per rule.
 *
 * Each unit moves the TAT one emission interval (window / limit) further; a request is admitted when its
 * units fit within the burst tolerance (burst × interval) ahead of now. Arithmetic is done on the TAT's
 * distance from now, which stays small and precise; the stored TAT is rounded up to a whole µs, so the
 * limiter only ever errs on the strict side, by under 1 µs per request. A key's TATs are read once per batch
 * and written back once at its end, with the expiry: a client with many requests in one batch costs one read
 * and one write. Reply: see {@link LUA_BATCH}.
 */
const LUA = `${LUA_HEAD}local rules = #spec / 3
local fields, intervals, tolerances, bursts = {}, {}, {}, {}
for r = 1, rules do
  fields[r] = r
  intervals[r] = spec[3 * r - 2] * 1000 / spec[3 * r - 1]
  bursts[r] = spec[3 * r]
  tolerances[r] = bursts[r] * intervals[r]
end
-- The TATs of every key the batch touched (0: none stored), and the keys to write back, in order.
local tats, changed = {}, {}
local function check(key, cost, record)
  local tat = tats[key]
  if tat == nil then
    local stored = redis.call('HMGET', key, unpack(fields))
    tat = {}
    for r = 1, rules do tat[r] = tonumber(stored[r]) or 0 end
    tats[key] = tat
  end
  local allowed = 1
  for r = 1, rules do
    -- How far the TAT is ahead of now (0 once the client has been idle long enough to refill its burst).
    local d = math.max(0, tat[r] - now)
    if d + cost * intervals[r] > tolerances[r] then allowed = 0 end
  end
  local recorded = allowed == 1 and record and cost > 0
  if recorded and tat.changed == nil then
    tat.changed = true
    changed[#changed + 1] = key
  end
  local reply = { allowed, now }
  for r = 1, rules do
    local d = math.max(0, tat[r] - now)
    local retry = 0
    if recorded then
      d = math.ceil(d + cost * intervals[r])
      tat[r] = now + d
    elseif allowed == 0 and d + cost * intervals[r] > tolerances[r] then
      if cost > bursts[r] then
        retry = -1
      else
        retry = math.ceil((d + cost * intervals[r] - tolerances[r]) / 1000)
      end
    end
    reply[#reply + 1] = math.floor((tolerances[r] - d) / intervals[r] + 1e-9)
    reply[#reply + 1] = math.ceil(d / 1000)
    reply[#reply + 1] = retry
  end
  return reply
end
local function finish()
  for _, key in ipairs(changed) do
    local tat = tats[key]
    local values, latest = {}, 0
    for r = 1, rules do
      values[2 * r - 1] = r
      values[2 * r] = string.format('%d', tat[r])
      if tat[r] > latest then latest = tat[r] end
    end
    redis.call('HSET', key, unpack(values))
    -- Absolute expiry: the key lives exactly as long as its latest TAT is ahead.
    redis.call('PEXPIREAT', key, string.format('%d', math.ceil(latest / 1000)))
  end
end
${LUA_BATCH}`;

/** The script, defined once for the module; registered once per client by {@link createGcra}. */
export const GCRA_SCRIPT = defineVariadicScript<BatchReplies<string>>({ name: 'rlGcra', lua: LUA });

/** One rule as the script sees it. */
export interface GcraRule {
  readonly windowMs: number;
  readonly limit: number;
  readonly burst: number;
}

/** Registers the script on `client` and precomputes the arguments for `rules` (longest window first). */
export function createGcra(
  client: RedisClient,
  rules: readonly GcraRule[],
  caller?: RedisCaller,
): LimitScript {
  const ruleNumbers: number[] = [];
  for (const rule of rules) ruleNumbers.push(rule.windowMs, rule.limit, rule.burst);
  return createLimitScript(client, { script: GCRA_SCRIPT, ruleNumbers, rules: rules.length }, caller);
}
