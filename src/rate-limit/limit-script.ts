// What every algorithm's script shares: its arguments and reply, its runner, and the reply's decoding.
import { type LuaScript, type RedisClient, registerScript } from '../redis/index.js';

/**
 * The Lua prelude of every limiter script. ARGV[1]: the rules, their numbers separated by spaces (a fixed
 * count per rule, longest window first), built once per limiter; ARGV[2]: the cost (default 1); ARGV[3]: '0'
 * to only look (default: record an admitted request). The common request sends ARGV[1] alone: every argument
 * costs the app CPU to encode on each call.
 */
export const LUA_ARGS = `
local key = KEYS[1]
local spec = {}
for n in string.gmatch(ARGV[1], '%d+') do spec[#spec + 1] = tonumber(n) end
local cost = tonumber(ARGV[2] or '1')
local record = ARGV[3] ~= '0'
`;

/**
 * The Lua epilogue of every limiter script: `reply` is { allowed (1/0), now (µs), then per rule remaining,
 * resetMs, retryMs (0: this rule did not refuse; -1: never, the cost is above its limit; otherwise ms until
 * the request fits) }, all integers, sent as one string of numbers separated by spaces: one bulk string is
 * cheaper for the app to decode than an array of integers.
 */
export const LUA_REPLY = `reply[2] = string.format('%d', now)
return table.concat(reply, ' ')
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
   * `record`: one script call, resolving with the reply as sent (read it with {@link parseReply}).
   */
  send(key: string, cost: number, record: boolean): Promise<string>;
  /** {@link send}, decoded. */
  hit(key: string, cost: number, record: boolean): Promise<LimitReply>;
}

/** A registered limiter script and the arguments of its rules, which every call sends. */
export interface LimitScriptRunner {
  readonly run: (keys: readonly string[], args: readonly string[]) => Promise<string>;
  /** ARGV[1] of {@link LUA_ARGS}. */
  readonly spec: string;
}

/** Registers `script` on `client`, with the numbers of its rules (a fixed count per rule, in script order). */
export function limitScriptRunner(
  client: RedisClient,
  script: LuaScript<string>,
  ruleNumbers: readonly number[],
): LimitScriptRunner {
  return { run: registerScript(client, script), spec: ruleNumbers.join(' ') };
}

/** The {@link LimitScript} of a runner: the arguments of the common request (cost 1, recording) built once. */
export function createLimitScript({ run, spec }: LimitScriptRunner, rules: number): LimitScript {
  const recordOne = [spec];
  const peekOne = [spec, '1', '0'];
  const send = (key: string, cost: number, record: boolean): Promise<string> =>
    run([key], cost === 1 ? (record ? recordOne : peekOne) : [spec, String(cost), record ? '1' : '0']);
  return {
    send,
    async hit(key, cost, record) {
      return decodeReply(parseReply(await send(key, cost, record)), rules);
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
