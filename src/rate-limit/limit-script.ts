// What every algorithm's script shares: its reply, its runner with precomputed arguments, and the decoded form.
import { type LuaScript, type RedisClient, registerScript, type ScriptArg } from '../redis/index.js';

/**
 * A limiter script's reply, as Redis sends it: `allowed` (1/0), Redis time in µs, then per rule in script
 * order (longest window first) `remaining`, `resetMs` and `retryMs` (0: this rule did not refuse; -1: never,
 * the cost is above its limit; otherwise ms until the request fits). {@link decide} reads it.
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
   * `record`: one script call, resolving with the reply as sent (the request path decodes it itself).
   */
  send(key: string, cost: number, record: boolean): Promise<ScriptReply>;
  /** {@link send}, decoded. */
  hit(key: string, cost: number, record: boolean): Promise<LimitReply>;
}

/**
 * Registers `script` on `client` for `rules` rules. Its ARGV is (cost, record, ...fixedArgs); the arguments
 * are strings built once here, so the common request (cost 1) passes a ready array and ioredis converts nothing.
 */
export function createLimitScript(
  client: RedisClient,
  script: LuaScript<number[]>,
  fixedArgs: readonly ScriptArg[],
  rules: number,
): LimitScript {
  const run = registerScript(client, script);
  const fixed = fixedArgs.map(String);
  const recordOne = ['1', '1', ...fixed];
  const peekOne = ['1', '0', ...fixed];
  const send = (key: string, cost: number, record: boolean): Promise<ScriptReply> =>
    run([key], cost === 1 ? (record ? recordOne : peekOne) : [String(cost), record ? '1' : '0', ...fixed]);
  return {
    send,
    async hit(key, cost, record) {
      return decodeReply(await send(key, cost, record), rules);
    },
  };
}

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
