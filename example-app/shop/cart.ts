// The cart: a Redis hash productId → quantity per cart, expiring 24 h after its last change.
import type { ShopRedis } from './catalog.js';
import type { ShopKeys } from './keys.js';
import { type ShopCommands, shopCommands } from './scripts.js';

export const CART_TTL_MS = 24 * 60 * 60 * 1000;
/** The most of one product a cart may hold. */
export const MAX_QTY = 20;

export class Carts {
  private readonly commands: ShopCommands;

  constructor(
    private readonly redis: ShopRedis,
    private readonly keys: ShopKeys,
  ) {
    this.commands = shopCommands(redis);
  }

  /** Lines of the cart as productId → quantity, in the order they were added. */
  async lines(cartId: string): Promise<Map<string, number>> {
    const hash = await this.redis.hgetall(this.keys.cart(cartId));
    return new Map(Object.entries(hash).map(([id, qty]) => [id, Number(qty)]));
  }

  /** How many items the cart holds (for the header badge). */
  async count(cartId: string): Promise<number> {
    const quantities = await this.redis.hvals(this.keys.cart(cartId));
    return quantities.reduce((sum, qty) => sum + Number(qty), 0);
  }

  /** Adds `delta` (may be negative) of a product, capped at MAX_QTY; null for an unknown product. */
  async add(cartId: string, productId: string, delta: number): Promise<number | null> {
    const qty = await this.commands.shopCartAdd(
      this.keys.cart(cartId),
      this.keys.product(productId),
      productId,
      delta,
      MAX_QTY,
      CART_TTL_MS,
    );
    return qty < 0 ? null : qty;
  }

  async remove(cartId: string, productId: string): Promise<void> {
    await this.commands.shopCartRemove(this.keys.cart(cartId), productId, CART_TTL_MS);
  }

  /** Moves every line of `fromCartId` into `toCartId` atomically; returns how many lines moved. */
  merge(fromCartId: string, toCartId: string): Promise<number> {
    return this.commands.shopCartMerge(
      this.keys.cart(fromCartId),
      this.keys.cart(toCartId),
      MAX_QTY,
      CART_TTL_MS,
    );
  }
}
