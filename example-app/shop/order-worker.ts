// The order worker: one consumer of the order stream's consumer group, fulfilling each order exactly once.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Cluster } from 'ioredis';
import type { ShopRedis } from './catalog.js';
import type { ShopKeys } from './keys.js';
import { fieldsOf, ORDER_GROUP, type Order, Orders } from './orders.js';
import { type ShopCommands, shopCommands } from './scripts.js';

/** The confirmation e-mail of an order, as the e-mail log keeps it. */
export interface ConfirmationEmail {
  subject: string;
  text: string;
}

export interface OrderWorkerOptions {
  log: (line: string) => void;
  /**
   * Writes an order's confirmation e-mail. It can run more than once for one order (when a worker dies
   * mid-order, another one takes the order over), so it must have no outside effect: the e-mail it returns
   * reaches the e-mail log in the same step that marks the order fulfilled, once. Throwing leaves the order
   * to be retried after `visibilityTimeoutMs`.
   * @default a short text with the order's lines and total
   */
  confirmation?: (order: Order) => ConfirmationEmail | Promise<ConfirmationEmail>;
  /** Called after this worker fulfilled an order (over all workers, once per order). */
  onFulfilled?: (order: Order, email: ConfirmationEmail) => void;
  /**
   * This worker's consumer name in the group; unique per process.
   * @default `<hostname>-<pid>-<random>`
   */
  consumer?: string;
  /**
   * Deliveries of one order (its first read and every reclaim) before it moves to the dead-letter stream.
   * @default 3
   */
  maxDeliveries?: number;
  /**
   * How long an order read by a worker may stay unacknowledged before another worker reclaims it (ms).
   * Longer than the slowest fulfilment, or a slow worker's order is taken over (harmless, but wasted work).
   * @default 30_000
   */
  visibilityTimeoutMs?: number;
  /**
   * How long one read waits for new orders before the worker checks whether it should stop (ms).
   * @default 1_000
   */
  blockMs?: number;
  /**
   * About how many entries the e-mail log and the dead-letter stream keep.
   * @default 10_000
   */
  maxLogLength?: number;
}

/** Consumers that read nothing for this long and hold no orders are dead processes: they are removed. */
const FORGET_CONSUMER_MS = 60 * 60 * 1000;

class PoisonOrderError extends Error {}

type Entry = [id: string, fields: string[] | null];

export class OrderWorker {
  /** This worker's consumer name in the group. */
  readonly consumer: string;
  private readonly commands: ShopCommands;
  private readonly orders: Orders;
  private readonly maxDeliveries: number;
  private readonly visibilityTimeoutMs: number;
  private readonly maxLogLength: number;
  private blocking: ShopRedis | undefined;
  private loop: Promise<void> | undefined;
  private running = false;

  constructor(
    private readonly redis: ShopRedis,
    private readonly keys: ShopKeys,
    private readonly options: OrderWorkerOptions,
  ) {
    this.commands = shopCommands(redis);
    this.orders = new Orders(redis, keys);
    this.consumer = options.consumer ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.maxDeliveries = options.maxDeliveries ?? 3;
    this.visibilityTimeoutMs = options.visibilityTimeoutMs ?? 30_000;
    this.maxLogLength = options.maxLogLength ?? 10_000;
  }

  /** Joins the consumer group (creating it if needed) and processes orders until `stop()`. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.ensureGroup();
    // A blocking read needs a connection of its own. The two branches make the same call: TypeScript cannot
    // call `duplicate` on the union, as Redis and Cluster declare it with different parameters.
    this.blocking = this.redis instanceof Cluster ? this.redis.duplicate() : this.redis.duplicate();
    this.blocking.on('error', () => {});
    this.loop = this.consume(this.blocking);
  }

  /** Finishes the order in hand, then leaves the group if it holds no unacknowledged order. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.loop;
    this.blocking?.disconnect();
    try {
      const held = await this.redis.xpending(this.keys.orderStream, ORDER_GROUP, '-', '+', 1, this.consumer);
      if ((held as unknown[]).length === 0) {
        await this.redis.xgroup('DELCONSUMER', this.keys.orderStream, ORDER_GROUP, this.consumer);
      }
    } catch {
      // Redis is gone or the group was deleted: nothing to leave.
    }
  }

  private async ensureGroup(): Promise<void> {
    try {
      // From the stream's start, so orders placed before the first worker ever ran are processed too.
      await this.redis.xgroup('CREATE', this.keys.orderStream, ORDER_GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!/BUSYGROUP/.test((error as Error).message)) throw error;
    }
    // Listed (with nothing in hand) from the start, not only once it has read an order.
    await this.redis.xgroup('CREATECONSUMER', this.keys.orderStream, ORDER_GROUP, this.consumer);
  }

  private async consume(blocking: ShopRedis): Promise<void> {
    const block = this.options.blockMs ?? 1_000;
    const maintenanceEveryMs = Math.min(this.visibilityTimeoutMs / 2, 5_000);
    let nextMaintenance = 0;
    let failing = false;
    while (this.running) {
      try {
        if (Date.now() >= nextMaintenance) {
          nextMaintenance = Date.now() + maintenanceEveryMs;
          await this.reclaim();
          await this.trim();
        }
        const reply = (await blocking.xreadgroup(
          'GROUP',
          ORDER_GROUP,
          this.consumer,
          'COUNT',
          10,
          'BLOCK',
          block,
          'STREAMS',
          this.keys.orderStream,
          '>',
        )) as [string, Entry[]][] | null;
        failing = false;
        for (const entry of reply?.[0]?.[1] ?? []) await this.process(entry);
      } catch (error) {
        const message = (error as Error).message;
        if (/NOGROUP/.test(message)) {
          // The stream was deleted (the shop was reset): join again.
          await this.ensureGroup().catch(() => {});
          continue;
        }
        // Redis is down or slow: say so once, then wait a little instead of spinning.
        if (!failing) this.options.log(`order worker: Redis error, retrying: ${message}`);
        failing = true;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /** Takes over orders other workers left unacknowledged too long; dead-letters those tried too often. */
  private async reclaim(): Promise<void> {
    const [claimed, dead] = await this.commands.shopOrderReclaim(
      this.keys.orderStream,
      this.keys.dead,
      ORDER_GROUP,
      this.consumer,
      this.visibilityTimeoutMs,
      10,
      this.maxDeliveries,
      this.maxLogLength,
    );
    if (dead > 0) {
      this.options.log(
        `order worker: moved ${dead} order(s) to the dead-letter stream after ${this.maxDeliveries} deliveries`,
      );
    }
    if (claimed.length > 0) this.options.log(`order worker: took over ${claimed.length} unfinished order(s)`);
    for (const entry of claimed) await this.process(entry);
  }

  /**
   * Drops the stream entries every worker is done with: those before both the oldest unacknowledged entry
   * and the last one delivered (later ones are still to be read).
   */
  private async trim(): Promise<void> {
    const stream = this.keys.orderStream;
    const groups = (await this.redis.xinfo('GROUPS', stream)) as unknown[][];
    const group = groups.map(fieldsOf).find((g) => g.name === ORDER_GROUP);
    if (!group) return;
    let minId = String(group['last-delivered-id']);
    const [count, oldest] = (await this.redis.xpending(stream, ORDER_GROUP)) as [number, string | null];
    if (count > 0 && oldest && compareIds(oldest, minId) < 0) minId = oldest;
    if (minId !== '0-0') await this.redis.xtrim(stream, 'MINID', minId);
    const consumers = (await this.redis.xinfo('CONSUMERS', stream, ORDER_GROUP)) as unknown[][];
    for (const consumer of consumers.map(fieldsOf)) {
      if (Number(consumer.pending) === 0 && Number(consumer.idle) > FORGET_CONSUMER_MS) {
        await this.redis.xgroup('DELCONSUMER', stream, ORDER_GROUP, String(consumer.name));
      }
    }
  }

  private async process([entryId, fields]: Entry): Promise<void> {
    const orderId = fields ? String(fieldsOf(fields).orderId ?? '') : '';
    try {
      const order = await this.orders.get(orderId);
      if (!order) throw new PoisonOrderError(`order ${orderId || entryId} does not exist`);
      const email = await (this.options.confirmation ?? defaultConfirmation)(order);
      const outcome = await this.commands.shopOrderFulfil(
        this.keys.order(order.id),
        this.keys.orderStream,
        this.keys.emails,
        ORDER_GROUP,
        entryId,
        order.id,
        Date.now(),
        this.consumer,
        email.subject,
        email.text,
        this.maxLogLength,
      );
      if (outcome === 'missing') throw new PoisonOrderError(`order ${order.id} was deleted`);
      if (outcome === 'done') this.options.onFulfilled?.(order, email);
    } catch (error) {
      // Unacknowledged, the entry stays with this consumer: it is reclaimed after the visibility timeout.
      this.options.log(
        `order worker: ${orderId || entryId} failed (${(error as Error).message}); it will be retried, and ` +
          `moved to the dead-letter stream after ${this.maxDeliveries} deliveries`,
      );
    }
  }
}

function defaultConfirmation(order: Order): ConfirmationEmail {
  const lines = order.lines.map(
    (line) => `${line.qty} × ${line.name}: $${((line.qty * line.priceCents) / 100).toFixed(2)}`,
  );
  return {
    subject: `Your order ${order.id.slice(0, 8)} is confirmed`,
    text: [...lines, `Total: $${(order.totalCents / 100).toFixed(2)}`].join('\n'),
  };
}

/** Orders stream ids (`<ms>-<seq>`) numerically. */
function compareIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  return am === bm ? (as === bs ? 0 : as < bs ? -1 : 1) : am < bm ? -1 : 1;
}
