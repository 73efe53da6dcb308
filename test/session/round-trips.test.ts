// Behaviours 1, 2 and 10: Redis commands per request, counted exactly (MONITOR), on Express 4 and 5.
import type { Redis } from 'ioredis';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { session } from '../../src/index.js';
import { sha256 } from '../../src/redis/index.js';
import { recordCommands } from '../helpers/commands.js';
import { expressVersions } from '../helpers/express.js';
import { useTestRedis } from '../helpers/redis.js';
import { cookieOf, cookieValue, maxAgeOf, SECRET, sessionApp } from './app.js';

const redis = useTestRedis();

describe.each(expressVersions)('%s', (_name, express) => {
  let client: Redis;
  let prefix: string;
  let app: ReturnType<typeof sessionApp>;

  beforeAll(async () => {
    client = redis.connect();
    await client.ping();
    prefix = redis.prefix(`rt${Math.random().toString(36).slice(2, 6)}:`);
    app = sessionApp(express, session({ redis: client, secret: SECRET, prefix, idleTimeout: '10m' }));
  });

  async function count<T>(action: () => Promise<T>): Promise<{ result: T; commands: string[][] }> {
    const recorder = await recordCommands(client);
    const result = await action();
    return { result, commands: await recorder.stop() };
  }

  it('1. a new visitor whose session stays empty costs 0 commands and gets no Set-Cookie', async () => {
    const { result, commands } = await count(() => request(app).get('/state'));
    expect(result.status).toBe(200);
    expect(result.body.isNew).toBe(true);
    expect(commands).toEqual([]);
    expect(result.headers['set-cookie']).toBeUndefined();
  });

  it('1. a new visitor who stores data costs exactly 1 command (create) and gets the cookie', async () => {
    const { result, commands } = await count(() => request(app).post('/set?cart=3'));
    expect(commands.map((c) => c[0])).toHaveLength(1);
    expect(['eval', 'evalsha']).toContain(commands[0]?.[0]);
    expect(cookieOf(result)).toBeDefined();
    expect(maxAgeOf(result)).toBe(600);
  });

  it('2. a returning read-only visitor costs exactly 1 command, which reads and slides the idle timeout', async () => {
    const created = await request(app).post('/set?cart=3');
    const value = cookieValue(created) as string;
    const key = prefix + sha256(value.slice(0, value.lastIndexOf('.')));
    await client.pexpire(key, 5_000);

    const { result, commands } = await count(() => request(app).get('/state').set('Cookie', `sid=${value}`));
    expect(result.body.data).toEqual({ cart: 3 });
    expect(commands).toHaveLength(1);
    expect(['eval', 'evalsha']).toContain(commands[0]?.[0]);
    expect(commands[0]).toContain(key);
    // The same command slid the TTL back to the idle timeout, and the cookie says so.
    expect(await client.pttl(key)).toBeGreaterThan(590_000);
    expect(maxAgeOf(result)).toBeGreaterThanOrEqual(599);
  });

  it('2. a modified session costs at most 2 commands: the read and a write of the changed field only', async () => {
    const created = await request(app).post('/set?cart=3&name=%22ada%22');
    const cookie = `sid=${cookieValue(created)}`;
    const { result, commands } = await count(() => request(app).post('/set?cart=4').set('Cookie', cookie));
    expect(result.body.data).toEqual({ cart: 4, name: 'ada' });
    expect(commands).toHaveLength(2);
    const write = commands[1] as string[];
    expect(write).toContain('cart');
    expect(write).toContain('4');
    expect(write).not.toContain('name');
  });

  it('2. a request that changes nothing it read writes nothing (setting the same value is no change)', async () => {
    const created = await request(app).post('/set?cart=3');
    const cookie = `sid=${cookieValue(created)}`;
    const { commands } = await count(() => request(app).post('/set?cart=3').set('Cookie', cookie));
    expect(commands).toHaveLength(1);
  });

  it('2. with touchAfter, a read inside the interval is still 1 command but neither slides nor sends a cookie', async () => {
    const throttled = sessionApp(
      express,
      session({ redis: client, secret: SECRET, prefix, idleTimeout: '10m', touchAfter: '1m' }),
    );
    const created = await request(throttled).post('/set?cart=3');
    const value = cookieValue(created) as string;
    const key = prefix + sha256(value.slice(0, value.lastIndexOf('.')));
    await client.pexpire(key, 500_000);
    const { result, commands } = await count(() =>
      request(throttled).get('/state').set('Cookie', `sid=${value}`),
    );
    expect(result.body.data).toEqual({ cart: 3 });
    expect(commands).toHaveLength(1);
    expect(cookieOf(result)).toBeUndefined();
    expect(await client.pttl(key)).toBeLessThanOrEqual(500_000);
  });
});
