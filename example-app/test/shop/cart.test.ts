import { beforeAll, describe, expect, it } from 'vitest';
import { useTestRedis } from '../../../test/helpers/redis.js';
import { CART_TTL_MS, MAX_QTY } from '../../shop/cart.js';
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
    expect(await shop.carts.add('a', '2', 1)).toBe(1);
    expect(await shop.carts.add('a', '2', 100)).toBe(MAX_QTY);
    expect(await shop.carts.add('a', '1', -5)).toBe(0);
    expect(Object.fromEntries(await shop.carts.lines('a'))).toEqual({ '2': MAX_QTY });
    await shop.carts.remove('a', '2');
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
    await shop.carts.add('anon', '5', 19);
    await shop.carts.add('user:u1', '1', 1);
    await shop.carts.add('user:u1', '5', 5);
    expect(await shop.carts.merge('anon', 'user:u1')).toBe(2);
    expect(Object.fromEntries(await shop.carts.lines('user:u1'))).toEqual({ '1': 3, '5': MAX_QTY });
    expect(await redis.client.exists(shop.keys.cart('anon'))).toBe(0);
    // A second merge (a retried sign-in) changes nothing.
    expect(await shop.carts.merge('anon', 'user:u1')).toBe(0);
    expect(Object.fromEntries(await shop.carts.lines('user:u1'))).toEqual({ '1': 3, '5': MAX_QTY });
  });
});
