import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/index.js';
import {
  BATCH_SIZE,
  type BatchReplies,
  defineScript,
  defineVariadicScript,
  MGET_BUFFERS,
  RETURN_BATCH_REPLIES,
  redisCaller,
  registerScript,
  registerVariadicScript,
  ScriptBatcher,
} from '../../src/redis/index.js';
import { recordCommands } from '../helpers/commands.js';
import { useTestRedis } from '../helpers/redis.js';
import { startRedisServer } from '../helpers/redis-server.js';

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

  it('defines nothing on the client, so its pipelines copy no scripts', async () => {
    const client = redis.connect();
    const first = registerScript(client, INCR_BY_ARG);
    const second = registerScript(client, INCR_BY_ARG);
    const key = redis.prefix('nothing-defined');
    await first([key], [1]);
    await second([key], [1]);
    expect(await redis.client.get(key)).toBe('2');
    // ioredis copies every `defineCommand` script onto each pipeline it makes (auto-pipelining makes one per
    // turn of the event loop): none of ours may be there.
    expect(Object.keys((client as unknown as { scriptsSet: object }).scriptsSet)).toEqual([]);
    expect((client as unknown as Record<string, unknown>).testIncrByArg).toBeUndefined();
  });

  it('sends the script text once, then only its SHA', async () => {
    const client = redis.connect();
    // A body no other test sent, so this Redis does not have it yet.
    const fresh = defineScript<number>({ ...INCR_BY_ARG, lua: `${INCR_BY_ARG.lua} -- ${redis.namespace}` });
    const run = registerScript(client, fresh);
    await client.ping();
    const recorder = await recordCommands(client);
    const key = redis.prefix('sha');
    await run([key], [1]);
    await run([key], [1]);
    await run([key], [1]);
    const commands = await recorder.stop();
    expect(commands.filter((c) => c.includes(fresh.lua))).toHaveLength(1);
    expect(commands.filter((c) => c[0] === 'eval')).toHaveLength(1);
    expect(commands.map((c) => c[0])).toEqual(['eval', 'evalsha', 'evalsha']);
    expect(await redis.client.get(key)).toBe('3');
  });

  it('sends the text again when Redis lost the script (a restart, a failover, SCRIPT FLUSH)', async () => {
    // A server of its own: SCRIPT FLUSH on the shared one would disturb the other test files.
    const server = await startRedisServer();
    const client = new Redis(server.url);
    try {
      const run = registerScript(client, INCR_BY_ARG);
      const key = 'lost';
      expect(await run([key], [1])).toBe(1);
      await client.call('SCRIPT', 'FLUSH');
      const recorder = await recordCommands(client);
      expect(await run([key], [1])).toBe(2);
      expect(await run([key], [1])).toBe(3);
      const commands = await recorder.stop();
      expect(commands.map((c) => c[0])).toEqual(['evalsha', 'eval', 'evalsha']);
    } finally {
      client.disconnect();
      await server.stop();
    }
  });

  it('runs each script with its own body, whatever the client or another script has under its name', async () => {
    const client = redis.connect();
    const run = registerScript(client, INCR_BY_ARG);
    const other = registerScript(
      client,
      defineScript<number>({ name: 'testIncrByArg', keys: 1, lua: 'return 41' }),
    );
    const shadow = registerScript(client, defineScript<number>({ name: 'get', keys: 1, lua: 'return 42' }));
    const key = redis.prefix('own-body');
    expect(await run([key], [5])).toBe(5);
    expect(await other([key], [])).toBe(41);
    expect(await shadow([key], [])).toBe(42);
    expect(await client.get(key)).toBe('5');
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
  it('runs with any number of keys, on a client with or without auto-pipelining', async () => {
    for (const client of [redis.connect(), redis.connect({ enableAutoPipelining: true })]) {
      const run = registerVariadicScript(client, SUM_KEYS);
      const keys = [redis.prefix('v1'), redis.prefix('v2'), redis.prefix('v3')];
      await client.mset(keys[0] as string, 1, keys[1] as string, 10, keys[2] as string, 100);
      expect(await run(keys, [])).toBe(111);
      expect(await run(keys.slice(0, 1), ['a', 'b'])).toBe(3);
      expect(await Promise.all([run(keys.slice(1), ['a']), run([], [])])).toEqual([111, 0]);
    }
  });

  it('queued on a pipeline, sends the text with the first call and the SHA with the others', async () => {
    const client = redis.connect();
    const run = registerVariadicScript(client, SUM_KEYS);
    const keys = [redis.prefix('q1'), redis.prefix('q2')];
    await client.mset(keys[0] as string, 1, keys[1] as string, 10);
    const recorder = await recordCommands(client);
    const pipeline = client.pipeline();
    run.queue(pipeline, keys, ['a']);
    run.queue(pipeline, keys.slice(1), []);
    run.queue(pipeline, [], []);
    expect(await pipeline.exec()).toEqual([
      [null, 12],
      [null, 10],
      [null, 0],
    ]);
    const commands = await recorder.stop();
    expect(commands.map((c) => c[0])).toEqual(['eval', 'evalsha', 'evalsha']);
  });

  it('validates names', () => {
    expect(() => defineVariadicScript({ name: 'bad name', lua: 'return 1' })).toThrow(ConfigError);
  });
});

/** Replies, per call, its key's value and its own argument, or null when the key has no value. */
const GET_WITH_ARG = defineVariadicScript<BatchReplies<[string, string] | null>>({
  name: 'testGetWithArg',
  lua: `local replies = {}
for i = 1, #KEYS do
  local value = redis.call('GET', KEYS[i])
  if value then replies[i] = { value, ARGV[i] } else replies[i] = cjson.null end
end
${RETURN_BATCH_REPLIES}`,
});

describe('ScriptBatcher with a script written for batches', () => {
  it("sends one turn's calls as one script call whose reply is one string, and hands each call its own", async () => {
    const client = redis.connect();
    const keys = [redis.prefix('b1'), redis.prefix('b2'), redis.prefix('missing')];
    await client.mset(keys[0] as string, 'one "1"', keys[1] as string, 'two\n😀');
    // On the wire: one bulk string, decoded in one JSON.parse instead of element by element.
    expect(await registerVariadicScript(client, GET_WITH_ARG)(keys.slice(0, 1), ['a'])).toBe(
      '[["one \\"1\\"","a"]]',
    );
    const batcher = new ScriptBatcher(client, GET_WITH_ARG, [], redisCaller(client, 1_000));
    const recorder = await recordCommands(client);
    const replies = await Promise.all(keys.map((key, i) => batcher.ask(key, `arg ${i}`)));
    const commands = await recorder.stop();
    expect(replies).toEqual([['one "1"', 'arg 0'], ['two\n😀', 'arg 1'], null]);
    // Its first call on this client: the script's text goes with it.
    expect(commands.map((c) => c[0])).toEqual(['eval']);
  });
});

describe('ScriptBatcher with MGET_BUFFERS', () => {
  it('reads the keys asked for in one turn of the event loop with one MGET, as Buffers, null when missing', async () => {
    const client = redis.connect();
    const reads = new ScriptBatcher(client, MGET_BUFFERS, [], redisCaller(client, 1_000));
    const keys = [redis.prefix('m1'), redis.prefix('m2'), redis.prefix('missing')];
    await client.set(keys[0] as string, Buffer.from([0, 255, 1]));
    await client.set(keys[1] as string, 'two');
    const recorder = await recordCommands(client);
    const replies = await Promise.all([...keys, keys[0] as string].map((key) => reads.ask(key, undefined)));
    const commands = await recorder.stop();
    expect(replies).toEqual([Buffer.from([0, 255, 1]), Buffer.from('two'), null, Buffer.from([0, 255, 1])]);
    expect(commands).toEqual([['mget', ...keys, keys[0]]]);
  });

  it('sends a batch as soon as it holds BATCH_SIZE calls, and the rest of the turn at its end', async () => {
    const client = redis.connect();
    const reads = new ScriptBatcher(client, MGET_BUFFERS, [], redisCaller(client, 1_000));
    const keys = Array.from({ length: 2 * BATCH_SIZE + 3 }, (_, i) => redis.prefix(`wave-${i}`));
    for (const [i, key] of keys.entries()) await client.set(key, `value ${i}`);
    const recorder = await recordCommands(client);
    const replies = keys.map((key) => reads.ask(key, undefined));
    // The first two batches are on their way while this turn goes on: Redis works on them meanwhile.
    expect(client.commandQueue.length).toBe(2);
    const values = await Promise.all(replies);
    const commands = await recorder.stop();
    expect(values.map(String)).toEqual(keys.map((_, i) => `value ${i}`));
    expect(commands).toEqual([
      ['mget', ...keys.slice(0, BATCH_SIZE)],
      ['mget', ...keys.slice(BATCH_SIZE, 2 * BATCH_SIZE)],
      ['mget', ...keys.slice(2 * BATCH_SIZE)],
    ]);
  });
});
