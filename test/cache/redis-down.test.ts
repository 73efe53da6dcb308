// Redis down or slow: a miss that is not stored; the handler answers within the command timeout.
import type { RequestHandler } from 'express';
import express from 'express';
import { Redis, type RedisOptions } from 'ioredis';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ResponseCacheOptions, responseCache } from '../../src/index.js';
import { DEADLINE_MARGIN_MS, request } from '../helpers/http.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { gate, sleep, waitFor } from './support.js';

let server: RedisServer;
const clients: Redis[] = [];
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  server.resume();
  for (const c of clients) c.disconnect();
  await server.stop();
});

function client(options: RedisOptions = {}): Redis {
  const c = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: 1, ...options });
  c.on('error', () => {});
  clients.push(c);
  return c;
}

let names = 0;
function setup(redis: Redis, options: Partial<ResponseCacheOptions> = {}, handler?: RequestHandler) {
  const warnings: unknown[] = [];
  const logger = { warn: (m: string, d?: unknown) => warnings.push([m, d]), error() {} };
  const cache = responseCache({ redis, name: `d${++names}`, logger, ...options });
  const app = express();
  let renders = 0;
  app.get('/page', cache, (req, res, next) => {
    renders++;
    if (handler) handler(req, res, next);
    else res.send(`render ${renders}`);
  });
  const errors: unknown[] = [];
  app.use(
    (error: Error & { status?: number }, _req: unknown, res: import('express').Response, _next: unknown) => {
      errors.push(error);
      res.status(error.status ?? 500).send(`${error.name}`);
    },
  );
  return { app, cache, warnings, errors, renders: () => renders };
}

describe('when Redis is paused', () => {
  it('answers from the handler within the timeout, stores nothing, and caches again once Redis is back', async () => {
    // a timeout long enough that a request waiting for it cannot pass for one that did not wait
    const timeout = 3_000;
    const t = setup(client(), { timeout });
    await request(t.app).get('/page');
    await waitFor(() => t.cache.stats().stored === 1, 'the entry stored');
    expect((await request(t.app).get('/page')).headers['cache-status']).toMatch(/hit/);
    server.pause();
    try {
      const started = Date.now();
      const res = await request(t.app).get('/page');
      expect(Date.now() - started).toBeLessThan(timeout + DEADLINE_MARGIN_MS);
      expect(res.status).toBe(200);
      expect(res.text).toBe('render 2');
      expect(res.headers['cache-status']).toBe('express-redis-kit; fwd=miss; detail=redis-error');
      // Redis is known to be unreachable now: the next requests go straight to the handler, without waiting.
      const quickStart = Date.now();
      const quick = await Promise.all(Array.from({ length: 5 }, () => request(t.app).get('/page')));
      expect(Date.now() - quickStart).toBeLessThan(timeout);
      expect(quick.map((r) => r.headers['cache-status'])).toEqual(
        Array(5).fill('express-redis-kit; fwd=miss; detail=redis-error'),
      );
      expect(quick.every((r) => r.status === 200)).toBe(true);
      expect(t.renders()).toBe(7);
      expect(t.warnings).toHaveLength(1);
      expect(t.cache.stats().errors).toBe(1);
    } finally {
      server.resume();
    }
    await sleep(1_100);
    await waitFor(
      async () => /hit/.test((await request(t.app).get('/page')).headers['cache-status'] ?? ''),
      'hits again',
    );
  });

  it("uses the client's own commandTimeout when no timeout is given", async () => {
    const t = setup(client({ commandTimeout: 250 }));
    await request(t.app).get('/page');
    server.pause();
    try {
      const started = Date.now();
      const res = await request(t.app).get('/page');
      expect(Date.now() - started).toBeLessThan(250 + DEADLINE_MARGIN_MS);
      expect(res.headers['cache-status']).toBe('express-redis-kit; fwd=miss; detail=redis-error');
    } finally {
      server.resume();
    }
  });

  it('still sends the response when Redis stalls between the lookup and the store', async () => {
    const hold = gate();
    const t = setup(client(), { timeout: '300ms' }, async (_req, res) => {
      await hold.promise;
      res.send('slow render');
    });
    const pending = request(t.app)
      .get('/page')
      .then((r) => r);
    await waitFor(() => t.renders() === 1, 'the render');
    server.pause();
    try {
      hold.open();
      const res = await pending;
      expect(res.text).toBe('slow render');
      await sleep(600);
      expect(t.cache.stats().stored).toBe(0);
      expect(t.cache.stats().errors).toBeGreaterThanOrEqual(1);
    } finally {
      server.resume();
    }
  });

  it('answers 503 through next(error) with onRedisError: fail-closed', async () => {
    const t = setup(client(), { timeout: '200ms', onRedisError: 'fail-closed' });
    server.pause();
    try {
      const res = await request(t.app).get('/page');
      expect(res.status).toBe(503);
      expect(res.text).toBe('CacheUnavailableError');
      expect(t.renders()).toBe(0);
      // The one shape of the 503 errors of every middleware: the Redis detail stays in `cause`.
      expect(t.errors[0]).toMatchObject({ code: 'ERR_CACHE_UNAVAILABLE', status: 503, statusCode: 503 });
      expect(t.errors[0]).toMatchObject({ expose: false, cause: expect.any(Error) });
    } finally {
      server.resume();
    }
  });

  it('rejects invalidate() and clear() instead of hanging', async () => {
    const t = setup(client({ commandTimeout: 300 }));
    await request(t.app).get('/page');
    server.pause();
    try {
      await expect(t.cache.invalidate('x')).rejects.toThrow();
      await expect(t.cache.clear()).rejects.toThrow();
    } finally {
      server.resume();
    }
  });
});

describe('when Redis is down', () => {
  it('answers from the handler, then caches again after Redis restarts', async () => {
    const t = setup(client({ enableOfflineQueue: true }), { timeout: '300ms' });
    await request(t.app).get('/page');
    await server.kill();
    try {
      const res = await request(t.app).get('/page');
      expect(res.status).toBe(200);
      expect(res.headers['cache-status']).toBe('express-redis-kit; fwd=miss; detail=redis-error');
      const offline = setup(client({ enableOfflineQueue: false, lazyConnect: true }));
      const fast = await request(offline.app).get('/page');
      expect(fast.status).toBe(200);
    } finally {
      await server.restart();
    }
    await sleep(1_100);
    await waitFor(
      async () => /hit/.test((await request(t.app).get('/page')).headers['cache-status'] ?? ''),
      'caching after the restart',
      8_000,
    );
  });
});
