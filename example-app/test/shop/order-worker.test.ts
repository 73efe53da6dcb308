import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useTestRedis } from '../../../test/helpers/redis.js';
import { createShop, type Shop } from '../../shop/index.js';
import { OrderWorker } from '../../shop/order-worker.js';
import type { Order } from '../../shop/orders.js';

const redis = useTestRedis();
let shop: Shop;
const workers: OrderWorker[] = [];

beforeAll(async () => {
  shop = createShop(redis.client, redis.prefix('shop:'));
  await shop.seedIfEmpty();
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

function worker(deliver: (order: Order) => Promise<void>, log: string[] = []): OrderWorker {
  const w = new OrderWorker(redis.client, shop.keys, { deliver, log: (l) => log.push(l), blockSeconds: 0.2 });
  workers.push(w);
  return w;
}

async function placeOrder(cart: string): Promise<string> {
  await shop.carts.add(cart, '8', 1);
  const result = await shop.checkout.run({ cartId: cart });
  if (result.status !== 'created') throw new Error(result.status);
  return result.orderId;
}

describe('order worker', () => {
  it('moves each order through processing and marks it fulfilled', async () => {
    const delivered: string[] = [];
    await worker(async (order) => {
      delivered.push(order.id);
    }).start();
    const id = await placeOrder('w1');
    await eventually(async () => (await shop.orders.get(id))?.status === 'fulfilled');
    expect(delivered).toEqual([id]);
    expect(await shop.orders.queueDepths()).toEqual({ queued: 0, processing: 0, dead: 0 });
  });

  it('retries a failing delivery and dead-letters it after three attempts', async () => {
    const log: string[] = [];
    let calls = 0;
    await worker(async () => {
      calls += 1;
      throw new Error('smtp down');
    }, log).start();
    const id = await placeOrder('w2');
    await eventually(async () => (await redis.client.lrange(shop.keys.dead, 0, -1)).includes(id));
    expect(calls).toBe(3);
    expect(log.filter((l) => l.includes('will retry'))).toHaveLength(2);
    expect(log.some((l) => l.includes('dead-letter'))).toBe(true);
    expect((await shop.orders.get(id))?.status).toBe('pending');
    expect(await redis.client.hget(shop.keys.attempts, id)).toBeNull();
    await redis.client.del(shop.keys.dead);
  });

  it('sends a poison message (no such order) to the dead-letter list', async () => {
    await worker(async () => {}).start();
    const poison = '00000000-0000-7000-8000-000000000000';
    await redis.client.lpush(shop.keys.queue, poison);
    await eventually(async () => (await redis.client.lrange(shop.keys.dead, 0, -1)).includes(poison));
    await redis.client.del(shop.keys.dead);
  });

  it('requeues orders a crashed worker left in processing', async () => {
    const id = await placeOrder('w3');
    // Simulate a crash between BLMOVE and the acknowledgement.
    await redis.client.lmove(shop.keys.queue, shop.keys.processing, 'RIGHT', 'LEFT');
    expect(await redis.client.lrange(shop.keys.processing, 0, -1)).toEqual([id]);
    const log: string[] = [];
    await worker(async () => {}, log).start();
    await eventually(async () => (await shop.orders.get(id))?.status === 'fulfilled');
    expect(log.some((l) => l.includes('requeued 1'))).toBe(true);
  });
});
