// Orders: reading them back, and the queue depths the admin dashboard shows.
import type { ShopRedis } from './catalog.js';
import type { ShopKeys } from './keys.js';

export interface OrderLine {
  productId: string;
  name: string;
  qty: number;
  priceCents: number;
}

export interface Order {
  id: string;
  userId: string;
  createdAt: number;
  totalCents: number;
  status: 'pending' | 'fulfilled';
  lines: OrderLine[];
  fulfilledAt?: number;
}

export interface QueueDepths {
  queued: number;
  processing: number;
  dead: number;
}

export class Orders {
  constructor(
    private readonly redis: ShopRedis,
    private readonly keys: ShopKeys,
  ) {}

  async get(orderId: string): Promise<Order | null> {
    if (!/^[0-9a-f-]{36}$/.test(orderId)) return null;
    return parseOrder(await this.redis.hgetall(this.keys.order(orderId)));
  }

  /** A user's most recent orders, newest first. */
  async listForUser(userId: string, limit = 20): Promise<Order[]> {
    const ids = await this.redis.zrange(this.keys.userOrders(userId), 0, limit - 1, 'REV');
    const orders = await Promise.all(ids.map((id) => this.get(id)));
    return orders.filter((o): o is Order => o !== null);
  }

  async queueDepths(): Promise<QueueDepths> {
    const [queued, processing, dead] = await Promise.all([
      this.redis.llen(this.keys.queue),
      this.redis.llen(this.keys.processing),
      this.redis.llen(this.keys.dead),
    ]);
    return { queued, processing, dead };
  }

  /** Orders and revenue per day (YYYY-MM-DD → counts), for the dashboard. */
  async perDay(): Promise<{ day: string; orders: number; revenueCents: number }[]> {
    const [orders, revenue] = await Promise.all([
      this.redis.hgetall(this.keys.ordersPerDay),
      this.redis.hgetall(this.keys.revenue),
    ]);
    return Object.keys(orders)
      .sort()
      .map((day) => ({ day, orders: Number(orders[day]), revenueCents: Number(revenue[day] ?? 0) }));
  }
}

export function parseOrder(hash: Record<string, string>): Order | null {
  if (!hash.id) return null;
  let lines: OrderLine[] = [];
  try {
    const parsed = JSON.parse(hash.lines ?? '[]') as unknown;
    // cjson encodes an empty table as {}, never as [].
    lines = Array.isArray(parsed) ? (parsed as OrderLine[]) : [];
  } catch {
    lines = [];
  }
  return {
    id: hash.id,
    userId: hash.userId ?? '',
    createdAt: Number(hash.createdAt),
    totalCents: Number(hash.totalCents),
    status: hash.status === 'fulfilled' ? 'fulfilled' : 'pending',
    lines,
    ...(hash.fulfilledAt ? { fulfilledAt: Number(hash.fulfilledAt) } : {}),
  };
}
