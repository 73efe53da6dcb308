// `npx tsx --conditions=@express-redis-kit/source bench/soak.ts`: the shop under mixed traffic (browse, add to cart, sign in,
// check out, sign out) for minutes on loopback. Reports errors (must be 0), latency percentiles, and Node and
// Redis memory at start and end, and exits 1 when an error occurred or memory grew beyond the stated bounds.
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createShop } from '../example-app/shop/index.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import type { SoakReply, SoakRequest } from './soak-server.js';

const settings = {
  /** Measured seconds, after the warm-up. */
  durationSeconds: Number(process.env.SOAK_DURATION ?? 120),
  /**
   * Unmeasured seconds first: the rate-limit logs fill up to their one-minute window, so growth measured after
   * it is not the logs reaching their steady size.
   */
  warmupSeconds: Number(process.env.SOAK_WARMUP ?? 60),
  /** Simulated shoppers, each a loop of visits with its own cookie. */
  users: Math.min(250, Number(process.env.SOAK_USERS ?? 16)),
  /** Pause between a shopper's requests, in ms (0 to 2 × this, at random). */
  thinkMs: Number(process.env.SOAK_THINK_MS ?? 10),
};

/**
 * The bounds the run must stay within. Orders are records kept forever by design, so Redis may grow by what
 * the orders placed during the run take (measured with MEMORY USAGE at the end); everything else (sessions,
 * carts, rate-limit logs, cache entries, page views) is bounded by TTLs and traffic shape, and may not grow
 * by more than REDIS_OTHER_GROWTH_BYTES. Node's heap after a full GC may not grow by more than
 * NODE_HEAP_GROWTH_BYTES.
 */
const REDIS_OTHER_GROWTH_BYTES = Number(process.env.SOAK_REDIS_BOUND_MB ?? 4) * 1024 * 1024;
const NODE_HEAP_GROWTH_BYTES = Number(process.env.SOAK_HEAP_BOUND_MB ?? 8) * 1024 * 1024;

const PREFIX = 'soak:';
const BROWSER =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const PRODUCTS = Array.from({ length: 20 }, (_, i) => String(i + 1));

type Step = 'browse' | 'product' | 'api-product' | 'add' | 'sign-in' | 'checkout' | 'sign-out';
const EXPECTED: Record<Step, number> = {
  browse: 200,
  product: 200,
  'api-product': 200,
  add: 200,
  'sign-in': 200,
  checkout: 201,
  'sign-out': 204,
};

const latencies = new Map<Step, number[]>();
const errors: string[] = [];
let errorCount = 0;
let requests = 0;
let measuring = false;
let running = true;

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

// --- Redis and the shop process ----------------------------------------------------------------------------

const server = await startRedisServer();
const admin = new Redis(server.url);
const shop = createShop(admin, `${PREFIX}shop:`);
await shop.seedIfEmpty();
// One account per shopper, so signed-in shoppers never check out each other's carts.
await shop.users.load(
  Array.from({ length: settings.users }, (_, i) => ({
    id: `soak${i}`,
    username: `soak${i}`,
    name: `Soak ${i}`,
    password: `soak-password-${i}`,
    role: 'customer' as const,
  })),
);
// Enough stock that every checkout succeeds: out-of-stock answers would hide real errors.
for (const id of PRODUCTS) await admin.hset(shop.keys.product(id), 'stock', 1_000_000_000);

const child: ChildProcess = fork(
  fileURLToPath(new URL('./soak-server.ts', import.meta.url)),
  [server.url, PREFIX],
  {
    execArgv: ['--import', 'tsx', '--conditions=@express-redis-kit/source', '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  },
);
const replies: ((reply: SoakReply) => void)[] = [];
child.on('message', (reply: SoakReply) => replies.shift()?.(reply));
const nextReply = () => new Promise<SoakReply>((resolve) => replies.push(resolve));
const ask = (request: SoakRequest) => {
  const reply = nextReply();
  child.send(request);
  return reply;
};
const ready = await nextReply();
if (ready.type !== 'ready') throw new Error('the shop process did not start');
const base = `http://127.0.0.1:${ready.port}`;

async function sample() {
  const node = await ask({ type: 'memory' });
  if (node.type !== 'memory') throw new Error('no memory reply');
  const info = await admin.info('memory');
  const usedMemory = Number(/used_memory:(\d+)/.exec(info)?.[1]);
  const orders = Object.values(await admin.hgetall(shop.keys.ordersPerDay)).reduce(
    (n, v) => n + Number(v),
    0,
  );
  return { node, usedMemory, keys: await admin.dbsize(), orders, at: Date.now() };
}

// --- Shoppers ------------------------------------------------------------------------------------------------

interface Shopper {
  /** The session cookie pair (`sid=...`), or '' before the first one. */
  cookie: string;
  /** A keep-alive agent bound to the shopper's own loopback address, so each shopper has its own IP. */
  agent: Agent;
}

/** One request over the shopper's connection; the body is read in full, the session cookie kept. */
function hit(
  step: Step,
  who: Shopper,
  path: string,
  options: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<void> {
  const started = performance.now();
  return new Promise<void>((resolve) => {
    const done = (problem?: string) => {
      if (problem) fail(`${step} ${path}: ${problem}`);
      requests += 1;
      if (measuring) {
        const list = latencies.get(step) ?? [];
        if (list.length === 0) latencies.set(step, list);
        list.push(performance.now() - started);
      }
      resolve();
    };
    const request = httpRequest(
      `${base}${path}`,
      {
        method: options.method ?? 'GET',
        agent: who.agent,
        timeout: 10_000,
        headers: {
          'user-agent': BROWSER,
          ...(who.cookie ? { cookie: who.cookie } : {}),
          ...(options.body ? { 'content-type': 'application/json' } : {}),
          ...options.headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error) => done(error.message));
        response.on('end', () => {
          const set = response.headers['set-cookie']?.find((c) => c.startsWith('sid='));
          if (set) {
            const pair = set.split(';')[0] as string;
            who.cookie = pair === 'sid=' ? '' : pair;
          }
          const status = response.statusCode ?? 0;
          done(
            status === EXPECTED[step]
              ? undefined
              : `${status} ${Buffer.concat(chunks).toString().slice(0, 120)}`,
          );
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error('no answer within 10 s')));
    request.on('error', (error) => done(error.message));
    request.end(options.body);
  });
}

function fail(message: string): void {
  errorCount += 1;
  if (errors.length < 20) errors.push(message);
}

async function shopper(index: number): Promise<void> {
  // 127.0.1.x: every loopback address is local on Linux; a shopper of its own per address.
  const who: Shopper = {
    cookie: '',
    agent: new Agent({ keepAlive: true, maxSockets: 1, localAddress: `127.0.1.${index + 1}` }),
  };
  const think = () => sleep(Math.random() * 2 * settings.thinkMs);
  while (running) {
    await hit('browse', who, pick(['/', '/?sort=price-asc', '/?sort=price-desc', '/?category=Kitchen']));
    await think();
    for (let i = 0; i < 2; i++) {
      await hit('product', who, `/products/${pick(PRODUCTS)}`);
      await think();
    }
    await hit('api-product', who, `/api/products/${pick(PRODUCTS)}`);
    const lines = 1 + Math.floor(Math.random() * 3);
    for (let i = 0; i < lines; i++) {
      const body = JSON.stringify({ productId: pick(PRODUCTS), qty: 1 + Math.floor(Math.random() * 2) });
      await hit('add', who, '/api/cart/items', { method: 'POST', body });
      await think();
    }
    // A quarter of the visits sign in first (the cart is merged into the account), and sign out after.
    const signIn = Math.random() < 0.25;
    if (signIn) {
      const body = JSON.stringify({ username: `soak${index}`, password: `soak-password-${index}` });
      await hit('sign-in', who, '/api/session', { method: 'POST', body });
    }
    await hit('checkout', who, '/api/checkout', {
      method: 'POST',
      headers: { 'idempotency-key': randomUUID() },
    });
    if (signIn) await hit('sign-out', who, '/api/session', { method: 'DELETE' });
    await think();
  }
  who.agent.destroy();
}

// --- The run -------------------------------------------------------------------------------------------------

console.log(
  `Soak: ${settings.users} shoppers, ${settings.warmupSeconds}s warm-up + ${settings.durationSeconds}s measured, ` +
    `think time up to ${2 * settings.thinkMs} ms; Redis on ${server.url}`,
);
const shoppers = Array.from({ length: settings.users }, (_, i) => shopper(i));
await sleep(settings.warmupSeconds * 1000);
const start = await sample();
measuring = true;
const requestsAtStart = requests;
const errorsAtStart = errorCount;
const progress = setInterval(() => {
  const elapsed = Math.round((Date.now() - start.at) / 1000);
  console.log(`  ${elapsed}s: ${requests - requestsAtStart} requests, ${errorCount} errors`);
}, 30_000);
await sleep(settings.durationSeconds * 1000);
measuring = false;
running = false;
clearInterval(progress);
await Promise.all(shoppers);
const measuredRequests = requests - requestsAtStart;
// Let the order worker drain its stream, so waiting orders do not count as growth.
const waiting = async () => {
  const depths = await shop.orders.queueDepths();
  return depths.pending + depths.processing;
};
for (let i = 0; i < 100 && (await waiting()) > 0; i++) await sleep(100);
const end = await sample();

// What the orders placed during the measured part take in Redis, measured exactly: they are deleted (order
// hashes, idempotency keys, entries in the users' order lists) and used_memory is read before and after.
// What remains above the start is everything else: sessions, carts, rate-limit logs, cache, page views.
const newOrders = end.orders - start.orders;
const shopBase = `${PREFIX}shop:{shop}:`;
async function scanAll(pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}
async function usedMemory(): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
}
async function deleteRunOrders(since: number): Promise<number> {
  const orderKeys = await scanAll(`${shopBase}order:*`);
  const created = await Promise.all(orderKeys.map((key) => admin.hget(key, 'createdAt')));
  const runOrders = new Set<string>();
  const doomed: string[] = [];
  orderKeys.forEach((key, i) => {
    if (Number(created[i]) >= since) {
      runOrders.add(key.slice(`${shopBase}order:`.length));
      doomed.push(key);
    }
  });
  const idemKeys = await scanAll(`${shopBase}idem:*`);
  const idemValues = await Promise.all(idemKeys.map((key) => admin.get(key)));
  idemKeys.forEach((key, i) => {
    if (runOrders.has(String(idemValues[i]))) doomed.push(key);
  });
  for (let i = 0; i < doomed.length; i += 500) await admin.del(...doomed.slice(i, i + 500));
  for (const list of await scanAll(`${shopBase}orders:user:*`)) {
    await admin.zremrangebyscore(list, since, '+inf');
  }
  return runOrders.size;
}
const withOrders = await usedMemory();
const deletedOrders = await deleteRunOrders(start.at);
const withoutOrders = await usedMemory();
const ordersBytes = withOrders - withoutOrders;
const perOrder = deletedOrders > 0 ? ordersBytes / deletedOrders : 0;
const redisGrowth = end.usedMemory - start.usedMemory;
const otherGrowth = withoutOrders - start.usedMemory;
const heapGrowth = end.node.memory.heapUsed - start.node.memory.heapUsed;

const all = [...latencies.values()].flat().sort((a, b) => a - b);
const pct = (sorted: number[], p: number) =>
  sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number) : 0;
const row = (name: string, values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return `| ${name} | ${sorted.length} | ${pct(sorted, 50).toFixed(1)} | ${pct(sorted, 99).toFixed(1)} | ${(sorted.at(-1) ?? 0).toFixed(1)} |`;
};

const seconds = (end.at - start.at) / 1000;
console.log(`
## Soak result (${seconds.toFixed(0)} s measured, ${settings.users} shoppers)

${measuredRequests} requests (${(measuredRequests / seconds).toFixed(0)}/s), ${newOrders} orders placed, ${errorCount - errorsAtStart} errors in the measured part, ${errorCount} in all.

| step | requests | p50 ms | p99 ms | max ms |
|---|---|---|---|---|
${[...latencies.entries()].map(([step, values]) => row(step, values)).join('\n')}
${row('**all**', all)}

| memory | start | end | growth | bound |
|---|---|---|---|---|
| Node heap after GC | ${mb(start.node.memory.heapUsed)} | ${mb(end.node.memory.heapUsed)} | ${mb(heapGrowth)} | ${mb(NODE_HEAP_GROWTH_BYTES)} |
| Node RSS | ${mb(start.node.memory.rss)} | ${mb(end.node.memory.rss)} | ${mb(end.node.memory.rss - start.node.memory.rss)} | (reported) |
| Redis used_memory | ${mb(start.usedMemory)} | ${mb(end.usedMemory)} | ${mb(redisGrowth)} | (reported) |
| Redis: the ${deletedOrders} orders placed (${perOrder.toFixed(0)} B each) | | | ${mb(ordersBytes)} | kept by design |
| Redis: everything else | | | ${mb(otherGrowth)} | ${mb(REDIS_OTHER_GROWTH_BYTES)} |
| Redis keys | ${start.keys} | ${end.keys} | ${end.keys - start.keys} | |

Orders e-mailed by the worker since it started: ${end.node.delivered}; shop log problems: ${end.node.problems.length}.`);
if (errors.length) console.log(`\nFirst errors:\n${errors.map((e) => `- ${e}`).join('\n')}`);
if (end.node.problems.length)
  console.log(`\nShop log:\n${end.node.problems.map((p) => `- ${p}`).join('\n')}`);

const failures: string[] = [];
if (errorCount > 0) failures.push(`${errorCount} errors`);
if (end.node.problems.length > 0) failures.push('the shop logged problems');
if (heapGrowth > NODE_HEAP_GROWTH_BYTES) failures.push(`Node heap grew by ${mb(heapGrowth)}`);
if (otherGrowth > REDIS_OTHER_GROWTH_BYTES)
  failures.push(`Redis grew by ${mb(otherGrowth)} beyond the orders`);
console.log(
  failures.length ? `\nFAILED: ${failures.join('; ')}` : '\nPASSED: no errors, memory within bounds',
);

const exited = new Promise((resolve) => child.once('exit', resolve));
child.send({ type: 'stop' } satisfies SoakRequest);
await exited;
admin.disconnect();
await server.stop();
process.exit(failures.length ? 1 : 0);
