// A node-redis client (the `redis` package) passed where ioredis is expected is refused at creation, with the fix.
import { createClient, createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, pageViews, rateLimit, responseCache, session } from '../../src/index.js';
import { redisUrl, useTestRedis } from '../helpers/redis.js';

const redis = useTestRedis();
const nodeRedis = createClient({ url: redisUrl() });
// Never connected: creating a node-redis cluster client does not touch the network.
const nodeRedisCluster = createCluster({ rootNodes: [{ url: redisUrl() }] });

beforeAll(async () => {
  await nodeRedis.connect();
});
afterAll(async () => {
  await nodeRedis.close();
});

const factories: [string, (client: unknown) => unknown][] = [
  ['session', (client) => session({ redis: client as never, secret: 'a'.repeat(32) })],
  ['rateLimit', (client) => rateLimit({ redis: client as never, name: 'api', limit: 5, window: '1m' })],
  ['responseCache', (client) => responseCache({ redis: client as never })],
  ['pageViews', (client) => pageViews({ redis: client as never })],
];

function errorOf(make: () => unknown): ConfigError {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('a node-redis client instead of ioredis', () => {
  it.each(factories)('%s says it got node-redis and how to switch to ioredis', (_name, make) => {
    for (const client of [nodeRedis, nodeRedisCluster]) {
      const error = errorOf(() => make(client));
      expect(error.code).toBe('ERR_REDIS_CLIENT');
      expect(error.message).toMatch(/node-redis client \(the `redis` package\)/);
      expect(error.message).toContain('npm install ioredis');
      expect(error.message).toContain('new Redis(url)');
    }
  });

  it('leaves the node-redis client usable (nothing was sent on it)', async () => {
    await nodeRedis.set(redis.prefix('still-works'), 'yes');
    expect(await redis.client.get(redis.prefix('still-works'))).toBe('yes');
  });

  it.each(factories)('%s still accepts an ioredis client', async (_name, make) => {
    const middleware = make(redis.client) as { close?: () => Promise<void> };
    expect(typeof middleware).toBe('function');
    await middleware.close?.();
  });
});
