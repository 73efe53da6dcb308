// What the bucketed-window and GCRA scripts share: Redis time, or a time a test passes, and their runner.
import { type LuaScript, type RedisClient, registerScript } from '../redis/index.js';
import { createLimitScript, decodeReply, type LimitReply, type LimitScript } from './limit-script.js';

/**
 * The Lua prelude of both scripts: `now` in µs from Redis `TIME`, unless ARGV[3] carries one (tests only,
 * so they can replay arrival times exactly against the real script).
 */
export const LUA_NOW = `
local now
if ARGV[3] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
else
  now = tonumber(ARGV[3])
end
`;

/** A limiter script whose time a test can set. */
export interface ClockedScript extends LimitScript {
  /** Like `hit`, with `nowUs` instead of Redis `TIME`: for tests that replay arrival times exactly. */
  hitAt(key: string, cost: number, record: boolean, nowUs: number): Promise<LimitReply>;
}

/** Registers `script` on `client`. Its ARGV is (cost, record, time, ...ruleArgs): '' as the time for Redis `TIME`. */
export function createClockedScript(
  client: RedisClient,
  script: LuaScript<number[]>,
  ruleArgs: readonly number[],
  rules: number,
): ClockedScript {
  const run = registerScript(client, script);
  return {
    ...createLimitScript(client, script, ['', ...ruleArgs], rules),
    async hitAt(key, cost, record, nowUs) {
      return decodeReply(await run([key], [cost, record ? 1 : 0, nowUs, ...ruleArgs]), rules);
    },
  };
}
