// The sliding log: one script per request on the Redis clock, unrecorded refusals, exact Retry-After.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { type RateLimitInfo, rateLimit } from '../../src/index.js';
import { createSlidingLog } from '../../src/rate-limit/sliding-log-script.js';
import { recordCommands } from '../helpers/commands.js';
import { expressVersions } from '../helpers/express.js';
import { useTestRedis } from '../helpers/redis.js';
import { limitedApp, nameSource, sleep } from './support.js';

const redis = useTestRedis();
const prefix = redis.prefix('rl:');
const nextName = nameSource('log');
const [, express5] = expressVersions[1] ?? [];
if (!express5) throw new Error('express 5 missing');

/** Redis server time in microseconds. */
async function redisTimeUs(): Promise<number> {
  const [seconds, micros] = await redis.client.time();
  return Number(seconds) * 1_000_000 + Number(micros);
}

const logKey = (name: string, key: string, windowMs: number) => `${prefix}${name}:{${key}}:${windowMs}`;

describe('one Lua script per request, clock from Redis TIME, unique members', () => {
  it.each(['sliding-log', 'sliding-window', 'gcra'] as const)(
    '%s: sends exactly one command per request, allowed or refused, stats on',
    async (algorithm) => {
      const client = redis.connect();
      const limiter = rateLimit({
        redis: client,
        prefix,
        name: nextName(),
        limit: 3,
        window: '1m',
        algorithm,
      });
      const app = limitedApp(express5, limiter);
      await request(app).get('/r').expect(200); // loads the script on this connection
      const recorder = await recordCommands(client);
      for (let i = 0; i < 2; i++) await request(app).get('/r').expect(200);
      for (let i = 0; i < 3; i++) await request(app).get('/r').expect(429);
      const commands = await recorder.stop();
      expect(commands.map((c) => c[0])).toEqual(['evalsha', 'evalsha', 'evalsha', 'evalsha', 'evalsha']);
      expect(commands.every((c) => c[2] === '1')).toBe(true); // one key per call
      await limiter.close();
    },
  );

  it('scores entries with the Redis clock, and gives each unit its own member at one timestamp', async () => {
    const name = nextName();
    const limiter = rateLimit({ redis: redis.client, prefix, name, limit: 10, window: '1m', stats: false });
    const before = await redisTimeUs();
    const info = await limiter.consume('c', 4);
    const after = await redisTimeUs();
    expect(info).toMatchObject({ allowed: true, remaining: 6 });
    const entries = await redis.client.zrange(logKey(name, 'c', 60_000), 0, -1, 'WITHSCORES');
    const members = entries.filter((_, i) => i % 2 === 0);
    const scores = entries.filter((_, i) => i % 2 === 1).map(Number);
    expect(new Set(members).size).toBe(4);
    expect(new Set(scores).size).toBe(1);
    expect(scores[0]).toBeGreaterThanOrEqual(before);
    expect(scores[0]).toBeLessThanOrEqual(after);
    expect(info.now).toBe(Math.floor((scores[0] as number) / 1000));
  });

  it('refuses count + cost > limit and admits count + cost = limit', async () => {
    const limiter = rateLimit({
      redis: redis.client,
      prefix,
      name: nextName(),
      limit: 5,
      window: '1m',
      stats: false,
    });
    expect((await limiter.consume('k', 3)).allowed).toBe(true);
    expect((await limiter.consume('k', 3)).allowed).toBe(false);
    expect((await limiter.consume('k', 2)).allowed).toBe(true);
    expect((await limiter.consume('k', 1)).allowed).toBe(false);
  });
});

describe('rejected requests are not recorded; Retry-After is exact', () => {
  it('re-admits a client that keeps hammering as soon as its oldest request leaves the window', async () => {
    const name = nextName();
    const windowMs = 1_500;
    const limiter = rateLimit({
      redis: redis.client,
      prefix,
      name,
      limit: 3,
      window: windowMs,
      stats: false,
    });
    const admitted: RateLimitInfo[] = [];
    for (let i = 0; i < 3; i++) admitted.push(await limiter.consume('hammer'));
    const oldest = admitted[0]?.now as number;
    let refusals = 0;
    let readmitted: RateLimitInfo | undefined;
    const giveUp = Date.now() + windowMs + 3_000;
    while (Date.now() < giveUp) {
      const info = await limiter.consume('hammer');
      if (info.allowed) {
        readmitted = info;
        break;
      }
      refusals += 1;
      expect(await redis.client.zcard(logKey(name, 'hammer', windowMs))).toBe(3);
      await sleep(25);
    }
    expect(refusals).toBeGreaterThan(10);
    expect(readmitted).toBeDefined();
    // Admitted only once the first request had left (Redis time), and well before a second window passed.
    expect(readmitted?.now).toBeGreaterThanOrEqual(oldest + windowMs);
    expect(readmitted?.now).toBeLessThan(oldest + 2 * windowMs);
  });

  it('reports the exact wait until the oldest admitted request leaves, in ms and in Retry-After', async () => {
    const name = nextName();
    const windowMs = 4_000;
    const limiter = rateLimit({
      redis: redis.client,
      prefix,
      name,
      limit: 2,
      window: windowMs,
      stats: false,
    });
    const app = limitedApp(express5, limiter);
    await request(app).get('/r').expect(200);
    await sleep(1_200);
    await request(app).get('/r').expect(200);
    const before = (await redisTimeUs()) / 1000;
    const refused = await request(app).get('/r').set('Accept', 'application/json').expect(429);
    const after = (await redisTimeUs()) / 1000;
    const [, oldestScore] = await redis.client.zrange(
      logKey(name, '127.0.0.1', windowMs),
      0,
      0,
      'WITHSCORES',
    );
    const info = await limiter.peek('127.0.0.1');
    // The oldest entry leaves at its score + window; peek sees the same wait from a later instant.
    const exact = Number(oldestScore) / 1000 + windowMs - info.now;
    expect(Math.abs((info.retryAfterMs as number) - exact)).toBeLessThanOrEqual(1);
    expect(info.retryAfterMs).toBeGreaterThan(2_000);
    expect(info.retryAfterMs).toBeLessThan(2_900);
    const header = Number(refused.headers['retry-after']);
    const exit = Number(oldestScore) / 1000 + windowMs;
    expect(header).toBeGreaterThanOrEqual(Math.ceil((exit - after) / 1000));
    expect(header).toBeLessThanOrEqual(Math.ceil((exit - before) / 1000));
    expect(refused.body.retryAfter).toBe(header);

    // Just before the wait is over the request is still refused; just after, it is admitted.
    const wait = info.retryAfterMs as number;
    await sleep(wait - 400);
    expect((await limiter.peek('127.0.0.1')).allowed).toBe(false);
    await sleep(500);
    await request(app).get('/r').expect(200);
  });

  it('for a cost above 1, waits for as many old entries as needed', async () => {
    const name = nextName();
    const limiter = rateLimit({ redis: redis.client, prefix, name, limit: 3, window: '5s', stats: false });
    await limiter.consume('c');
    await sleep(300);
    await limiter.consume('c');
    await limiter.consume('c');
    const entries = (await redis.client.zrange(logKey(name, 'c', 5_000), 0, -1, 'WITHSCORES'))
      .filter((_, i) => i % 2 === 1)
      .map(Number);
    const info = await limiter.peek('c', 2);
    // Two units must leave: the wait runs to the second-oldest entry's exit.
    const exact = (entries[1] as number) / 1000 + 5_000 - info.now;
    expect(Math.abs((info.retryAfterMs as number) - exact)).toBeLessThanOrEqual(1);
    expect(info.retryAfterMs).toBeGreaterThan((await limiter.peek('c', 1)).retryAfterMs as number);
  });
});

describe('what the log keeps', () => {
  it('trims the log once its oldest entry leaves the longest window, and resets from the oldest entry', async () => {
    const key = redis.prefix('trim-log');
    const window = 10_000;
    const script = createSlidingLog(redis.client, [{ windowMs: window, limit: 5 }]);
    const t0 = 1_800_000_000_000_000; // µs
    const ms = 1_000;
    // Three entries, 1 s apart: nothing has left the window, nothing is trimmed.
    for (let i = 0; i < 3; i++) {
      const reply = await script.hitAt(key, 1, true, t0 + i * 1_000 * ms);
      expect(reply.allowed).toBe(true);
      // The reset counts from the oldest entry, t0, whatever the newest.
      expect(reply.resetMs[0]).toBe(window - i * 1_000);
    }
    expect(await redis.client.zcard(key)).toBe(3);
    // A peek exactly when the first entry leaves the window (it is (now - w, now]) trims it.
    const peek = await script.hitAt(key, 1, false, t0 + window * ms);
    expect(peek.remaining[0]).toBe(3);
    expect(peek.resetMs[0]).toBe(1_000);
    expect(await redis.client.zcard(key)).toBe(2);
    // Much later, everything has left: the log holds only the new entry, whose own time sets the reset.
    const late = await script.hitAt(key, 1, true, t0 + 100 * window * ms);
    expect(late.remaining[0]).toBe(4);
    expect(late.resetMs[0]).toBe(window);
    expect(await redis.client.zcard(key)).toBe(1);
  });

  it('resets from a new entry older than the log, when the clock stepped back', async () => {
    const key = redis.prefix('clock-back-log');
    const script = createSlidingLog(redis.client, [{ windowMs: 10_000, limit: 5 }]);
    const t0 = 1_800_000_000_000_000;
    await script.hitAt(key, 1, true, t0);
    const back = await script.hitAt(key, 1, true, t0 - 2_000_000);
    expect(back.allowed).toBe(true);
    expect(back.resetMs[0]).toBe(10_000);
    expect(await redis.client.zcard(key)).toBe(2);
  });
});
