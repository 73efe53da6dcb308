import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_REDIS_TIMEOUT_MS,
  RedisTimeoutError,
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
