import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_REDIS_TIMEOUT_MS,
  RedisTimeoutError,
  RedisUnavailableError,
  redisCaller,
  resolveTimeout,
  withDeadline,
} from '../../src/redis/index.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

let server: RedisServer;
const clients: Redis[] = [];
function client(options: RedisOptions = {}): Redis {
  const c = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: 1, ...options });
  c.on('error', () => {});
  clients.push(c);
  return c;
}

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server.stop();
});

describe('resolveTimeout', () => {
  it('uses the default when neither the option nor the client sets one', () => {
    expect(resolveTimeout(client({ lazyConnect: true }), undefined, 'x')).toBe(DEFAULT_REDIS_TIMEOUT_MS);
  });

  it('adds no timer of its own when the client enforces a commandTimeout', () => {
    expect(resolveTimeout(client({ lazyConnect: true, commandTimeout: 300 }), undefined, 'x')).toBe(0);
    expect(resolveTimeout(client({ lazyConnect: true, commandTimeout: 300 }), '1s', 'x')).toBe(0);
  });

  it('always arms a deadline of its own on a Cluster, whose offline queue has no timer', () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: server.port }], {
      lazyConnect: true,
      redisOptions: { commandTimeout: 300 },
    });
    expect(resolveTimeout(cluster, undefined, 'x')).toBe(300);
    expect(resolveTimeout(cluster, '1s', 'x')).toBe(1_000);
    expect(resolveTimeout(cluster, '100ms', 'x')).toBe(100);
    cluster.disconnect();
  });

  it('enforces an explicit timeout shorter than the client one', () => {
    expect(resolveTimeout(client({ lazyConnect: true, commandTimeout: 3000 }), '250ms', 'x')).toBe(250);
    expect(() => resolveTimeout(client({ lazyConnect: true }), 'soon', 'x')).toThrow(/timeout/);
  });
});

describe('withDeadline against a paused redis-server', () => {
  it('rejects with RedisTimeoutError on time, and absorbs the late failure', async () => {
    const c = client();
    await c.ping();
    server.pause();
    try {
      const started = Date.now();
      const error = await withDeadline(c.get('k'), 200).catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      expect(error).toBeInstanceOf(RedisTimeoutError);
      expect(elapsed).toBeGreaterThanOrEqual(190);
      expect(elapsed).toBeLessThan(1_000);
    } finally {
      server.resume();
    }
    c.disconnect();
  });

  it('passes results through when Redis answers', async () => {
    const c = client();
    await c.set('deadline-key', 'v');
    expect(await withDeadline(c.get('deadline-key'), 1_000)).toBe('v');
    expect(await withDeadline(c.get('deadline-key'), 0)).toBe('v');
  });
});

describe('redisCaller', () => {
  it('after a timeout, sends one probe at a time and fails the other calls at once, until Redis answers', async () => {
    const c = client();
    const other = client();
    await Promise.all([c.ping(), other.ping()]);
    let sent = 0;
    const get = () => {
      sent += 1;
      return c.get('breaker-key');
    };
    server.pause();
    try {
      const first = await redisCaller(c, 200)
        .call(get)
        .catch((e: unknown) => e);
      expect(first).toBeInstanceOf(RedisTimeoutError);
      // Right after the failure, calls fail at once and are not sent.
      expect(
        await redisCaller(c, 200)
          .call(get)
          .catch((e: unknown) => e),
      ).toBeInstanceOf(RedisUnavailableError);
      expect(sent).toBe(1);
      // A little later one call probes Redis (and waits); calls made meanwhile fail at once.
      await new Promise((r) => setTimeout(r, 150));
      const probe = redisCaller(c, 200)
        .call(get)
        .catch((e: unknown) => e);
      const started = Date.now();
      const meanwhile = await redisCaller(c, 200)
        .call(get)
        .catch((e: unknown) => e);
      expect(meanwhile).toBeInstanceOf(RedisUnavailableError);
      expect(Date.now() - started).toBeLessThan(50);
      expect(await probe).toBeInstanceOf(RedisTimeoutError);
      expect(sent).toBe(2);
      // Another client has its own state: it still tries (and times out).
      expect(
        await redisCaller(other, 100)
          .call(() => other.get('k'))
          .catch((e: unknown) => e),
      ).toBeInstanceOf(RedisTimeoutError);
    } finally {
      server.resume();
    }
    await c.set('breaker-key', 'back');
    await new Promise((r) => setTimeout(r, 150));
    // Redis is back: the next call is the probe, succeeds, and the client is healthy again.
    expect(await redisCaller(c, 1_000).call(get)).toBe('back');
    expect(await redisCaller(c, 1_000).call(get)).toBe('back');
    expect(sent).toBe(4);
  });

  it('gives each call its own deadline, from one timer per caller', async () => {
    const c = client();
    await c.ping();
    const caller = redisCaller(c, 200);
    server.pause();
    try {
      const startA = Date.now();
      const a = caller.call(() => c.get('a')).catch(() => Date.now() - startA);
      await new Promise((r) => setTimeout(r, 100));
      const startB = Date.now();
      const b = caller.call(() => c.get('b')).catch(() => Date.now() - startB);
      const [waitedA, waitedB] = await Promise.all([a, b]);
      for (const waited of [waitedA, waitedB]) {
        expect(waited).toBeGreaterThanOrEqual(190);
        expect(waited).toBeLessThan(450);
      }
    } finally {
      server.resume();
    }
  });

  it('never leaves the probe pending, even when the client enforces the timeout and its command hangs', async () => {
    const c = client({ lazyConnect: true, commandTimeout: 300 });
    const caller = redisCaller(c, 0);
    // A lost connection marks the client failing; 100 ms later one call may probe.
    await caller.call(() => Promise.reject(new Error('Connection is closed.'))).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 120));
    const started = Date.now();
    // The probe's command is held by the client and never settles (a Cluster's offline queue does this).
    const error = await caller.call(() => new Promise<never>(() => {})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisTimeoutError);
    expect(Date.now() - started).toBeLessThan(1_000);
    // The next probe is allowed again: the client is not stuck failing for good.
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await caller.call(() => Promise.resolve('back'))).toBe('back');
  });

  it('is not tripped by an error reply from Redis', async () => {
    const c = client();
    await c.set('breaker-string', 'x');
    const wrongType = await redisCaller(c, 1_000)
      .call(() => c.lpush('breaker-string', 'y'))
      .catch((e: unknown) => e);
    expect((wrongType as Error).message).toMatch(/WRONGTYPE/);
    expect(await redisCaller(c, 1_000).call(() => c.get('breaker-string'))).toBe('x');
  });
});
