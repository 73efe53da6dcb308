// Safety: what is never cached, who bypasses the cache, which headers are kept, and what clients cannot force.

import type { Express, RequestHandler } from 'express';
import type { Test } from 'supertest';
import { describe, expect, it } from 'vitest';
import { type ResponseCacheOptions, responseCache } from '../../src/index.js';
import { useCountingServer } from '../helpers/counting-server.js';
import { type ExpressFactory, expressVersions } from '../helpers/express.js';
import { request } from '../helpers/http.js';
import { useTestRedis } from '../helpers/redis.js';
import { entryHeader, readEntries, sleep } from './support.js';

const redis = useTestRedis();
const counting = useCountingServer();
let names = 0;

/** An app whose GET /r runs `handler` behind a fresh cache; `calls()` counts handler runs. */
function setup(
  express: ExpressFactory,
  handler: RequestHandler,
  options: Partial<ResponseCacheOptions> = {},
) {
  const client = redis.connect();
  const name = `s${++names}`;
  const cache = responseCache({ redis: client, prefix: redis.prefix('cache:'), name, ...options });
  const app = express();
  let count = 0;
  const counted: RequestHandler = (req, res, next) => {
    count++;
    return handler(req, res, next);
  };
  app.all('/r', cache, counted);
  return { app, cache, client, calls: () => count, keyBase: redis.prefix(`cache:${name}:`) };
}

/** Two identical requests; resolves with both responses once any store had time to land. */
async function twice(app: Express, prepare: (t: Test) => Test = (t) => t) {
  const first = await prepare(request(app).get('/r'));
  await sleep(30);
  const second = await prepare(request(app).get('/r'));
  return [first, second] as const;
}

describe.each(expressVersions)('%s: safety', (_label, express) => {
  it('caches GET only; HEAD is answered from the GET entry, other methods pass', async () => {
    const t = setup(express, (req, res) => {
      res.type('text/plain').send(`${req.method} body`);
    });
    const post = await request(t.app).post('/r');
    expect(post.headers['cache-status']).toBe('express-redis-kit; fwd=method');
    await request(t.app).post('/r');
    const headMiss = await request(t.app).head('/r');
    expect(headMiss.headers['cache-status']).toBe('express-redis-kit; fwd=miss');
    expect(t.calls()).toBe(3);
    expect(await readEntries(redis.client, t.keyBase)).toHaveLength(0);
    await request(t.app).get('/r');
    const head = await request(t.app).head('/r');
    expect(head.status).toBe(200);
    expect(head.headers['cache-status']).toMatch(/hit/);
    expect(head.headers['content-length']).toBe(String('GET body'.length));
    expect(head.text ?? '').toBe('');
    expect(t.calls()).toBe(4);
  });

  it.each([
    ['Set-Cookie', (res: import('express').Response) => res.cookie('sid', 'abc').send('x')],
    [
      'Cache-Control: private',
      (res: import('express').Response) => res.set('Cache-Control', 'private').send('x'),
    ],
    [
      'Cache-Control: no-store',
      (res: import('express').Response) => res.set('Cache-Control', 'no-store').send('x'),
    ],
    ['Vary: *', (res: import('express').Response) => res.set('Vary', '*').send('x')],
    ['status 500', (res: import('express').Response) => res.status(500).send('x')],
    ['status 302', (res: import('express').Response) => res.redirect('/elsewhere')],
    ['status 201', (res: import('express').Response) => res.status(201).send('x')],
    [
      'an event stream',
      (res: import('express').Response) => {
        res.type('text/event-stream');
        res.write('data: 1\n\n');
        res.end();
      },
    ],
  ])('never stores a response with %s', async (_what, send) => {
    const t = setup(express, (_req, res) => {
      send(res);
    });
    const [first, second] = await twice(t.app);
    expect(first.headers['cache-status']).toBe('express-redis-kit; fwd=miss');
    expect(second.headers['cache-status']).not.toMatch(/hit/);
    expect(t.calls()).toBe(2);
    expect(await readEntries(redis.client, t.keyBase)).toHaveLength(0);
  });

  it('stores 404 and 410 by default, and only the configured statuses when set', async () => {
    const t = setup(express, (_req, res) => {
      res.status(404).send('nope');
    });
    const [, second] = await twice(t.app);
    expect(second.status).toBe(404);
    expect(second.headers['cache-status']).toMatch(/hit/);
    const u = setup(
      express,
      (_req, res) => {
        res.status(404).send('nope');
      },
      { statuses: [200] },
    );
    await twice(u.app);
    expect(u.calls()).toBe(2);
  });

  it('passes a body over maxBodyBytes through intact and does not store it', async () => {
    const big = 'y'.repeat(5_000);
    const t = setup(
      express,
      (_req, res) => {
        res.type('text/plain');
        for (let i = 0; i < big.length; i += 1_000) res.write(big.slice(i, i + 1_000));
        res.end();
      },
      { maxBodyBytes: 2_000 },
    );
    const [first, second] = await twice(t.app);
    expect(first.text).toBe(big);
    expect(second.text).toBe(big);
    expect(t.calls()).toBe(2);
    const small = setup(
      express,
      (_req, res) => {
        res.send(big);
      },
      { maxBodyBytes: 2_000 },
    );
    const [a, b] = await twice(small.app);
    expect(a.text).toBe(big);
    expect(b.text).toBe(big);
    expect(small.calls()).toBe(2);
  });

  it('bypasses requests with Authorization or a session cookie (no lookup, no store), whatever the cookie is called', async () => {
    // on a Redis of its own, so a lookup or store from any connection would be counted
    const client = counting.connect();
    await client.ping();
    const cache = responseCache({ redis: client, prefix: 'cache:', name: `s${++names}` });
    const app = express();
    let calls = 0;
    app.get('/r', cache, (_req, res) => {
      calls++;
      res.send('personal?');
    });
    const { commands, processed } = await counting.count(async () => {
      for (const prepare of [
        (r: Test) => r.set('Authorization', 'Bearer abc'),
        (r: Test) => r.set('Cookie', 'sid=1'),
        (r: Test) => r.set('Cookie', 'connect.sid=s%3Axyz'),
        (r: Test) => r.set('Cookie', '_ga=GA1.2.3; erk_sess=whatever'),
        (r: Test) => r.set('Cookie', `x${Math.random().toString(36).slice(2)}=1`),
      ]) {
        const res = await prepare(request(app).get('/r'));
        expect(res.headers['cache-status']).toBe('express-redis-kit; fwd=bypass');
      }
      await sleep(30);
    });
    expect(commands).toEqual([]);
    expect(processed).toBe(0);
    expect(calls).toBe(5);
    expect(await readEntries(client, 'cache:')).toHaveLength(0);
    expect(cache.stats().bypass).toBe(5);
  });

  it('still caches requests that carry only analytics cookies (and public cookies you list)', async () => {
    const t = setup(
      express,
      (_req, res) => {
        res.send('shared');
      },
      { publicCookies: ['theme', /^_ga/] },
    );
    await request(t.app).get('/r').set('Cookie', '_ga=GA1.1; _ga_ABC=GS1');
    const hit = await request(t.app).get('/r').set('Cookie', 'theme=dark');
    expect(hit.headers['cache-status']).toMatch(/hit/);
    const other = await request(t.app).get('/r').set('Cookie', '_gid=1');
    expect(other.headers['cache-status']).toBe('express-redis-kit; fwd=bypass');
    expect(t.calls()).toBe(2);
  });

  it("caches per user when privateScope is set, and never serves one user the other one's entry", async () => {
    const t = setup(
      express,
      (req, res) => {
        res.send(`hello ${req.get('authorization') ?? 'anonymous'}`);
      },
      { privateScope: (req) => req.get('authorization') },
    );
    const alice1 = await request(t.app).get('/r').set('Authorization', 'alice');
    const bob1 = await request(t.app).get('/r').set('Authorization', 'bob');
    await sleep(30);
    const alice2 = await request(t.app).get('/r').set('Authorization', 'alice');
    const bob2 = await request(t.app).get('/r').set('Authorization', 'bob');
    const anon = await request(t.app).get('/r');
    expect([alice1.text, bob1.text, alice2.text, bob2.text, anon.text]).toEqual([
      'hello alice',
      'hello bob',
      'hello alice',
      'hello bob',
      'hello anonymous',
    ]);
    expect(alice2.headers['cache-status']).toMatch(/hit/);
    expect(bob2.headers['cache-status']).toMatch(/hit/);
    expect(t.calls()).toBe(3);
    const entries = await readEntries(redis.client, t.keyBase);
    expect(entries).toHaveLength(3);
    for (const e of entries) expect(e.raw.includes('alice')).toBe(e.body.toString() === 'hello alice');
    const scopeless = await request(t.app).get('/r').set('Cookie', 'sid=1');
    expect(scopeless.headers['cache-status']).toBe('express-redis-kit; fwd=bypass');
  });

  it('does not store hop-by-hop or per-exchange headers, nor replay headers earlier middleware sets', async () => {
    const client = redis.connect();
    const cache = responseCache({ redis: client, prefix: redis.prefix('cache:'), name: `hop${++names}` });
    const app = express();
    let request_id = 0;
    app.use((_req, res, next) => {
      res.setHeader('x-request-id', `req-${++request_id}`);
      res.setHeader('x-trace', `t-${request_id}`);
      res.setHeader('x-frame-options', 'DENY');
      next();
    });
    app.get('/r', cache, (_req, res) => {
      res.set({
        Connection: 'keep-alive, x-hop',
        'X-Hop': 'hop',
        'Keep-Alive': 'timeout=5',
        'Server-Timing': 'db;dur=53',
        traceparent: '00-abc-def-01',
        'X-Frame-Options': 'SAMEORIGIN',
        'X-Product': 'p1',
      });
      res.send('body');
    });
    await request(app).get('/r');
    await sleep(30);
    const hit = await request(app).get('/r');
    expect(hit.headers['cache-status']).toMatch(/hit/);
    expect(hit.headers['x-request-id']).toBe('req-2');
    expect(hit.headers['x-trace']).toBe('t-2');
    expect(hit.headers['x-product']).toBe('p1');
    expect(hit.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(hit.headers['server-timing']).toBeUndefined();
    expect(hit.headers['x-hop']).toBeUndefined();
    const [entry] = await readEntries(redis.client, redis.prefix(`cache:hop${names}:`));
    const stored = [];
    for (let i = 0; i < (entry?.headers.length ?? 0); i += 2) stored.push(entry?.headers[i]);
    expect(stored.sort()).toEqual(['content-type', 'etag', 'x-frame-options', 'x-product']);
  });

  it("lets the response's s-maxage or max-age shorten the TTL", async () => {
    const t = setup(
      express,
      (_req, res) => {
        res.set('Cache-Control', 'public, max-age=600, s-maxage=2').send('short');
      },
      { ttl: '1h' },
    );
    await twice(t.app);
    const [entry] = await readEntries(redis.client, t.keyBase);
    expect((entry?.freshUntil ?? 0) - (entry?.storedAt ?? 0)).toBe(2_000);
    expect(entryHeader(entry?.headers ?? [], 'cache-control')).toBe('public, max-age=600, s-maxage=2');
    expect(await redis.client.pttl(entry?.key ?? '')).toBeLessThanOrEqual(2_000);
    await sleep(2_600);
    await request(t.app).get('/r');
    expect(t.calls()).toBe(2);
  });

  it('ignores every client header that would force a bypass or a refill', async () => {
    const t = setup(express, (_req, res) => {
      res.send('same for all');
    });
    await request(t.app).get('/r');
    await sleep(30);
    for (const [name, value] of [
      ['Cache-Control', 'no-cache'],
      ['Cache-Control', 'no-store'],
      ['Cache-Control', 'max-age=0'],
      ['Pragma', 'no-cache'],
      ['x-apicache-bypass', 'true'],
      ['x-apicache-force-fetch', 'true'],
    ] as const) {
      const res = await request(t.app).get('/r').set(name, value);
      expect(res.headers['cache-status'], `${name}: ${value}`).toMatch(/hit/);
    }
    expect(t.calls()).toBe(1);
  });
});
