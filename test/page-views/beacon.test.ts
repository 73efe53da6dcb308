// Time on page, server side (over HTTP on Express 4 and 5): one token per view, cumulative beacons, clamping,
// rejections.
import { Redis } from 'ioredis';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { type PageViewRow, type PageViewsMiddleware, pageViews } from '../../src/index.js';
import { scanKeys } from '../cache/support.js';
import { type ExpressFactory, expressVersions } from '../helpers/express.js';
import { useTestRedis } from '../helpers/redis.js';
import { freePort } from '../helpers/redis-server.js';
import { BROWSER_UA, configOf, HTML_PAGE, scriptSrc, sleep, todayUtc } from './support.js';

const redis = useTestRedis();
const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
const open: PageViewsMiddleware[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((v) => v.close().catch(() => {})));
});

describe.each(expressVersions)('%s', (versionName, express) => {
  let n = 0;
  function setup(extra: Partial<Parameters<typeof pageViews>[0]> = {}, prefix = `${versionName}-${++n}:`) {
    const views = pageViews({
      redis: redis.client,
      prefix: redis.prefix(prefix),
      secret: SECRET,
      flushInterval: '1h',
      ...extra,
    });
    open.push(views);
    return { views, app: appWith(express, views), prefix: redis.prefix(prefix) };
  }

  async function tokenFor(app: ReturnType<typeof appWith>, path = '/products/1'): Promise<string> {
    const page = await request(app).get(path).set('user-agent', BROWSER_UA).expect(200);
    const src = scriptSrc(page.text);
    const script = await request(app).get(src).expect(200);
    return configOf(script.text).t;
  }

  const beacon = (app: ReturnType<typeof appWith>, body: string, type = 'text/plain;charset=UTF-8') =>
    request(app).post('/_pv').set('content-type', type).send(body);

  const timeRow = async (
    views: PageViewsMiddleware,
    granularity: 'day' | 'week' = 'day',
  ): Promise<PageViewRow> => {
    const [row] = await views.report({
      from: todayUtc(),
      to: todayUtc(),
      granularity,
      route: '/products/:id',
    });
    if (!row) throw new Error('no row');
    return row;
  };

  it('serves one page HTML to everybody and a fresh no-store token to each view', async () => {
    const { app } = setup();
    const a = await request(app).get('/products/1').set('user-agent', BROWSER_UA).expect(200);
    const b = await request(app).get('/products/2').set('user-agent', `${BROWSER_UA} other`).expect(200);
    // the page is identical for every visitor, so a response cache may replay it
    expect(a.text).toBe(b.text);
    const src = scriptSrc(a.text);
    expect(src).toMatch(/^\/_pv\.js\?r=%2Fproducts%2F%3Aid&s=[\w-]{16}$/);

    const first = await request(app).get(src).expect(200);
    const second = await request(app).get(src).expect(200);
    expect(first.headers['cache-control']).toBe('no-store');
    expect(first.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(configOf(first.text).t).not.toBe(configOf(second.text).t);
    expect(configOf(first.text).u).toBe('/_pv');
  });

  it('stores a beacon: timed views, sum and histogram bucket on every granularity', async () => {
    const { views, app } = setup();
    const t = await tokenFor(app);
    await beacon(app, JSON.stringify({ t, s: 1, ms: 12_345 })).expect(204);
    for (const granularity of ['day', 'week'] as const) {
      const row = await timeRow(views, granularity);
      expect(row.timedViews).toBe(1);
      expect(row.avgTimeOnPageMs).toBe(12_345);
      expect(row.timeOnPageBuckets.map((b) => b.count)).toEqual([0, 1, 0, 0, 0, 0, 0, 0]);
      expect(row.timeOnPageBuckets[1]).toEqual({ fromMs: 5_000, toMs: 15_000, count: 1 });
    }
  });

  it('refuses a replayed beacon (409) and stores nothing more', async () => {
    const { views, app } = setup();
    const t = await tokenFor(app);
    const body = JSON.stringify({ t, s: 1, ms: 4_000 });
    await beacon(app, body).expect(204);
    await beacon(app, body).expect(409);
    await beacon(app, JSON.stringify({ t, s: 1, ms: 9_000 })).expect(409);
    const row = await timeRow(views);
    expect([row.timedViews, row.avgTimeOnPageMs]).toEqual([1, 4_000]);
  });

  it('adds what grew when the same view reports again (hidden, shown, hidden)', async () => {
    const { views, app } = setup();
    const t = await tokenFor(app);
    await beacon(app, JSON.stringify({ t, s: 1, ms: 10_000 })).expect(204);
    await beacon(app, JSON.stringify({ t, s: 2, ms: 45_000 })).expect(204);
    // an older beacon arriving late changes nothing
    await beacon(app, JSON.stringify({ t, s: 2, ms: 50_000 })).expect(409);
    const row = await timeRow(views);
    expect(row.timedViews).toBe(1);
    expect(row.avgTimeOnPageMs).toBe(45_000);
    expect(row.timeOnPageBuckets.map((b) => b.count)).toEqual([0, 0, 0, 1, 0, 0, 0, 0]);
  });

  it('clamps the time to maxTimeOnPage', async () => {
    const { views, app } = setup({ maxTimeOnPage: '10m' });
    const t = await tokenFor(app);
    await beacon(app, JSON.stringify({ t, s: 1, ms: 36_000_000 })).expect(204);
    const row = await timeRow(views);
    expect(row.avgTimeOnPageMs).toBe(600_000);
    expect(row.timeOnPageBuckets.map((b) => b.count)).toEqual([0, 0, 0, 0, 0, 0, 1, 0]);
  });

  it('rejects malformed, oversized, mistyped and badly signed beacons with a 4xx, storing nothing', async () => {
    const { views, app, prefix } = setup();
    const t = await tokenFor(app);
    await beacon(app, 'not json').expect(400);
    await beacon(app, '[1,2]').expect(400);
    await beacon(app, JSON.stringify({ s: 1, ms: 5 })).expect(400);
    await beacon(app, JSON.stringify({ t, s: 0, ms: 5 })).expect(400);
    await beacon(app, JSON.stringify({ t, s: 1.5, ms: 5 })).expect(400);
    await beacon(app, JSON.stringify({ t, s: 1, ms: -1 })).expect(400);
    await beacon(app, JSON.stringify({ t, s: 1, ms: '5' })).expect(400);
    await beacon(app, JSON.stringify({ t, s: 1, ms: 5, pad: 'x'.repeat(2_000) })).expect(413);
    await beacon(app, JSON.stringify({ t, s: 1, ms: 5 }), 'application/x-www-form-urlencoded').expect(415);
    const [issued, nonce, mac, route] = t.split('.') as [string, string, string, string];
    const flipped = mac.startsWith('A') ? `B${mac.slice(1)}` : `A${mac.slice(1)}`;
    await beacon(app, JSON.stringify({ t: `${issued}.${nonce}.${flipped}.${route}`, s: 1, ms: 5 })).expect(
      403,
    );
    await beacon(app, JSON.stringify({ t: `${issued}.${nonce}.${mac}./admin`, s: 1, ms: 5 })).expect(403);
    await beacon(app, JSON.stringify({ t: 'garbage', s: 1, ms: 5 })).expect(403);
    // a token of another deployment (another secret) is not accepted either
    const other = pageViews({
      redis: redis.client,
      prefix: redis.prefix('other:'),
      secret: `${SECRET}-other`,
    });
    open.push(other);
    const foreign = await tokenFor(appWith(express, other));
    await beacon(app, JSON.stringify({ t: foreign, s: 1, ms: 5 })).expect(403);

    const row = await timeRow(views);
    expect(row.timedViews).toBe(0);
    expect(await redis.client.exists(`${prefix}{${prefix.replace(/:$/, '')}}:t:d:${todayUtc()}`)).toBe(0);
    // token state, over every SCAN page of the shared Redis: none was kept for the refused beacons
    const tokenKeys = async () =>
      (await scanKeys(redis.client, `${prefix}*`)).filter((k) => k.includes(':k:'));
    expect(await tokenKeys()).toEqual([]);
    // the genuine token still works afterwards, and its state is what the scan above looked for
    await beacon(app, JSON.stringify({ t, s: 1, ms: 5 })).expect(204);
    expect(await tokenKeys()).toHaveLength(1);
  });

  it('refuses an expired token', async () => {
    const { views, app } = setup({ tokenTtl: '1s' });
    const t = await tokenFor(app);
    await sleep(1_300);
    await beacon(app, JSON.stringify({ t, s: 1, ms: 5_000 })).expect(403);
    expect((await timeRow(views)).timedViews).toBe(0);
  });

  it('refuses a script URL whose page reference is not signed', async () => {
    const { app } = setup();
    await request(app).get('/_pv.js').expect(400);
    await request(app).get('/_pv.js?r=%2Fadmin&s=AAAAAAAAAAAAAAAA').expect(400);
    const page = await request(app).get('/products/1').set('user-agent', BROWSER_UA);
    const src = scriptSrc(page.text);
    await request(app).get(src.replace('%3Aid', '%3Aslug')).expect(400);
  });

  it('accepts tokens across instances that share the secret', async () => {
    const { app, prefix, views } = setup();
    const second = pageViews({ redis: redis.client, prefix, secret: SECRET });
    open.push(second);
    const t = await tokenFor(app);
    await beacon(appWith(express, second), JSON.stringify({ t, s: 1, ms: 7_000 })).expect(204);
    expect((await timeRow(views)).avgTimeOnPageMs).toBe(7_000);
  });

  it('reads a body that a text parser already consumed', async () => {
    const views = pageViews({
      redis: redis.client,
      prefix: redis.prefix(`${versionName}-parsed:`),
      secret: SECRET,
    });
    open.push(views);
    const app = express();
    app.use(express.text());
    app.use(views);
    app.get('/products/:id', (req, res) => {
      res.send(`${HTML_PAGE}${views.scriptTag(req)}`);
    });
    const t = await tokenFor(app);
    await request(app)
      .post('/_pv')
      .set('content-type', 'text/plain')
      .send(JSON.stringify({ t, s: 1, ms: 3_000 }))
      .expect(204);
    const [row] = await views.report({
      from: todayUtc(),
      to: todayUtc(),
      granularity: 'day',
      route: '/products/:id',
    });
    expect(row?.avgTimeOnPageMs).toBe(3_000);
  });

  it('answers per onRedisError when Redis fails: 204 fail-open, 503 fail-closed', async () => {
    const port = await freePort();
    const dead = new Redis(port, '127.0.0.1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    dead.on('error', () => {});
    const warnings: string[] = [];
    const logger = { warn: (m: string) => warnings.push(m), error: (m: string) => warnings.push(m) };
    for (const [policy, status] of [
      ['fail-open', 204],
      ['fail-closed', 503],
    ] as const) {
      const views = pageViews({
        redis: dead,
        secret: SECRET,
        onRedisError: policy,
        logger,
        flushInterval: '1h',
      });
      const app = appWith(express, views);
      const t = await tokenFor(app);
      await beacon(app, JSON.stringify({ t, s: 1, ms: 5 })).expect(status);
      await views.close().catch(() => {});
    }
    expect(warnings.some((w) => w.includes('Redis error'))).toBe(true);
    dead.disconnect();
  });
});

function appWith(express: ExpressFactory, views: PageViewsMiddleware) {
  const app = express();
  app.use(views);
  app.get('/products/:id', (req, res) => {
    res.send(`${HTML_PAGE}${views.scriptTag(req)}`);
  });
  return app;
}
