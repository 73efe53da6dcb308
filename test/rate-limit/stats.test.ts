// stats(): per minute and top blocked keys, written off the request path.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { rateLimit } from '../../src/index.js';
import { recordCommands } from '../helpers/commands.js';
import { useCountingServer } from '../helpers/counting-server.js';
import { expressVersions } from '../helpers/express.js';
import { useTestRedis } from '../helpers/redis.js';
import { awayFromEdge, limitedApp, nameSource, sleep } from './support.js';

const redis = useTestRedis();
const counting = useCountingServer();
const prefix = redis.prefix('rl:');
const nextName = nameSource('stats');
const [, express5] = expressVersions[1] ?? [];
if (!express5) throw new Error('express 5 missing');

const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('stats() for the admin page', () => {
  it('reports allowed and blocked per minute for the last hour, and the most blocked keys', async () => {
    const name = nextName();
    const limiter = rateLimit({ redis: redis.client, prefix, name, limit: 2, window: '1m' });
    // Every try and the stats read below in one minute.
    await awayFromEdge(60_000, 2_000);
    for (const [key, tries] of [
      ['alice', 3],
      ['bob', 6],
      ['carol', 2],
      ['dave', 4],
    ] as const) {
      for (let i = 0; i < tries; i++) await limiter.consume(key);
    }
    const stats = await limiter.stats({ top: 2 });
    expect(stats.name).toBe(name);
    expect(stats.minutes).toHaveLength(60);
    const thisMinute = Math.floor(Date.now() / 60_000) * 60_000;
    expect(stats.minutes.at(-1)).toEqual({ start: thisMinute, allowed: 8, blocked: 7 });
    expect(stats.minutes[0]?.start).toBe(thisMinute - 59 * 60_000);
    expect(stats.minutes.slice(0, -1).every((m) => m.allowed === 0 && m.blocked === 0)).toBe(true);
    expect(stats.allowed).toBe(8);
    expect(stats.blocked).toBe(7);
    expect(stats.topBlocked).toEqual([
      { key: 'bob', blocked: 4 },
      { key: 'dave', blocked: 2 },
    ]);
    expect((await limiter.stats()).topBlocked.map((k) => k.key)).toEqual(['bob', 'dave', 'alice']);

    // Every stats key expires about an hour after its minute.
    const minute = Math.floor(Date.now() / 60_000);
    for (const key of [
      `${prefix}${name}:stats:{${name}}:${minute}`,
      `${prefix}${name}:stats:{${name}}:${minute}:k`,
    ]) {
      const ttl = await redis.client.ttl(key);
      expect(ttl).toBeGreaterThan(3_600);
      expect(ttl).toBeLessThanOrEqual(3_600 + 3 * 60);
    }
    await limiter.close();
  });

  it('keeps its writes off the request path: requests send one command each, stats come later in one batch', async () => {
    const client = redis.connect();
    const name = nextName();
    const limiter = rateLimit({ redis: client, prefix, name, limit: 2, window: '1m', statsInterval: 300 });
    const app = limitedApp(express5, limiter);
    await client.ping();
    const recorder = await recordCommands(client);
    for (let i = 0; i < 4; i++) await request(app).get('/r');
    const duringRequests = (await recorder.stop()).map((c) => c[0]);
    expect(duringRequests.every((c) => c === 'eval' || c === 'evalsha')).toBe(true);
    expect(duringRequests).toHaveLength(4);

    const later = await recordCommands(client);
    await sleep(600);
    const flushed = (await later.stop()).map((c) => c[0]);
    expect(flushed).toEqual(['hincrby', 'hincrby', 'expireat', 'zincrby', 'zremrangebyrank', 'expireat']);
    expect((await limiter.stats()).minutes.at(-1)).toMatchObject({ allowed: 2, blocked: 2 });
    await limiter.close();
  });

  it('keeps no timer alive that would hold the process open, and writes nothing without traffic', async () => {
    // a Redis of its own, so a command from any connection would be seen
    const client = counting.connect();
    const limiter = rateLimit({ redis: client, prefix, name: nextName(), limit: 5, window: '1m' });
    await limiter.peek('x');
    const before = timeouts();
    await limiter.consume('x');
    expect(timeouts()).toBe(before); // the flush timer is unref'd
    await limiter.close();
    const { commands, processed } = await counting.count(async () => {
      await limiter.close();
      await sleep(50);
    });
    expect(commands).toEqual([]);
    expect(processed).toBe(0);
  });

  it('bounds the blocked-key sets when a flood comes from many keys', async () => {
    const name = nextName();
    const limiter = rateLimit({ redis: redis.client, prefix, name, limit: 1, window: '1m' });
    const keys = Array.from({ length: 150 }, (_, i) => `flood-${i}`);
    await Promise.all(keys.map((k) => limiter.consume(k)));
    await Promise.all(keys.map((k) => limiter.consume(k)));
    await Promise.all(keys.slice(0, 5).map((k) => limiter.consume(k)));
    const stats = await limiter.stats({ top: 500 });
    expect(stats.blocked).toBe(155);
    const minute = Math.floor(Date.now() / 60_000);
    expect(await redis.client.zcard(`${prefix}${name}:stats:{${name}}:${minute}:k`)).toBeLessThanOrEqual(100);
    expect(stats.topBlocked.slice(0, 5).every((k) => k.blocked === 2)).toBe(true);
    await limiter.close();
  });
});
