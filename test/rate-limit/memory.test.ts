// Bounded memory: entries, TTLs, bytes per client measured with MEMORY USAGE for each algorithm, the log's cap.
import { describe, expect, it } from 'vitest';
import { ConfigError, MAX_LOG_LIMIT, rateLimit } from '../../src/index.js';
import { createSlidingWindow } from '../../src/rate-limit/window-script.js';
import { useTestRedis } from '../helpers/redis.js';
import { nameSource, sleep } from './support.js';

const redis = useTestRedis();
const prefix = redis.prefix('rl:');
const nextName = nameSource('mem');
const logKey = (name: string, key: string, windowMs: number) => `${prefix}${name}:{${key}}:${windowMs}`;

describe('bounded memory', () => {
  it('never holds more than `limit` entries, whatever the traffic and costs', async () => {
    const name = nextName();
    const limiter = rateLimit({ redis: redis.client, prefix, name, limit: 7, window: '1m', stats: false });
    const key = logKey(name, 'flood', 60_000);
    for (let i = 0; i < 40; i++) {
      await limiter.consume('flood', 1 + (i % 4));
      expect(await redis.client.zcard(key)).toBeLessThanOrEqual(7);
    }
    expect(await redis.client.zcard(key)).toBe(7);
  });

  it('expires one window after the last admitted request; refused requests do not extend it', async () => {
    const name = nextName();
    const windowMs = 1_200;
    const limiter = rateLimit({
      redis: redis.client,
      prefix,
      name,
      limit: 2,
      window: windowMs,
      stats: false,
    });
    const key = logKey(name, 'ttl', windowMs);
    await limiter.consume('ttl');
    await sleep(300);
    await limiter.consume('ttl');
    const ttlAfterLast = await redis.client.pttl(key);
    expect(ttlAfterLast).toBeGreaterThan(windowMs - 250);
    expect(ttlAfterLast).toBeLessThanOrEqual(windowMs);
    await sleep(300);
    expect((await limiter.consume('ttl')).allowed).toBe(false);
    const ttlAfterRefusal = await redis.client.pttl(key);
    expect(ttlAfterRefusal).toBeLessThan(ttlAfterLast - 200);
    await sleep(ttlAfterRefusal + 300);
    expect(await redis.client.exists(key)).toBe(0);
  });

  it('keeps the TTL of the longest rule when several rules share the log', async () => {
    const name = nextName();
    const limiter = rateLimit({
      redis: redis.client,
      prefix,
      name,
      limit: 20,
      window: '5s',
      rules: [{ limit: 5, window: '1s' }],
      stats: false,
    });
    await limiter.consume('x');
    const ttl = await redis.client.pttl(logKey(name, 'x', 5_000));
    expect(ttl).toBeGreaterThan(4_000);
    expect(ttl).toBeLessThanOrEqual(5_000);
  });

  it('measures the bytes per entry with MEMORY USAGE (the README table)', async () => {
    const rows: { limit: number; encoding: string; bytes: number; perEntry: number }[] = [];
    for (const limit of [10, 100, 128, 129, 1_000, MAX_LOG_LIMIT]) {
      const name = nextName();
      const limiter = rateLimit({ redis: redis.client, prefix, name, limit, window: '1m', stats: false });
      // Fill the log in steps, as separate requests would (one timestamp per step).
      const step = Math.ceil(limit / 10);
      for (let filled = 0; filled < limit; filled += step) {
        await limiter.consume('m', Math.min(step, limit - filled));
      }
      const key = logKey(name, 'm', 60_000);
      expect(await redis.client.zcard(key)).toBe(limit);
      const bytes = Number(await redis.client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
      const encoding = String(await redis.client.object('ENCODING', key));
      rows.push({ limit, encoding, bytes, perEntry: Math.round((bytes / limit) * 10) / 10 });
    }
    console.info(
      `sliding log memory (${prefix}):\n${rows
        .map((r) => `  limit ${r.limit}: ${r.encoding}, ${r.bytes} B, ${r.perEntry} B per entry`)
        .join('\n')}`,
    );
    for (const row of rows) {
      if (row.limit <= 128) {
        expect(row.encoding).toBe('listpack');
        expect(row.perEntry).toBeLessThanOrEqual(30);
      } else {
        expect(row.encoding).toBe('skiplist');
        expect(row.perEntry).toBeLessThanOrEqual(150);
      }
    }
    const largest = rows.at(-1);
    expect(largest?.bytes).toBeLessThan(1024 * 1024);
  });

  it('refuses, at creation, a sliding log that would let one client hold megabytes', () => {
    const make = (limit: number) => () =>
      rateLimit({
        redis: redis.client,
        prefix,
        name: nextName(),
        limit,
        window: '1h',
        algorithm: 'sliding-log',
        stats: false,
      });
    expect(make(MAX_LOG_LIMIT)).not.toThrow();
    expect(make(MAX_LOG_LIMIT + 1)).toThrow(ConfigError);
    expect(make(100_000)).toThrow(
      expect.objectContaining({ code: 'ERR_RATE_LIMIT_TOO_LARGE', message: expect.stringMatching(/KB/) }),
    );
    expect(() =>
      rateLimit({
        redis: redis.client,
        prefix,
        name: nextName(),
        limit: 10,
        window: '1s',
        rules: [{ limit: 50_000, window: '1d' }],
        algorithm: 'sliding-log',
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_RATE_LIMIT_TOO_LARGE' }));
  });

  it('keeps a bucketed window within 2 KB per client at precision 60, full at 1,000,000 per hour', async () => {
    // The limiter's own key for a client, every one of its 61 buckets holding units. Filling them takes an
    // hour of Redis time, so the script is given the times explicitly (a minute apart, from a minute ahead).
    const key = `${prefix}${nextName()}:{203.0.113.7}:3600000:sw60`;
    const script = createSlidingWindow(redis.client, [{ windowMs: 3_600_000, limit: 1_000_000 }], 60);
    const start = Math.ceil((Date.now() + 60_000) / 60_000) * 60_000 * 1000;
    for (let minute = 0; minute <= 60; minute++) {
      const reply = await script.hitAt(key, 16_000, true, start + minute * 60_000_000);
      expect(reply.allowed).toBe(true);
    }
    expect(await redis.client.hlen(key)).toBe(61);
    const bytes = Number(await redis.client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
    console.info(`sliding window, precision 60, 61 buckets in use: ${bytes} B per client`);
    expect(bytes).toBeLessThan(2048);
  });

  it('keeps GCRA under 150 bytes per client per rule', async () => {
    const name = nextName();
    const limiter = rateLimit({
      redis: redis.client,
      prefix,
      name,
      limit: 1_000_000,
      window: '1h',
      algorithm: 'gcra',
      stats: false,
    });
    await limiter.consume('203.0.113.7', 500);
    const key = `${prefix}${name}:{203.0.113.7}:3600000:gcra`;
    const one = Number(await redis.client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
    const twoRules = rateLimit({
      redis: redis.client,
      prefix,
      name: nextName(),
      limit: 10_000,
      window: '1h',
      rules: [{ limit: 20, window: '1s' }],
      algorithm: 'gcra',
      stats: false,
    });
    const info = await twoRules.consume('203.0.113.7');
    expect(info.allowed).toBe(true);
    const two = Number(
      await redis.client.call(
        'MEMORY',
        'USAGE',
        `${prefix}${info.rules[0]?.name}:{203.0.113.7}:3600000:gcra`,
        'SAMPLES',
        '0',
      ),
    );
    console.info(`gcra: ${one} B per client with one rule, ${two} B with two`);
    expect(one).toBeLessThan(150);
    expect(two).toBeLessThan(2 * 150);
  });

  it('expires a GCRA client once its burst is whole again, and a window client a window after its last bucket', async () => {
    const gcra = rateLimit({
      redis: redis.client,
      prefix,
      name: nextName(),
      limit: 10,
      window: '10s',
      algorithm: 'gcra',
      stats: false,
    });
    const info = await gcra.consume('ttl', 3);
    const gcraTtl = await redis.client.pttl(`${prefix}${info.rules[0]?.name}:{ttl}:10000:gcra`);
    // Three units of one second each: whole again three seconds from the decision (expiry rounds up to a ms).
    expect(gcraTtl).toBeGreaterThan(2_500);
    expect(gcraTtl).toBeLessThanOrEqual(3_001);
    const window = rateLimit({
      redis: redis.client,
      prefix,
      name: nextName(),
      limit: 10,
      window: '10s',
      algorithm: 'sliding-window',
      precision: 10,
      stats: false,
    });
    const counted = await window.consume('ttl');
    const windowTtl = await redis.client.pttl(`${prefix}${counted.rules[0]?.name}:{ttl}:10000:sw10`);
    // The current one-second bucket is counted until a window after it ends.
    expect(windowTtl).toBeGreaterThan(10_000 - 500);
    expect(windowTtl).toBeLessThanOrEqual(11_001);
  });
});
