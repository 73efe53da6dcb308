// Two order workers in two processes on one Redis; one is SIGKILLed with an order in hand. Every order is
// fulfilled exactly once (its status, the e-mail log, the workers' own output), and a poison order is
// dead-lettered.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { redisUrl, useTestRedis } from '../../test/helpers/redis.js';
import { createShop } from '../shop/index.js';

const root = new URL('../..', import.meta.url).pathname;
const redis = useTestRedis();
const prefix = redis.prefix('shop:');
const shop = createShop(redis.client, prefix);

interface WorkerProcess {
  name: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<unknown>;
}
const processes: WorkerProcess[] = [];
afterAll(async () => {
  for (const p of processes) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
});

function startWorker(name: string, confirmMs: number): WorkerProcess {
  const child = spawn(
    process.execPath,
    // tsx as a loader in this process (its CLI would run the script in a child that a SIGKILL misses).
    [
      '--conditions=@express-redis-kit/source',
      '--import',
      'tsx',
      'example-app/test/fixtures/order-worker-process.ts',
    ],
    {
      cwd: root,
      env: {
        ...process.env,
        REDIS_URL: redisUrl(),
        SHOP_PREFIX: prefix,
        CONSUMER: name,
        CONFIRM_MS: String(confirmMs),
        VISIBILITY_MS: '1000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  // 'close': the process is gone and everything it wrote has been read.
  const exited = new Promise((resolve) => child.once('close', resolve));
  const worker = { name, child, output: () => output, exited };
  processes.push(worker);
  return worker;
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const linesOf = (w: WorkerProcess, verb: string) =>
  [...w.output().matchAll(new RegExp(`^${verb} (\\S+)$`, 'gm'))].map((m) => m[1] as string);

async function field(entries: [string, string[]][], name: string): Promise<string[]> {
  return entries.map(([, fields]) => fields[fields.indexOf(name) + 1] ?? '');
}

describe('order workers in two processes, one killed mid-order', () => {
  it('fulfils every order exactly once and dead-letters a poison order', { timeout: 60_000 }, async () => {
    await shop.seedIfEmpty();
    const a = startWorker('worker-a', 150);
    const b = startWorker('worker-b', 20);
    await until(() => a.output().includes('started') && b.output().includes('started'), 'both workers');

    const orderIds: string[] = [];
    for (let i = 0; i < 30; i++) {
      await shop.carts.add(`crash-${i}`, String(1 + (i % 20)), 1);
      const placed = await shop.checkout.run({ cartId: `crash-${i}` });
      if (placed.status !== 'created') throw new Error(placed.status);
      orderIds.push(placed.orderId);
    }
    const poison = '00000000-0000-7000-8000-00000000dead';
    await redis.client.xadd(shop.keys.orderStream, '*', 'orderId', poison);

    // Worker A is 150 ms into confirming an order: kill it there, without any chance to clean up.
    await until(() => linesOf(a, 'confirming').length > linesOf(a, 'fulfilled').length, 'A mid-order');
    a.child.kill('SIGKILL');
    await a.exited;
    const inHand = linesOf(a, 'confirming').filter((id) => !linesOf(a, 'fulfilled').includes(id));
    expect(inHand.length).toBeGreaterThan(0);

    // B takes over what A held once it has been idle for the visibility timeout.
    await until(async () => {
      const statuses = await Promise.all(orderIds.map((id) => shop.orders.get(id)));
      return statuses.every((o) => o?.status === 'fulfilled');
    }, 'every order fulfilled');
    await until(
      async () => (await redis.client.xlen(shop.keys.dead)) === 1,
      'the poison order in the dead-letter stream',
    );

    // The e-mail log has one confirmation per order: none lost, none twice.
    const emails = await field(await redis.client.xrange(shop.keys.emails, '-', '+'), 'orderId');
    expect(emails).toHaveLength(orderIds.length);
    expect(new Set(emails)).toEqual(new Set(orderIds));
    // The workers' own output agrees: every order fulfilled by exactly one of them.
    const fulfilled = [...linesOf(a, 'fulfilled'), ...linesOf(b, 'fulfilled')];
    expect(fulfilled.sort()).toEqual([...orderIds].sort());
    // The order A had in hand was finished by B.
    for (const id of inHand) {
      expect(linesOf(b, 'fulfilled')).toContain(id);
      expect(await redis.client.hget(shop.keys.order(id), 'fulfilledBy')).toBe('worker-b');
    }
    expect(b.output()).toMatch(/took over \d+ unfinished order/);

    const dead = await redis.client.xrange(shop.keys.dead, '-', '+');
    expect(await field(dead, 'orderId')).toEqual([poison]);
    const depths = await shop.orders.queueDepths();
    expect(depths).toMatchObject({ pending: 0, processing: 0, dead: 1 });
    expect(depths.consumers.find((c) => c.name === 'worker-a')?.processing).toBe(0);
  });
});
