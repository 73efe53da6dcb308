// Counting (Express 4 and 5): exact views per route pattern, what counts as a view, and the reports.
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { type PageViewsMiddleware, pageViews } from '../../src/index.js';
import { expressVersions } from '../helpers/express.js';
import { useTestRedis } from '../helpers/redis.js';
import { BROWSER_UA, HTML_PAGE, todayUtc } from './support.js';

const redis = useTestRedis();
const open: PageViewsMiddleware[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((v) => v.close().catch(() => {})));
});

function track(name: string, extra: Partial<Parameters<typeof pageViews>[0]> = {}): PageViewsMiddleware {
  const views = pageViews({
    redis: redis.client,
    prefix: redis.prefix(`${name}:`),
    flushInterval: '1h',
    ...extra,
  });
  open.push(views);
  return views;
}

describe.each(expressVersions)('%s', (versionName, express) => {
  function shop(views: PageViewsMiddleware) {
    const app = express();
    app.use(views);
    const products = express.Router();
    products.get('/:id', (_req, res) => {
      res.send(HTML_PAGE);
    });
    products.get('/:id/reviews', (_req, res) => {
      res.type('html').send(HTML_PAGE);
    });
    app.use('/products', products);
    app.get('/', (_req, res) => {
      res.send(HTML_PAGE);
    });
    app.get('/api/items', (_req, res) => {
      res.json({ items: [] });
    });
    app.get('/gone', (_req, res) => {
      res.status(410).send(HTML_PAGE);
    });
    app.post('/', (_req, res) => {
      res.send(HTML_PAGE);
    });
    // an SPA-style fallback: every unknown path gets the HTML shell
    app.use((_req, res) => {
      res.send(HTML_PAGE);
    });
    return app;
  }

  it('counts each route pattern exactly once per page view, after a flush', async () => {
    const views = track(`${versionName}-exact`);
    const app = shop(views);
    const agent = request(app);
    for (let i = 0; i < 7; i++) await agent.get(`/products/${i}`).set('user-agent', BROWSER_UA).expect(200);
    for (let i = 0; i < 3; i++)
      await agent.get(`/products/${i}/reviews`).set('user-agent', BROWSER_UA).expect(200);
    for (let i = 0; i < 2; i++) await agent.get('/').set('user-agent', BROWSER_UA).expect(200);
    await agent.get('/no/such/page').set('user-agent', BROWSER_UA).expect(200);

    // not page views: JSON, an error status, POST, HEAD, a bot, prefetches
    await agent.get('/api/items').set('user-agent', BROWSER_UA).expect(200);
    await agent.get('/gone').set('user-agent', BROWSER_UA).expect(410);
    await agent.post('/').set('user-agent', BROWSER_UA).expect(200);
    await agent.head('/').set('user-agent', BROWSER_UA).expect(200);
    await agent.get('/').set('user-agent', 'Googlebot/2.1 (+http://www.google.com/bot.html)').expect(200);
    await agent.get('/').set('user-agent', BROWSER_UA).set('Sec-Purpose', 'prefetch').expect(200);
    await agent.get('/').set('user-agent', BROWSER_UA).set('Purpose', 'prefetch').expect(200);

    // counted in process only, until the flush
    expect(views.stats().bufferedViews).toBe(13);
    expect(await views.report({ from: todayUtc(), to: todayUtc(), granularity: 'day' })).toEqual([]);
    await views.flush();

    const rows = await views.report({ from: todayUtc(), to: todayUtc(), granularity: 'day' });
    expect(rows.map((r) => [r.route, r.views])).toEqual([
      ['/products/:id', 7],
      ['/products/:id/reviews', 3],
      ['/', 2],
      ['(unmatched)', 1],
    ]);
    // one client (same address and user agent) is one visitor
    expect(rows.map((r) => r.uniques)).toEqual([1, 1, 1, 1]);
    const totals = await views.totals({ from: todayUtc(), to: todayUtc(), granularity: 'day' });
    expect(totals).toEqual([{ period: todayUtc(), views: 13, uniques: 1 }]);
  });

  it('counts a 304 revalidation of a page by a browser navigation, not other 304s', async () => {
    const views = track(`${versionName}-304`);
    const app = shop(views);
    const first = await request(app).get('/').set('user-agent', BROWSER_UA).expect(200);
    const etag = first.headers.etag as string;
    await request(app)
      .get('/')
      .set('user-agent', BROWSER_UA)
      .set('if-none-match', etag)
      .set('accept', 'text/html,application/xhtml+xml')
      .expect(304);
    await request(app)
      .get('/')
      .set('user-agent', BROWSER_UA)
      .set('if-none-match', etag)
      .set('accept', '*/*')
      .expect(304);
    await views.flush();
    const [row] = await views.report({ from: todayUtc(), to: todayUtc(), granularity: 'day', route: '/' });
    expect(row?.views).toBe(2);
  });

  it('ignores X-Forwarded-For for visitors unless trust proxy is set', async () => {
    for (const trusted of [false, true]) {
      const views = track(`${versionName}-xff-${trusted}`);
      const app = shop(views);
      if (trusted) app.set('trust proxy', 'loopback');
      for (const ip of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) {
        await request(app).get('/').set('user-agent', BROWSER_UA).set('x-forwarded-for', ip).expect(200);
      }
      await views.flush();
      const [total] = await views.totals({ from: todayUtc(), to: todayUtc(), granularity: 'day' });
      expect(total).toMatchObject({ views: 3, uniques: trusted ? 3 : 1 });
    }
  });

  it('takes custom route, include and visitor functions', async () => {
    const views = track(`${versionName}-custom`, {
      route: (req) => (req.path.startsWith('/products') ? 'product' : undefined),
      include: (req, res) => req.method === 'POST' || res.statusCode === 410,
      visitor: (req) => String(req.headers['x-user']),
    });
    const app = shop(views);
    await request(app).post('/').set('x-user', 'a').expect(200);
    await request(app).get('/gone').set('x-user', 'b').expect(410);
    await request(app).get('/').set('x-user', 'c').expect(200);
    await views.flush();
    const rows = await views.report({ from: todayUtc(), to: todayUtc(), granularity: 'day' });
    expect(rows.map((r) => [r.route, r.views, r.uniques])).toEqual([['(unmatched)', 2, 2]]);
  });
});

describe('reports', () => {
  it('gives the top routes of a period, most viewed first', async () => {
    const views = track('top');
    for (let i = 0; i < 5; i++) views.record({ route: '/a', visitor: `v${i}` });
    for (let i = 0; i < 9; i++) views.record({ route: '/b', visitor: 'same' });
    views.record({ route: '/c' });
    await views.flush();
    const top = await views.top({ granularity: 'day', period: todayUtc(), limit: 2 });
    expect(top.map((r) => [r.route, r.views, r.uniques])).toEqual([
      ['/b', 9, 1],
      ['/a', 5, 5],
    ]);
    const month = await views.top({ granularity: 'month' });
    expect(month.map((r) => r.route)).toEqual(['/b', '/a', '/c']);
    expect(month[2]?.uniques).toBe(0);
  });

  it('keeps routes that are too long for a key readable in reports', async () => {
    const views = track('long');
    const long = `/${'x'.repeat(300)}/:id`;
    views.record({ route: long, visitor: 'a' });
    await views.flush();
    const rows = await views.report({ from: todayUtc(), to: todayUtc(), granularity: 'day' });
    expect(rows.map((r) => [r.route, r.views, r.uniques])).toEqual([[long, 1, 1]]);
    const [only] = await views.report({ from: todayUtc(), to: todayUtc(), granularity: 'year', route: long });
    expect(only?.views).toBe(1);
  });

  it('survives a throwing route function: the page is served, one error is logged per 10 s', async () => {
    const errors: string[] = [];
    const views = track('throws', {
      route: () => {
        throw new Error('boom');
      },
      logger: { warn: (m) => errors.push(m), error: (m) => errors.push(m) },
    });
    const app = expressVersions[1]?.[1]();
    if (!app) throw new Error('no express');
    app.use(views);
    app.get('/', (_req, res) => {
      res.send(HTML_PAGE);
    });
    for (let i = 0; i < 3; i++) await request(app).get('/').set('user-agent', BROWSER_UA).expect(200);
    expect(errors).toEqual(['pageViews: the route, include or visitor option threw; view not counted']);
    expect(views.stats().bufferedViews).toBe(0);
  });

  it('rejects bad report arguments', async () => {
    const views = track('bad', { granularities: ['day', 'month'] });
    await expect(views.report({ from: '2026-11-01', to: '2026-11-02', granularity: 'week' })).rejects.toThrow(
      /granularity/,
    );
    await expect(views.report({ from: 'yesterday', to: '2026-11-02', granularity: 'day' })).rejects.toThrow(
      /from/,
    );
    await expect(views.report({ from: '2026-02-30', to: '2026-11-02', granularity: 'day' })).rejects.toThrow(
      /from/,
    );
    await expect(views.top({ granularity: 'day', limit: 0 })).rejects.toThrow(/limit/);
    expect(await views.report({ from: '2026-11-02', to: '2026-11-01', granularity: 'day' })).toEqual([]);
  });
});
