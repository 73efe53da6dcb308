// Page views of pages the response cache answers: every page GET counts once, whether it was rendered, shared
// from a fill still in flight or served as a hit; a HEAD or a 304 never counts, whether or not the entry landed.
import express from 'express';
import type { Response, Test } from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { pageViews, responseCache } from '../../src/index.js';
import { gate, sleep, waitFor } from '../cache/support.js';
import { request } from '../helpers/http.js';
import { useTestRedis } from '../helpers/redis.js';
import { BROWSER_UA, HTML_PAGE, todayUtc } from './support.js';

const redis = useTestRedis();
const views = pageViews({ redis: redis.client, prefix: redis.prefix('pv:'), flushInterval: '1h' });
const cache = responseCache({
  redis: redis.client,
  prefix: redis.prefix('cache:'),
  name: 'pages',
  ttl: '1m',
});
afterAll(() => views.close());

let hold = gate();
let arrived = 0;
let renders = 0;
const app = express();
app.use(views);
app.use((_req, _res, next) => {
  arrived += 1;
  next();
});
app.get('/products/:id', cache, async (_req, res) => {
  renders += 1;
  await hold.promise;
  res.type('html').send(HTML_PAGE);
});

const get = (headers: Record<string, string> = {}) =>
  request(app).get('/products/1').set('User-Agent', BROWSER_UA).set(headers);
const head = () => request(app).head('/products/1').set('User-Agent', BROWSER_UA);
/** Sends a request now (supertest sends only when awaited). */
const send = (test: Test): Promise<Response> => test.then((response) => response);

async function productViews(): Promise<number> {
  await views.flush();
  const today = todayUtc();
  const rows = await views.report({ from: today, to: today, granularity: 'day' });
  return rows.find((r) => r.route === '/products/:id')?.views ?? 0;
}

describe('page views of cached pages', () => {
  it('counts each page GET once (miss, hit, shared fill); never a HEAD or a 304, landed entry or not', async () => {
    hold.open();
    const miss = await get().expect(200);
    expect(miss.headers['cache-status']).toBe('express-redis-kit; fwd=miss; stored');
    const etag = String(miss.headers.etag);
    await waitFor(() => cache.stats().stored === 1, 'the entry stored');
    // The entry has landed: a hit, a HEAD and a conditional reload by a script (a 304).
    expect((await get().expect(200)).headers['cache-status']).toMatch(/^express-redis-kit; hit; ttl=\d+$/);
    expect((await head().expect(200)).headers['cache-status']).toMatch(/^express-redis-kit; hit; ttl=\d+$/);
    expect((await get({ 'If-None-Match': etag }).expect(304)).headers['cache-status']).toMatch(/hit/);
    expect(renders).toBe(1);
    expect(await productViews()).toBe(2);

    // No entry, and the render is held: a GET, a HEAD and a conditional GET arrive while the fill is in flight.
    await cache.clear();
    hold = gate();
    arrived = 0;
    const refill = send(get());
    await waitFor(() => renders === 2, 'the render of the refill');
    const during = [send(get()), send(head()), send(get({ 'If-None-Match': etag }))];
    await waitFor(() => arrived === 4, 'the requests during the fill');
    await sleep(100);
    hold.open();
    const [filled, shared, sharedHead, conditional] = await Promise.all([refill, ...during]);
    expect(filled?.headers['cache-status']).toBe('express-redis-kit; fwd=miss; stored');
    // The precondition: the GETs were answered from the fill in flight, not from a landed entry.
    expect(shared?.headers['cache-status']).toBe('express-redis-kit; fwd=miss; collapsed');
    expect(shared?.text).toBe(HTML_PAGE);
    expect(sharedHead?.status).toBe(200);
    expect(conditional?.status).toBe(304);
    expect(conditional?.headers['cache-status']).toBe('express-redis-kit; fwd=miss; collapsed');
    expect(await productViews()).toBe(4);
  });
});
