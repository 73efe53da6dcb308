import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ping, type RedisServer, startRedisServer } from '../helpers/redis-server.js';

const servers: RedisServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

describe('a dedicated redis-server for fault tests', () => {
  it('can be killed, restarted on the same port, paused and resumed', async () => {
    const server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    servers.push(server);
    const client = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    client.on('error', () => {});
    try {
      await client.set('survives', 'yes');

      await server.kill();
      expect(await ping(server.port)).toBe(false);

      await server.restart();
      expect(await ping(server.port)).toBe(true);
      // appendfsync always: the write acknowledged before SIGKILL is on disk.
      expect(await client.get('survives')).toBe('yes');

      server.pause();
      expect(await ping(server.port, '127.0.0.1', 300)).toBe(false);
      server.resume();
      expect(await ping(server.port)).toBe(true);
    } finally {
      client.disconnect();
    }
  });

  it('reports why it could not start', async () => {
    await expect(startRedisServer({ args: ['--no-such-option', 'x'] })).rejects.toThrow(
      /redis-server exited/,
    );
  });
});
