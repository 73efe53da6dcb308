// The cart: a Redis hash productId → quantity per cart, expiring 24 h after its last change.
import type { ShopRedis } from './catalog.js';
import type { ShopKeys } from './keys.js';
import { type ShopCommands, shopCommands } from './scripts.js';

export const CART_TTL_MS = 24 * 60 * 60 * 1000;
/** The most of one product a cart may hold. */
export const MAX_QTY = 20;

/** What a cart change did: the line holds `qty`, which is less than `requested` when it was clamped. */
export interface CartChange {
  /** The quantity the line holds now (0: the line is gone). */
  qty: number;
  /** The quantity asked for (the line's old quantity plus the amount added, or the amount set). */
  requested: number;
  /** The product's stock left. */
  stock: number;
}

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

  /** Adds `delta` (may be negative) of a product, capped as {@link change} does; null for an unknown product. */
  async add(cartId: string, productId: string, delta: number): Promise<number | null> {
    return (await this.change(cartId, productId, delta, 'add'))?.qty ?? null;
  }

  /**
   * Adds `amount` of a product to its line (`'add'`) or sets the line to `amount` (`'set'`), in one script:
   * the line never holds more than MAX_QTY or than the stock left. Null for an unknown product.
   */
  async change(
    cartId: string,
    productId: string,
    amount: number,
    mode: 'add' | 'set',
  ): Promise<CartChange | null> {
    const [qty, requested, stock] = await this.commands.shopCartChange(
      this.keys.cart(cartId),
      this.keys.product(productId),
      productId,
      amount,
      mode,
      MAX_QTY,
      CART_TTL_MS,
    );
    return qty < 0 ? null : { qty, requested, stock };
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

/** What to tell the customer when a change was clamped (undefined when it was not). */
export function clampNotice(change: CartChange, productName: string): string | undefined {
  if (change.qty >= change.requested) return undefined;
  if (change.requested > change.stock) {
    return change.stock === 0
      ? `${productName} is sold out: it is not in your cart.`
      : `Only ${change.stock} left: your cart holds ${change.qty}.`;
  }
  return `At most ${MAX_QTY} of one product per order: your cart holds ${change.qty}.`;
}
