// The shop on a real 3-master Redis Cluster: cart, merge at sign-in, the atomic checkout race, the order
// workers' stream and consumer group, and the whole web app with its four middlewares.
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RedisCluster, startCluster } from '../../test/helpers/cluster.js';
import { request } from '../../test/helpers/http.js';
import { createShopApp, type ShopApp } from '../app.js';
import { MAX_QTY } from '../shop/cart.js';
import { Checkout } from '../shop/checkout.js';
import { createShop, type Shop } from '../shop/index.js';
import { type ConfirmationEmail, OrderWorker } from '../shop/order-worker.js';
import type { Order } from '../shop/orders.js';
import { ORDER_GROUP } from '../shop/orders.js';
import { PRODUCTS } from '../shop/seed-data.js';
import { csrfOf, TEST_SECRET } from './helpers.js';

let cluster: RedisCluster;
let client: Cluster;
let shop: Shop;
const workers: OrderWorker[] = [];

beforeAll(async () => {
  cluster = await startCluster({ masters: 3 });
  // The shop's own client settings (example-app/redis.ts), on a Cluster.
  client = cluster.client({
    enableAutoPipelining: true,
    redisOptions: { commandTimeout: 2_000, maxRetriesPerRequest: 2 },
  });
  shop = createShop(client, 'data:shop:');
  await shop.seedIfEmpty();
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await cluster?.stop();
});

const stock = async (id: string) => Number(await client.hget(shop.keys.product(id), 'stock'));

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

function worker(confirmation: (order: Order) => ConfirmationEmail, log: string[] = []): OrderWorker {
  const w = new OrderWorker(client, shop.keys, {
    confirmation,
    log: (line) => log.push(line),
    blockMs: 200,
    visibilityTimeoutMs: 300,
  });
  workers.push(w);
  return w;
}

describe('the shop data layer on Redis Cluster', () => {
  it('keeps every shop key in one slot, so its scripts and transactions run on one master', async () => {
    const masters = await Promise.all(
      client
        .nodes('master')
        .map(async (node) => (await node.scan('0', 'MATCH', 'data:shop:*', 'COUNT', 1000))[1]),
    );
    const holding = masters.filter((keys) => keys.length > 0);
    expect(holding).toHaveLength(1);
    const slots = new Set(
      await Promise.all((holding[0] as string[]).map((k) => client.call('CLUSTER', 'KEYSLOT', k))),
    );
    expect(slots.size).toBe(1);
    expect((await shop.catalog.list()).length).toBe(20);
  });

  it('adds to a cart, caps quantities, removes lines, and merges an anonymous cart at sign-in', async () => {
    expect(await shop.carts.add('anon-1', '1', 2)).toBe(2);
    expect(await shop.carts.add('anon-1', '11', 25)).toBe(MAX_QTY);
    expect(await shop.carts.change('anon-1', '14', 25, 'add')).toEqual({ qty: 5, requested: 25, stock: 5 });
    await shop.carts.remove('anon-1', '14');
    expect(await shop.carts.add('anon-1', '404', 1)).toBeNull();
    await shop.carts.add('anon-1', '7', 1);
    await shop.carts.remove('anon-1', '7');
    await shop.carts.add('user-u9', '1', 1);
    expect(await shop.carts.merge('anon-1', 'user-u9')).toBe(2);
    expect(Object.fromEntries(await shop.carts.lines('user-u9'))).toEqual({ '1': 3, '11': MAX_QTY });
    expect(await client.exists(shop.keys.cart('anon-1'))).toBe(0);
    expect(await shop.carts.merge('anon-1', 'user-u9')).toBe(0);
    expect(await client.pttl(shop.keys.cart('user-u9'))).toBeGreaterThan(0);
  });

  it('lets exactly 10 of 50 parallel checkouts through for a product with stock 10', async () => {
    await client.hset(shop.keys.product('14'), 'stock', 10);
    const carts = Array.from({ length: 50 }, (_, i) => `race-${i}`);
    await Promise.all(carts.map((cart) => shop.carts.add(cart, '14', 1)));
    // Five Cluster clients (fifteen connections), so the checkouts really interleave at the server.
    const checkouts = Array.from({ length: 5 }, () => new Checkout(cluster.client(), shop.keys));
    const results = await Promise.all(
      carts.map((cart, i) => checkouts[i % 5]?.run({ cartId: cart, userId: `r${i}` })),
    );
    const created = results.filter((r) => r?.status === 'created');
    expect(created).toHaveLength(10);
    expect(results.filter((r) => r?.status === 'out_of_stock')).toHaveLength(40);
    expect(await stock('14')).toBe(0);
    for (const r of created) {
      if (r?.status !== 'created') continue;
      expect(await shop.orders.get(r.orderId)).toMatchObject({ status: 'pending', totalCents: r.totalCents });
    }
    // The ten winners' carts are gone; the forty losers keep theirs.
    const left = await Promise.all(carts.map((cart) => client.exists(shop.keys.cart(cart))));
    expect(left.filter((n) => n === 0)).toHaveLength(10);
  });

  it('creates one order for a double submit with the same idempotency key', async () => {
    await shop.carts.add('dbl', '11', 1);
    const [a, b] = await Promise.all([
      shop.checkout.run({ cartId: 'dbl', userId: 'u7', idempotencyKey: 'double-submit-cluster' }),
      shop.checkout.run({ cartId: 'dbl', userId: 'u7', idempotencyKey: 'double-submit-cluster' }),
    ]);
    expect([a.status, b.status].sort()).toEqual(['created', 'replayed']);
    expect(await shop.orders.listForUser('u7')).toHaveLength(1);
  });

  it("the order workers fulfil orders from the stream, take over a crashed consumer's, dead-letter", async () => {
    // A first worker creates the group and leaves; then a consumer reads an order and dies.
    const first = worker(() => ({ subject: '', text: '' }));
    await first.start();
    await first.stop();
    await shop.carts.add('w0', '8', 1);
    const crashed = await shop.checkout.run({ cartId: 'w0' });
    if (crashed.status !== 'created') throw new Error(crashed.status);
    await client.xreadgroup(
      'GROUP',
      ORDER_GROUP,
      'crashed',
      'COUNT',
      100,
      'STREAMS',
      shop.keys.orderStream,
      '>',
    );

    const confirmed: string[] = [];
    const log: string[] = [];
    const poison = '00000000-0000-7000-8000-000000000000';
    let failures = 0;
    // Orders of product 9 fail to confirm.
    await worker((order) => {
      if (order.lines[0]?.productId === '9') {
        failures += 1;
        throw new Error('template broken');
      }
      confirmed.push(order.id);
      return { subject: `Order ${order.id}`, text: '' };
    }, log).start();

    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      await shop.carts.add(`w${i + 1}`, '8', 1);
      const placed = await shop.checkout.run({ cartId: `w${i + 1}` });
      if (placed.status !== 'created') throw new Error(placed.status);
      ids.push(placed.orderId);
    }
    await shop.carts.add('w-flaky', '9', 1);
    const flaky = await shop.checkout.run({ cartId: 'w-flaky' });
    if (flaky.status !== 'created') throw new Error(flaky.status);
    await client.xadd(shop.keys.orderStream, '*', 'orderId', poison);

    await eventually(async () => {
      const orders = await Promise.all([crashed.orderId, ...ids].map((id) => shop.orders.get(id)));
      return orders.every((o) => o?.status === 'fulfilled');
    });
    await eventually(async () => (await shop.orders.queueDepths()).dead === 2);
    expect(log.some((l) => /took over \d+ unfinished/.test(l))).toBe(true);
    expect(confirmed).toEqual(expect.arrayContaining([crashed.orderId, ...ids]));
    expect(failures).toBe(3);
    const dead = await client.xrange(shop.keys.dead, '-', '+');
    expect(dead.map(([, f]) => f[f.indexOf('orderId') + 1]).sort()).toEqual([poison, flaky.orderId].sort());
    const emails = (await client.xrange(shop.keys.emails, '-', '+')).map(
      ([, f]) => f[f.indexOf('orderId') + 1],
    );
    expect(new Set(emails).size).toBe(emails.length);
    expect(emails).toEqual(expect.arrayContaining([crashed.orderId, ...ids]));
    expect(await shop.orders.queueDepths()).toMatchObject({ pending: 0, processing: 0, dead: 2 });
  });

  it('reset() deletes the shop keys on every master and seeds again', async () => {
    await client.hset(shop.keys.product('3'), 'stock', 0);
    await shop.reset();
    expect(await stock('3')).toBe(PRODUCTS.find((p) => p.id === '3')?.stock);
    expect(await shop.orders.queueDepths()).toMatchObject({ pending: 0, processing: 0, dead: 0 });
    expect(await client.exists(shop.keys.cart('user-u9'))).toBe(0);
  });
});

describe('the shop web app on Redis Cluster', () => {
  let web: ShopApp;
  const log: string[] = [];
  const BROWSER =
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

  beforeAll(async () => {
    web = await createShopApp({
      redis: client,
      sessionSecrets: [TEST_SECRET],
      pageViewSecret: TEST_SECRET,
      prefix: 'web:',
      worker: true,
      log: (line) => log.push(line),
    });
  });
  afterAll(() => web?.close());

  it('browses cached pages, fills a cart, merges it at sign-in, checks out, and the worker fulfils the order', async () => {
    const { app } = web;
    expect((await request(app).get('/healthz')).body.status).toBe('ok');
    await request(app).get('/').set('User-Agent', BROWSER).expect(200);
    const first = await request(app).get('/products/10').set('User-Agent', BROWSER).expect(200);
    expect(first.headers['cache-status']).toMatch(/fwd=miss; stored/);
    // The entry is written just after the response ends; until then a request shares the fill in process.
    const second = await vi.waitFor(async () => {
      const response = await request(app).get('/products/10').set('User-Agent', BROWSER).expect(200);
      expect(response.headers['cache-status']).toMatch(/; hit;/);
      return response;
    });
    expect(second.text).toContain('Only 7 left');

    // An anonymous cart, then sign-in as bob: the cart is merged into bob's.
    const agent = request.agent(app);
    await agent.post('/cart/items').type('form').send({ productId: '10', qty: '2' }).expect(303);
    const cartPage = await agent.get('/cart').expect(200);
    await agent
      .post('/cart/items')
      .type('form')
      .send({ _csrf: csrfOf(cartPage.text), productId: '4', qty: '1' })
      .expect(303);
    const signInPage = await agent.get('/signin').expect(200);
    await agent
      .post('/signin')
      .type('form')
      .send({ _csrf: csrfOf(signInPage.text), username: 'bob', password: 'bob-demo' })
      .expect(303);
    const cart = (await agent.get('/api/cart').expect(200)).body as {
      items: { productId: string; qty: number }[];
    };
    expect(cart.items.map((i) => [i.productId, i.qty]).sort()).toEqual([
      ['10', 2],
      ['4', 1],
    ]);

    // Checkout through the form; the product page cache is invalidated; the worker fulfils the order.
    const checkoutPage = await agent.get('/checkout').expect(200);
    const placed = await agent
      .post('/checkout')
      .type('form')
      .send({ _csrf: csrfOf(checkoutPage.text), idempotencyKey: 'cluster-web-order-1' })
      .expect(303);
    const orderId = String(placed.headers.location).replace('/orders/', '');
    expect((await agent.get(`/orders/${orderId}`)).status).toBe(200);
    const after = await request(app).get('/products/10').expect(200);
    expect(after.headers['cache-status']).toMatch(/fwd=miss/);
    expect(after.text).toContain('Only 5 left');
    await eventually(async () => (await web.shop.orders.get(orderId))?.status === 'fulfilled');
    expect((await agent.get('/api/cart')).body).toEqual({ items: [], totalCents: 0 });

    // The JSON API: its own cart, sign-in and an idempotent checkout.
    const api = request.agent(app);
    await api.post('/api/cart/items').send({ productId: '3', qty: 1 }).expect(200);
    await api.post('/api/session').send({ username: 'alice', password: 'alice-demo' }).expect(200);
    const created = await api.post('/api/checkout').set('Idempotency-Key', 'cluster-api-1').expect(201);
    const replay = await api.post('/api/checkout').set('Idempotency-Key', 'cluster-api-1').expect(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body.orderId).toBe(created.body.orderId);

    // The admin dashboard reads page views, rate-limit stats and queue depths from the cluster.
    await web.views.flush();
    const admin = request.agent(app);
    const adminSignIn = await admin.get('/signin');
    await admin
      .post('/signin')
      .type('form')
      .send({ _csrf: csrfOf(adminSignIn.text), username: 'admin', password: 'admin-demo' })
      .expect(303);
    const data = (await admin.get('/admin/data.json').expect(200)).body;
    expect(data.todayViews).toBeGreaterThanOrEqual(3);
    expect(data.orders.orders).toBeGreaterThanOrEqual(2);
    expect(data.rateLimits.map((l: { name: string }) => l.name)).toEqual([
      'signin',
      'signin-ip',
      'api',
      'checkout',
    ]);

    // Nothing went wrong quietly: no Redis error was reported by any middleware or the worker.
    expect(
      log.filter((l) => /error/i.test(l)),
      log.join('\n'),
    ).toEqual([]);
  });
});
