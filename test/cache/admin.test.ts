// clear() and stats(), the capture's double-end guard and restore, and bad input that must never become a 500.
import type { Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { entryHash } from '../../src/cache/key.js';
import { responseCache } from '../../src/index.js';
import { useCountingServer } from '../helpers/counting-server.js';
import { expressVersions } from '../helpers/express.js';
import { request } from '../helpers/http.js';
import { useTestRedis } from '../helpers/redis.js';
import { readEntries, scanKeys, sleep, waitFor } from './support.js';

const redis = useTestRedis();
const counting = useCountingServer();
let names = 0;

describe('clear()', () => {
  it("removes this cache's entries, tag sets and locks only (SCAN, never KEYS)", async () => {
    const name = `a${++names}`;
    const express = expressVersions[1]?.[1] as (typeof expressVersions)[number][1];
    const make = (n: string) => {
      const cache = responseCache({
        redis: redis.connect(),
        prefix: redis.prefix('cache:'),
        name: n,
        tags: ['all'],
      });
      const app = express();
      app.get('/:id', cache, (req, res) => {
        res.send(req.params.id);
      });
      return { app, cache };
    };
    const mine = make(name);
    const sibling = make(`${name}-2`);
    for (let i = 0; i < 30; i++) {
      await request(mine.app).get(`/${i}`);
      await request(sibling.app).get(`/${i}`);
    }
    await redis.client.set(redis.prefix(`cache:${name}`), 'a neighbour key');
    await redis.client.set(redis.prefix(`cache:${name}:l:{held}`), 'a lock', 'PX', 10_000);
    await waitFor(
      () => mine.cache.stats().stored === 30 && sibling.cache.stats().stored === 30,
      'the entries stored',
    );
    expect(await mine.cache.clear()).toBe(30 + 1 + 1);
    expect(await scanKeys(redis.client, redis.prefix(`cache:${name}:*`))).toEqual([]);
    expect(await scanKeys(redis.client, redis.prefix(`cache:${name}-2:e:*`))).toHaveLength(30);
    expect(await redis.client.get(redis.prefix(`cache:${name}`))).toBe('a neighbour key');
    expect((await request(mine.app).get('/1')).headers['cache-status']).toBe(
      'express-redis-kit; fwd=miss; stored',
    );
  });
});

describe('clear() on a Redis of its own', () => {
  it('walks the keys with SCAN: no KEYS, no FLUSHDB, from any connection', async () => {
    const cache = responseCache({ redis: counting.client, prefix: 'cache:', name: 'pages', tags: ['all'] });
    const express = expressVersions[1]?.[1] as (typeof expressVersions)[number][1];
    const app = express();
    app.get('/:id', cache, (req, res) => {
      res.send(req.params.id);
    });
    for (let i = 0; i < 5; i++) await request(app).get(`/${i}`);
    await waitFor(() => cache.stats().stored === 5, 'the entries stored');
    const { result, commands } = await counting.count(() => cache.clear());
    expect(result).toBeGreaterThanOrEqual(5);
    const names = new Set(commands.map((c) => c[0]));
    expect(names).toContain('scan');
    expect([...names].filter((n) => n === 'keys' || n === 'flushdb' || n === 'flushall')).toEqual([]);
  });
});

describe('stats()', () => {
  it('counts hits, misses, stale answers, bypasses and stores of this process', async () => {
    const express = expressVersions[0]?.[1] as (typeof expressVersions)[number][1];
    const cache = responseCache({
      redis: redis.connect(),
      prefix: redis.prefix('cache:'),
      name: `a${++names}`,
      ttl: '1s',
      staleWhileRevalidate: '10s',
      // The POST below is counted as a bypass; here it must not also invalidate the entry.
      invalidateOnUnsafe: false,
    });
    const app = express();
    app.all('/x', cache, (_req, res) => {
      res.send('x');
    });
    expect(cache.stats()).toEqual({
      hits: 0,
      stale: 0,
      misses: 0,
      collapsed: 0,
      bypass: 0,
      stored: 0,
      errors: 0,
      hitRatio: 0,
    });
    await request(app).get('/x');
    await sleep(30);
    await request(app).get('/x');
    await request(app).get('/x');
    await request(app).post('/x');
    await request(app).get('/x').set('Authorization', 'Bearer t');
    await sleep(1_500);
    await request(app).get('/x');
    await sleep(100);
    expect(cache.stats()).toEqual({
      hits: 2,
      stale: 1,
      misses: 1,
      collapsed: 0,
      bypass: 2,
      stored: 2,
      errors: 0,
      hitRatio: 0.75,
    });
  });
});

describe.each(expressVersions)('%s: robustness', (_label, express) => {
  it('restores the response methods after a fill and tolerates a second end()', async () => {
    const cache = responseCache({
      redis: redis.connect(),
      prefix: redis.prefix('cache:'),
      name: `a${++names}`,
    });
    const app = express();
    const seen: boolean[] = [];
    app.get('/x', cache, (_req, res) => {
      res.send('first');
      // A second end() with data is an error event on any Node response; a bare one must be harmless.
      res.end();
      res.end(() => {});
      seen.push(Object.hasOwn(res, 'write'), Object.hasOwn(res, 'end'), Object.hasOwn(res, 'writeHead'));
    });
    const miss = await request(app).get('/x');
    expect(miss.text).toBe('first');
    expect(seen).toEqual([false, false, false]);
    await sleep(30);
    expect((await request(app).get('/x')).text).toBe('first');
  });

  it('treats a corrupt value as a miss and replaces it', async () => {
    const name = `a${++names}`;
    const cache = responseCache({
      redis: redis.connect(),
      prefix: redis.prefix('cache:'),
      name,
      key: () => 'k',
    });
    const app = express();
    app.get('/x', cache, (_req, res) => {
      res.send('fresh');
    });
    const key = redis.prefix(`cache:${name}:e:${entryHash('k', '', undefined)}`);
    for (const garbage of [Buffer.from([0xe1, 0, 1, 2]), Buffer.from('{"html":"<p>old</p>"}')]) {
      await redis.client.set(key, garbage);
      const res = await request(app).get('/x');
      expect([res.status, res.text]).toEqual([200, 'fresh']);
      await sleep(30);
    }
    const [entry] = await readEntries(redis.client, redis.prefix(`cache:${name}:`));
    expect(entry?.body.toString()).toBe('fresh');
  });

  it('never answers 500 to hostile requests: huge headers, odd URLs, odd validators', async () => {
    const cache = responseCache({
      redis: redis.connect(),
      prefix: redis.prefix('cache:'),
      name: `a${++names}`,
      vary: ['accept-language'],
    });
    const app = express();
    app.get('/*splat', cache, (_req, res) => {
      res.send('ok');
    });
    if (_label === 'express 4') app.get('*', cache, (_req, res) => res.send('ok'));
    const cases = [
      request(app).get('/%00%ff?x=%zz&&&=&a[b]=1').set('Accept-Language', 'x'.repeat(8_000)),
      request(app).get('/ok').set('If-None-Match', ',,,W/,"').set('If-Modified-Since', 'not a date'),
      request(app).get('/ok').set('Cookie', ';;;=;='),
      request(app)
        .get('/ok')
        .set('Cookie', `${'a'.repeat(4_000)}=1`),
    ];
    for (const res of await Promise.all(cases)) expect(res.status).toBeLessThan(500);
  });

  it('stores nothing, but still answers, when the tags function throws or returns garbage', async () => {
    const errors: string[] = [];
    const logger = { warn() {}, error: (m: string) => errors.push(m) };
    let mode = 'throw';
    const cache = responseCache({
      redis: redis.connect(),
      prefix: redis.prefix('cache:'),
      name: `a${++names}`,
      logger,
      tags: () => {
        if (mode === 'throw') throw new Error('tags bug');
        return [42] as never;
      },
    });
    const app = express();
    app.get('/x', cache, (_req, res) => {
      res.send('answer');
    });
    expect((await request(app).get('/x')).text).toBe('answer');
    mode = 'garbage';
    expect((await request(app).get('/x')).text).toBe('answer');
    await sleep(30);
    expect(errors).toHaveLength(2);
    expect(cache.stats().stored).toBe(0);
  });

  it('lets a key function skip caching (undefined) and reports its errors to next()', async () => {
    const cache = responseCache({
      redis: redis.connect(),
      prefix: redis.prefix('cache:'),
      name: `a${++names}`,
      key: (req: Request) => {
        if (req.query.boom) throw new Error('key bug');
        return req.query.skip ? undefined : 'k';
      },
    });
    const app = express();
    app.get('/x', cache, (_req, res) => {
      res.send('x');
    });
    app.use((error: Error, _req: Request, res: Response, _next: unknown) => {
      res.status(500).send(error.message);
    });
    expect((await request(app).get('/x?skip=1')).headers['cache-status']).toBe(
      'express-redis-kit; fwd=bypass',
    );
    const boom = await request(app).get('/x?boom=1');
    expect([boom.status, boom.text]).toEqual([500, 'key bug']);
  });
});
