// Per-test-file access to the run's Redis: clients that are closed afterwards and a key namespace of its own.
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, inject } from 'vitest';

/** The URL of the Redis this run uses (the private redis-server, or REDIS_URL). */
export function redisUrl(): string {
  return inject('redisUrl');
}

export interface TestRedis {
  /** A client for the test's own reads and writes. */
  readonly client: Redis;
  /** The namespace every key of this file starts with, e.g. `t3f9a1c:`. */
  readonly namespace: string;
  /** A middleware prefix inside the file's namespace: `prefix('rl:')` → `t3f9a1c:rl:`. */
  prefix(name: string): string;
  /** Another client on the same Redis (closed after the file), e.g. one with a `commandTimeout`. */
  connect(options?: RedisOptions): Redis;
}

/**
 * Call once at the top of a test file. Keys must be created under `namespace` (pass `prefix(...)` to the
 * middlewares), so files run in parallel without seeing each other; afterwards the namespace is deleted
 * with SCAN + UNLINK and every client is closed.
 */
export function useTestRedis(): TestRedis {
  const url = redisUrl();
  const namespace = `t${randomBytes(4).toString('hex')}:`;
  const clients: Redis[] = [];
  const connect = (options: RedisOptions = {}): Redis => {
    const client = new Redis(url, { maxRetriesPerRequest: 1, ...options });
    client.on('error', () => {});
    clients.push(client);
    return client;
  };
  const client = connect();

  afterAll(async () => {
    await deleteByPattern(client, `${namespace}*`);
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
  });

  return { client, namespace, prefix: (name) => `${namespace}${name}`, connect };
}

/** Deletes every key matching `pattern` with SCAN + UNLINK (never KEYS). */
export async function deleteByPattern(client: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
