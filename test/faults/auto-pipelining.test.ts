// A client with enableAutoPipelining against a frozen Redis: each middleware call still ends within the
// client's commandTimeout, although ioredis starts a queued command's timer only when its batch is sent.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rateLimit } from '../../src/index.js';
import { resolveTimeout } from '../../src/redis/index.js';
import { recordingLogger } from '../helpers/full-stack.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

const COMMAND_TIMEOUT_MS = 500;
let server: RedisServer;
let client: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  client = new Redis(server.url, {
    enableAutoPipelining: true,
    commandTimeout: COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
  });
  client.on('error', () => {});
  await client.ping();
});
afterAll(async () => {
  server?.resume();
  client?.disconnect();
  await server?.stop();
});

describe('enableAutoPipelining and commandTimeout', () => {
  it('gives middlewares a timer of their own when the client auto-pipelines', () => {
    expect(resolveTimeout(client, undefined, 'x')).toBe(COMMAND_TIMEOUT_MS);
    expect(resolveTimeout(client, '2s', 'x')).toBe(2_000);
    const plain = new Redis(server.url, { lazyConnect: true, commandTimeout: COMMAND_TIMEOUT_MS });
    expect(resolveTimeout(plain, undefined, 'x')).toBe(0);
    plain.disconnect();
  });

  it('bounds a call queued behind a batch that waits for a frozen server by one timeout, not two', async () => {
    const limiter = rateLimit({
      redis: client,
      name: 'ap',
      limit: 5,
      window: '1m',
      stats: false,
      logger: recordingLogger(),
    });
    // Load the scripts first, so the calls below are plain EVALSHAs.
    await limiter.peek('warm');
    server.pause();
    try {
      const first = limiter.consume('a').catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 150));
      // This call's batch can only be sent once the first batch has settled (after its timeout).
      const started = performance.now();
      const error = await limiter.consume('b').catch((e: unknown) => e);
      const elapsed = performance.now() - started;
      await first;
      expect(error).toBeInstanceOf(Error);
      expect(elapsed).toBeLessThan(COMMAND_TIMEOUT_MS + 250);
    } finally {
      server.resume();
    }
    // After a failure the client's calls fail at once for 100 ms before one probes Redis again.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await limiter.consume('c')).allowed).toBe(true);
  });
});
