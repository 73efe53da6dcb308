// The cache as a shared HTTP cache (RFC 9111, RFC 5861, RFC 9213): a handler plays the origin, real Redis stores.
import type { RequestHandler } from 'express';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { type ResponseCacheOptions, responseCache } from '../../src/index.js';
import { request } from '../helpers/http.js';
import { useTestRedis } from '../helpers/redis.js';
import { sleep, waitFor } from './support.js';

const redis = useTestRedis();
let names = 0;

/** An app whose handler plays the origin: it sets the fields the test gives it and counts its calls. */
function origin(
  fields: Record<string, string | string[]> | (() => Record<string, string | string[]>),
  options: Partial<ResponseCacheOptions> = {},
  status: () => number = () => 200,
) {
  const cache = responseCache({
    redis: redis.connect(),
    prefix: redis.prefix('cache:'),
    name: `c${++names}`,
    ttl: '1h',
    ...options,
  });
  const state = { calls: 0 };
  const handler: RequestHandler = (_req, res) => {
    state.calls++;
    res.status(status());
    for (const [name, value] of Object.entries(typeof fields === 'function' ? fields() : fields)) {
      res.setHeader(name, value);
    }
    res.type('text/plain').send(`render ${state.calls}`);
  };
  const app = express();
  app.get('/r', cache, handler);
  return { app, state, cache };
}

/** Sends two requests (the second after the first was stored, if it was) and says whether the second hit. */
async function secondIsHit(app: express.Express): Promise<{ hit: boolean; age: string | undefined }> {
  const first = await request(app).get('/r');
  const stored = String(first.headers['cache-status']).endsWith('stored');
  if (stored) await waitFor(async () => (await request(app).head('/r')).headers.age !== undefined, 'stored');
  const second = await request(app).get('/r');
  return { hit: second.text === first.text, age: second.headers.age };
}

describe('Age (RFC 9111 §4.2.3, §5.1)', () => {
  it('subtracts an upstream Age from the freshness lifetime and reports the age it had', async () => {
    const t = origin({ 'cache-control': 'max-age=4', age: '2' });
    const first = await request(t.app).get('/r');
    expect(first.headers['cache-status']).toMatch(/stored$/);
    await waitFor(async () => (await request(t.app).get('/r')).text === 'render 1', 'a hit');
    const hit = await request(t.app).get('/r');
    expect(hit.text).toBe('render 1');
    expect(Number(hit.headers.age)).toBeGreaterThanOrEqual(2);
    expect(hit.headers['cache-status']).toMatch(/; hit; ttl=[01]$/);
    // Two seconds of freshness were left: after them, the origin is asked again.
    await sleep(2_100);
    expect((await request(t.app).get('/r')).text).toBe('render 2');
  });

  it('does not store a response whose Age already exceeds its lifetime', async () => {
    const t = origin({ 'cache-control': 'max-age=60', age: '100' });
    await request(t.app).get('/r');
    await sleep(50);
    expect((await request(t.app).get('/r')).text).toBe('render 2');
    const overflow = origin({ 'cache-control': 'max-age=60', age: '99999999999999999999' });
    await request(overflow.app).get('/r');
    await sleep(50);
    expect((await request(overflow.app).get('/r')).text).toBe('render 2');
  });

  it('uses the first member of a list-valued Age and ignores an invalid one', async () => {
    const listed = origin({ 'cache-control': 'max-age=60', age: '30, 10' });
    const a = await secondIsHit(listed.app);
    expect(a.hit).toBe(true);
    expect(Number(a.age)).toBeGreaterThanOrEqual(30);
    expect(Number(a.age)).toBeLessThan(33);
    for (const bad of ['abc', '-5', '1.5']) {
      const t = origin({ 'cache-control': 'max-age=60', age: bad });
      const r = await secondIsHit(t.app);
      expect(r.hit, bad).toBe(true);
      expect(Number(r.age), bad).toBeLessThan(3);
    }
  });

  it('ages a response by its Date when it carries no Age (apparent age)', async () => {
    const t = origin(() => ({
      'cache-control': 'max-age=60',
      date: new Date(Date.now() - 20_000).toUTCString(),
    }));
    const r = await secondIsHit(t.app);
    expect(r.hit).toBe(true);
    expect(Number(r.age)).toBeGreaterThanOrEqual(19);
    expect(Number(r.age)).toBeLessThan(25);
  });
});

describe('Expires (RFC 9111 §5.3, RFC 9110 §5.6.7)', () => {
  const inAnHour = () => new Date(Date.now() + 3_600_000);

  it('treats a malformed Expires as already expired', async () => {
    const malformed = [
      (d: Date) => d.toUTCString().replace('GMT', 'UTC'),
      (d: Date) => d.toUTCString().replace(',', ''),
      (d: Date) => d.toUTCString().replace(' ', '  '),
      (d: Date) => d.toUTCString().replace(/ (\d\d) (\w\w\w) (\d{4}) /, ' $1-$2-$3 '),
      (d: Date) =>
        d
          .toUTCString()
          .replace(/ 0(\d):/, ' $1:')
          .replace(/ (\d\d):/, ' $1:'),
    ];
    for (const format of malformed) {
      // Tomorrow at 05:xx, so the hour has a leading zero to drop.
      const d = new Date(Date.now() + 86_400_000);
      d.setUTCHours(5);
      const value = format(d);
      const t = origin({ expires: value });
      expect((await secondIsHit(t.app)).hit, value).toBe(false);
    }
    const valid = origin(() => ({ expires: inAnHour().toUTCString() }));
    expect((await secondIsHit(valid.app)).hit).toBe(true);
  });

  it('reads the obsolete formats, an RFC 850 two-digit year as within 50 years ahead', async () => {
    // '75' is 2075 from today's point of view (Date.parse reads 1975), so this response is fresh.
    const rfc850 = origin({ expires: 'Monday, 01-Jan-75 00:00:00 GMT' });
    expect((await secondIsHit(rfc850.app)).hit).toBe(true);
    const past = origin({ expires: 'Sunday, 06-Nov-94 08:49:37 GMT' });
    expect((await secondIsHit(past.app)).hit).toBe(false);
    const d = inAnHour();
    const asctime = `${d.toUTCString().slice(0, 3)} ${d.toUTCString().slice(8, 11)} ${String(d.getUTCDate()).padStart(2, ' ')} ${d.toISOString().slice(11, 19)} ${d.getUTCFullYear()}`;
    const t = origin({ expires: asctime });
    expect((await secondIsHit(t.app)).hit, asctime).toBe(true);
  });
});

describe('stale answers (RFC 9111 §5.2.2.10, RFC 5861)', () => {
  it('never serves a response stale once its s-maxage has passed, whatever the options allow', async () => {
    let fail = false;
    const t = origin(
      { 'cache-control': 's-maxage=1' },
      { staleWhileRevalidate: '30s', staleIfError: '30s' },
      () => (fail ? 500 : 200),
    );
    expect((await secondIsHit(t.app)).hit).toBe(true);
    await sleep(1_200);
    // Not stale-while-revalidate: the origin answers this request itself.
    expect((await request(t.app).get('/r')).text).toBe('render 2');
    await sleep(1_200);
    fail = true;
    // Not stale-if-error: the origin's error goes through.
    const error = await request(t.app).get('/r');
    expect(error.status).toBe(500);
  });

  it("serves stale when the response's own stale-while-revalidate allows it, without options", async () => {
    const t = origin({ 'cache-control': 'max-age=1, stale-while-revalidate=30' });
    expect((await secondIsHit(t.app)).hit).toBe(true);
    await sleep(1_200);
    const stale = await request(t.app).get('/r');
    expect(stale.text).toBe('render 1');
    expect(stale.headers['cache-status']).toContain('detail=stale-while-revalidate');
    await waitFor(async () => (await request(t.app).get('/r')).text === 'render 2', 'the refresh');
  });

  it("serves stale instead of an error when the response's own stale-if-error allows it", async () => {
    let fail = false;
    const t = origin({ 'cache-control': 'max-age=1, stale-if-error=30' }, {}, () => (fail ? 503 : 200));
    expect((await secondIsHit(t.app)).hit).toBe(true);
    await sleep(1_200);
    fail = true;
    const stale = await request(t.app).get('/r');
    expect(stale.status).toBe(200);
    expect(stale.text).toBe('render 1');
    expect(stale.headers['cache-status']).toContain('detail=stale-if-error');
  });

  it("lets the response's own directive replace the option, and must-revalidate forbid both", async () => {
    const zero = origin(
      { 'cache-control': 'max-age=1, stale-while-revalidate=0' },
      { staleWhileRevalidate: '30s' },
    );
    expect((await secondIsHit(zero.app)).hit).toBe(true);
    await sleep(1_200);
    expect((await request(zero.app).get('/r')).text).toBe('render 2');
    const strict = origin({ 'cache-control': 'max-age=1, must-revalidate, stale-while-revalidate=30' });
    expect((await secondIsHit(strict.app)).hit).toBe(true);
    await sleep(1_200);
    expect((await request(strict.app).get('/r')).text).toBe('render 2');
  });
});

describe('fields never stored (RFC 9111 §3.1)', () => {
  it('does not replay Proxy-Authentication-Info or Proxy-Authenticate from the cache', async () => {
    const t = origin({
      'cache-control': 'max-age=60',
      'proxy-authentication-info': 'nextnonce="n1"',
      'x-kept': 'yes',
    });
    const r = await secondIsHit(t.app);
    expect(r.hit).toBe(true);
    const hit = await request(t.app).get('/r');
    expect(hit.headers['cache-status']).toMatch(/; hit;/);
    expect(hit.headers['proxy-authentication-info']).toBeUndefined();
    expect(hit.headers['x-kept']).toBe('yes');
  });
});

describe('explicitFreshness', () => {
  it('stores only responses that state their freshness, with ttl as the ceiling', async () => {
    const none = origin({}, { explicitFreshness: true, ttl: '2s' });
    expect((await secondIsHit(none.app)).hit).toBe(false);
    expect((await request(none.app).get('/r')).headers['cache-status']).toBe(
      'express-redis-kit; fwd=miss; detail=uncacheable',
    );
    const explicit = origin({ 'cache-control': 'max-age=3600' }, { explicitFreshness: true, ttl: '2s' });
    expect((await secondIsHit(explicit.app)).hit).toBe(true);
    expect((await request(explicit.app).get('/r')).headers['cache-status']).toMatch(/; hit; ttl=[12]$/);
    const expires = origin(() => ({ expires: new Date(Date.now() + 60_000).toUTCString() }), {
      explicitFreshness: true,
    });
    expect((await secondIsHit(expires.app)).hit).toBe(true);
    const targeted = origin({ 'express-redis-kit-cache-control': 'max-age=60' }, { explicitFreshness: true });
    expect((await secondIsHit(targeted.app)).hit).toBe(true);
  });
});

describe('targeted cache control (RFC 9213)', () => {
  it("takes the cache's own field over Cache-Control and never sends it to the client", async () => {
    const t = origin({
      'express-redis-kit-cache-control': 'max-age=600',
      'cache-control': 'no-cache',
    });
    const miss = await request(t.app).get('/r');
    expect(miss.headers['express-redis-kit-cache-control']).toBeUndefined();
    expect(miss.headers['cache-control']).toBe('no-cache');
    await waitFor(async () => (await request(t.app).get('/r')).text === 'render 1', 'a hit');
    const hit = await request(t.app).get('/r');
    expect(hit.headers['cache-status']).toMatch(/; hit; ttl=(599|600)$/);
    expect(hit.headers['express-redis-kit-cache-control']).toBeUndefined();
    expect(hit.headers['cache-control']).toBe('no-cache');
  });

  it('obeys no-store there, ignores Expires, and falls back to Cache-Control when the field is invalid', async () => {
    const noStore = origin({ 'express-redis-kit-cache-control': 'no-store', 'cache-control': 'max-age=60' });
    expect((await secondIsHit(noStore.app)).hit).toBe(false);
    const expires = origin(() => ({
      'express-redis-kit-cache-control': 'max-age=600',
      expires: 'Thu, 01 Jan 1970 00:00:00 GMT',
    }));
    expect((await secondIsHit(expires.app)).hit).toBe(true);
    const invalid = origin({
      'express-redis-kit-cache-control': 'max-age=600,',
      'cache-control': 'no-store',
    });
    const r = await request(invalid.app).get('/r');
    expect(r.headers['cache-status']).toBe('express-redis-kit; fwd=miss');
    expect(r.headers['express-redis-kit-cache-control']).toBeUndefined();
  });

  it('reads CDN-Cache-Control only when asked, after its own field, and passes it on for the CDN', async () => {
    const fields = { 'cdn-cache-control': 'max-age=600', 'cache-control': 'no-store' };
    const off = origin(fields);
    expect((await secondIsHit(off.app)).hit).toBe(false);
    const on = origin(fields, { cdnCacheControl: true });
    expect((await secondIsHit(on.app)).hit).toBe(true);
    const hit = await request(on.app).get('/r');
    expect(hit.headers['cdn-cache-control']).toBe('max-age=600');
    const own = origin(
      { 'express-redis-kit-cache-control': 'no-store', 'cdn-cache-control': 'max-age=600' },
      { cdnCacheControl: true },
    );
    expect((await secondIsHit(own.app)).hit).toBe(false);
  });

  it('removes its own field on requests the cache lets through too', async () => {
    const t = origin({ 'express-redis-kit-cache-control': 'max-age=600' });
    const bypass = await request(t.app).get('/r').set('Authorization', 'Bearer t');
    expect(bypass.headers['cache-status']).toBe('express-redis-kit; fwd=bypass');
    expect(bypass.headers['express-redis-kit-cache-control']).toBeUndefined();
    const head = await request(t.app).head('/r');
    expect(head.headers['express-redis-kit-cache-control']).toBeUndefined();
    // Also when the handler passes the field to writeHead directly.
    const app = express();
    app.get('/w', t.cache, (_req, res) => {
      res.writeHead(200, { 'Express-Redis-Kit-Cache-Control': 'max-age=60', 'content-type': 'text/plain' });
      res.end('w');
    });
    const direct = await request(app).get('/w').set('Authorization', 'Bearer t');
    expect(direct.headers['express-redis-kit-cache-control']).toBeUndefined();
    const stored = await request(app).get('/w');
    expect(stored.headers['express-redis-kit-cache-control']).toBeUndefined();
  });
});
