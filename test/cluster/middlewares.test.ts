// All four middlewares in one app on a real 3-master Redis Cluster: every request path and admin method the
// per-middleware cluster files do not already cover, with a logger that proves no error was absorbed by a policy.
import express5 from 'express';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { responseCache, type SessionMiddleware, session } from '../../src/index.js';
import { readEntries, scanKeys, waitFor } from '../cache/support.js';
import { type RedisCluster, startCluster } from '../helpers/cluster.js';
import { type ExpressFactory, expressVersions } from '../helpers/express.js';
import { FULL_STACK_SECRET, type FullStack, fullStackApp, recordingLogger } from '../helpers/full-stack.js';
import { request } from '../helpers/http.js';
import { configOf, scriptSrc, todayUtc } from '../page-views/support.js';
import { cookieValue, keyOf, sessionApp } from '../session/support.js';

let cluster: RedisCluster;
let client: Cluster;
const stacks: FullStack[] = [];

beforeAll(async () => {
  cluster = await startCluster({ masters: 3 });
  // What the README recommends for production: auto-pipelining and a command timeout.
  client = cluster.client({ enableAutoPipelining: true, redisOptions: { commandTimeout: 2_000 } });
});
afterAll(async () => {
  await Promise.all(stacks.map((s) => s.close()));
  await cluster?.stop();
});

const slot = (key: string) => client.call('CLUSTER', 'KEYSLOT', key) as Promise<number>;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every key under `prefix`, per master port. */
async function keysByMaster(prefix: string): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for (const node of client.nodes('master')) {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
    out.set(Number(node.options.port), found);
  }
  return out;
}

function stack(prefix: string, express: (typeof expressVersions)[number][1]): FullStack {
  const s = fullStackApp({ redis: client, prefix, express, apiLimit: 5 });
  stacks.push(s);
  return s;
}

const BROWSER =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';

describe.each(expressVersions)('%s: the four middlewares together on Redis Cluster', (name, express) => {
  const prefix = `all${name.replace(/\D/g, '')}:`;
  let s: FullStack;
  beforeAll(() => {
    s = stack(prefix, express);
  });

  it('serves a visit end to end: pages, cache, cart, sign-in, rate limit, beacons, reports', async () => {
    const { app } = s;
    // A new visitor: no session key, no cookie; the page is counted in memory.
    const home = await request(app).get('/').set('User-Agent', BROWSER).expect(200);
    expect(home.headers['set-cookie']).toBeUndefined();

    // The product page: miss + store, then a hit, HEAD from the GET entry, and a 304 for its ETag.
    const miss = await request(app).get('/products/3').set('User-Agent', BROWSER).expect(200);
    expect(miss.headers['cache-status']).toBe('express-redis-kit; fwd=miss; stored');
    // The entry is written just after the response ends; a GET before that would share the fill in process
    // (and be one more page view), so wait for the write without requesting the page.
    await waitFor(() => s.cache.stats().stored === 1, 'the product page stored');
    const hit = await request(app).get('/products/3').set('User-Agent', BROWSER).expect(200);
    expect(hit.headers['cache-status']).toMatch(/^express-redis-kit; hit; ttl=\d+$/);
    expect(hit.text).toBe(miss.text);
    expect((await request(app).head('/products/3')).headers['cache-status']).toMatch(/hit/);
    await request(app).get('/products/3').set('If-None-Match', String(hit.headers.etag)).expect(304);
    expect(s.renders()).toBe(1);

    // Cart: create the session, then update it.
    const created = await request(app).post('/cart/3').expect(200);
    const cookie = `sid=${cookieValue(created)}`;
    const anonKey = keyOf(`${prefix}sess:`, cookieValue(created) as string);
    expect(await client.exists(anonKey)).toBe(1);
    await request(app).post('/cart/4').set('Cookie', cookie).expect(200);
    const state = await request(app).get('/state').set('Cookie', cookie).expect(200);
    expect(state.body.cart).toEqual({ '3': 1, '4': 1 });
    // A request with the session cookie bypasses the shared cache.
    const bypass = await request(app).get('/products/3').set('Cookie', cookie).expect(200);
    expect(bypass.headers['cache-status']).toBe('express-redis-kit; fwd=bypass');

    // Sign-in moves the session into the user's slot; the anonymous key is gone.
    const signedIn = await request(app).post('/sign-in/ada').set('Cookie', cookie).expect(200);
    const userCookie = `sid=${cookieValue(signedIn)}`;
    const userKey = keyOf(`${prefix}sess:`, cookieValue(signedIn) as string);
    expect(await client.exists(anonKey)).toBe(0);
    expect(await slot(userKey)).toBe(await slot(userKey.replace(/:[^:]+$/, ':index')));
    expect((await request(app).get('/state').set('Cookie', userCookie)).body.userId).toBe('ada');
    expect((await s.sessions.listForUser('ada')).map((r) => r.handle)).toEqual([signedIn.body.handle]);
    await request(app).post('/sign-out').set('Cookie', userCookie).expect(200);
    expect(await s.sessions.listForUser('ada')).toEqual([]);

    // The API limiter: two rules in one script, headers on every answer, a 429 with Retry-After.
    for (let i = 0; i < 5; i++) {
      const ok = await request(app).get('/api/items').expect(200);
      expect(ok.headers.ratelimit).toMatch(
        new RegExp(`^"api";r=${4 - i};t=\\d+, "api-10s";r=${4 - i};t=\\d+$`),
      );
    }
    const limited = await request(app).get('/api/items').expect(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await s.limiter.peek('127.0.0.1')).allowed).toBe(false);
    expect(await s.limiter.reset('127.0.0.1')).toBe(true);
    await request(app).get('/api/items').expect(200);

    // Time on page: a beacon is stored once per sequence number; a replay is refused.
    const tokenScript = await request(app).get(scriptSrc(home.text)).expect(200);
    const token = configOf(tokenScript.text).t;
    const beacon = (s: number, ms: number) =>
      request(app)
        .post('/_pv')
        .set('Content-Type', 'text/plain')
        .send(JSON.stringify({ t: token, s, ms }));
    await beacon(1, 4_000).expect(204);
    await beacon(1, 4_000).expect(409);
    await beacon(2, 6_000).expect(204);

    await s.views.flush();
    const today = todayUtc();
    const rows = await s.views.report({ from: today, to: today, granularity: 'day' });
    const byRoute = Object.fromEntries(rows.map((r) => [r.route, r]));
    // Views: home once; the product page 3 times as a page (miss, hit, bypass), not the HEAD or the 304.
    expect(byRoute['/']).toMatchObject({ views: 1, timedViews: 1, avgTimeOnPageMs: 6_000 });
    expect(byRoute['/products/:id']?.views).toBe(3);

    // Every key of one page-view instance, of one cache entry and its lock, of one rate-limit client sits in
    // one slot; the keys as a whole are spread over the masters.
    const byMaster = await keysByMaster(prefix);
    const all = [...byMaster.values()].flat();
    const pvSlots = new Set(await Promise.all(all.filter((k) => k.includes(':pv:')).map(slot)));
    expect(pvSlots.size).toBe(1);
    expect([...byMaster.values()].filter((keys) => keys.length > 0).length).toBeGreaterThan(1);
    expect(s.logger.redisErrors()).toEqual([]);
    expect(s.cache.stats().errors).toBe(0);
  });

  it('invalidates cached pages by tag across masters and clear() removes only this cache', async () => {
    const { app, cache } = s;
    const stored = cache.stats().stored;
    for (const id of ['1', '2', '6', '7', '8', '9']) await request(app).get(`/products/${id}`).expect(200);
    await waitFor(() => cache.stats().stored === stored + 6, 'six entries stored');
    const entries = (await keysByMaster(`${prefix}cache:pages:e:`)).values();
    expect([...entries].filter((keys) => keys.length > 0).length).toBeGreaterThan(1);
    expect(await cache.invalidate('product:2')).toBe(1);
    expect((await request(app).get('/products/2')).headers['cache-status']).toMatch(/fwd=miss/);
    await waitFor(() => cache.stats().stored === stored + 7, 'product 2 stored again');
    expect((await request(app).get('/products/1')).headers['cache-status']).toMatch(/hit/);
    // Every entry of this cache carries the tag (the six pages, and any other product a test stored).
    const tagged = (await readEntries(client, `${prefix}cache:pages:`)).length;
    expect(tagged).toBeGreaterThanOrEqual(6);
    expect(await cache.invalidate('catalog')).toBe(tagged);
    expect((await request(app).get('/products/1')).headers['cache-status']).toMatch(/fwd=miss/);
    await waitFor(() => cache.stats().stored === stored + 8, 'product 1 stored again');
    expect(await cache.clear()).toBeGreaterThan(0);
    // Entries, tag sets and locks are gone from every master (tombstones stay: they guard racing renders).
    expect(await readEntries(client, `${prefix}cache:pages:`)).toEqual([]);
    expect(await scanKeys(client, `${prefix}cache:pages:[tl]:*`)).toEqual([]);
    expect((await request(app).get('/products/1')).headers['cache-status']).toMatch(/fwd=miss; stored/);
    expect(s.logger.redisErrors()).toEqual([]);
  });
});

describe('sessions on Redis Cluster: secret rotation, destroy, unset', () => {
  it("lists and revokes a user's sessions signed in under the old and the new secret (two slots)", async () => {
    const prefix = 'rot:sess:';
    const OLD = `old-${FULL_STACK_SECRET}`;
    const logger = recordingLogger();
    const before = session({ redis: client, prefix, secret: [OLD], logger });
    const after = session({ redis: client, prefix, secret: [FULL_STACK_SECRET, OLD], logger });
    const appBefore = fullStackRoutes(before);
    const appAfter = fullStackRoutes(after);
    const old = await request(appBefore).post('/sign-in/eve').expect(200);
    const fresh = await request(appAfter).post('/sign-in/eve').expect(200);
    const oldKey = keyOf(prefix, cookieValue(old) as string);
    const newKey = keyOf(prefix, cookieValue(fresh) as string);
    expect(oldKey).not.toBe(newKey);
    expect(oldKey.slice(0, oldKey.indexOf('}'))).not.toBe(newKey.slice(0, newKey.indexOf('}')));

    // The old cookie still works after the rotation (and is re-signed with the new secret).
    const reused = await request(appAfter)
      .get('/state')
      .set('Cookie', `sid=${cookieValue(old)}`)
      .expect(200);
    expect(reused.body.userId).toBe('eve');

    const listed = await after.listForUser('eve', { current: fresh.body.handle });
    expect(listed.map((r) => r.handle).sort()).toEqual([old.body.handle, fresh.body.handle].sort());
    expect(await after.revoke('eve', old.body.handle)).toBe(true);
    const third = await request(appBefore).post('/sign-in/eve').expect(200);
    expect(await after.revokeAll('eve', { except: fresh.body.handle })).toBe(1);
    expect((await after.listForUser('eve')).map((r) => r.handle)).toEqual([fresh.body.handle]);
    expect(
      (
        await request(appAfter)
          .get('/state')
          .set('Cookie', `sid=${cookieValue(third)}`)
      ).body.userId,
    ).toBeNull();
    expect(logger.redisErrors()).toEqual([]);
  });

  it('keeps parallel writes of different keys, unsets, regenerates, destroys', async () => {
    const prefix = 'dst:sess:';
    const logger = recordingLogger();
    const sessions = session({ redis: client, prefix, secret: FULL_STACK_SECRET, logger });
    const app = fullStackRoutes(sessions);
    const created = await request(app).post('/set?a=1').expect(200);
    const cookie = `sid=${cookieValue(created)}`;
    await Promise.all([
      request(app).post('/set?b=2&wait=50').set('Cookie', cookie).expect(200),
      request(app).post('/set?c=3').set('Cookie', cookie).expect(200),
    ]);
    expect((await request(app).get('/state').set('Cookie', cookie)).body.data).toEqual({ a: 1, b: 2, c: 3 });
    await request(app).post('/unset?c').set('Cookie', cookie).expect(200);
    await request(app).post('/unset?a').set('Cookie', cookie).expect(200);
    expect((await request(app).get('/state').set('Cookie', cookie)).body.data).toEqual({ b: 2 });
    const regenerated = await request(app).post('/regenerate').set('Cookie', cookie).expect(200);
    const cookie2 = `sid=${cookieValue(regenerated)}`;
    expect((await request(app).get('/state').set('Cookie', cookie)).body.isNew).toBe(true);
    expect((await request(app).get('/state').set('Cookie', cookie2)).body.data).toEqual({ b: 2 });
    await request(app).post('/destroy').set('Cookie', cookie2).expect(200);
    expect(await client.exists(keyOf(prefix, cookieValue(regenerated) as string))).toBe(0);
    const afterDestroy = await request(app).get('/state').set('Cookie', cookie2).expect(200);
    expect(afterDestroy.body.isNew).toBe(true);
    expect(logger.redisErrors()).toEqual([]);
  });
});

describe('response cache on Redis Cluster: stale serving, hit-for-miss, private scope, vary', () => {
  it('serves stale while one request refreshes, serves stale instead of an error, and marks uncacheable URLs', async () => {
    const logger = recordingLogger();
    let version = 1;
    let failing = false;
    let uncacheableRenders = 0;
    const cache = responseCache({
      redis: client,
      prefix: 'swr:cache:',
      name: 'c',
      ttl: '1s',
      staleWhileRevalidate: '20s',
      vary: ['accept-language'],
      privateScope: (req) => req.get('x-user') || undefined,
      logger,
    });
    const rescue = responseCache({
      redis: client,
      prefix: 'swr:cache:',
      name: 'r',
      ttl: '1s',
      staleIfError: '20s',
      logger,
    });
    const app = express5();
    app.get('/v', cache, (req, res) => {
      res.send(`v${version} ${req.get('accept-language') ?? ''} ${req.get('x-user') ?? ''}`);
    });
    app.get('/r', rescue, (_req, res) => {
      if (failing) res.status(503).send('down');
      else res.send(`r${version}`);
    });
    app.get('/private', cache, (_req, res) => {
      uncacheableRenders += 1;
      res.set('Cache-Control', 'private').send('mine');
    });

    expect((await request(app).get('/v').set('Accept-Language', 'de')).text).toBe('v1 de ');
    expect((await request(app).get('/v').set('Accept-Language', 'fr')).text).toBe('v1 fr ');
    expect((await request(app).get('/r')).text).toBe('r1');
    // Entries land just after their responses end.
    await waitFor(() => cache.stats().stored === 2 && rescue.stats().stored === 1, 'three entries stored');
    expect((await request(app).get('/v').set('Accept-Language', 'fr')).text).toBe('v1 fr ');
    expect((await request(app).get('/v').set('Accept-Language', 'de')).headers['cache-status']).toMatch(
      /hit/,
    );

    // Per-user entries with a credential header.
    const u1 = await request(app).get('/v').set('Authorization', 'x').set('X-User', 'u1');
    expect(u1.text).toBe('v1  u1');
    await waitFor(() => cache.stats().stored === 3, "u1's entry stored");
    const u1again = await request(app).get('/v').set('Authorization', 'x').set('X-User', 'u1');
    expect(u1again.headers['cache-status']).toMatch(/hit/);
    const u2 = await request(app).get('/v').set('Authorization', 'x').set('X-User', 'u2');
    expect(u2.text).toBe('v1  u2');

    // Stale while revalidate: after the TTL the old page comes at once and one request refreshes it.
    await sleep(1_300);
    version = 2;
    const stale = await request(app).get('/v').set('Accept-Language', 'de');
    expect(stale.text).toBe('v1 de ');
    expect(stale.headers['cache-status']).toMatch(/fwd=stale.*stale-while-revalidate/);
    let refreshed = '';
    for (let i = 0; i < 50 && refreshed !== 'v2 de '; i++) {
      await sleep(50);
      const res = await request(app).get('/v').set('Accept-Language', 'de');
      if (/hit/.test(String(res.headers['cache-status']))) refreshed = res.text;
    }
    expect(refreshed).toBe('v2 de ');

    // Stale if error: the entry is stale, the handler fails, the old page is served.
    failing = true;
    const rescued = await request(app).get('/r');
    expect(rescued.status).toBe(200);
    expect(rescued.text).toBe('r1');
    expect(rescued.headers['cache-status']).toMatch(/fwd=stale; fwd-status=503.*stale-if-error/);
    failing = false;

    // Hit-for-miss: a private answer is never stored, and later requests are not queued behind a lock.
    const entryKeys = async () => (await scanKeys(client, 'swr:cache:c:e:*')).length;
    const before = await entryKeys();
    await request(app).get('/private').expect(200);
    await waitFor(async () => (await entryKeys()) === before + 1, 'the hit-for-miss marker');
    const second = await request(app).get('/private').expect(200);
    expect(second.headers['cache-status']).toBe('express-redis-kit; fwd=miss; detail=uncacheable');
    expect(uncacheableRenders).toBe(2);
    expect(logger.redisErrors()).toEqual([]);
  });
});

/** The session routes of test/session/support.ts, on Express 5. */
function fullStackRoutes(sessions: SessionMiddleware) {
  return sessionApp(express5 as unknown as ExpressFactory, sessions);
}
