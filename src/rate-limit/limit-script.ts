// What every algorithm's script shares: its arguments and reply, its runner, and the reply's decoding.
import {
  type BatchReplies,
  DEFAULT_REDIS_TIMEOUT_MS,
  RETURN_BATCH_REPLIES,
  type RedisCaller,
  type RedisClient,
  redisCaller,
  ScriptBatcher,
  type VariadicScript,
} from '../redis/index.js';

/**
 * The Lua prelude of every limiter script, which checks a batch of requests (see `ScriptBatcher`): KEYS[i] is
 * the i-th request's key; ARGV[1] the rules, their numbers separated by spaces (a fixed count per rule,
 * longest window first), built once per limiter; ARGV[2] the time in µs, or '' for Redis `TIME` (tests set
 * it, to replay arrival times exactly against the real script); ARGV[2 + i] the i-th request: its cost, or
 * 'p' and the cost to only look (peek) without recording.
 *
 * After it comes the algorithm, which defines `check(key, cost, record)`, deciding one request and returning
 * its reply table, and `finish`, nil or a function that writes what `check` kept for the end of the batch;
 * then {@link LUA_BATCH}. All requests of a batch are decided at one `now`, one after the other, each seeing
 * what the ones before it recorded, exactly as separate calls would.
 */
export const LUA_HEAD = `
local spec = {}
for n in string.gmatch(ARGV[1], '%d+') do spec[#spec + 1] = tonumber(n) end
local now
if ARGV[2] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
else
  now = tonumber(ARGV[2])
end
local nowText = string.format('%d', now)
`;

/**
 * The Lua epilogue of every limiter script: each request's reply is { allowed (1/0), now (µs), then per rule
 * remaining, resetMs, retryMs (0: this rule did not refuse; -1: never, the cost is above its limit; otherwise
 * ms until the request fits) }, all integers, sent as one string of numbers separated by spaces (cheaper for
 * the app to decode than an array of integers); the script replies with those strings as its batch's replies
 * (see `BatchReplies`).
 */
export const LUA_BATCH = `
local replies = {}
for i = 1, #KEYS do
  local request = ARGV[i + 2]
  local reply
  if string.byte(request, 1) == 112 then
    reply = check(KEYS[i], tonumber(string.sub(request, 2)), false)
  else
    reply = check(KEYS[i], tonumber(request), true)
  end
  reply[2] = nowText
  replies[i] = table.concat(reply, ' ')
end
if finish then finish() end
${RETURN_BATCH_REPLIES}
`;

/**
 * A limiter script's reply as numbers: `allowed` (1/0), Redis time in µs, then per rule in script order
 * (longest window first) `remaining`, `resetMs` and `retryMs`. {@link decide} reads it.
 */
export type ScriptReply = readonly number[];

/** A limiter script's reply, decoded. Rules are in the order they were passed (longest window first). */
export interface LimitReply {
  readonly allowed: boolean;
  /** Redis time of the decision, in microseconds. */
  readonly nowUs: number;
  readonly remaining: readonly number[];
  readonly resetMs: readonly number[];
  /** 0 = this rule did not refuse; -1 = never (cost above the limit); otherwise ms until the request fits. */
  readonly retryMs: readonly number[];
}

/** Runs one algorithm's script for one set of rules: the same contract for every algorithm. */
export interface LimitScript {
  /**
   * Checks `cost` units for `key` against every rule, and records them on all rules if they fit and
   * `record`. Requests made in one turn of the event loop share one script call; `done` gets this one's
   * reply as sent (read it with {@link parseReply}), `failed` the error of its batch. Neither may throw.
   */
  check(
    key: string,
    cost: number,
    record: boolean,
    done: (reply: string) => void,
    failed: (error: unknown) => void,
  ): void;
  /** {@link check} as a promise of the reply as sent. */
  ask(key: string, cost: number, record: boolean): Promise<string>;
  /** {@link check} as a promise, decoded. */
  hit(key: string, cost: number, record: boolean): Promise<LimitReply>;
  /** Like {@link hit}, at `nowUs` instead of Redis `TIME`, in a call of its own: tests replay arrival times. */
  hitAt(key: string, cost: number, record: boolean, nowUs: number): Promise<LimitReply>;
}

/** The script of every algorithm, and what differs: how many numbers describe one rule. */
export interface LimitScriptDefinition {
  readonly script: VariadicScript<BatchReplies<string>>;
  /** The rules' numbers, a fixed count per rule, in script order (longest window first). */
  readonly ruleNumbers: readonly number[];
  readonly rules: number;
}

/**
 * Registers a limiter script on `client`. Its calls go through `caller` (a deadline, and the client's outage
 * state); without one, through a caller of their own with the default deadline.
 */
export function createLimitScript(
  client: RedisClient,
  { script, ruleNumbers, rules }: LimitScriptDefinition,
  caller: RedisCaller = redisCaller(client, DEFAULT_REDIS_TIMEOUT_MS),
): LimitScript {
  const spec = ruleNumbers.join(' ');
  const batcher = new ScriptBatcher<string>(client, script, [spec, ''], caller);
  const requestArg = (cost: number, record: boolean) => (record ? String(cost) : `p${cost}`);
  const ask: LimitScript['ask'] = (key, cost, record) => batcher.ask(key, requestArg(cost, record));
  return {
    check: (key, cost, record, done, failed) => batcher.call(key, requestArg(cost, record), done, failed),
    ask,
    hit: (key, cost, record) => ask(key, cost, record).then((reply) => decodeReply(parseReply(reply), rules)),
    async hitAt(key, cost, record, nowUs) {
      const reply = await batcher.callNow(key, requestArg(cost, record), [spec, String(nowUs)]);
      return decodeReply(parseReply(reply), rules);
    },
  };
}

/**
 * Reads the numbers of a reply: integers separated by single spaces. The request path calls it once per
 * request, so it reads the characters itself instead of allocating a string per number.
 */
export function parseReply(text: string): number[] {
  const values: number[] = [];
  let value = 0;
  let negative = false;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : SPACE;
    if (c === SPACE) {
      values.push(negative ? -value : value);
      value = 0;
      negative = false;
    } else if (c === MINUS) {
      negative = true;
    } else if (c >= ZERO && c <= ZERO + 9) {
      value = value * 10 + (c - ZERO);
    } else {
      // Not written by LUA_REPLY (e.g. a number in exponent form): the slow, general way.
      return text.split(' ').map(Number);
    }
  }
  return values;
}

const SPACE = 32;
const MINUS = 45;
const ZERO = 48;

/** Decodes `{ allowed, now, then per rule: remaining, resetMs, retryMs }`, the reply of every algorithm. */
export function decodeReply(reply: ScriptReply, rules: number): LimitReply {
  const remaining: number[] = new Array(rules);
  const resetMs: number[] = new Array(rules);
  const retryMs: number[] = new Array(rules);
  for (let i = 0; i < rules; i++) {
    remaining[i] = Math.max(0, Number(reply[2 + 3 * i]));
    resetMs[i] = Math.max(0, Number(reply[3 + 3 * i]));
    retryMs[i] = Number(reply[4 + 3 * i]);
  }
  return { allowed: reply[0] === 1, nowUs: Number(reply[1]), remaining, resetMs, retryMs };
}
