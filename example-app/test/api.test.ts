// The shop's JSON API: shapes, JSON-only bodies, no cross-site requests, checkout outcomes and idempotency.

import { beforeAll, describe, expect, it } from 'vitest';
import { request } from '../../test/helpers/http.js';
import { useTestRedis } from '../../test/helpers/redis.js';
import type { ShopApp } from '../app.js';
import { testShop } from './helpers.js';

const redis = useTestRedis();
let shop: ShopApp;

beforeAll(async () => {
  // The tests send more than the default 20 API requests a second from one address.
  shop = await testShop(redis, 'api', { api: { limit: 1000, window: '1m', perSecond: 1000 } });
});

describe('catalog API', () => {
  it('lists products and answers one product, 404 for unknown ones', async () => {
    const list = await request(shop.app).get('/api/products');
    expect(list.status).toBe(200);
    expect(list.body).toHaveLength(20);
    expect(list.body[0]).toEqual({
      id: expect.any(String),
      name: expect.any(String),
      priceCents: expect.any(Number),
      stock: expect.any(Number),
    });
    const one = await request(shop.app).get('/api/products/1');
    expect(one.body).toMatchObject({ id: '1', name: 'Espresso cup', priceCents: 1290 });
    const missing = await request(shop.app).get('/api/products/404');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('not_found');
  });
});

describe('cart API', () => {
  it('adds and removes lines and returns the cart with prices from Redis', async () => {
    const agent = request.agent(shop.app);
    expect((await agent.get('/api/cart')).body).toEqual({ items: [], totalCents: 0 });
    const added = await agent.post('/api/cart/items').send({ productId: '3', qty: 2, priceCents: 1 });
    expect(added.status).toBe(200);
    expect(added.body).toEqual({
      items: [{ productId: '3', name: 'Hand grinder', qty: 2, priceCents: 6500 }],
      totalCents: 13000,
    });
    const removed = await agent.delete('/api/cart/items/3');
    expect(removed.body).toEqual({ items: [], totalCents: 0 });
  });

  it('explains bad quantities and unknown products', async () => {
    const agent = request.agent(shop.app);
    for (const qty of [0, -2, 21, 1.5, '2x', null]) {
      const response = await agent.post('/api/cart/items').send({ productId: '1', qty });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({
        error: 'invalid_quantity',
        message: 'Quantity must be a whole number from 1 to 20.',
      });
    }
    expect((await agent.post('/api/cart/items').send({ productId: '999', qty: 1 })).status).toBe(404);
    expect((await agent.post('/api/cart/items').send({ productId: '../1', qty: 1 })).status).toBe(400);
  });

  it('accepts only JSON bodies and refuses cross-site requests', async () => {
    const form = await request(shop.app)
      .post('/api/cart/items')
      .type('form')
      .send({ productId: '1', qty: '1' });
    expect(form.status).toBe(415);
    const text = await request(shop.app)
      .post('/api/cart/items')
      .set('Content-Type', 'text/plain')
      .send('{"productId":"1","qty":1}');
    expect(text.status).toBe(415);
    const crossSite = await request(shop.app)
      .post('/api/cart/items')
      .set('Origin', 'https://evil.example')
      .send({ productId: '1', qty: 1 });
    expect(crossSite.status).toBe(403);
    const crossSiteDelete = await request(shop.app)
      .delete('/api/session')
      .set('Sec-Fetch-Site', 'cross-site');
    expect(crossSiteDelete.status).toBe(403);
    expect(crossSite.headers['set-cookie']).toBeUndefined();
  });
});

describe('checkout API', () => {
  it('answers 400 for an empty cart', async () => {
    const response = await request(shop.app).post('/api/checkout');
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('empty_cart');
  });

  it('creates one order per idempotency key, and 409 when stock runs out', async () => {
    await redis.client.hset(shop.shop.keys.product('7'), 'stock', 3);
    const agent = request.agent(shop.app);
    await agent.post('/api/cart/items').send({ productId: '7', qty: 2 });
    const first = await agent.post('/api/checkout').set('Idempotency-Key', 'order-attempt-0001');
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ orderId: expect.stringMatching(/^[0-9a-f-]{36}$/), totalCents: 2 * 7900 });
    const again = await agent.post('/api/checkout').set('Idempotency-Key', 'order-attempt-0001');
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await redis.client.hget(shop.shop.keys.product('7'), 'stock')).toBe('1');

    // Only 1 left: the cart is clamped to it, and says so.
    const clamped = await agent.post('/api/cart/items').send({ productId: '7', qty: 2 });
    expect(clamped.body.notice).toBe('Only 1 left: your cart holds 1.');
    expect(clamped.body.items).toEqual([expect.objectContaining({ productId: '7', qty: 1 })]);
    // Someone else buys the last one before this checkout.
    await redis.client.hset(shop.shop.keys.product('7'), 'stock', 0);
    const short = await agent.post('/api/checkout').set('Idempotency-Key', 'order-attempt-0002');
    expect(short.status).toBe(409);
    expect(short.body).toEqual({
      error: 'out_of_stock',
      message:
        'Not enough in stock: Wool throw (sold out). Nothing was ordered: lower the quantities and try again.',
      lines: [{ productId: '7', left: 0 }],
    });
    expect(await redis.client.hget(shop.shop.keys.product('7'), 'stock')).toBe('0');

    const bad = await agent.post('/api/checkout').set('Idempotency-Key', 'no spaces allowed');
    expect(bad.status).toBe(400);
  });
});

describe('session API', () => {
  it('signs in with JSON and signs out', async () => {
    const agent = request.agent(shop.app);
    expect((await agent.post('/api/session').send({ username: 'alice', password: 'nope' })).status).toBe(401);
    const signedIn = await agent.post('/api/session').send({ username: 'alice', password: 'alice-demo' });
    expect(signedIn.status).toBe(200);
    expect(signedIn.body).toEqual({ user: { id: 'u1', name: 'Alice', role: 'customer' } });
    const out = await agent.delete('/api/session');
    expect(out.status).toBe(204);
  });
});

describe('API rate limit', () => {
  it('answers 429 in JSON with Retry-After once a client exceeds its per-second burst', async () => {
    const limited = await testShop(redis, 'api-limited', { api: { limit: 100, window: '1m', perSecond: 3 } });
    // At once, so the burst of 3 is spent before the limiter (a unit back every 333 ms) earns one back.
    const statuses = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const res = await request(limited.app).get('/api/products').set('Accept', 'application/json');
        return res.status;
      }),
    );
    expect(statuses.filter((status) => status === 200)).toHaveLength(3);
    expect(statuses).toContain(429);
    const refused = await request(limited.app).get('/api/cart').set('Accept', 'application/json');
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.body.status).toBe(429);
  });
});
