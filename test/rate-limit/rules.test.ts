// Extra rules checked and recorded with the main one, with each algorithm, standalone and on a Redis Cluster.
import type { Cluster, Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RateLimitAlgorithm, type RateLimitMiddleware, rateLimit } from '../../src/index.js';
import { type RedisCluster, startCluster } from '../helpers/cluster.js';
import { expressVersions } from '../helpers/express.js';
import { useTestRedis } from '../helpers/redis.js';
import { limitedApp, nameSource, sleep } from './support.js';

const redis = useTestRedis();
const prefix = redis.prefix('rl:');
const nextName = nameSource('rules');
const [, express5] = expressVersions[1] ?? [];
if (!express5) throw new Error('express 5 missing');

let cluster: RedisCluster;
let clusterClient: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
  clusterClient = cluster.client();
});
afterAll(async () => {
  await cluster?.stop();
});

/**
 * Main rule 5 per 6 s with a burst rule of 2 per 1 s. A request refused by one rule must not count against
 * the other: after two bursts and a pause, the main rule still has exactly the units the bursts admitted.
 */
async function everyRuleOrNone(limiter: RateLimitMiddleware, key: string): Promise<void> {
  expect(await limiter.consume(key)).toMatchObject({ allowed: true });
  expect(await limiter.consume(key)).toMatchObject({ allowed: true });
  const refused = await limiter.consume(key);
  expect(refused.allowed).toBe(false);
  expect(refused.name).toMatch(/-1s$/); // the burst rule refused
  expect(refused.rules.map((r) => r.remaining)).toEqual([3, 0]);
  expect(refused.rules[0]?.retryAfterMs).toBeUndefined();
  expect(refused.rules[1]?.retryAfterMs).toBeGreaterThan(0);
  // Refused by the burst rule: the main rule did not count it either.
  expect((await limiter.peek(key)).rules.map((r) => r.remaining)).toEqual([3, 0]);

  await sleep(1_100);
  expect(await limiter.consume(key)).toMatchObject({ allowed: true });
  expect(await limiter.consume(key)).toMatchObject({ allowed: true });
  expect((await limiter.consume(key)).allowed).toBe(false);
  await sleep(1_100);
  // One unit left under the main rule; the burst rule would take 2 more, so cost 2 is refused by main only.
  const costTwo = await limiter.peek(key, 2);
  expect(costTwo.allowed).toBe(false);
  expect(costTwo.name).not.toMatch(/-1s$/);
  expect(costTwo.rules[1]?.retryAfterMs).toBeUndefined();
  expect(await limiter.consume(key)).toMatchObject({ allowed: true, remaining: 0 });
  const full = await limiter.consume(key);
  expect(full.allowed).toBe(false);
  expect(full.rules.map((r) => r.remaining)).toEqual([0, 1]);
  // Waiting for the main rule: its oldest unit is about 2.2 s old in a 6 s window.
  expect(full.retryAfterMs).toBeGreaterThan(1_000);
  expect(full.retryAfterMs).toBeLessThan(4_000);
}

/**
 * GCRA with main rule 5 per 6 s (a unit every 1.2 s) and 2 per 1 s (a unit every 0.5 s): the second rule
 * refuses the third request at once, and the main rule does not count it.
 */
async function everyGcraRuleOrNone(limiter: RateLimitMiddleware, key: string): Promise<void> {
  expect(await limiter.consume(key)).toMatchObject({ allowed: true });
  expect(await limiter.consume(key)).toMatchObject({ allowed: true });
  const refused = await limiter.consume(key);
  expect(refused.allowed).toBe(false);
  expect(refused.name).toMatch(/-1s$/);
  expect(refused.rules.map((r) => r.remaining)).toEqual([3, 0]);
  expect(refused.rules[0]?.retryAfterMs).toBeUndefined();
  // One unit of the 1 s rule comes back 0.5 s after the second request.
  expect(refused.retryAfterMs).toBeGreaterThan(0);
  expect(refused.retryAfterMs).toBeLessThanOrEqual(500);
  expect((await limiter.peek(key)).rules.map((r) => r.remaining)).toEqual([3, 0]);
  await sleep(refused.retryAfterMs ?? 0);
  expect(await limiter.consume(key)).toMatchObject({ allowed: true });
  // Three units of the main rule taken, about 0.5 s earned back: 3.1 s of its 6 s tolerance, two more fit.
  expect((await limiter.peek(key)).rules[0]?.remaining).toBe(2);
}

describe('rules are checked and recorded together', () => {
  const options = (client: Redis | Cluster, algorithm: RateLimitAlgorithm) =>
    ({
      redis: client,
      prefix,
      name: nextName(),
      limit: 5,
      window: '6s',
      rules: [{ limit: 2, window: '1s' }],
      algorithm,
      stats: false,
    }) as const;

  it.each(['sliding-log', 'sliding-window'] as const)(
    '%s: counts a request against every rule or none (standalone)',
    async (algorithm) => {
      await everyRuleOrNone(rateLimit(options(redis.client, algorithm)), 'solo');
    },
  );

  it.each(['sliding-log', 'sliding-window'] as const)(
    '%s: counts a request against every rule or none (Redis Cluster)',
    async (algorithm) => {
      await everyRuleOrNone(rateLimit(options(clusterClient, algorithm)), 'clustered');
    },
  );

  it('gcra: counts a request against every rule or none (standalone and Redis Cluster)', async () => {
    await everyGcraRuleOrNone(rateLimit(options(redis.client, 'gcra')), 'solo');
    await everyGcraRuleOrNone(rateLimit(options(clusterClient, 'gcra')), 'clustered');
  });

  it('lists every rule in the draft-8 headers, in the order of the options', async () => {
    const name = nextName();
    const app = limitedApp(
      express5,
      rateLimit({
        redis: redis.client,
        prefix,
        name,
        limit: 100,
        window: '1m',
        rules: [
          { limit: 10, window: '1s' },
          { limit: 1000, window: '1h', name: `${name}-hourly` },
        ],
        stats: false,
      }),
    );
    const res = await request(app).get('/r').expect(200);
    expect(res.headers['ratelimit-policy']).toBe(
      `"${name}";q=100;w=60, "${name}-1s";q=10;w=1, "${name}-hourly";q=1000;w=3600`,
    );
    expect(res.headers.ratelimit).toBe(
      `"${name}";r=99;t=60, "${name}-1s";r=9;t=1, "${name}-hourly";r=999;t=3600`,
    );
    expect(res.body.rateLimit).toMatchObject({ name: `${name}-1s`, remaining: 9 });
  });

  it('works on a Cluster for keys in every slot range, with peek, reset and stats', async () => {
    const name = nextName();
    const limiter = rateLimit({
      redis: clusterClient,
      prefix,
      name,
      limit: 2,
      window: '1m',
      rules: [{ limit: 1, window: '1s' }],
    });
    const keys = Array.from({ length: 12 }, (_, i) => `client-${i}`);
    const results = await Promise.all(keys.map((k) => limiter.consume(k)));
    expect(results.every((r) => r.allowed)).toBe(true);
    const refused = await Promise.all(keys.map((k) => limiter.consume(k)));
    expect(refused.every((r) => !r.allowed)).toBe(true);
    // The keys spread over the three masters.
    const masters = new Set(
      await Promise.all(
        keys.map(async (k) => {
          const slot = Number(
            await clusterClient.call('CLUSTER', 'KEYSLOT', `${prefix}${name}:{${k}}:60000`),
          );
          return Math.floor(slot / Math.ceil(16_384 / cluster.nodes.length));
        }),
      ),
    );
    expect(masters.size).toBe(3);
    expect(await limiter.reset('client-0')).toBe(true);
    expect((await limiter.peek('client-0')).remaining).toBe(1);
    const stats = await limiter.stats();
    expect(stats.minutes.at(-1)).toMatchObject({ allowed: 12, blocked: 12 });
    expect(stats.topBlocked).toHaveLength(10);
    await limiter.close();
  });
});
