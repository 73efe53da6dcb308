// Invalidation after unsafe requests (RFC 9111 §4.4): a successful write removes every entry of the URL it names.
import type { RequestHandler } from 'express';
import { describe, expect, it } from 'vitest';
import { type ResponseCacheOptions, responseCache } from '../../src/index.js';
import { expressVersions } from '../helpers/express.js';
import { request } from '../helpers/http.js';
import { useTestRedis } from '../helpers/redis.js';
import { gate, publicHost, readEntries, sleep, waitFor } from './support.js';

const redis = useTestRedis();
let names = 0;

describe.each(expressVersions)('%s: invalidation after unsafe requests', (_label, express) => {
  /** A shop: products rendered from `stock`; writes change `stock` and answer as the test says. */
  function shop(
    options: Partial<ResponseCacheOptions> = {},
    mount: 'use' | 'route' = 'use',
    name = `i${++names}`,
    stock = new Map<string, number>(),
  ) {
    const cache = responseCache({
      redis: redis.connect(),
      prefix: redis.prefix('cache:'),
      name,
      ttl: '1h',
      vary: ['accept-language'],
      privateScope: (req) =>
        req.headers.authorization === undefined ? undefined : req.headers.authorization,
      ...options,
    });
    const state = { renders: 0, hold: undefined as Promise<void> | undefined };
    const app = express();
    app.use(publicHost);
    const show: RequestHandler = async (req, res) => {
      state.renders++;
      const value = stock.get(String(req.params.id)) ?? 0;
      if (state.hold !== undefined) await state.hold;
      res.set('Vary', 'Accept-Language').json({ id: req.params.id, stock: value });
    };
    const write: RequestHandler = (req, res) => {
      const id = String(req.params.id ?? req.query.id);
      stock.set(id, (stock.get(id) ?? 0) + 1);
      const answer = String(req.query.answer ?? '204');
      if (answer === '303') res.redirect(303, String(req.query.location ?? `/products/${id}`));
      else if (answer === '201') res.status(201).set('Content-Location', `/products/${id}`).json({ id });
      else res.sendStatus(Number(answer));
    };
    if (mount === 'use') app.use(cache);
    app.get('/products/:id', mount === 'use' ? [] : [cache], show);
    app.post('/products/:id', mount === 'use' ? [] : [cache], write);
    app.delete('/products/:id', mount === 'use' ? [] : [cache], write);
    app.all('/orders', mount === 'use' ? [] : [cache], write);
    return { app, cache, name, stock, state, keyBase: redis.prefix(`cache:${name}:`) };
  }

  async function stockOf(app: Parameters<typeof request>[0], path = '/products/42', lang = 'en') {
    const res = await request(app).get(path).set('Accept-Language', lang);
    return { stock: res.body.stock as number, status: res.headers['cache-status'] as string };
  }

  async function cached(app: Parameters<typeof request>[0], path = '/products/42', lang = 'en') {
    await request(app).get(path).set('Accept-Language', lang);
    await waitFor(async () => (await stockOf(app, path, lang)).status.includes('hit'), `${path} cached`);
  }

  it('answers a successful POST only after its URL is invalidated, so the next GET is fresh', async () => {
    const t = shop();
    await cached(t.app);
    expect((await request(t.app).post('/products/42')).status).toBe(204);
    const after = await stockOf(t.app);
    expect(after.stock).toBe(1);
    expect(after.status).toMatch(/fwd=miss/);
  });

  it('holds the answer until the invalidation is done, so another instance never serves the old entry', async () => {
    const client = redis.connect();
    const a = shop({ redis: client });
    const b = shop({}, 'use', a.name, a.stock);
    await cached(b.app);
    // Instance A's connection is busy for 300 ms: its invalidation waits behind that.
    const busy = client.blpop(redis.prefix('nothing'), 0.3);
    await request(a.app).post('/products/42');
    expect((await stockOf(b.app)).stock).toBe(1);
    await busy;
  });

  it('removes every variant and private scope of the URL, and nothing else', async () => {
    const t = shop();
    await cached(t.app, '/products/42', 'en');
    await cached(t.app, '/products/42', 'fr');
    await request(t.app).get('/products/42').set('Authorization', 'Bearer alice');
    await cached(t.app, '/products/7', 'en');
    await waitFor(async () => (await readEntries(redis.client, t.keyBase)).length === 4, 'four entries');
    await request(t.app).delete('/products/42');
    const left = await readEntries(redis.client, t.keyBase);
    expect(left.map((e) => e.url)).toEqual([expect.stringMatching(/\/products\/7$/)]);
    expect((await stockOf(t.app, '/products/42', 'fr')).stock).toBe(1);
    expect((await stockOf(t.app, '/products/7', 'en')).status).toMatch(/; hit/);
  });

  it('also invalidates same-origin Location and Content-Location URLs, never another origin', async () => {
    // A key without the host: only the origin check keeps the other site's Location from matching it.
    const t = shop({ key: (req) => req.originalUrl });
    await cached(t.app, '/products/1');
    await cached(t.app, '/products/2');
    await cached(t.app, '/products/3');
    await request(t.app).post('/orders?id=1&answer=303&location=/products/1');
    await request(t.app).put('/orders?id=2&answer=201');
    await request(t.app).post('/orders?id=3&answer=303&location=http://elsewhere.example/products/3');
    expect((await stockOf(t.app, '/products/1')).stock).toBe(1);
    expect((await stockOf(t.app, '/products/2')).stock).toBe(1);
    expect((await stockOf(t.app, '/products/3')).status).toMatch(/; hit/);
  });

  it('leaves entries alone after error answers and safe methods', async () => {
    const t = shop();
    await cached(t.app);
    await request(t.app).post('/products/42?answer=400');
    await request(t.app).post('/products/42?answer=500');
    await request(t.app).options('/products/42');
    expect((await stockOf(t.app)).status).toMatch(/; hit/);
  });

  it('works when mounted on the routes instead of app.use, and can be turned off', async () => {
    const routed = shop({}, 'route');
    await cached(routed.app);
    await request(routed.app).post('/products/42');
    expect((await stockOf(routed.app)).stock).toBe(1);
    const off = shop({ invalidateOnUnsafe: false });
    await cached(off.app);
    await request(off.app).post('/products/42');
    expect((await stockOf(off.app)).stock).toBe(0);
  });

  it('does not store a render that began before the write', async () => {
    const t = shop();
    const held = gate();
    t.state.hold = held.promise;
    const slow = request(t.app).get('/products/42').set('Accept-Language', 'en');
    const pending = slow.then((r) => r);
    await waitFor(() => t.state.renders === 1, 'the render to start');
    t.state.hold = undefined;
    expect((await request(t.app).post('/products/42')).status).toBe(204);
    held.open();
    expect((await pending).body.stock).toBe(0);
    await sleep(100);
    // The render read stock 0 before the write: it must not be stored over the invalidation.
    expect((await stockOf(t.app)).stock).toBe(1);
  });
});
