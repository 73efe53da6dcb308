import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useTestRedis } from '../../../test/helpers/redis.js';
import { createShop, type Shop } from '../../shop/index.js';
import { type ConfirmationEmail, OrderWorker, type OrderWorkerOptions } from '../../shop/order-worker.js';
import { ORDER_GROUP, type Order } from '../../shop/orders.js';

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

function worker(options: Partial<OrderWorkerOptions> = {}, log: string[] = []): OrderWorker {
  const w = new OrderWorker(redis.client, shop.keys, {
    log: (l) => log.push(l),
    blockMs: 100,
    visibilityTimeoutMs: 300,
    ...options,
  });
  workers.push(w);
  return w;
}

async function placeOrder(cart: string): Promise<string> {
  await shop.carts.add(cart, '8', 1);
  const result = await shop.checkout.run({ cartId: cart });
  if (result.status !== 'created') throw new Error(result.status);
  return result.orderId;
}

/** The e-mail log: order id of every confirmation written. */
async function emailed(): Promise<string[]> {
  const entries = await redis.client.xrange(shop.keys.emails, '-', '+');
  return entries.map(([, fields]) => fields[fields.indexOf('orderId') + 1] ?? '');
}

async function deadLetters(): Promise<Record<string, string>[]> {
  const entries = await redis.client.xrange(shop.keys.dead, '-', '+');
  return entries.map(([, fields]) => {
    const record: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i] as string] = fields[i + 1] as string;
    return record;
  });
}

describe('order worker on a Redis Stream with a consumer group', () => {
  it('fulfils each order once: status, one e-mail in the log, acknowledged, and the stream trimmed', async () => {
    const fulfilled: string[] = [];
    await worker({ onFulfilled: (order) => fulfilled.push(order.id) }).start();
    const ids = [await placeOrder('w1'), await placeOrder('w1b')];
    await eventually(async () => (await emailed()).length === 2);
    expect((await emailed()).sort()).toEqual([...ids].sort());
    expect(fulfilled.sort()).toEqual([...ids].sort());
    for (const id of ids) expect((await shop.orders.get(id))?.status).toBe('fulfilled');
    const depths = await shop.orders.queueDepths();
    expect(depths).toMatchObject({ pending: 0, processing: 0, dead: 0 });
    expect(depths.consumers.map((c) => c.name)).toEqual([workers[0]?.consumer]);
    // The worker trims what every consumer is done with (all but the last delivered entry).
    await eventually(async () => (await redis.client.xlen(shop.keys.orderStream)) <= 1);
    await redis.client.del(shop.keys.emails);
  });

  it('leaves the group on a clean stop, so the dashboard lists only running workers', async () => {
    const w = worker();
    await w.start();
    await eventually(async () => (await shop.orders.queueDepths()).consumers.length > 0);
    await w.stop();
    expect((await shop.orders.queueDepths()).consumers).toEqual([]);
  });

  it('retries a failing confirmation and dead-letters the order after three deliveries', async () => {
    const log: string[] = [];
    let calls = 0;
    const failing = async (): Promise<ConfirmationEmail> => {
      calls += 1;
      throw new Error('template broken');
    };
    await worker({ confirmation: failing }, log).start();
    const id = await placeOrder('w2');
    await eventually(async () => (await deadLetters()).some((d) => d.orderId === id));
    expect(calls).toBe(3);
    expect(log.filter((l) => l.includes('template broken'))).toHaveLength(3);
    expect(log.some((l) => l.includes('dead-letter stream'))).toBe(true);
    expect((await deadLetters()).find((d) => d.orderId === id)?.deliveries).toBe('3');
    expect((await shop.orders.get(id))?.status).toBe('pending');
    expect(await emailed()).not.toContain(id);
    expect(await shop.orders.queueDepths()).toMatchObject({ pending: 0, processing: 0, dead: 1 });
    await redis.client.del(shop.keys.dead);
  });

  it('sends a poison order (no such order) to the dead-letter stream', async () => {
    await worker().start();
    const poison = '00000000-0000-7000-8000-000000000000';
    await redis.client.xadd(shop.keys.orderStream, '*', 'orderId', poison);
    await eventually(async () => (await deadLetters()).some((d) => d.orderId === poison));
    expect(await shop.orders.queueDepths()).toMatchObject({ processing: 0, dead: 1 });
    await redis.client.del(shop.keys.dead);
  });

  it('takes over an order a crashed consumer read and never acknowledged, and e-mails it once', async () => {
    // The group exists once a worker has started; a consumer then reads an order and dies.
    const first = worker();
    await first.start();
    await first.stop();
    const id = await placeOrder('w3');
    await redis.client.xreadgroup(
      'GROUP',
      ORDER_GROUP,
      'crashed',
      'COUNT',
      1,
      'STREAMS',
      shop.keys.orderStream,
      '>',
    );
    const depths = await shop.orders.queueDepths();
    expect(depths.consumers).toEqual([expect.objectContaining({ name: 'crashed', processing: 1 })]);

    const log: string[] = [];
    await worker({}, log).start();
    await eventually(async () => (await shop.orders.get(id))?.status === 'fulfilled');
    expect(log.some((l) => l.includes('took over 1'))).toBe(true);
    expect((await emailed()).filter((e) => e === id)).toHaveLength(1);
    expect(await shop.orders.queueDepths()).toMatchObject({ pending: 0, processing: 0 });
  });

  it('acknowledges without a second e-mail when an order taken over was fulfilled meanwhile', async () => {
    // A slow worker finishes after its order was taken over: the second run only acknowledges.
    let release: () => void = () => {};
    const slowStarted = new Promise<void>((started) => {
      const slow = worker({
        visibilityTimeoutMs: 60_000,
        confirmation: (order: Order) =>
          new Promise<ConfirmationEmail>((resolve) => {
            started();
            release = () => resolve({ subject: `slow ${order.id}`, text: '' });
          }),
      });
      void slow.start();
    });
    const id = await placeOrder('w4');
    await slowStarted;
    await worker().start();
    await eventually(async () => (await shop.orders.get(id))?.status === 'fulfilled');
    release();
    await eventually(async () => (await shop.orders.queueDepths()).processing === 0);
    expect((await emailed()).filter((e) => e === id)).toHaveLength(1);
  });
});
