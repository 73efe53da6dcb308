import { describe, expect, it } from 'vitest';
import { useTestRedis } from '../../../test/helpers/redis.js';
import { createShop } from '../../shop/index.js';
import { PRODUCTS } from '../../shop/seed-data.js';

const redis = useTestRedis();

describe('catalog', () => {
  it('seeds 20 products once, lists them sorted, filters by category', async () => {
    const shop = createShop(redis.client, redis.prefix('shop:'));
    expect(await shop.seedIfEmpty()).toBe(true);
    expect(await shop.seedIfEmpty()).toBe(false);

    const byName = await shop.catalog.list();
    expect(byName).toHaveLength(20);
    expect(byName.map((p) => p.name)).toEqual(
      [...PRODUCTS.map((p) => p.name)].sort((a, b) => a.localeCompare(b)),
    );

    const cheapFirst = await shop.catalog.list({ sort: 'price-asc' });
    const prices = cheapFirst.map((p) => p.priceCents);
    expect(prices).toEqual([...prices].sort((a, b) => a - b));
    const dearFirst = await shop.catalog.list({ sort: 'price-desc' });
    expect(dearFirst[0]?.priceCents).toBe(Math.max(...prices));

    const desk = await shop.catalog.list({ category: 'Desk' });
    expect(desk.length).toBeGreaterThan(0);
    expect(desk.every((p) => p.category === 'Desk')).toBe(true);
    expect(await shop.catalog.categories()).toEqual(['Desk', 'Home', 'Kitchen', 'Outdoor']);
  });

  it('reads one product with typed fields, and null for unknown or malformed ids', async () => {
    const shop = createShop(redis.client, redis.prefix('shop2:'));
    await shop.seedIfEmpty();
    const cup = await shop.catalog.get('1');
    expect(cup).toMatchObject({ id: '1', name: 'Espresso cup', priceCents: 1290, stock: 40 });
    expect(await shop.catalog.get('999')).toBeNull();
    expect(await shop.catalog.get('../1')).toBeNull();
  });

  it('reset deletes shop keys and seeds again', async () => {
    const shop = createShop(redis.client, redis.prefix('shop3:'));
    await shop.seedIfEmpty();
    await redis.client.hset(shop.keys.product('1'), 'stock', 0);
    await shop.carts.add('c1', '2', 1);
    await shop.reset();
    expect((await shop.catalog.get('1'))?.stock).toBe(40);
    expect(await redis.client.exists(shop.keys.cart('c1'))).toBe(0);
  });
});
