// Orders: reading them back, and the state of their stream the admin dashboard shows.
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

/** The consumer group of the order workers on the order stream. */
export const ORDER_GROUP = 'order-workers';

/** One worker process as its consumer group sees it. */
export interface OrderConsumer {
  name: string;
  /** Orders it has read and not acknowledged yet (being processed, or left behind by a crash). */
  processing: number;
  /** Milliseconds since it last read from the stream. */
  idleMs: number;
}

export interface QueueDepths {
  /** Orders no worker has read yet. */
  pending: number;
  /** Orders read and not acknowledged yet, over all consumers. */
  processing: number;
  consumers: OrderConsumer[];
  /** Orders in the dead-letter stream. */
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
    const [groups, dead] = await Promise.all([
      this.redis.xinfo('GROUPS', this.keys.orderStream).catch(noStream),
      this.redis.xlen(this.keys.dead),
    ]);
    const group = (groups as unknown[][]).map(fieldsOf).find((g) => g.name === ORDER_GROUP);
    if (!group) {
      // No worker has started yet: every order in the stream is waiting.
      return { pending: await this.redis.xlen(this.keys.orderStream), processing: 0, consumers: [], dead };
    }
    const consumers = (
      (await this.redis.xinfo('CONSUMERS', this.keys.orderStream, ORDER_GROUP)) as unknown[][]
    )
      .map(fieldsOf)
      .map((c) => ({ name: String(c.name), processing: Number(c.pending), idleMs: Number(c.idle) }));
    return {
      // `lag` is null when Redis cannot tell (after entries were deleted from the middle): show 0 then.
      pending: Number(group.lag ?? 0),
      processing: Number(group.pending),
      consumers,
      dead,
    };
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

/** Stream entries and XINFO replies are flat field/value lists. */
export function fieldsOf(reply: unknown[]): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) fields[String(reply[i])] = reply[i + 1];
  return fields;
}

function noStream(error: Error): unknown[] {
  if (/no such key/i.test(error.message)) return [];
  throw error;
}
