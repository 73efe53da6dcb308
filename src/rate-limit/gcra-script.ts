// The GCRA Lua script: one theoretical arrival time per rule, a steady rate with bounded bursts.
import { defineScript, type RedisClient } from '../redis/index.js';
import { type ClockedScript, createClockedScript, LUA_NOW } from './clocked-script.js';
import { LUA_ARGS, LUA_REPLY } from './limit-script.js';

/**
 * KEYS[1]: one client's hash, field r (the rule's position from 1) holding its theoretical arrival time
 * (TAT) in whole µs of Redis time. ARGV as {@link LUA_ARGS} says, with (windowMs, limit, burst) per rule, and
 * ARGV[4] as {@link LUA_NOW} says.
 *
 * Each unit moves the TAT one emission interval (window / limit) further; a request is admitted when its
 * units fit within the burst tolerance (burst × interval) ahead of now. Arithmetic is done on the TAT's
 * distance from now, which stays small and precise; the stored TAT is rounded up to a whole µs, so the
 * limiter only ever errs on the strict side, by under 1 µs per request.
 * Reply: see {@link LUA_REPLY}.
 */
const LUA = `${LUA_ARGS}${LUA_NOW}local rules = #spec / 3
local names = {}
for r = 1, rules do names[r] = r end
local stored = redis.call('HMGET', key, unpack(names))
local intervals, tolerances, bursts, ahead = {}, {}, {}, {}
local allowed = 1
for r = 1, rules do
  local window = spec[3 * r - 2] * 1000
  local interval = window / spec[3 * r - 1]
  bursts[r] = spec[3 * r]
  intervals[r] = interval
  tolerances[r] = bursts[r] * interval
  -- How far the TAT is ahead of now (0 once the client has been idle long enough to refill its burst).
  local tat = tonumber(stored[r])
  local d = 0
  if tat ~= nil and tat > now then d = tat - now end
  ahead[r] = d
  if d + cost * interval > tolerances[r] then allowed = 0 end
end
local recorded = allowed == 1 and record and cost > 0
local reply = { allowed, now }
local ttl = 0
for r = 1, rules do
  local d = ahead[r]
  local retry = 0
  if allowed == 1 then
    if recorded then
      d = math.ceil(d + cost * intervals[r])
      redis.call('HSET', key, r, string.format('%d', now + d))
      if d > ttl then ttl = d end
    end
  elseif d + cost * intervals[r] > tolerances[r] then
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
-- Absolute expiry from the decision's time: the key lives exactly as long as its TAT is ahead.
if ttl > 0 then redis.call('PEXPIREAT', key, string.format('%d', math.ceil((now + ttl) / 1000))) end
${LUA_REPLY}`;

/** The script, defined once for the module; registered once per client by {@link createGcra}. */
export const GCRA_SCRIPT = defineScript<string>({ name: 'rlGcra', keys: 1, lua: LUA });

/** One rule as the script sees it. */
export interface GcraRule {
  readonly windowMs: number;
  readonly limit: number;
  readonly burst: number;
}

/** Registers the script on `client` and precomputes the arguments for `rules` (longest window first). */
export function createGcra(client: RedisClient, rules: readonly GcraRule[]): ClockedScript {
  const ruleArgs: number[] = [];
  for (const rule of rules) ruleArgs.push(rule.windowMs, rule.limit, rule.burst);
  return createClockedScript(client, GCRA_SCRIPT, ruleArgs, rules.length);
}
