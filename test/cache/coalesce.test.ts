// Coalescing: concurrent misses run the handler once, here and across instances; lock timeout; hit-for-miss.
import type { RequestHandler } from 'express';
import express from 'express';
import type { Redis } from 'ioredis';

import { describe, expect, it } from 'vitest';
import { entryHash } from '../../src/cache/key.js';
import { type ResponseCacheOptions, responseCache } from '../../src/index.js';
import { listenUntilAfterAll, request } from '../helpers/http.js';
import { useTestRedis } from '../helpers/redis.js';
import { gate, publicHost, readEntries, sleep, waitFor } from './support.js';

const redis = useTestRedis();
const listen = listenUntilAfterAll();

let names = 0;

/**
 * One "app instance": its own ioredis client and its own responseCache (so its own in-process single-flight),
 * all sharing one Redis and one cache name, like two processes behind a load balancer.
 */
function instance(name: string, handler: RequestHandler, options: Partial<ResponseCacheOptions> = {}) {
  const client: Redis = redis.connect();
  const cache = responseCache({ redis: client, prefix: redis.prefix('cache:'), name, ...options });
  const app = express();
  app.use(publicHost);
  const state = { arrived: 0 };
  app.use((_req, _res, next) => {
    state.arrived++;
    next();
  });
  app.get('/product', cache, handler);
  return { app, cache, client, state };
}

describe('coalescing', () => {
  it('runs the handler once for 50 concurrent misses spread over 2 instances', async () => {
    const name = `c${++names}`;
    const hold = gate();
    const calls = { a: 0, b: 0 };
    const render = (who: 'a' | 'b') => async (_req: unknown, res: import('express').Response) => {
      calls[who]++;
      await hold.promise;
      res.json({ rendered: who });
    };
    const a = instance(name, render('a'));
    const b = instance(name, render('b'));
    const [urlA, urlB] = await Promise.all([listen(a.app), listen(b.app)]);
    const responses = Promise.all(
      Array.from({ length: 50 }, (_, i) => request(i % 2 === 0 ? urlA : urlB).get('/product')),
    );
    // Every request is inside the middleware before the one render may finish.
    try {
      await waitFor(
        () => a.state.arrived + b.state.arrived === 50 && calls.a + calls.b === 1,
        'all requests in',
      );
      await sleep(100);
    } finally {
      hold.open();
    }
    const all = await responses;
    expect(calls.a + calls.b).toBe(1);
    const rendered = calls.a === 1 ? 'a' : 'b';
    expect(new Set(all.map((r) => r.status))).toEqual(new Set([200]));
    expect(new Set(all.map((r) => r.body.rendered))).toEqual(new Set([rendered]));
    const statuses = all.map((r) => r.headers['cache-status'] as string);
    expect(statuses.filter((s) => s === 'express-redis-kit; fwd=miss; stored')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'express-redis-kit; fwd=miss; collapsed')).toHaveLength(49);
    // The other instance waited on the Redis lock: its in-process single-flight alone would have rendered again.
    const other = rendered === 'a' ? b : a;
    expect(other.cache.stats().collapsed).toBe(25);
    expect(await redis.client.exists(...(await lockKeys(name)))).toBe(0);
  });

  it('runs the handler once for concurrent misses in one process, holding the lock with a TTL while rendering', async () => {
    const name = `c${++names}`;
    const hold = gate();
    let calls = 0;
    const one = instance(
      name,
      async (_req, res) => {
        calls++;
        await hold.promise;
        res.send('once');
      },
      { key: () => 'product' },
    );
    const lock = `${redis.prefix(`cache:${name}:`)}l:${entryHash('product', '', undefined)}`;
    const url = await listen(one.app);
    const responses = Promise.all(Array.from({ length: 20 }, () => request(url).get('/product')));
    try {
      await waitFor(() => one.state.arrived === 20 && calls === 1, 'all requests in');
      const pttl = await redis.client.pttl(lock);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(5_000);
    } finally {
      hold.open();
    }
    const all = await responses;
    expect(calls).toBe(1);
    expect(all.every((r) => r.text === 'once')).toBe(true);
    expect(await redis.client.exists(lock)).toBe(0);
  });

  it('makes waiters serve the entry another instance stores while they wait', async () => {
    const name = `c${++names}`;
    const waiting = instance(
      name,
      (_req, res) => {
        res.send('from the waiting instance');
      },
      { key: () => 'product', lockTimeout: '5s' },
    );
    const keyBase = redis.prefix(`cache:${name}:`);
    const hash = entryHash('product', '', undefined);
    // Another instance holds the fill lock...
    await redis.client.set(`${keyBase}l:${hash}`, 'other-instance:1', 'PX', 10_000);
    const url = await listen(waiting.app);
    const responses = Promise.all(Array.from({ length: 5 }, () => request(url).get('/product')));
    await waitFor(() => waiting.state.arrived === 5, 'requests in');
    await sleep(150);
    // ... and stores its render (it sees no lock of its own: coalesce is off there).
    const filler = instance(
      name,
      (_req, res) => {
        res.send('from the other instance');
      },
      { key: () => 'product', coalesce: false },
    );
    await request(filler.app).get('/product');
    const all = await responses;
    expect(all.map((r) => r.text)).toEqual(Array(5).fill('from the other instance'));
    expect(all.map((r) => r.headers['cache-status'])).toEqual(
      Array(5).fill('express-redis-kit; fwd=miss; collapsed'),
    );
  });

  it('sends waiters to the handler after lockTimeout when the lock holder never stores (one render per process)', async () => {
    const name = `c${++names}`;
    let calls = 0;
    const waiting = instance(
      name,
      (_req, res) => {
        calls++;
        res.send('rendered after the timeout');
      },
      { key: () => 'product', lockTimeout: '600ms' },
    );
    const keyBase = redis.prefix(`cache:${name}:`);
    const hash = entryHash('product', '', undefined);
    await redis.client.set(`${keyBase}l:${hash}`, 'crashed-instance:1', 'PX', 30_000);
    const url = await listen(waiting.app);
    const started = Date.now();
    const all = await Promise.all(Array.from({ length: 5 }, () => request(url).get('/product')));
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    expect(all.every((r) => r.status === 200 && r.text === 'rendered after the timeout')).toBe(true);
    expect(calls).toBe(1);
    // It stored without taking over the other holder's lock.
    expect(await readEntries(redis.client, keyBase)).toHaveLength(1);
    expect(await redis.client.get(`${keyBase}l:${hash}`)).toBe('crashed-instance:1');
    const hit = await request(url).get('/product');
    expect(hit.headers['cache-status']).toMatch(/hit/);
  });

  it('leaves a hit-for-miss marker for an uncacheable URL, so later misses do not wait on each other', async () => {
    const name = `c${++names}`;
    const hold = gate();
    let calls = 0;
    let concurrent = 0;
    let peak = 0;
    const one = instance(
      name,
      async (_req, res) => {
        calls++;
        concurrent++;
        peak = Math.max(peak, concurrent);
        if (calls > 1) await hold.promise;
        concurrent--;
        res.cookie('cart', 'x').send('personal');
      },
      { key: () => 'product' },
    );
    const url = await listen(one.app);
    await request(url).get('/product');
    const keyBase = redis.prefix(`cache:${name}:`);
    const entryKey = `${keyBase}e:${entryHash('product', '', undefined)}`;
    await waitFor(async () => (await redis.client.getBuffer(entryKey))?.[0] === 0xc1, 'the marker');
    const pttl = await redis.client.pttl(entryKey);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(30_000);
    const responses = Promise.all(Array.from({ length: 5 }, () => request(url).get('/product')));
    try {
      await waitFor(() => calls === 6, 'five renders at once');
    } finally {
      hold.open();
    }
    const all = await responses;
    expect(peak).toBe(5);
    expect(all.map((r) => r.headers['cache-status'])).toEqual(
      Array(5).fill('express-redis-kit; fwd=miss; detail=uncacheable'),
    );
  });
});

async function lockKeys(name: string): Promise<string[]> {
  const base = redis.prefix(`cache:${name}:`);
  const entries = await readEntries(redis.client, base);
  return entries.map((e) => e.key.replace(`${base}e:`, `${base}l:`));
}
