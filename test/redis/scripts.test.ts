import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/index.js';
import { defineScript, registerScript } from '../../src/redis/index.js';
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
