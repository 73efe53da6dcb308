import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/index.js';
import {
  defineScript,
  defineVariadicScript,
  registerScript,
  registerVariadicScript,
} from '../../src/redis/index.js';
import { recordCommands } from '../helpers/commands.js';
import { useTestRedis } from '../helpers/redis.js';

const redis = useTestRedis();

const INCR_BY_ARG = defineScript<number>({
  name: 'testIncrByArg',
  keys: 1,
  lua: "return redis.call('INCRBY', KEYS[1], ARGV[1])",
});

describe('registerScript', () => {
  it('runs a script on a real Redis with keys and args', async () => {
    const client = redis.connect();
    const run = registerScript(client, INCR_BY_ARG);
    const key = redis.prefix('counter');
    expect(await run([key], [5])).toBe(5);
    expect(await run([key], [2])).toBe(7);
    expect(await redis.client.get(key)).toBe('7');
  });

  it('is idempotent per client and defines the command once', async () => {
    const client = redis.connect();
    const first = registerScript(client, INCR_BY_ARG);
    const second = registerScript(client, INCR_BY_ARG);
    expect(typeof (client as unknown as Record<string, unknown>).testIncrByArg).toBe('function');
    const key = redis.prefix('idempotent');
    await first([key], [1]);
    await second([key], [1]);
    expect(await redis.client.get(key)).toBe('2');
  });

  it('sends the script text once per connection, then only its SHA', async () => {
    const client = redis.connect();
    const run = registerScript(client, INCR_BY_ARG);
    await client.ping();
    const recorder = await recordCommands(client);
    const key = redis.prefix('sha');
    await run([key], [1]);
    await run([key], [1]);
    await run([key], [1]);
    const commands = await recorder.stop();
    expect(commands.map((c) => c[0])).toEqual(['eval', 'evalsha', 'evalsha']);
    expect(commands.filter((c) => c.includes(INCR_BY_ARG.lua))).toHaveLength(1);
  });

  it('refuses a different body under a taken name', () => {
    const client = redis.connect();
    registerScript(client, INCR_BY_ARG);
    const impostor = defineScript<number>({ name: 'testIncrByArg', keys: 1, lua: 'return 1' });
    expect(() => registerScript(client, impostor)).toThrow(ConfigError);
  });

  it('refuses a name that shadows a client method', () => {
    const client = redis.connect();
    const shadow = defineScript<string>({ name: 'get', keys: 1, lua: 'return 1' });
    expect(() => registerScript(client, shadow)).toThrow(/already has a property/);
  });

  it('rejects a call with the wrong number of keys without sending it', async () => {
    const run = registerScript(redis.connect(), INCR_BY_ARG);
    await expect(run([], [1])).rejects.toThrow('testIncrByArg takes 1 keys, got 0');
  });

  it('validates script names', () => {
    expect(() => defineScript({ name: 'bad-name', keys: 0, lua: 'return 1' })).toThrow(ConfigError);
  });
});

/** Sums the integer values of its keys, plus the number of its arguments. */
const SUM_KEYS = defineVariadicScript<number>({
  name: 'testSumKeys',
  lua: "local s = #ARGV for i = 1, #KEYS do s = s + (tonumber(redis.call('GET', KEYS[i])) or 0) end return s",
});

describe('registerVariadicScript', () => {
  it('runs with any number of keys, directly and queued on a pipeline', async () => {
    const client = redis.connect();
    const run = registerVariadicScript(client, SUM_KEYS);
    const keys = [redis.prefix('v1'), redis.prefix('v2'), redis.prefix('v3')];
    await client.mset(keys[0] as string, 1, keys[1] as string, 10, keys[2] as string, 100);
    expect(await run(keys, [])).toBe(111);
    expect(await run(keys.slice(0, 1), ['a', 'b'])).toBe(3);
    const pipeline = client.pipeline();
    run.queue(pipeline, keys.slice(1), ['a']);
    run.queue(pipeline, [], []);
    expect(await pipeline.exec()).toEqual([
      [null, 111],
      [null, 0],
    ]);
  });

  it('is idempotent per client, and shares the one registry with fixed-key scripts', () => {
    const client = redis.connect();
    registerVariadicScript(client, SUM_KEYS);
    expect(() => registerVariadicScript(client, SUM_KEYS)).not.toThrow();
    registerScript(client, INCR_BY_ARG);
    const impostor = defineVariadicScript<number>({ name: 'testIncrByArg', lua: 'return 1' });
    expect(() => registerVariadicScript(client, impostor)).toThrow(/different body/);
    const fixed = defineScript<number>({ name: 'testSumKeys', keys: 1, lua: 'return 1' });
    expect(() => registerScript(client, fixed)).toThrow(/different body/);
  });

  it('refuses a name that shadows a client method, and validates names', () => {
    const client = redis.connect();
    expect(() =>
      registerVariadicScript(client, defineVariadicScript({ name: 'mget', lua: 'return 1' })),
    ).toThrow(/already has a property/);
    expect(() => defineVariadicScript({ name: 'bad name', lua: 'return 1' })).toThrow(ConfigError);
  });
});
