// With compression: the cache works with the compression middleware in front of it or behind it, Express 4 and 5.

import { gunzipSync } from 'node:zlib';
import compression from 'compression';
import type { RequestHandler } from 'express';
import type { Response } from 'supertest';
import { describe, expect, it } from 'vitest';
import { type ResponseCacheOptions, responseCache } from '../../src/index.js';
import { expressVersions } from '../helpers/express.js';
import { request } from '../helpers/http.js';
import { useTestRedis } from '../helpers/redis.js';
import { entryHeader, readEntries, sleep } from './support.js';

const redis = useTestRedis();
let names = 0;
const page = `<html><body>${'<p>compressible catalogue text</p>'.repeat(200)}</body></html>`;
const quiet = { warn() {}, error() {} };

// superagent inflates gzip bodies itself (it fails on a body that is not what Content-Encoding says), so `text`
// is the decoded page and `content-encoding` tells what went over the wire.
const get = (app: import('express').Express, encoding: string) =>
  request(app).get('/page').set('Accept-Encoding', encoding);

const bodyOf = (res: Response) => res.text;

describe.each(expressVersions)('%s with compression', (_label, express) => {
  function build(order: 'before' | 'after', options: Partial<ResponseCacheOptions> = {}) {
    const mode = { value: 'v1' as 'v1' | 'v2' | 'fail' };
    const name = `z${++names}`;
    const cache = responseCache({
      redis: redis.connect(),
      prefix: redis.prefix('cache:'),
      name,
      logger: quiet,
      ...options,
    });
    const app = express();
    let renders = 0;
    const handler: RequestHandler = (_req, res) => {
      renders++;
      if (mode.value === 'fail') res.status(500).type('html').send('<h1>error</h1>');
      else res.type('html').send(mode.value === 'v2' ? page.replace('catalogue', 'CATALOGUE') : page);
    };
    if (order === 'before') {
      app.use(compression({ threshold: 0 }));
      app.get('/page', cache, handler);
    } else {
      app.get('/page', cache, compression({ threshold: 0 }), handler);
    }
    return { app, mode, renders: () => renders, keyBase: redis.prefix(`cache:${name}:`) };
  }

  it('compression in front: stores the identity body once, every client gets a correct body', async () => {
    const t = build('before');
    const miss = await get(t.app, 'gzip');
    expect(miss.headers['content-encoding']).toBe('gzip');
    expect(bodyOf(miss)).toBe(page);
    await sleep(50);
    const [entry] = await readEntries(redis.client, t.keyBase);
    expect(entry?.body.toString()).toBe(page);
    expect(entryHeader(entry?.headers ?? [], 'content-encoding')).toBeUndefined();
    const hitGzip = await get(t.app, 'gzip, deflate');
    expect(hitGzip.headers['cache-status']).toMatch(/hit/);
    expect(hitGzip.headers['content-encoding']).toBe('gzip');
    expect(hitGzip.headers.vary).toMatch(/Accept-Encoding/i);
    expect(bodyOf(hitGzip)).toBe(page);
    const hitPlain = await get(t.app, 'identity');
    expect(hitPlain.headers['cache-status']).toMatch(/hit/);
    expect(hitPlain.headers['content-encoding']).toBeUndefined();
    expect(hitPlain.text).toBe(page);
    expect(t.renders()).toBe(1);
  });

  it('compression behind: stores the gzip body with its Content-Encoding, never serves it to a client that cannot read it', async () => {
    const t = build('after');
    const miss = await get(t.app, 'gzip');
    expect(miss.headers['content-encoding']).toBe('gzip');
    expect(bodyOf(miss)).toBe(page);
    await sleep(50);
    const [entry] = await readEntries(redis.client, t.keyBase);
    expect(entryHeader(entry?.headers ?? [], 'content-encoding')).toBe('gzip');
    expect(gunzipSync(entry?.body as Buffer).toString()).toBe(page);
    const hit = await get(t.app, 'gzip, br');
    expect(hit.headers['cache-status']).toMatch(/hit/);
    expect(hit.headers['content-encoding']).toBe('gzip');
    expect(bodyOf(hit)).toBe(page);
    const plain = await get(t.app, 'identity');
    expect(plain.headers['cache-status']).toBe('express-redis-kit; fwd=vary-miss');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.text).toBe(page);
    expect(t.renders()).toBe(2);
  });

  it("compression behind with vary: ['accept-encoding']: one entry per encoding, each a hit", async () => {
    const t = build('after', { vary: ['accept-encoding'] });
    for (const encoding of ['gzip', 'identity', 'gzip', 'identity']) {
      const res = await get(t.app, encoding);
      expect(bodyOf(res)).toBe(page);
      expect(res.headers['content-encoding']).toBe(encoding === 'gzip' ? 'gzip' : undefined);
      await sleep(30);
    }
    expect(t.renders()).toBe(2);
    const entries = await readEntries(redis.client, t.keyBase);
    expect(entries.map((e) => entryHeader(e.headers, 'content-encoding') ?? 'identity').sort()).toEqual([
      'gzip',
      'identity',
    ]);
  });

  it('compression in front: 304 answers and stale-if-error answers are correct', async () => {
    const t = build('before', { ttl: '1s', staleIfError: '30s' });
    const first = await get(t.app, 'gzip');
    await sleep(50);
    const notModified = await request(t.app)
      .get('/page')
      .set('If-None-Match', first.headers.etag as string);
    expect(notModified.status).toBe(304);
    expect(notModified.text ?? '').toBe('');
    await sleep(1_500);
    t.mode.value = 'fail';
    const stale = await get(t.app, 'gzip');
    expect(stale.status).toBe(200);
    expect(stale.headers['cache-status']).toMatch(/stale-if-error/);
    expect(stale.headers['content-encoding']).toBe('gzip');
    expect(bodyOf(stale)).toBe(page);
  });

  it('compression behind: a background refresh stores a correct gzip entry', async () => {
    const t = build('after', { ttl: '1s', staleWhileRevalidate: '30s' });
    await get(t.app, 'gzip');
    await sleep(1_500);
    t.mode.value = 'v2';
    const stale = await get(t.app, 'gzip');
    expect(stale.headers['cache-status']).toMatch(/stale-while-revalidate/);
    expect(bodyOf(stale)).toBe(page);
    const v2 = page.replace('catalogue', 'CATALOGUE');
    let hit: Response | undefined;
    for (let i = 0; i < 50 && hit?.text !== v2; i++) {
      await sleep(20);
      hit = await get(t.app, 'gzip');
    }
    expect(hit?.headers['cache-status']).toMatch(/^express-redis-kit; hit/);
    expect(hit?.headers['content-encoding']).toBe('gzip');
    expect(bodyOf(hit as Response)).toBe(v2);
    const [entry] = await readEntries(redis.client, t.keyBase);
    expect(gunzipSync(entry?.body as Buffer).toString()).toBe(v2);
    expect(t.renders()).toBe(2);
  });
});
