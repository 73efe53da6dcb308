// Bounded cardinality: unknown URLs and runaway route names cannot grow the number of routes or keys.
import { randomBytes } from 'node:crypto';
import express from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { type PageViewsMiddleware, pageViews } from '../../src/index.js';
import { deleteByPattern, useTestRedis } from '../helpers/redis.js';
import {
  BROWSER_UA,
  configOf,
  HTML_PAGE,
  type Listening,
  listen,
  load,
  scriptSrc,
  todayUtc,
} from './support.js';

const redis = useTestRedis();
const open: PageViewsMiddleware[] = [];
const servers: Listening[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all(open.map((v) => v.close().catch(() => {})));
});

async function keysUnder(prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

describe('cardinality', () => {
  it('10,000 requests to random unknown URLs add one (unmatched) route, not 10,000', async () => {
    const prefix = redis.prefix('card:');
    const views = pageViews({ redis: redis.client, prefix, flushInterval: '1h' });
    open.push(views);
    const app = express();
    app.use(views);
    app.get('/products/:id', (_req, res) => {
      res.send(HTML_PAGE);
    });
    app.use((_req, res) => {
      res.send(HTML_PAGE); // an SPA fallback answers every unknown path with the HTML shell
    });
    const server = await listen(app);
    servers.push(server);

    const statuses = await load(server.url, 10_000, (i) => ({
      path: i % 100 === 0 ? `/products/${i}` : `/${randomBytes(6).toString('hex')}/${i}?q=${i}`,
    }));
    expect(statuses.every((s) => s === 200)).toBe(true);
    await views.flush();

    const rows = await views.report({ from: todayUtc(), to: todayUtc(), granularity: 'day' });
    expect(rows.map((r) => [r.route, r.views])).toEqual([
      ['(unmatched)', 9_900],
      ['/products/:id', 100],
    ]);
    // the key count does not depend on the number of URLs: per granularity a views hash, a site HLL, one HLL
    // per route and a salt; plus the live minute keys and the flush marker
    const keys = await keysUnder(prefix);
    expect(keys.length).toBeLessThan(30);
    expect(keys.some((k) => k.includes('/products/') && !k.endsWith('/products/:id'))).toBe(false);
  }, 60_000);

  it('counts 404s of unknown URLs under (unmatched) when include admits them', async () => {
    const views = pageViews({
      redis: redis.client,
      prefix: redis.prefix('404:'),
      flushInterval: '1h',
      include: (req) => req.method === 'GET',
    });
    open.push(views);
    const app = express();
    app.use(views);
    const server = await listen(app);
    servers.push(server);
    await load(server.url, 500, (i) => ({ path: `/wp-admin/${i}.php` }));
    await views.flush();
    const rows = await views.report({ from: todayUtc(), to: todayUtc(), granularity: 'day' });
    expect(rows.map((r) => [r.route, r.views])).toEqual([['(unmatched)', 500]]);
  });

  it('caps distinct routes per day with maxRoutes; the rest count as (other)', async () => {
    const prefix = redis.prefix('cap:');
    const views = pageViews({ redis: redis.client, prefix, flushInterval: '1h', maxRoutes: 20 });
    open.push(views);
    for (let i = 0; i < 1_000; i++) views.record({ route: `/leaky/${i}`, visitor: `v${i}` });
    await views.flush();
    const rows = await views.report({ from: todayUtc(), to: todayUtc(), granularity: 'day' });
    expect(rows).toHaveLength(21);
    expect(rows[0]).toMatchObject({ route: '(other)', views: 980 });
    expect((await keysUnder(prefix)).length).toBeLessThan(4 * 23 + 10);
    await deleteByPattern(redis.client, `${prefix}*`);
  });
});

describe('routes with parameters in the mount path', () => {
  it('a router on /users/:uid cannot grow the routes of script URLs and beacons past maxRoutes', async () => {
    const prefix = redis.prefix('uid:');
    const views = pageViews({ redis: redis.client, prefix, flushInterval: '1h', maxRoutes: 5 });
    open.push(views);
    const app = express();
    app.use(views);
    const users = express.Router();
    // req.baseUrl is the real URL (/users/123): every user is another route name.
    users.get('/profile', (req, res) => {
      res.send(`<!doctype html><p>profile</p>${views.scriptTag(req)}`);
    });
    app.use('/users/:uid', users);
    const server = await listen(app);
    servers.push(server);

    const scripts = new Set<string>();
    for (let uid = 0; uid < 40; uid++) {
      const page = await fetch(`${server.url}/users/${uid}/profile`, {
        headers: { 'user-agent': BROWSER_UA },
      });
      const src = scriptSrc(await page.text());
      scripts.add(src);
      const script = await fetch(server.url + src);
      expect(script.status).toBe(200);
      const { t } = configOf(await script.text());
      const beacon = await fetch(`${server.url}/_pv`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ t, s: 1, ms: 1_000 }),
      });
      expect(beacon.status).toBe(204);
    }
    // At most maxRoutes distinct script URLs, plus the one of (other).
    expect(scripts.size).toBeLessThanOrEqual(6);
    await views.flush();
    const day = todayUtc();
    const fields = await redis.client.hkeys(`${prefix}t:d:${day}`);
    const routes = new Set(fields.map((f) => f.slice(0, f.lastIndexOf(' '))));
    expect(routes.size).toBeLessThanOrEqual(6);
    const rows = await views.report({ from: day, to: day, granularity: 'day' });
    expect(rows.length).toBeLessThanOrEqual(6);
    expect(rows.reduce((n, r) => n + r.views, 0)).toBe(40);
    // The beacons of the routes past the cap were timed under (other) as well.
    expect(rows.find((r) => r.route === '(other)')?.timedViews).toBe(35);
    await deleteByPattern(redis.client, `${prefix}*`);
  }, 60_000);
});
