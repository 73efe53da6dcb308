// What the bucketed-window and GCRA scripts share: Redis time, or a time a test passes, and their runner.
import type { LuaScript, RedisClient } from '../redis/index.js';
import {
  createLimitScript,
  decodeReply,
  type LimitReply,
  type LimitScript,
  limitScriptRunner,
  parseReply,
} from './limit-script.js';

/**
 * The Lua prelude of both scripts, after {@link LUA_ARGS}: `now` in µs from Redis `TIME`, unless ARGV[4]
 * carries one (tests only, so they can replay arrival times exactly against the real script).
 */
export const LUA_NOW = `local now
if ARGV[4] == nil then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
else
  now = tonumber(ARGV[4])
end
`;

/** A limiter script whose time a test can set. */
export interface ClockedScript extends LimitScript {
  /** Like `hit`, with `nowUs` instead of Redis `TIME`: for tests that replay arrival times exactly. */
  hitAt(key: string, cost: number, record: boolean, nowUs: number): Promise<LimitReply>;
}

/** Registers `script` on `client` for rules given as `ruleNumbers` (a fixed count per rule). */
export function createClockedScript(
  client: RedisClient,
  script: LuaScript<string>,
  ruleNumbers: readonly number[],
  rules: number,
): ClockedScript {
  const runner = limitScriptRunner(client, script, ruleNumbers);
  return {
    ...createLimitScript(runner, rules),
    async hitAt(key, cost, record, nowUs) {
      const args = [runner.spec, String(cost), record ? '1' : '0', String(nowUs)];
      return decodeReply(parseReply(await runner.run([key], args)), rules);
    },
  };
}
