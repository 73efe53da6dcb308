// The shop on Redis with the append-only file: SIGKILL right after a checkout answered, restart, and the order,
// the stock decrement and the emptied cart are all there. A killed process leaves its written file to the OS,
// so this proves "AOF on survives a Redis crash"; fsync before the reply (a machine crash) is Redis's promise.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../../test/helpers/http.js';
import { type RedisServer, startRedisServer } from '../../test/helpers/redis-server.js';
import { createShopApp, type ShopApp } from '../app.js';
import { csrfOf, TEST_SECRET } from './helpers.js';

let server: RedisServer;
let client: Redis;
let shop: ShopApp;

beforeAll(async () => {
  server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  client = new Redis(server.url, {
    enableAutoPipelining: true,
    commandTimeout: 2_000,
    maxRetriesPerRequest: 2,
    retryStrategy: () => 100,
  });
  client.on('error', () => {});
  shop = await createShopApp({
    redis: client,
    sessionSecrets: [TEST_SECRET],
    pageViewSecret: TEST_SECRET,
    prefix: 'durable:',
    worker: false,
    log: () => {},
  });
});
afterAll(async () => {
  await shop?.close();
  client?.disconnect();
  await server?.stop();
});

const stock = async (id: string) => Number(await client.hget(shop.shop.keys.product(id), 'stock'));

/** SIGKILL (nothing saved on the way out), start again from the same directory, wait for the client. */
async function crashAndRestart(): Promise<void> {
  await server.kill();
  await server.restart();
  for (let i = 0; i < 100 && client.status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 50));
  expect(await client.ping()).toBe('PONG');
}

describe('a checkout acknowledged to the browser survives a Redis crash', () => {
  it('JSON API: the order, its stream entry, the stock decrement and the emptied cart are on disk', async () => {
    const api = request.agent(shop.app);
    await api.post('/api/session').send({ username: 'alice', password: 'alice-demo' }).expect(200);
    await api.post('/api/cart/items').send({ productId: '5', qty: 2 }).expect(200);
    await api.post('/api/cart/items').send({ productId: '6', qty: 1 }).expect(200);
    const [five, six] = [await stock('5'), await stock('6')];

    const placed = await api.post('/api/checkout').set('Idempotency-Key', 'durable-order-1').expect(201);
    await crashAndRestart();

    const { orderId } = placed.body as { orderId: string };
    const keys = shop.shop.keys;
    expect(await shop.shop.orders.get(orderId)).toMatchObject({
      id: orderId,
      userId: 'u1',
      status: 'pending',
      totalCents: placed.body.totalCents,
    });
    expect([await stock('5'), await stock('6')]).toEqual([five - 2, six - 1]);
    expect(await client.exists(keys.cart('user-u1'))).toBe(0);
    const events = await client.xrange(keys.orderStream, '-', '+');
    expect(events.map(([, fields]) => fields)).toContainEqual(['orderId', orderId]);
    expect(await client.zscore(keys.userOrders('u1'), orderId)).not.toBeNull();
    // The session came back too: the cart is empty and a retry with the same key replays the same order.
    expect((await api.get('/api/cart').expect(200)).body).toEqual({ items: [], totalCents: 0 });
    const replay = await api.post('/api/checkout').set('Idempotency-Key', 'durable-order-1').expect(201);
    expect(replay.body.orderId).toBe(orderId);
  });

  it('HTML form: a guest order answered with its redirect is there after the crash, and the guest can see it', async () => {
    const guest = request.agent(shop.app);
    await guest.post('/cart/items').type('form').send({ productId: '12', qty: '3' }).expect(303);
    const before = await stock('12');
    const checkout = await guest.get('/checkout').expect(200);
    const placed = await guest
      .post('/checkout')
      .type('form')
      .send({ _csrf: csrfOf(checkout.text), idempotencyKey: 'durable-form-1' })
      .expect(303);
    await crashAndRestart();

    const orderId = String(placed.headers.location).replace('/orders/', '');
    expect(await shop.shop.orders.get(orderId)).toMatchObject({ id: orderId, userId: '', status: 'pending' });
    expect(await stock('12')).toBe(before - 3);
    const page = await guest.get(`/orders/${orderId}`).expect(200);
    expect(page.text).toContain(`data-testid="order-id">${orderId}<`);
    expect((await guest.get('/api/cart').expect(200)).body).toEqual({ items: [], totalCents: 0 });
  });
});
