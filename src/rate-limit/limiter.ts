// One limiter's Redis side: its script and keys, a deadline on every call, the stats, and the decision.
import {
  buildKey,
  createErrorReporter,
  type RedisCaller,
  type RedisErrorReporter,
  redisCaller,
} from '../redis/index.js';
import { createAlgorithm } from './algorithm.js';
import { decide } from './decision.js';
import { type LimitScript, parseReply } from './limit-script.js';
import type { ResolvedRateLimitConfig } from './options.js';
import { StatsRecorder } from './stats.js';
import type { RateLimitInfo, RateLimitStats } from './types.js';

/**
 * What the request path and the admin methods share. Keys are `<prefix><name>:{<stored key>}:<longest window>`
 * plus the algorithm's mark: the client key is the hash tag, so every rule of a client lives in one slot.
 */
export class Limiter {
  readonly config: ResolvedRateLimitConfig;
  /** How messages name this limiter: `rateLimit '<name>'`. */
  readonly source: string;
  readonly #script: LimitScript;
  readonly #keyHead: string;
  readonly #keyTail: string;
  readonly #caller: RedisCaller;
  readonly #stats: StatsRecorder | undefined;
  readonly #report: RedisErrorReporter;

  constructor(config: ResolvedRateLimitConfig) {
    this.config = config;
    this.source = `rateLimit '${config.name}'`;
    this.#caller = redisCaller(config.redis, config.timeoutMs);
    const { script, keyTail } = createAlgorithm(config, this.#caller);
    this.#script = script;
    this.#keyHead = buildKey(config.prefix, config.name, '{');
    this.#keyTail = keyTail;
    this.#report = createErrorReporter(config.logger);
    this.#stats = config.stats
      ? new StatsRecorder({
          redis: config.redis,
          prefix: config.prefix,
          name: config.name,
          intervalMs: config.statsIntervalMs,
          timeoutMs: config.timeoutMs,
          report: this.#report,
        })
      : undefined;
  }

  /**
   * Runs the script for a stored key within the deadline (in one call with the other checks of this turn of
   * the event loop); records `units` if they fit and `record`. `done` and `failed` must not throw.
   */
  send(
    stored: string,
    units: number,
    record: boolean,
    done: (reply: string) => void,
    failed: (error: unknown) => void,
  ): void {
    this.#script.check(this.#key(stored), units, record, done, failed);
  }

  /** The decision a reply of {@link send} means. */
  decide(reply: string, stored: string, units: number): RateLimitInfo {
    return decide(parseReply(reply), this.config, stored, units);
  }

  /** {@link send} and {@link decide} in one, for the admin calls. */
  async check(stored: string, units: number, record: boolean): Promise<RateLimitInfo> {
    const reply = await this.#script.ask(this.#key(stored), units, record);
    return this.decide(reply, stored, units);
  }

  /** The Redis key of a stored client key. */
  #key(stored: string): string {
    return this.#keyHead + stored + this.#keyTail;
  }

  /** Counts a recorded decision for `stats()` (in memory; written to Redis off the request path). */
  count(info: RateLimitInfo): void {
    this.#stats?.record(info.allowed, info.key);
  }

  /** Reports a Redis failure through the logger, at most once per interval. */
  report(error: unknown): void {
    this.#report(error, this.source);
  }

  /** Deletes a stored key's counts; true when there were some. */
  async reset(stored: string): Promise<boolean> {
    const redis = this.config.redis;
    const key = this.#key(stored);
    return (await this.#caller.call(() => redis.del(key))) > 0;
  }

  /** The last hour's stats, or undefined when the limiter does not count them. */
  readStats(top: number): Promise<RateLimitStats> | undefined {
    return this.#stats?.read(top);
  }

  /** Writes pending stats and stops their timer. */
  async close(): Promise<void> {
    await this.#stats?.close();
  }
}
