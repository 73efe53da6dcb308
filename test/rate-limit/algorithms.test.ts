// The bucketed sliding window and GCRA over HTTP on Express 4 and 5: limits of any size, headers, Retry-After.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import {
  MAX_LIMIT,
  MAX_LOG_LIMIT,
  type RateLimitInfo,
  type RateLimitOptions,
  rateLimit,
} from '../../src/index.js';
import { configErrorCode } from '../helpers/config-error.js';
import { expressVersions } from '../helpers/express.js';
import { useTestRedis } from '../helpers/redis.js';
import { awayFromEdge, limitedApp, memoryLogger, nameSource } from './support.js';

const redis = useTestRedis();
const prefix = redis.prefix('rl:');
const nextName = nameSource('algo');
const base = { redis: redis.client, prefix, stats: false } as const;

/** Creates a limiter of 10 a minute with `options` changed, for `configErrorCode`. */
const limiterWith = (options: Partial<RateLimitOptions>) => () =>
  rateLimit({ ...base, name: nextName(), limit: 10, window: '1m', ...options } as RateLimitOptions);

describe('limits above the sliding log', () => {
  it('runs 1,000,000 per hour on the bucketed window, saying so once at creation', async () => {
    const logger = memoryLogger();
    const name = nextName();
    const limiter = rateLimit({ ...base, name, limit: 1_000_000, window: '1h', logger });
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toMatch(/'sliding-window'.*60 buckets per window \(1m for 1h\)/);
    const app = limitedApp(expressVersions[1]?.[1] as (typeof expressVersions)[number][1], limiter);
    const res = await request(app).get('/r').expect(200);
    expect(res.headers['ratelimit-policy']).toBe(`"${name}";q=1000000;w=3600`);
    // The unit counts until its one-minute bucket has left the hour: between 60 and 61 minutes.
    const reset = Number(new RegExp(`^"${name}";r=999999;t=(\\d+)$`).exec(res.headers.ratelimit ?? '')?.[1]);
    expect(reset).toBeGreaterThanOrEqual(3_600);
    expect(reset).toBeLessThanOrEqual(3_660);
    // A quota nearly used up: the rest of it, then a refusal until the first bucket leaves the hour.
    expect((await limiter.consume('127.0.0.1', 999_998)).remaining).toBe(1);
    await request(app).get('/r').expect(200);
    const refused = await request(app).get('/r').expect(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(3_599);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(3_660);
    expect(logger.warnings).toHaveLength(1);
  });

  it('keeps the clear error for an explicit sliding log above its bound', () => {
    expect(configErrorCode(limiterWith({ limit: MAX_LOG_LIMIT + 1, algorithm: 'sliding-log' }))).toBe(
      'ERR_RATE_LIMIT_TOO_LARGE',
    );
    expect(configErrorCode(limiterWith({ limit: MAX_LOG_LIMIT + 1 }))).toBe(undefined);
    expect(configErrorCode(limiterWith({ limit: MAX_LIMIT, algorithm: 'gcra' }))).toBe(undefined);
    expect(configErrorCode(limiterWith({ limit: MAX_LIMIT + 1, algorithm: 'sliding-window' }))).toBe(
      'ERR_RATE_LIMIT_LIMIT',
    );
  });

  it('refuses options that belong to another algorithm, and out-of-range values', () => {
    expect(configErrorCode(limiterWith({ algorithm: 'fixed-window' as never }))).toBe('ERR_OPTION_VALUE');
    expect(configErrorCode(limiterWith({ burst: 5 }))).toBe('ERR_RATE_LIMIT_ALGORITHM');
    expect(configErrorCode(limiterWith({ algorithm: 'sliding-window', burst: 5 }))).toBe(
      'ERR_RATE_LIMIT_ALGORITHM',
    );
    expect(
      configErrorCode(limiterWith({ algorithm: 'gcra', rules: [{ limit: 5, window: '1s', burst: 0 }] })),
    ).toBe('ERR_OPTION_RANGE');
    expect(configErrorCode(limiterWith({ algorithm: 'gcra', precision: 10 }))).toBe(
      'ERR_RATE_LIMIT_ALGORITHM',
    );
    expect(configErrorCode(limiterWith({ precision: 10 }))).toBe('ERR_RATE_LIMIT_ALGORITHM');
    expect(configErrorCode(limiterWith({ algorithm: 'sliding-window', precision: 0 }))).toBe(
      'ERR_OPTION_RANGE',
    );
    expect(configErrorCode(limiterWith({ algorithm: 'sliding-window', precision: 1_001 }))).toBe(
      'ERR_OPTION_RANGE',
    );
    // Buckets shorter than a millisecond.
    expect(configErrorCode(limiterWith({ algorithm: 'sliding-window', window: 50, precision: 60 }))).toBe(
      'ERR_OPTION_RANGE',
    );
    expect(configErrorCode(limiterWith({ algorithm: 'gcra', limit: 10, burst: 3, cost: 4 }))).toBe(
      'ERR_RATE_LIMIT_COST',
    );
    expect(configErrorCode(limiterWith({ algorithm: 'gcra', limit: 10, burst: 30, cost: 20 }))).toBe(
      undefined,
    );
  });
});

describe('the Redis clock', () => {
  const redisTimeUs = async () => {
    const [seconds, micros] = await redis.client.time();
    return Number(seconds) * 1_000_000 + Number(micros);
  };

  it('files a sliding-window unit in the bucket of Redis TIME', async () => {
    const name = nextName();
    const limiter = rateLimit({ ...base, name, limit: 10, window: '1m', algorithm: 'sliding-window' });
    const before = await redisTimeUs();
    const info = await limiter.consume('c', 4);
    const after = await redisTimeUs();
    const fields = await redis.client.hgetall(`${prefix}${name}:{c}:60000:sw60`);
    expect(Object.values(fields)).toEqual(['4']);
    // Field = bucket × 8 + rule; one-second buckets for a one-minute window at precision 60.
    const bucket = Number(Object.keys(fields)[0]) / 8;
    expect(bucket).toBeGreaterThanOrEqual(Math.floor(before / 1_000_000));
    expect(bucket).toBeLessThanOrEqual(Math.floor(after / 1_000_000));
    expect(info.now).toBeGreaterThanOrEqual(Math.floor(before / 1000));
    expect(info.now).toBeLessThanOrEqual(Math.floor(after / 1000));
  });

  it('sets the GCRA arrival time from Redis TIME', async () => {
    const name = nextName();
    const limiter = rateLimit({ ...base, name, limit: 60, window: '1m', algorithm: 'gcra' });
    const before = await redisTimeUs();
    await limiter.consume('c', 4);
    const after = await redisTimeUs();
    // Four units of one second each past the decision's time.
    const tat = Number(await redis.client.hget(`${prefix}${name}:{c}:60000:gcra`, '1'));
    expect(tat - 4_000_000).toBeGreaterThanOrEqual(before);
    expect(tat - 4_000_000).toBeLessThanOrEqual(after);
  });
});

describe.each(expressVersions)('the new algorithms on %s', (_version, express) => {
  it('sliding-window: admits the limit, then 429 with the exact wait for the oldest bucket', async () => {
    const name = nextName();
    const limiter = rateLimit({
      ...base,
      name,
      limit: 3,
      window: '1m',
      algorithm: 'sliding-window',
      precision: 6,
    });
    const app = limitedApp(express, limiter);
    // The admitted requests must share one 10 s bucket: start at least a second before the next one begins.
    await awayFromEdge(10_000);
    const firstAt = Date.now();
    for (let i = 3; i > 0; i--) {
      const res = await request(app).get('/r').expect(200);
      expect(res.headers['ratelimit-policy']).toBe(`"${name}";q=3;w=60`);
      expect(res.headers.ratelimit).toMatch(new RegExp(`^"${name}";r=${i - 1};t=(6\\d|70)$`));
    }
    const refused = await request(app).get('/r').set('Accept', 'application/json').expect(429);
    // Admitted in one 10 s bucket, the one of the first request: the request fits once it has left the window
    // (the check may fall in a later bucket).
    const info = (await limiter.peek('127.0.0.1')) as RateLimitInfo;
    const bucketEnd = (Math.floor(firstAt / 10_000) + 1) * 10_000;
    const wait = bucketEnd + 60_000 - info.now;
    expect(info.retryAfterMs).toBe(wait);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(Math.floor(wait / 1000));
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(70);
    expect(refused.body).toMatchObject({ status: 429, 'violated-policies': [name] });
  });

  it('gcra: admits the burst, then one unit per interval, with the exact Retry-After', async () => {
    const name = nextName();
    const limiter = rateLimit({ ...base, name, limit: 60, window: '1m', burst: 3, algorithm: 'gcra' });
    const app = limitedApp(express, limiter);
    for (let i = 2; i >= 0; i--) {
      const res = await request(app).get('/r').expect(200);
      expect(res.headers['ratelimit-policy']).toBe(`"${name}";q=60;w=60`);
      expect(res.body.rateLimit.remaining).toBe(i);
    }
    const refused = await request(app).get('/r').expect(429);
    // One unit a second: the next one is due within a second, so Retry-After is 1.
    expect(refused.headers['retry-after']).toBe('1');
    const info = await limiter.peek('127.0.0.1');
    expect(info.retryAfterMs).toBeGreaterThan(0);
    expect(info.retryAfterMs).toBeLessThanOrEqual(1_000);
    await new Promise((resolve) => setTimeout(resolve, info.retryAfterMs));
    await request(app).get('/r').expect(200);
  });

  it.each(['sliding-window', 'gcra'] as const)(
    '%s: charges cost, refuses for good above the limit, skips, and answers peek/consume/reset',
    async (algorithm) => {
      const limiter = rateLimit({
        ...base,
        name: nextName(),
        limit: 5,
        window: '1h',
        algorithm,
        cost: (req) => Number(req.query.cost ?? 1),
        skip: (req) => req.query.skip === '1',
        headers: 'legacy',
      });
      const app = limitedApp(express, limiter);
      const heavy = await request(app).get('/r?cost=4').expect(200);
      expect(heavy.headers['x-ratelimit-remaining']).toBe('1');
      const skipped = await request(app).get('/r?skip=1&cost=5').expect(200);
      expect(skipped.headers['x-ratelimit-remaining']).toBeUndefined();
      const never = await request(app).get('/r?cost=6').set('Accept', 'application/json').expect(429);
      expect(never.headers['retry-after']).toBeUndefined();
      expect(never.body.detail).toMatch(/can never be accepted/);
      await request(app).get('/r?cost=2').expect(429);
      // Refused requests were not recorded.
      expect(await limiter.peek('127.0.0.1')).toMatchObject({ allowed: true, remaining: 1 });
      expect(await limiter.consume('127.0.0.1')).toMatchObject({ allowed: true, remaining: 0 });
      expect(await limiter.peek('127.0.0.1')).toMatchObject({ allowed: false, remaining: 0 });
      expect(await limiter.reset('127.0.0.1')).toBe(true);
      expect(await limiter.reset('127.0.0.1')).toBe(false);
      await request(app).get('/r?cost=5').expect(200);
    },
  );
});
