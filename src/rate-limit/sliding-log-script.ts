// The sliding-log Lua script: one atomic round trip that checks every rule of a limiter and records on all or none.
import {
  type BatchReplies,
  defineVariadicScript,
  type RedisCaller,
  type RedisClient,
} from '../redis/index.js';
import { createLimitScript, type LimitScript, LUA_BATCH, LUA_HEAD } from './limit-script.js';

/**
 * Each request's key: one client's log, a sorted set of admitted units scored by Redis time in microseconds.
 * ARGV as {@link LUA_HEAD} says, with (windowMs, limit) per rule, the longest window first: it alone decides
 * what the log keeps, and the shorter windows are counted inside it. Reply: see {@link LUA_BATCH}.
 *
 * A unit's member is `now` and a sequence number counted over the whole batch, so the units of one batch,
 * all recorded at one `now`, never collide.
 */
const LUA = `${LUA_HEAD}local rules = #spec / 2
local windows, limits = {}, {}
for i = 1, rules do
  windows[i] = spec[2 * i - 1] * 1000
  limits[i] = spec[2 * i]
end
local seq = 0
local function check(key, cost, record)
  local counts = {}
  -- The window is (now - w, now]: a unit scored exactly now - w has left it. The log is trimmed only when its
  -- oldest unit has left the longest window (one cheap read instead of a trim per request), and that oldest
  -- unit is also what the longest rule's reset needs.
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]
  if oldest ~= nil and tonumber(oldest) <= now - windows[1] then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - windows[1])
    oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]
  end
  local total = 0
  if oldest ~= nil then
    oldest = tonumber(oldest)
    total = redis.call('ZCARD', key)
  end
  local allowed = 1
  for i = 1, rules do
    local n = total
    if i > 1 then n = redis.call('ZCOUNT', key, '(' .. string.format('%d', now - windows[i]), '+inf') end
    counts[i] = n
    if n + cost > limits[i] then allowed = 0 end
  end
  local added = 0
  if allowed == 1 and record and cost > 0 then
    -- Every unit gets its own member, even at equal timestamps: ZADD NX refuses a member that already
    -- exists (possible only if the clock stepped back), and the next sequence number is tried instead.
    for _ = 1, cost do
      repeat
        seq = seq + 1
      until redis.call('ZADD', key, 'NX', now, nowText .. string.format('%03d', seq)) == 1
    end
    redis.call('PEXPIRE', key, spec[1])
    added = cost
    total = total + cost
  end
  local reply = { allowed, now }
  for i = 1, rules do
    local before = counts[i]
    local n = before + added
    local reset = 0
    if n > 0 then
      -- The rule counts the newest n units of the log: its oldest one is at rank total - n. For the longest
      -- rule that is rank 0: the oldest unit read above, or one just recorded at now if it is older (the
      -- log was empty, or the clock stepped back).
      local first
      if i == 1 then
        first = oldest
        if added > 0 and (first == nil or now < first) then first = now end
      else
        first = tonumber(redis.call('ZRANGE', key, total - n, total - n, 'WITHSCORES')[2])
      end
      reset = first + windows[i] - now
    end
    local retry = 0
    if allowed == 0 and before + cost > limits[i] then
      if cost > limits[i] then
        retry = -1
      else
        -- The request fits once this many of the rule's oldest units have left its window.
        local rank = total - before + (before + cost - limits[i]) - 1
        local entry = redis.call('ZRANGE', key, rank, rank, 'WITHSCORES')
        retry = math.ceil((tonumber(entry[2]) + windows[i] - now) / 1000)
      end
    end
    reply[#reply + 1] = limits[i] - n
    reply[#reply + 1] = math.ceil(reset / 1000)
    reply[#reply + 1] = retry
  end
  return reply
end
local finish = nil
${LUA_BATCH}`;

/** The script, defined once for the module; registered once per client by {@link createSlidingLog}. */
export const SLIDING_LOG_SCRIPT = defineVariadicScript<BatchReplies<string>>({
  name: 'rlSlidingLog',
  lua: LUA,
});

/** One rule as the script sees it. */
export interface LogRule {
  readonly windowMs: number;
  readonly limit: number;
}

/** Registers the script on `client` for `rules` (which must be sorted longest window first). */
export function createSlidingLog(
  client: RedisClient,
  rules: readonly LogRule[],
  caller?: RedisCaller,
): LimitScript {
  const ruleNumbers: number[] = [];
  for (const rule of rules) ruleNumbers.push(rule.windowMs, rule.limit);
  return createLimitScript(client, { script: SLIDING_LOG_SCRIPT, ruleNumbers, rules: rules.length }, caller);
}
