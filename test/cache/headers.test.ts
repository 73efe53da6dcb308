// Response headers: Age, Cache-Status (RFC 9211), a strong ETag when the app set none, and 304 answers.

import { describe, expect, it } from 'vitest';
import { responseCache } from '../../src/index.js';
import { expressVersions } from '../helpers/express.js';
import { request } from '../helpers/http.js';
import { useTestRedis } from '../helpers/redis.js';
import { sleep } from './support.js';

const redis = useTestRedis();
let names = 0;

describe.each(expressVersions)('%s: response headers', (_label, express) => {
  function app(options: { etag?: boolean } = {}) {
    const client = redis.connect();
    const cache = responseCache({
      redis: client,
      prefix: redis.prefix('cache:'),
      name: `h${++names}`,
      ttl: '1m',
      vary: ['accept-language'],
    });
    const a = express();
    if (options.etag === false) a.set('etag', false);
    let calls = 0;
    a.get('/page', cache, (_req, res) => {
      calls++;
      res
        .set('Cache-Control', 'public, max-age=30')
        .set('Vary', 'Accept-Language')
        .type('html')
        .send('<p>page</p>');
    });
    a.get('/raw', cache, (_req, res) => {
      calls++;
      res.writeHead(200, { 'content-type': 'text/plain', 'last-modified': 'Wed, 01 Jan 2025 00:00:00 GMT' });
      res.end('raw body');
    });
    a.get('/plain', cache, (_req, res) => {
      calls++;
      res.setHeader('content-type', 'text/plain');
      res.end('plain body');
    });
    a.get('/own-etag', cache, (_req, res) => {
      calls++;
      res.set('ETag', '"v42"').send('versioned');
    });
    return { app: a, calls: () => calls };
  }

  it('sends Cache-Status on misses and hits, and Age on hits', async () => {
    const t = app();
    const miss = await request(t.app).get('/page');
    expect(miss.headers['cache-status']).toBe('express-redis-kit; fwd=miss; stored');
    expect(miss.headers.age).toBeUndefined();
    await sleep(30);
    const hit = await request(t.app).get('/page');
    expect(hit.headers['cache-status']).toMatch(/^express-redis-kit; hit; ttl=(29|30)$/);
    expect(hit.headers.age).toBe('0');
    await sleep(1_500);
    const later = await request(t.app).get('/page');
    expect(Number(later.headers.age)).toBeGreaterThanOrEqual(1);
    expect(later.headers['cache-status']).toMatch(/^express-redis-kit; hit; ttl=(2[0-9])$/);
    expect(later.headers['cache-control']).toBe('public, max-age=30');
    // Date is when this answer was sent (Age says how old the content is), not the stored response's Date
    expect(Date.parse(later.headers.date as string)).toBeGreaterThanOrEqual(
      Date.parse(miss.headers.date as string) + 1_000,
    );
    expect(t.calls()).toBe(1);
  });

  it('computes a strong ETag when the app set none, the same on the miss and on hits', async () => {
    const t = app({ etag: false });
    const miss = await request(t.app).get('/plain');
    expect(miss.headers.etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    await sleep(30);
    const hit = await request(t.app).get('/plain');
    expect(hit.headers.etag).toBe(miss.headers.etag);
    const page = await request(t.app).get('/page');
    expect(page.headers.etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect(page.headers.etag).not.toBe(miss.headers.etag);
    // Fields sent with writeHead() go out before the body is known: the hits carry the computed ETag.
    const rawMiss = await request(t.app).get('/raw');
    expect(rawMiss.headers.etag).toBeUndefined();
    await sleep(30);
    const rawHit = await request(t.app).get('/raw');
    expect(rawHit.headers.etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    const again = await request(t.app)
      .get('/raw')
      .set('If-None-Match', rawHit.headers.etag as string);
    expect(again.status).toBe(304);
  });

  it("keeps the app's own ETag", async () => {
    const t = app();
    await request(t.app).get('/own-etag');
    await sleep(30);
    const hit = await request(t.app).get('/own-etag');
    expect(hit.headers.etag).toBe('"v42"');
  });

  it('answers If-None-Match from the entry with a bodiless 304 carrying ETag, Cache-Control, Vary and Date', async () => {
    const t = app();
    const miss = await request(t.app).get('/page');
    await sleep(30);
    const etag = miss.headers.etag as string;
    const opaque = etag.replace(/^W\//, '');
    for (const inm of [etag, opaque, `W/${opaque}`, `"nope", ${opaque}`, `"nope",W/${opaque}`, '*']) {
      const res = await request(t.app).get('/page').set('If-None-Match', inm);
      expect(res.status, inm).toBe(304);
      expect(res.text).toBe('');
      expect(res.headers.etag).toBe(etag);
      expect(res.headers['cache-control']).toBe('public, max-age=30');
      expect(res.headers.vary).toBe('Accept-Language');
      // an HTTP date of this answer, and the entry's age in seconds
      expect(Math.abs(Date.parse(res.headers.date as string) - Date.now())).toBeLessThan(5_000);
      expect(res.headers.age).toMatch(/^\d+$/);
      expect(res.headers['content-type']).toBeUndefined();
      expect(res.headers['content-length']).toBeUndefined();
    }
    const other = await request(t.app).get('/page').set('If-None-Match', '"nope"');
    expect(other.status).toBe(200);
    expect(other.text).toBe('<p>page</p>');
    const head = await request(t.app).head('/page').set('If-None-Match', etag);
    expect(head.status).toBe(304);
    expect(t.calls()).toBe(1);
  });

  it('answers If-Modified-Since from the entry when there is no If-None-Match', async () => {
    const t = app();
    await request(t.app).get('/raw');
    await sleep(30);
    const res = await request(t.app).get('/raw').set('If-Modified-Since', 'Thu, 02 Jan 2025 00:00:00 GMT');
    expect(res.status).toBe(304);
    const older = await request(t.app).get('/raw').set('If-Modified-Since', 'Tue, 31 Dec 2024 00:00:00 GMT');
    expect(older.status).toBe(200);
    expect(t.calls()).toBe(1);
  });

  it('renders and stores the full response for a conditional miss, and still answers it 304', async () => {
    const t = app();
    const seed = express();
    seed.get('/page', (_req, res) => {
      res
        .set('Cache-Control', 'public, max-age=30')
        .set('Vary', 'Accept-Language')
        .type('html')
        .send('<p>page</p>');
    });
    const { etag } = (await request(seed).get('/page')).headers as { etag: string };
    const conditional = await request(t.app).get('/page').set('If-None-Match', etag);
    expect(conditional.status).toBe(304);
    expect(conditional.headers['cache-status']).toBe('express-redis-kit; fwd=miss; stored');
    await sleep(30);
    const full = await request(t.app).get('/page');
    expect(full.status).toBe(200);
    expect(full.text).toBe('<p>page</p>');
    expect(full.headers['cache-status']).toMatch(/hit/);
    expect(t.calls()).toBe(1);
  });
  it('sends no Cache-Status with cacheStatus: false (Age still tells a hit)', async () => {
    const cache = responseCache({
      redis: redis.connect(),
      prefix: redis.prefix('cache:'),
      name: `h${++names}`,
      cacheStatus: false,
    });
    const a = express();
    a.get('/x', cache, (_req, res) => {
      res.send('x');
    });
    const miss = await request(a).get('/x');
    await sleep(30);
    const hit = await request(a).get('/x');
    expect(miss.headers['cache-status']).toBeUndefined();
    expect(hit.headers['cache-status']).toBeUndefined();
    expect(hit.headers.age).toBe('0');
  });
});
