// A paused or killed Redis applies the error policy within the timeout, with each algorithm.
import { Redis, type RedisOptions } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type RateLimitOptions,
  RedisTimeoutError,
  RedisUnavailableError,
  rateLimit,
} from '../../src/index.js';
import { expressVersions } from '../helpers/express.js';
import { DEADLINE_MARGIN_MS } from '../helpers/http.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { limitedApp, memoryLogger, nameSource, sleep } from './support.js';

const nextName = nameSource('down');
const [, express5] = expressVersions[1] ?? [];
if (!express5) throw new Error('express 5 missing');

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
  server.resume();
  for (const c of clients) c.disconnect();
  await server.stop();
});

/** The limiters' `timeout` here: the deadline of a decision. */
const TIMEOUT_MS = 300;
const DEADLINE = TIMEOUT_MS + DEADLINE_MARGIN_MS;

/** Runs `fn` while the server is frozen (SIGSTOP), always thawing it afterwards. */
async function whilePaused<T>(fn: () => Promise<T>): Promise<T> {
  server.pause();
  try {
    return await fn();
  } finally {
    server.resume();
  }
}

/** Times a request: the decision must come within the deadline, far from a hang. */
async function timed(app: Parameters<typeof request>[0]) {
  const started = Date.now();
  const res = await request(app).get('/r').set('Accept', 'application/json');
  return { res, ms: Date.now() - started };
}

describe('Redis paused or down', () => {
  const limiterFor = (redis: Redis, extra: Partial<RateLimitOptions> = {}) => {
    const logger = memoryLogger();
    const limiter = rateLimit({
      redis,
      name: nextName(),
      limit: 1,
      window: '1m',
      timeout: TIMEOUT_MS,
      logger,
      statsInterval: 200,
      ...extra,
    });
    return { limiter, logger, app: limitedApp(express5, limiter) };
  };

  it('fail-open (default): a paused Redis lets requests through within the timeout, warning once', async () => {
    const redis = client();
    const { limiter, logger, app } = limiterFor(redis);
    await request(app).get('/r').expect(200);
    await request(app).get('/r').expect(429);
    await whilePaused(async () => {
      for (let i = 0; i < 3; i++) {
        const { res, ms } = await timed(app);
        expect(res.status).toBe(200);
        expect(res.body.rateLimit).toBeNull();
        expect(res.headers.ratelimit).toBeUndefined();
        expect(ms).toBeLessThan(DEADLINE);
      }
      // A timeout, or (while another call probes the frozen server) a refusal without asking it.
      const peeked = await limiter.peek('127.0.0.1').catch((error: unknown) => error);
      expect([RedisTimeoutError, RedisUnavailableError].some((type) => peeked instanceof type)).toBe(true);
      // The stats flush fails too, quietly: the same once-per-interval warning covers it.
      await sleep(700);
    });
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toMatch(/Redis error in rateLimit/);
    await sleep(300); // let the queued commands drain after the thaw
    await request(app).get('/r').expect(429);
    await limiter.close();
  });

  it('fail-closed: a paused Redis answers 503 within the timeout', async () => {
    const redis = client();
    const { limiter, app } = limiterFor(redis, { onRedisError: 'fail-closed' });
    await request(app).get('/r').expect(200);
    await whilePaused(async () => {
      const { res, ms } = await timed(app);
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ status: 503, title: 'Service Unavailable' });
      expect(ms).toBeLessThan(DEADLINE);
    });
    await limiter.close();
  });

  it("honours the client's own commandTimeout when no timeout option is set", async () => {
    const redis = client({ commandTimeout: 250 });
    const deadline = 250 + DEADLINE_MARGIN_MS;
    const { limiter, app } = limiterFor(redis, { timeout: undefined, onRedisError: 'fail-closed' });
    await request(app).get('/r').expect(200);
    await whilePaused(async () => {
      const { res, ms } = await timed(app);
      expect(res.status).toBe(503);
      expect(ms).toBeLessThan(deadline);
    });
    await limiter.close();
  });

  it.each(['sliding-log', 'sliding-window', 'gcra'] as const)(
    '%s, a killed Redis: fail-open passes, fail-closed refuses, and limiting resumes after a restart',
    async (algorithm) => {
      const redis = client();
      const open = limiterFor(redis, { algorithm });
      const closed = limiterFor(redis, { algorithm, onRedisError: 'fail-closed' });
      await request(open.app).get('/r').expect(200);
      await request(closed.app).get('/r').expect(200);
      await server.kill();
      try {
        for (let i = 0; i < 2; i++) {
          const a = await timed(open.app);
          expect(a.res.status).toBe(200);
          expect(a.ms).toBeLessThan(DEADLINE);
          const b = await timed(closed.app);
          expect(b.res.status).toBe(503);
          expect(b.ms).toBeLessThan(DEADLINE);
        }
        expect(open.logger.warnings).toHaveLength(1);
        expect(closed.logger.warnings).toHaveLength(1);
      } finally {
        await server.restart();
      }
      // The restarted server is empty (no persistence): limits start over, and work.
      let status = 0;
      for (let attempt = 0; attempt < 40 && status !== 200; attempt++) {
        status = (await request(closed.app).get('/r')).status;
        if (status !== 200) await sleep(100);
      }
      expect(status).toBe(200);
      await request(closed.app).get('/r').expect(429);
      await open.limiter.close();
      await closed.limiter.close();
    },
  );
});
