import { beforeAll, describe, expect, it } from 'vitest';
import { useTestRedis } from '../../../test/helpers/redis.js';
import { Checkout, InvalidIdempotencyKeyError } from '../../shop/checkout.js';
import { createShop, type Shop } from '../../shop/index.js';
import { shortageNotice } from '../../shop/session-flows.js';

const redis = useTestRedis();
let shop: Shop;

beforeAll(async () => {
  shop = createShop(redis.client, redis.prefix('shop:'));
  await shop.seedIfEmpty();
});

const stock = async (id: string) => Number(await redis.client.hget(shop.keys.product(id), 'stock'));

describe('checkout', () => {
  it('decrements stock, creates the order from stored prices, queues it and empties the cart', async () => {
    const before = [await stock('1'), await stock('2')];
    await shop.carts.add('c1', '1', 2);
    await shop.carts.add('c1', '2', 1);
    const result = await shop.checkout.run({ cartId: 'c1', userId: 'u1' });
    expect(result.status).toBe('created');
    if (result.status !== 'created') return;
    expect(result.totalCents).toBe(2 * 1290 + 4900);
    expect([await stock('1'), await stock('2')]).toEqual([(before[0] ?? 0) - 2, (before[1] ?? 0) - 1]);
    expect(await redis.client.exists(shop.keys.cart('c1'))).toBe(0);
    const events = await redis.client.xrange(shop.keys.orderStream, '-', '+');
    expect(events.map(([, fields]) => fields)).toContainEqual(['orderId', result.orderId]);
    const order = await shop.orders.get(result.orderId);
    expect(order).toMatchObject({ userId: 'u1', status: 'pending', totalCents: 7480 });
    expect(order?.lines).toEqual([
      { productId: '1', name: 'Espresso cup', qty: 2, priceCents: 1290 },
      { productId: '2', name: 'Pour-over kettle', qty: 1, priceCents: 4900 },
    ]);
    expect((await shop.orders.listForUser('u1')).map((o) => o.id)).toContain(result.orderId);
  });

  it('changes nothing when lines are out of stock, and names each with how many are left', async () => {
    const kettleBefore = await stock('2');
    const streamBefore = await redis.client.xlen(shop.keys.orderStream);
    await shop.carts.add('c2', '2', 1);
    await shop.carts.add('c2', '9', 2);
    await shop.carts.add('c2', '7', 3);
    // Others bought meanwhile.
    await redis.client.hset(shop.keys.product('9'), 'stock', 1);
    await redis.client.hset(shop.keys.product('7'), 'stock', 0);
    const result = await shop.checkout.run({ cartId: 'c2' });
    expect(result.status).toBe('out_of_stock');
    if (result.status !== 'out_of_stock') return;
    expect([...result.short].sort((a, b) => a.left - b.left)).toEqual([
      { productId: '7', left: 0 },
      { productId: '9', left: 1 },
    ]);
    expect(await stock('2')).toBe(kettleBefore);
    expect(await stock('9')).toBe(1);
    expect(await redis.client.xlen(shop.keys.orderStream)).toBe(streamBefore);
    expect(Object.fromEntries(await shop.carts.lines('c2'))).toEqual({ '2': 1, '9': 2, '7': 3 });
    expect(
      await shortageNotice(
        shop,
        [...result.short].sort((a, b) => b.left - a.left),
      ),
    ).toBe(
      'Not enough in stock: Ceramic vase (only 1 left), Wool throw (sold out). Nothing was ordered: ' +
        'lower the quantities and try again.',
    );
  });

  it('reports an empty cart', async () => {
    expect(await shop.checkout.run({ cartId: 'nothing-here' })).toEqual({ status: 'empty' });
  });

  it('creates one order for a double submit with the same idempotency key', async () => {
    await shop.carts.add('c3', '11', 1);
    const [a, b] = await Promise.all([
      shop.checkout.run({ cartId: 'c3', userId: 'u2', idempotencyKey: 'double-submit-1' }),
      shop.checkout.run({ cartId: 'c3', userId: 'u2', idempotencyKey: 'double-submit-1' }),
    ]);
    const statuses = [a?.status, b?.status].sort();
    expect(statuses).toEqual(['created', 'replayed']);
    const ids = new Set([a, b].map((r) => (r && 'orderId' in r ? r.orderId : '')));
    expect(ids.size).toBe(1);
    expect(await shop.orders.listForUser('u2')).toHaveLength(1);
    const replay = await shop.checkout.run({ cartId: 'c3', userId: 'u2', idempotencyKey: 'double-submit-1' });
    expect(replay).toMatchObject({ status: 'replayed', totalCents: 1500 });
  });

  it('rejects malformed idempotency keys', async () => {
    await expect(shop.checkout.run({ cartId: 'c4', idempotencyKey: 'bad key!' })).rejects.toBeInstanceOf(
      InvalidIdempotencyKeyError,
    );
  });

  it('lets exactly 10 of 50 parallel checkouts through for a product with stock 10', async () => {
    await redis.client.hset(shop.keys.product('14'), 'stock', 10);
    const carts = Array.from({ length: 50 }, (_, i) => `race-${i}`);
    for (const cart of carts) await shop.carts.add(cart, '14', 1);
    // Five connections, so the checkouts really interleave at the server.
    const checkouts = Array.from({ length: 5 }, () => new Checkout(redis.connect(), shop.keys));
    const results = await Promise.all(carts.map((cart, i) => checkouts[i % 5]?.run({ cartId: cart })));
    const created = results.filter((r) => r?.status === 'created');
    expect(created).toHaveLength(10);
    expect(results.filter((r) => r?.status === 'out_of_stock')).toHaveLength(40);
    expect(await stock('14')).toBe(0);
  });
});
