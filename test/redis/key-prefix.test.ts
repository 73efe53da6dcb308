// A client with an ioredis keyPrefix (several apps sharing one Redis): every middleware, its admin calls and its scans stay inside the prefix.

import express from 'express';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { responseCache } from '../../src/index.js';
import { publicHost, scanKeys } from '../cache/support.js';
import { type RedisCluster, startCluster } from '../helpers/cluster.js';
import { fullStackApp } from '../helpers/full-stack.js';
import { request } from '../helpers/http.js';
import { useTestRedis } from '../helpers/redis.js';

const redis = useTestRedis();

describe('a client with keyPrefix', () => {
  it('runs all four middlewares and their admin calls inside the prefix, and clear() removes the cache keys', async () => {
    const keyPrefix = redis.prefix('app1:');
    const client = redis.connect({ keyPrefix });
    const neighbour = redis.prefix('app2:cache:default:e:{x}');
    await redis.client.set(neighbour, 'another app');
    const stack = fullStackApp({ redis: client, prefix: '' });
    try {
      const cart = await request(stack.app).post('/cart/2');
      const cookie = String(cart.headers['set-cookie']).split(';')[0] as string;
      expect((await request(stack.app).get('/state').set('Cookie', cookie)).body.cart).toEqual({ '2': 1 });
      const signedIn = await request(stack.app).post('/sign-in/ada').set('Cookie', cookie);
      expect(signedIn.status).toBe(200);
      expect(await stack.sessions.listForUser('ada')).toHaveLength(1);

      const limited = await request(stack.app).get('/api/items');
      expect(limited.headers.ratelimit).toMatch(/r=999/);
      const reset =
        (await stack.limiter.reset('127.0.0.1')) || (await stack.limiter.reset('::ffff:127.0.0.1'));
      expect(reset).toBe(true);

      await request(stack.app).get('/products/3');
      await expect
        .poll(async () => (await request(stack.app).get('/products/3')).headers['cache-status'])
        .toMatch(/hit/);

      // Every key the suite wrote is under the client's prefix.
      const all = await scanKeys(redis.client, `${redis.namespace}*`);
      expect(all.filter((k) => !k.startsWith(keyPrefix) && k !== neighbour)).toEqual([]);
      expect(all.some((k) => k.startsWith(`${keyPrefix}cache:pages:e:`))).toBe(true);

      expect(await stack.cache.clear()).toBeGreaterThan(0);
      expect(await scanKeys(redis.client, `${keyPrefix}cache:pages:[etl]:*`)).toEqual([]);
      expect(await redis.client.get(neighbour)).toBe('another app');
      expect((await request(stack.app).get('/products/3')).headers['cache-status']).toMatch(/fwd=miss/);

      expect(await stack.sessions.revokeAll('ada')).toBe(1);
      expect(await stack.sessions.listForUser('ada')).toHaveLength(0);
    } finally {
      await stack.close();
    }
  });

  describe('on a 3-master Cluster', () => {
    let cluster: RedisCluster;
    let client: Cluster;
    beforeAll(async () => {
      cluster = await startCluster({ masters: 3 });
      client = cluster.client({ keyPrefix: 'app1:' });
    }, 60_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it('clear() finds the entries on every master and removes them', async () => {
      const cache = responseCache({ redis: client, name: 'kp' });
      const app = express();
      app.use(publicHost);
      app.get('/p/:id', cache, (req, res) => {
        res.send(`page ${req.params.id}`);
      });
      for (let id = 0; id < 20; id++) await request(app).get(`/p/${id}`);
      const admin = cluster.client();
      await expect
        .poll(async () => (await scanKeys(admin as unknown as Redis, 'app1:cache:kp:e:*')).length)
        .toBe(20);
      expect(await cache.clear()).toBe(20);
      expect(await scanKeys(admin as unknown as Redis, 'app1:cache:kp:*')).toEqual([]);
    });
  });
});
