// Redis outages: while Redis is down the buffer is kept (bounded, the oldest dropped with a warning) and written
// once it returns, exactly once.
import express from 'express';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Logger, type PageViewsMiddleware, pageViews } from '../../src/index.js';
import { FLUSH_SCRIPT } from '../../src/page-views/scripts.js';
import { registerVariadicScript } from '../../src/redis/index.js';
import { useTestRedis } from '../helpers/redis.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import {
  eventually,
  faultyProxy,
  HTML_PAGE,
  type Listening,
  listen,
  load,
  sleep,
  todayUtc,
} from './support.js';

const redis = useTestRedis();
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});
afterAll(async () => {
  expect(cleanups).toHaveLength(0);
});

function capture(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    warn: (message) => {
      warnings.push(message);
    },
    error: (message) => {
      warnings.push(message);
    },
  };
}

async function dedicated(args: string[] = []): Promise<{ server: RedisServer; client: Redis }> {
  const server = await startRedisServer({ args });
  const client = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  client.on('error', () => {});
  cleanups.push(() => server.stop());
  cleanups.push(async () => client.disconnect());
  return { server, client };
}

function track(client: Redis, extra: Partial<Parameters<typeof pageViews>[0]> = {}): PageViewsMiddleware {
  const views = pageViews({ redis: client, prefix: 'pv:', timeout: '300ms', ...extra });
  cleanups.push(() => views.close());
  return views;
}

/** Retries `views.flush()` until it succeeds, as the flush timer would once Redis answers again. */
async function flushOnceRedisAnswers(views: PageViewsMiddleware): Promise<void> {
  await eventually(async () => {
    try {
      await views.flush();
      return true;
    } catch {
      return false;
    }
  }, 15_000);
}

describe('Redis outages', () => {
  it('keeps counting while Redis is down and writes the buffer when it is back, once (kill, restart)', async () => {
    // append-only with fsync always, so what was written before the kill survives it
    const { server } = await dedicated(['--appendonly', 'yes', '--appendfsync', 'always']);
    // the client talks through a proxy that can lose Redis's replies
    const proxy = await faultyProxy(server.port);
    cleanups.push(() => proxy.close());
    const client = new Redis(proxy.port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    client.on('error', () => {});
    cleanups.push(async () => client.disconnect());
    const direct = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    direct.on('error', () => {});
    cleanups.push(async () => direct.disconnect());
    const logger = capture();
    const views = track(client, { flushInterval: '150ms', logger });
    const app = express();
    app.use(views);
    app.get('/p/:id', (_req, res) => {
      res.send(HTML_PAGE);
    });
    const http: Listening = await listen(app);
    cleanups.push(() => http.close());
    const stored = async () => Number((await direct.hget(`pv:{pv}:d:${todayUtc()}`, '/p/:id')) ?? 0);

    await load(http.url, 6, (i) => ({ path: `/p/${i}` }));
    await views.flush();
    expect(await stored()).toBe(6);

    // The kill lands between a flush and its reply: Redis applied the chunk, the reply never came back.
    await load(http.url, 4, (i) => ({ path: `/p/${i}` }));
    proxy.dropReplies = true;
    await expect(views.flush()).rejects.toThrow();
    expect(await stored()).toBe(10);
    expect(views.stats().bufferedViews).toBe(4);
    await server.kill();
    proxy.dropReplies = false;
    const started = Date.now();
    const statuses = await load(http.url, 25, (i) => ({ path: `/p/${i}` }));
    // pages are served while Redis is dead: nothing on the request path waits for it
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(Date.now() - started).toBeLessThan(3_000);
    await expect(views.flush()).rejects.toThrow();
    await sleep(600); // several flush intervals fail
    expect(views.stats().bufferedViews).toBe(29);
    expect(logger.warnings.some((w) => w.includes('Redis error'))).toBe(true);

    await server.restart();
    await eventually(() => views.stats().bufferedViews === 0, 15_000);
    // the retried chunk found its marker (it survived the kill on disk) and added nothing
    expect(await stored()).toBe(35);
    const [row] = await views.report({
      from: todayUtc(),
      to: todayUtc(),
      granularity: 'day',
      route: '/p/:id',
    });
    expect(row?.views).toBe(35);
    expect(row?.uniques).toBe(1);
    expect(views.stats().droppedViews).toBe(0);
  }, 30_000);

  it('writes a chunk once when a flush ran but its reply was lost', async () => {
    const { server } = await dedicated();
    const proxy = await faultyProxy(server.port);
    cleanups.push(() => proxy.close());
    const client = new Redis(proxy.port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    client.on('error', () => {});
    cleanups.push(async () => client.disconnect());
    const views = track(client, { flushInterval: '1h' });
    views.record({ route: '/a', visitor: 'x' });
    await views.flush();

    for (let i = 0; i < 7; i++) views.record({ route: '/a', visitor: `v${i}` });
    proxy.dropReplies = true;
    // the flush runs on Redis, but its reply never arrives: the client times out, then the connection drops
    await expect(views.flush()).rejects.toThrow(/did not answer/i);
    proxy.cut();
    proxy.dropReplies = false;
    expect(views.stats().bufferedViews).toBe(7);
    // the retry carries the same chunk id: its marker already exists, so it adds nothing
    await flushOnceRedisAnswers(views);
    const check = new Redis(server.port, '127.0.0.1');
    cleanups.push(async () => check.disconnect());
    expect(await check.hget(`pv:{pv}:d:${todayUtc()}`, '/a')).toBe('8');
    expect(views.stats().bufferedViews).toBe(0);
  }, 30_000);

  it('keeps one flush outstanding at a time, however often a flush is asked for', async () => {
    const { server } = await dedicated();
    const proxy = await faultyProxy(server.port);
    cleanups.push(() => proxy.close());
    const client = new Redis(proxy.port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    client.on('error', () => {});
    cleanups.push(async () => client.disconnect());
    const views = track(client, { flushInterval: '50ms', timeout: '300ms' });
    views.record({ route: '/a', visitor: 'x' });
    await views.flush();
    // every flush script Redis runs, from any connection (MONITOR sees a command once it ran)
    const direct = new Redis(server.url, { maxRetriesPerRequest: 1 });
    direct.on('error', () => {});
    cleanups.push(async () => direct.disconnect());
    const monitor = await direct.monitor();
    monitor.on('error', () => {});
    cleanups.push(async () => monitor.disconnect());
    const flushes: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (/^eval/i.test(String(args[0])) && args.some((a) => a.includes(':f:'))) flushes.push(args);
    });

    // The replies are lost: the first flush stays unanswered, times out, and its outcome stays unknown, while
    // views keep coming and flushes are asked for (by hand and by the 50 ms timer) for three timeouts more.
    proxy.dropReplies = true;
    views.record({ route: '/a', visitor: 'y' });
    const asked = [views.flush(), views.flush(), views.flush()].map((p) => p.catch((e: unknown) => e));
    for (let i = 0; i < 8; i++) {
      await sleep(100);
      views.record({ route: '/b', visitor: `z${i}` });
      asked.push(views.flush().catch((e: unknown) => e));
    }
    await eventually(() => flushes.length > 0);
    await sleep(200);
    // one script ran; nothing went out behind it while its outcome was unknown
    expect(flushes).toHaveLength(1);
    proxy.dropReplies = false;
    await Promise.all(asked);
  }, 30_000);

  it('bounds the buffer: drops the oldest batch with a warning and keeps the newest', async () => {
    const { server, client } = await dedicated();
    await server.kill();
    const logger = capture();
    const views = track(client, { flushInterval: '1h', maxBuffer: 100, logger });
    for (let i = 0; i < 60; i++) views.record({ route: '/old', visitor: `old-${i}` });
    await expect(views.flush()).rejects.toThrow();
    for (let i = 0; i < 40; i++) views.record({ route: '/new', visitor: `new-${i}` });
    await expect(views.flush()).rejects.toThrow();
    // 61 + 41 entries exceed maxBuffer (100): the older batch goes
    expect(views.stats()).toMatchObject({ droppedViews: 60, bufferedViews: 40 });
    expect(logger.warnings.some((w) => w.includes('dropped the oldest unsent views'))).toBe(true);

    await server.restart();
    await flushOnceRedisAnswers(views);
    const rows = await views.report({ from: todayUtc(), to: todayUtc(), granularity: 'day' });
    expect(rows.map((r) => [r.route, r.views])).toEqual([['/new', 40]]);
    // a HyperLogLog estimate: exact most of the time at 40, but not always
    expect(Math.abs((rows[0]?.uniques ?? 0) - 40)).toBeLessThanOrEqual(1);
  }, 30_000);
});

describe('visitors written once per route and day', () => {
  it('writes a visitor again after the batch that held its only write was dropped', async () => {
    // with every write on disk, so that what was written before the kill is there after the restart
    const { server, client } = await dedicated(['--appendonly', 'yes', '--appendfsync', 'always']);
    const views = track(client, { flushInterval: '1h', maxBuffer: 100, logger: capture() });
    views.record({ route: '/a', visitor: 'bob' });
    await views.flush(); // the period salts are loaded and kept: later flushes prepare without Redis

    await server.kill();
    // alice's first view is prepared (and she counts as written for /a today), but the write fails
    views.record({ route: '/a', visitor: 'alice' });
    await expect(views.flush()).rejects.toThrow();
    // and then her batch is dropped to keep the buffer bound
    for (let i = 0; i < 120; i++) views.record({ route: '/b', visitor: `filler-${i}` });
    await expect(views.flush()).rejects.toThrow();
    expect(views.stats().droppedViews).toBe(1);

    await server.restart();
    views.record({ route: '/a', visitor: 'alice' });
    await flushOnceRedisAnswers(views);
    const rows = await views.report({ from: todayUtc(), to: todayUtc(), granularity: 'day', route: '/a' });
    // her dropped view is lost, but she is a visitor of /a today: her next view was written
    expect(rows.map((r) => [r.route, r.views, r.uniques])).toEqual([['/a', 2, 2]]);
  }, 30_000);
});

describe('the flush script', () => {
  it('applies a chunk once: a second call with the same marker changes nothing', async () => {
    const client = redis.connect();
    const flush = registerVariadicScript(client, FLUSH_SCRIPT);
    const marker = redis.prefix('{t}:f:1');
    const hashKey = redis.prefix('{t}:d:2026-11-21');
    const hll = redis.prefix('{t}:u:d:2026-11-21');
    const expireAt = Math.ceil(Date.now() / 1000) + 3_600;
    const args = [60_000, 0, 1, 'h', expireAt, 2, '/a', 3, '/b', 1, 2, 'p', expireAt, 3, 'x', 'y', 'z'];
    expect(await flush([marker, hashKey, hll], args)).toBe(1);
    expect(await flush([marker, hashKey, hll], args)).toBe(0);
    expect(await client.hgetall(hashKey)).toEqual({ '/a': '3', '/b': '1' });
    expect(await client.pfcount(hll)).toBe(3);
    expect(await client.ttl(hashKey)).toBeGreaterThan(3_500);
    expect(await client.pttl(marker)).toBeGreaterThan(50_000);
  });
});
