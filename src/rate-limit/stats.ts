// Per-minute allowed/blocked counts and top blocked keys: counted in memory, written to Redis off the request path.
import { buildKey, type RedisClient, type RedisErrorReporter, withDeadline } from '../redis/index.js';
import type { RateLimitMinute, RateLimitStats } from './types.js';

const MINUTE_MS = 60_000;
/** Minutes `stats()` reports. */
const HOUR_MINUTES = 60;
/** Stats keys outlive their minute by the hour they are reported for, plus two minutes of clock slack. */
const KEEP_SECONDS = (HOUR_MINUTES + 2) * 60;
/** Distinct blocked keys counted per minute in memory; more (a flood from many addresses) are not itemized. */
const MAX_LOCAL_KEYS = 1_000;
/** Blocked keys kept per minute in Redis, the most blocked ones. */
const KEPT_KEYS = 100;

interface Bucket {
  readonly minute: number;
  allowed: number;
  blocked: number;
  readonly keys: Map<string, number>;
}

export interface StatsOptions {
  readonly redis: RedisClient;
  readonly prefix: string;
  readonly name: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly report: RedisErrorReporter;
}

/**
 * Counts decisions in memory and writes them every `intervalMs` in one pipeline. Keys (all hash-tagged on
 * the limiter's name, so one pipeline fits one Cluster slot), each expiring an hour after its minute:
 * `<prefix><name>:stats:{<name>}:<minute>` hash `a`/`b`, and `...:<minute>:k` zset of blocked keys.
 * Minutes come from the app's clock: instances with skewed clocks file their counts a little apart.
 */
export class StatsRecorder {
  readonly #options: StatsOptions;
  readonly #keyHead: string;
  #buckets = new Map<number, Bucket>();
  #current: Bucket | undefined;
  #timer: NodeJS.Timeout | undefined;
  #flushed: Promise<void> = Promise.resolve();
  readonly #flushNow = (): void => {
    this.#timer = undefined;
    void this.flush();
  };

  constructor(options: StatsOptions) {
    this.#options = options;
    this.#keyHead = buildKey(options.prefix, options.name, 'stats', `{${options.name}}`, '');
  }

  /** Counts one decision; the hot path: a clock read, a map lookup at most once a minute, an increment. */
  record(allowed: boolean, key: string): void {
    const minute = Math.floor(Date.now() / MINUTE_MS);
    let bucket = this.#current;
    if (bucket === undefined || bucket.minute !== minute) {
      bucket = this.#buckets.get(minute);
      if (bucket === undefined) {
        bucket = { minute, allowed: 0, blocked: 0, keys: new Map() };
        this.#buckets.set(minute, bucket);
      }
      this.#current = bucket;
    }
    if (allowed) {
      bucket.allowed += 1;
    } else {
      bucket.blocked += 1;
      const seen = bucket.keys.get(key);
      if (seen !== undefined) bucket.keys.set(key, seen + 1);
      else if (bucket.keys.size < MAX_LOCAL_KEYS) bucket.keys.set(key, 1);
    }
    if (this.#timer === undefined) {
      this.#timer = setTimeout(this.#flushNow, this.#options.intervalMs);
      this.#timer.unref();
    }
  }

  /** Writes what was counted so far; resolves after every earlier flush too. Never rejects. */
  flush(): Promise<void> {
    const buckets = this.#buckets;
    if (buckets.size > 0) {
      this.#buckets = new Map();
      this.#current = undefined;
      this.#flushed = this.#flushed.then(() => this.#write(buckets));
    }
    return this.#flushed;
  }

  /** Stops the timer and writes what is left (later decisions start a new timer). */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  /** Reads the last hour from Redis (after flushing this instance's counts). */
  async read(top: number): Promise<RateLimitStats> {
    await this.flush();
    const { redis, name, timeoutMs } = this.#options;
    const last = Math.floor(Date.now() / MINUTE_MS);
    const pipeline = redis.pipeline();
    const keySets: string[] = [];
    for (let m = last - HOUR_MINUTES + 1; m <= last; m++) {
      pipeline.hmget(this.#keyHead + m, 'a', 'b');
      keySets.push(`${this.#keyHead + m}:k`);
    }
    pipeline.zunion(keySets.length, ...keySets, 'WITHSCORES');
    const results = await withDeadline(pipeline.exec(), timeoutMs);
    if (results === null) throw new Error('the stats pipeline was discarded');
    const minutes: RateLimitMinute[] = [];
    let allowed = 0;
    let blocked = 0;
    for (let i = 0; i < HOUR_MINUTES; i++) {
      const [error, value] = results[i] ?? [];
      if (error) throw error;
      const [a, b] = (value as (string | null)[] | undefined) ?? [];
      const minute = {
        start: (last - HOUR_MINUTES + 1 + i) * MINUTE_MS,
        allowed: Number(a ?? 0),
        blocked: Number(b ?? 0),
      };
      allowed += minute.allowed;
      blocked += minute.blocked;
      minutes.push(minute);
    }
    const [unionError, union] = results[HOUR_MINUTES] ?? [];
    if (unionError) throw unionError;
    const topBlocked = scoredMembers(union).map(([key, blocked]) => ({ key, blocked }));
    topBlocked.sort((x, y) => y.blocked - x.blocked || (x.key < y.key ? -1 : 1));
    return { name, minutes, allowed, blocked, topBlocked: topBlocked.slice(0, top) };
  }

  async #write(buckets: Map<number, Bucket>): Promise<void> {
    const { redis, timeoutMs, report, name } = this.#options;
    const pipeline = redis.pipeline();
    for (const bucket of buckets.values()) {
      const key = this.#keyHead + bucket.minute;
      const expireAt = (bucket.minute + 1) * 60 + KEEP_SECONDS;
      if (bucket.allowed > 0) pipeline.hincrby(key, 'a', bucket.allowed);
      if (bucket.blocked > 0) pipeline.hincrby(key, 'b', bucket.blocked);
      pipeline.expireat(key, expireAt);
      if (bucket.keys.size > 0) {
        const keysKey = `${key}:k`;
        const heaviest = [...bucket.keys].sort((x, y) => y[1] - x[1]).slice(0, KEPT_KEYS);
        for (const [blockedKey, count] of heaviest) pipeline.zincrby(keysKey, count, blockedKey);
        // Keep only the most blocked keys, so a flood from many addresses cannot grow the set.
        pipeline.zremrangebyrank(keysKey, 0, -(KEPT_KEYS + 1));
        pipeline.expireat(keysKey, expireAt);
      }
    }
    try {
      const results = await withDeadline(pipeline.exec(), timeoutMs);
      const failed = results?.find(([error]) => error);
      if (failed) throw failed[0];
    } catch (error) {
      report(error, `rateLimit '${name}' stats`);
    }
  }
}

/**
 * Member/score pairs of a `WITHSCORES` reply in either shape ioredis returns: flat `[member, score, …]`
 * strings (RESP2, and ioredis 6's default mapping) or `[[member, score], …]` pairs with numeric scores
 * (ioredis 6 with `replyMapping: 'resp3'`).
 */
function scoredMembers(reply: unknown): [string, number][] {
  const items = Array.isArray(reply) ? (reply as unknown[]) : [];
  const pairs: [string, number][] = [];
  if (Array.isArray(items[0])) {
    for (const pair of items as [unknown, unknown][]) pairs.push([String(pair[0]), Number(pair[1])]);
    return pairs;
  }
  for (let i = 0; i + 1 < items.length; i += 2) pairs.push([String(items[i]), Number(items[i + 1])]);
  return pairs;
}
