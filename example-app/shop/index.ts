// The shop's data layer in one object: catalog, carts, checkout, orders, users, and seeding.
import type { Cluster, Redis } from 'ioredis';
import { Carts } from './cart.js';
import { Catalog, type ShopRedis } from './catalog.js';
import { Checkout } from './checkout.js';
import { type ShopKeys, shopKeys } from './keys.js';
import { Orders } from './orders.js';
import { DEMO_USERS, PRODUCTS } from './seed-data.js';
import { Users } from './users.js';

export interface Shop {
  readonly keys: ShopKeys;
  readonly catalog: Catalog;
  readonly carts: Carts;
  readonly checkout: Checkout;
  readonly orders: Orders;
  readonly users: Users;
  /** Seeds the demo catalog and users when the catalog is empty; true if it did. */
  seedIfEmpty(): Promise<boolean>;
  /** Deletes every shop key (SCAN + UNLINK on every master) and seeds again. */
  reset(): Promise<void>;
}

export function createShop(redis: ShopRedis, prefix = 'shop:'): Shop {
  const keys = shopKeys(prefix);
  const catalog = new Catalog(redis, keys);
  const users = new Users(redis, keys);
  const seed = async () => {
    await catalog.load(PRODUCTS);
    await users.load(DEMO_USERS);
  };
  return {
    keys,
    catalog,
    carts: new Carts(redis, keys),
    checkout: new Checkout(redis, keys),
    orders: new Orders(redis, keys),
    users,
    async seedIfEmpty() {
      if (!(await catalog.isEmpty())) return false;
      await seed();
      return true;
    },
    async reset() {
      await deleteMatching(redis, `${globEscape(prefix)}{shop}:*`);
      await seed();
    },
  };
}

/** `text` matched literally in a SCAN MATCH pattern. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** Deletes every key matching a SCAN pattern, on every master (never KEYS: it would block Redis). */
export async function deleteMatching(redis: ShopRedis, pattern: string): Promise<number> {
  let deleted = 0;
  const nodes = redis.isCluster ? (redis as Cluster).nodes('master') : [redis as Redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await node.unlink(...keys);
    } while (cursor !== '0');
  }
  return deleted;
}
