// The catalog: products as Redis hashes, with sorted sets and sets to list, sort and filter them.
import type { Cluster, Redis } from 'ioredis';
import type { ShopKeys } from './keys.js';
import type { ProductSeed } from './seed-data.js';

export type ShopRedis = Redis | Cluster;

/** A product as stored: the seed's fields, with `stock` as it is now. */
export type Product = ProductSeed;

export type ProductSort = 'name' | 'price-asc' | 'price-desc';

export class Catalog {
  constructor(
    private readonly redis: ShopRedis,
    private readonly keys: ShopKeys,
  ) {}

  /** Writes the products and their indexes in one transaction (all keys share the shop's hash tag). */
  async load(products: readonly ProductSeed[]): Promise<void> {
    const byName = [...products].sort((a, b) => a.name.localeCompare(b.name));
    const tx = this.redis.multi();
    for (const product of products) {
      tx.hset(this.keys.product(product.id), { ...product });
      tx.zadd(this.keys.productsByPrice, product.priceCents, product.id);
      tx.zadd(this.keys.productsByName, byName.indexOf(product), product.id);
      tx.sadd(this.keys.category(product.category), product.id);
      tx.sadd(this.keys.categories, product.category);
    }
    await tx.exec();
  }

  async isEmpty(): Promise<boolean> {
    return (await this.redis.zcard(this.keys.productsByName)) === 0;
  }

  async list(options: { sort?: ProductSort; category?: string } = {}): Promise<Product[]> {
    const sort = options.sort ?? 'name';
    const ids =
      sort === 'name'
        ? await this.redis.zrange(this.keys.productsByName, 0, -1)
        : sort === 'price-asc'
          ? await this.redis.zrange(this.keys.productsByPrice, 0, -1)
          : await this.redis.zrange(this.keys.productsByPrice, 0, -1, 'REV');
    const allowed = options.category
      ? new Set(await this.redis.smembers(this.keys.category(options.category)))
      : null;
    const products = await this.getMany(allowed ? ids.filter((id) => allowed.has(id)) : ids);
    return products.filter((p): p is Product => p !== null);
  }

  async categories(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.categories)).sort();
  }

  async get(id: string): Promise<Product | null> {
    if (!/^\d{1,6}$/.test(id)) return null;
    return parseProduct(await this.redis.hgetall(this.keys.product(id)));
  }

  /** Fetches many products; ioredis auto-pipelining sends the HGETALLs together. */
  async getMany(ids: readonly string[]): Promise<(Product | null)[]> {
    const hashes = await Promise.all(ids.map((id) => this.redis.hgetall(this.keys.product(id))));
    return hashes.map(parseProduct);
  }
}

export function parseProduct(hash: Record<string, string>): Product | null {
  if (!hash.id) return null;
  return {
    id: hash.id,
    name: hash.name ?? '',
    description: hash.description ?? '',
    priceCents: Number(hash.priceCents),
    stock: Number(hash.stock),
    category: hash.category ?? '',
  };
}
