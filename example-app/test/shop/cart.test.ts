import { beforeAll, describe, expect, it } from 'vitest';
import { useTestRedis } from '../../../test/helpers/redis.js';
import { CART_TTL_MS, clampNotice, MAX_QTY } from '../../shop/cart.js';
import { createShop, type Shop } from '../../shop/index.js';

const redis = useTestRedis();
let shop: Shop;

beforeAll(async () => {
  shop = createShop(redis.client, redis.prefix('shop:'));
  await shop.seedIfEmpty();
});

describe('cart', () => {
  it('adds with HINCRBY, caps quantities and removes lines at zero', async () => {
    expect(await shop.carts.add('a', '1', 2)).toBe(2);
    expect(await shop.carts.add('a', '1', 3)).toBe(5);
    expect(await shop.carts.add('a', '11', 1)).toBe(1);
    expect(await shop.carts.add('a', '11', 100)).toBe(MAX_QTY);
    expect(await shop.carts.add('a', '1', -5)).toBe(0);
    expect(Object.fromEntries(await shop.carts.lines('a'))).toEqual({ '11': MAX_QTY });
    await shop.carts.remove('a', '11');
    expect((await shop.carts.lines('a')).size).toBe(0);
    expect(await redis.client.exists(shop.keys.cart('a'))).toBe(0);
  });

  it('refuses unknown products and writes nothing for them', async () => {
    expect(await shop.carts.add('b', '404', 1)).toBeNull();
    expect(await redis.client.exists(shop.keys.cart('b'))).toBe(0);
  });

  it('expires 24 h after its last change', async () => {
    await shop.carts.add('c', '3', 1);
    const ttl = await redis.client.pttl(shop.keys.cart('c'));
    expect(ttl).toBeGreaterThan(CART_TTL_MS - 60_000);
    expect(ttl).toBeLessThanOrEqual(CART_TTL_MS);
    await redis.client.pexpire(shop.keys.cart('c'), 1_000);
    await shop.carts.add('c', '4', 1);
    expect(await redis.client.pttl(shop.keys.cart('c'))).toBeGreaterThan(CART_TTL_MS - 60_000);
  });

  it('merges an anonymous cart into the user cart in one step and deletes it', async () => {
    await shop.carts.add('anon', '1', 2);
    await shop.carts.add('anon', '11', 19);
    await shop.carts.add('user:u1', '1', 1);
    await shop.carts.add('user:u1', '11', 5);
    expect(await shop.carts.merge('anon', 'user:u1')).toBe(2);
    expect(Object.fromEntries(await shop.carts.lines('user:u1'))).toEqual({ '1': 3, '11': MAX_QTY });
    expect(await redis.client.exists(shop.keys.cart('anon'))).toBe(0);
    // A second merge (a retried sign-in) changes nothing.
    expect(await shop.carts.merge('anon', 'user:u1')).toBe(0);
    expect(Object.fromEntries(await shop.carts.lines('user:u1'))).toEqual({ '1': 3, '11': MAX_QTY });
  });

  it('clamps a line to the stock left, adding or setting, and says so', async () => {
    // Mechanical keyboard: 5 in stock.
    expect(await shop.carts.change('k', '14', 20, 'add')).toEqual({ qty: 5, requested: 20, stock: 5 });
    expect(await shop.carts.change('k', '14', 1, 'add')).toEqual({ qty: 5, requested: 6, stock: 5 });
    expect(await shop.carts.change('k', '14', 3, 'set')).toEqual({ qty: 3, requested: 3, stock: 5 });
    expect(await shop.carts.change('k', '14', 9, 'set')).toEqual({ qty: 5, requested: 9, stock: 5 });
    expect(Object.fromEntries(await shop.carts.lines('k'))).toEqual({ '14': 5 });
    expect(clampNotice({ qty: 5, requested: 20, stock: 5 }, 'Mechanical keyboard')).toBe(
      'Only 5 left: your cart holds 5.',
    );
    expect(clampNotice({ qty: 20, requested: 25, stock: 60 }, 'Notebook')).toBe(
      `At most ${MAX_QTY} of one product per order: your cart holds 20.`,
    );
    expect(clampNotice({ qty: 3, requested: 3, stock: 5 }, 'Mechanical keyboard')).toBeUndefined();

    // Sold out: the line goes, and nothing can be added.
    await redis.client.hset(shop.keys.product('9'), 'stock', 0);
    expect(await shop.carts.change('k', '9', 1, 'add')).toEqual({ qty: 0, requested: 1, stock: 0 });
    expect(clampNotice({ qty: 0, requested: 1, stock: 0 }, 'Ceramic vase')).toBe(
      'Ceramic vase is sold out: it is not in your cart.',
    );
    expect(Object.fromEntries(await shop.carts.lines('k'))).toEqual({ '14': 5 });
  });
});
