// Checkout: one Lua script checks the cart and every line's stock, then writes the order all at once.
import { v7 as uuidv7 } from 'uuid';
import type { ShopRedis } from './catalog.js';
import type { ShopKeys } from './keys.js';
import { type ShopCommands, shopCommands } from './scripts.js';

/** How long a used idempotency key keeps answering with its order. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const IDEMPOTENCY_KEY = /^[A-Za-z0-9_-]{8,100}$/;

export type CheckoutResult =
  | { status: 'created'; orderId: string; totalCents: number; productIds: string[] }
  | { status: 'replayed'; orderId: string; totalCents: number }
  | { status: 'empty' }
  | { status: 'out_of_stock'; short: ShortLine[] };

/** A cart line the stock cannot cover, and how many of its product are left. */
export interface ShortLine {
  productId: string;
  left: number;
}

export interface CheckoutRequest {
  cartId: string;
  /** The signed-in user, if any (their order history gets the order). */
  userId?: string;
  /** Makes a repeated submit return the first order instead of creating another. */
  idempotencyKey?: string;
}

export class InvalidIdempotencyKeyError extends Error {}

export class Checkout {
  private readonly commands: ShopCommands;

  constructor(
    private readonly redis: ShopRedis,
    private readonly keys: ShopKeys,
  ) {
    this.commands = shopCommands(redis);
  }

  async run({ cartId, userId = '', idempotencyKey }: CheckoutRequest): Promise<CheckoutResult> {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new InvalidIdempotencyKeyError('Idempotency-Key must be 8 to 100 letters, digits, - or _.');
    }
    // Keys are scoped to the user (or the cart), so one client cannot replay another's order.
    const idempotency = this.keys.idempotency(userId || `cart-${cartId}`, idempotencyKey ?? 'none');
    // The script refuses a cart that changed since we read it; then we read it again.
    for (let attempt = 0; attempt < 5; attempt++) {
      const cart = await this.redis.hgetall(this.keys.cart(cartId));
      const lines = Object.entries(cart);
      const orderId = uuidv7();
      const now = Date.now();
      const keys = [
        this.keys.cart(cartId),
        idempotency,
        this.keys.order(orderId),
        this.keys.orderStream,
        this.keys.userOrders(userId || 'anonymous'),
        this.keys.revenue,
        this.keys.ordersPerDay,
        ...lines.map(([productId]) => this.keys.product(productId)),
      ];
      const day = new Date(now).toISOString().slice(0, 10);
      const args = [orderId, userId, now, day, idempotencyKey ? IDEMPOTENCY_TTL_MS : 0];
      const reply = await this.commands.shopCheckout(keys.length, ...keys, ...args, ...lines.flat());
      const [status, first, second] = reply.map(String);
      switch (status) {
        case 'ok':
          return {
            status: 'created',
            orderId: String(first),
            totalCents: Number(second),
            productIds: lines.map(([id]) => id),
          };
        case 'replay':
          return {
            status: 'replayed',
            orderId: String(first),
            totalCents: Number(await this.redis.hget(this.keys.order(String(first)), 'totalCents')),
          };
        case 'empty':
          return { status: 'empty' };
        case 'out_of_stock':
          return { status: 'out_of_stock', short: shortLines(reply.slice(1)) };
        case 'changed':
          continue;
        default:
          throw new Error(`unexpected checkout reply ${reply.join(',')}`);
      }
    }
    throw new Error('the cart kept changing during checkout; try again');
  }
}

function shortLines(pairs: (string | number)[]): ShortLine[] {
  const lines: ShortLine[] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    lines.push({ productId: String(pairs[i]), left: Number(pairs[i + 1]) });
  }
  return lines;
}
