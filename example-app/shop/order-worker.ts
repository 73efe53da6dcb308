// The order worker: a reliable queue (BLMOVE into a processing list), retries, and a dead-letter list.
import type { ShopRedis } from './catalog.js';
import type { ShopKeys } from './keys.js';
import { type Order, Orders } from './orders.js';
import { type ShopCommands, shopCommands } from './scripts.js';

export interface OrderWorkerOptions {
  /** Sends the confirmation; the demo writes the "e-mail" to the log. Throwing makes the order retry. */
  deliver: (order: Order) => Promise<void>;
  log: (line: string) => void;
  /** Failed deliveries before an order moves to the dead-letter list. */
  maxAttempts?: number;
  /** Seconds BLMOVE waits for an order before checking whether the worker should stop. */
  blockSeconds?: number;
}

class PoisonMessageError extends Error {}

export class OrderWorker {
  private readonly commands: ShopCommands;
  private readonly orders: Orders;
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
  }

  /** Requeues what a crashed worker left in processing, then consumes the queue until `stop()`. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const recovered = await this.commands.shopQueueRecover(this.keys.processing, this.keys.queue);
    if (recovered > 0) this.options.log(`order worker: requeued ${recovered} unfinished order(s)`);
    // Blocking commands need a connection of their own.
    this.blocking = this.redis.duplicate();
    this.blocking.on('error', () => {});
    this.loop = this.consume(this.blocking);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.blocking?.disconnect();
  }

  private async consume(blocking: ShopRedis): Promise<void> {
    const block = this.options.blockSeconds ?? 1;
    let failing = false;
    while (this.running) {
      try {
        const orderId = await blocking.blmove(this.keys.queue, this.keys.processing, 'RIGHT', 'LEFT', block);
        failing = false;
        if (orderId) await this.process(orderId);
      } catch (error) {
        // Redis is down or slow: say so once, then wait a little instead of spinning.
        if (!failing) this.options.log(`order worker: Redis error, retrying: ${(error as Error).message}`);
        failing = true;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  private async process(orderId: string): Promise<void> {
    try {
      const order = await this.orders.get(orderId);
      if (!order) throw new PoisonMessageError(`order ${orderId} does not exist`);
      await this.options.deliver(order);
      await this.redis.hset(this.keys.order(orderId), 'status', 'fulfilled', 'fulfilledAt', Date.now());
      await this.commands.shopQueueAck(this.keys.processing, this.keys.attempts, orderId);
    } catch (error) {
      const outcome = await this.commands.shopQueueNack(
        this.keys.processing,
        this.keys.attempts,
        this.keys.queue,
        this.keys.dead,
        orderId,
        this.options.maxAttempts ?? 3,
      );
      this.options.log(
        `order worker: ${orderId} failed (${(error as Error).message}); ${outcome === 'dead' ? 'moved to the dead-letter list' : 'will retry'}`,
      );
    }
  }
}
