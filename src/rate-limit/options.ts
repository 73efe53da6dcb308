// The rate limiter's options, their defaults, and their validation into a fully resolved config at app start.
import type { NextFunction, Request, Response } from 'express';
import {
  checkOptions,
  consoleLogger,
  type Duration,
  durationOption,
  functionOption,
  type Logger,
  loggerOption,
  nameOption,
  oneOfOption,
  optionNames,
} from '../core/index.js';
import {
  assertRedisClient,
  type RedisClient,
  type RedisErrorPolicy,
  resolveTimeout,
  validatePrefix,
} from '../redis/index.js';
import { ipKey } from './ip-key.js';
import {
  chooseAlgorithm,
  type RateLimitCost,
  type ResolvedRule,
  resolveCost,
  resolvePrecision,
  resolveRules,
} from './rule-options.js';
import type { RateLimitInfo } from './types.js';

/** Which rate-limit response headers to send. */
export type RateLimitHeaders = 'draft-8' | 'legacy' | false;

/** Called instead of the next handler when a request is refused. */
export type RateLimitedHandler = (
  req: Request,
  res: Response,
  next: NextFunction,
  info: RateLimitInfo,
) => void | Promise<void>;

/**
 * How a limiter counts. `'sliding-log'`: exact, one sorted-set entry per admitted unit (limits up to
 * {@link MAX_LOG_LIMIT}). `'sliding-window'`: `precision` counters per window, never admits more than the
 * limit in any window, may refuse up to one bucket early. `'gcra'`: one timestamp per rule, a sustained
 * rate of `limit` per `window` with bursts of up to `burst`.
 */
export type RateLimitAlgorithm = 'sliding-log' | 'sliding-window' | 'gcra';

/** An extra limit, checked and recorded atomically with the main one (e.g. a burst rule). */
export interface RateLimitRule {
  /**
   * Most units admitted in any trailing `window`: 1 to {@link MAX_LOG_LIMIT} with the sliding log, up to
   * {@link MAX_LIMIT} otherwise. With `'gcra'`, the sustained rate: `limit` per `window`.
   */
  limit: number;
  /** The window: milliseconds or a string like `'1s'`. */
  window: Duration;
  /**
   * `'gcra'` only: the most units admitted at once from rest. Over any interval of length t the rule admits
   * at most `burst + t × limit / window`.
   * @default limit
   */
  burst?: number;
  /**
   * The policy name in the `RateLimit` headers.
   * @default `<name>-<window>`, e.g. `'api-1s'`
   */
  name?: string;
}

/** Options of {@link rateLimit}. */
export interface RateLimitOptions {
  /** The ioredis client (`Redis` or `Cluster`). Required. */
  redis: RedisClient;
  /**
   * Names the limiter: its keys and its headers' policy name. Letters, digits, `.`, `_`, `-` (1 to 64).
   * Two limiters with the same name and longest window share their counts, on purpose. Required.
   */
  name: string;
  /**
   * Most units admitted in any trailing `window`: 1 to {@link MAX_LOG_LIMIT} with the sliding log, up to
   * {@link MAX_LIMIT} otherwise. With `'gcra'`, the sustained rate: `limit` per `window`. Required.
   */
  limit: number;
  /** The sliding window: milliseconds or a string like `'15m'`; must be above zero. Required. */
  window: Duration;
  /**
   * How the limiter counts; every rule uses the same algorithm (see {@link RateLimitAlgorithm}).
   * @default 'sliding-log' while every limit is at most {@link MAX_LOG_LIMIT}, otherwise 'sliding-window'
   *   (said once through `logger` at creation)
   */
  algorithm?: RateLimitAlgorithm;
  /**
   * `'sliding-window'` only: buckets per window (1 to 1,000; each bucket at least 1 ms). A 1-hour rule
   * at 60 counts in 1-minute buckets and may refuse up to one minute's admissions early.
   * @default 60
   */
  precision?: number;
  /**
   * `'gcra'` only: the most units the main rule admits at once from rest (see {@link RateLimitRule.burst}).
   * @default limit
   */
  burst?: number;
  /**
   * Extra limit/window pairs, checked and recorded in the same script as the main one: a request counts
   * against every rule or none. Windows must differ from each other and from `window`.
   * @default []
   */
  rules?: readonly RateLimitRule[];
  /**
   * The client key. Long or unusual values are hashed before they reach Redis.
   * @default ipKey: `req.ip` with IPv6 grouped by /64 and IPv4-mapped IPv6 folded to IPv4
   */
  key?: (req: Request) => string | Promise<string>;
  /**
   * Units a request costs: an integer from 0, or a function returning one. A request costing more than a
   * rule's limit can never be admitted: it is refused without `Retry-After`.
   * @default 1
   */
  cost?: number | ((req: Request) => number | Promise<number>);
  /**
   * Return true to let a request through without counting it or sending headers.
   * @default undefined (nothing skipped)
   */
  skip?: (req: Request) => boolean | Promise<boolean>;
  /**
   * `'draft-8'`: `RateLimit-Policy` and `RateLimit` (IETF httpapi draft, one list item per rule);
   * `'legacy'`: `X-RateLimit-Limit`, `-Remaining`, `-Reset` (epoch seconds) of the binding rule; `false`: none.
   * @default 'draft-8'
   */
  headers?: RateLimitHeaders;
  /**
   * Responds to a refused request; `Retry-After` is already set when the request can ever fit.
   * @default 429 with a short text, JSON or problem+json body chosen by `Accept`
   */
  onLimited?: RateLimitedHandler;
  /**
   * When Redis fails or does not answer in time: `'fail-open'` lets the request through (warning through
   * `logger` at most once per interval), `'fail-closed'` answers 503.
   * @default 'fail-open'
   */
  onRedisError?: RedisErrorPolicy;
  /**
   * Key prefix.
   * @default 'rl:'
   */
  prefix?: string;
  /**
   * Longest wait for Redis on a request's behalf.
   * @default the client's `commandTimeout`, or 1 s when it sets none
   */
  timeout?: Duration;
  /**
   * Where warnings go.
   * @default consoleLogger
   */
  logger?: Logger;
  /**
   * Count allowed and blocked requests per minute for `stats()`. Counting is in memory; the counts reach
   * Redis every `statsInterval`, off the request path.
   * @default true
   */
  stats?: boolean;
  /**
   * How often counted stats are written to Redis (100 ms to 1 min).
   * @default '5s'
   */
  statsInterval?: Duration;
}

/** Default values of the optional options. */
export const DEFAULT_RATE_LIMIT_OPTIONS = Object.freeze({
  rules: Object.freeze([]) as readonly RateLimitRule[],
  precision: 60,
  key: ipKey,
  cost: 1,
  headers: 'draft-8' as RateLimitHeaders,
  onRedisError: 'fail-open' as RedisErrorPolicy,
  prefix: 'rl:',
  logger: consoleLogger,
  stats: true,
  statsInterval: '5s' as Duration,
});

/** @deprecated use {@link DEFAULT_RATE_LIMIT_OPTIONS} */
export const DEFAULT_RATE_LIMIT = DEFAULT_RATE_LIMIT_OPTIONS;

const WHERE = 'rateLimit';
const KNOWN = optionNames<RateLimitOptions>({
  redis: true,
  name: true,
  limit: true,
  window: true,
  algorithm: true,
  precision: true,
  burst: true,
  rules: true,
  key: true,
  cost: true,
  skip: true,
  headers: true,
  onLimited: true,
  onRedisError: true,
  prefix: true,
  timeout: true,
  logger: true,
  stats: true,
  statsInterval: true,
});

/** The fully resolved config: every option checked and defaulted. */
export interface ResolvedRateLimitConfig {
  readonly redis: RedisClient;
  readonly name: string;
  readonly algorithm: RateLimitAlgorithm;
  /** Buckets per window (`'sliding-window'`). */
  readonly precision: number;
  /** True when the algorithm was chosen because a limit is too large for the sliding log. */
  readonly algorithmInferred: boolean;
  /** The main rule first, then `rules` in the order given. */
  readonly rules: readonly ResolvedRule[];
  /** Indexes into `rules`, longest window first: the order the script takes them in. */
  readonly scriptOrder: readonly number[];
  readonly key: (req: Request) => string | Promise<string>;
  /** True when `key` is the default, so the proxy self-check applies. */
  readonly defaultKey: boolean;
  readonly cost: RateLimitCost;
  readonly skip: ((req: Request) => boolean | Promise<boolean>) | undefined;
  readonly headers: RateLimitHeaders;
  readonly onLimited: RateLimitedHandler | undefined;
  readonly onRedisError: RedisErrorPolicy;
  readonly prefix: string;
  readonly timeoutMs: number;
  readonly logger: Logger;
  readonly stats: boolean;
  readonly statsIntervalMs: number;
}

/** Validates the options at app start; every mistake throws a `ConfigError` with a code. */
export function resolveOptions(options: unknown): ResolvedRateLimitConfig {
  checkOptions<RateLimitOptions>(options, KNOWN, WHERE);
  assertRedisClient(options.redis, WHERE);
  const redis = options.redis;
  const name = nameOption(options.name, 'name', WHERE, 'ERR_RATE_LIMIT_NAME');
  const { algorithm, algorithmInferred } = chooseAlgorithm(options);
  const precision = resolvePrecision(options.precision, algorithm, DEFAULT_RATE_LIMIT_OPTIONS.precision);
  const rules = resolveRules(options, name, algorithm, precision);
  const key = functionOption<(req: Request) => string | Promise<string>>(options.key, 'key', WHERE);
  return {
    redis,
    name,
    algorithm,
    precision,
    algorithmInferred,
    rules,
    scriptOrder: rules
      .map((rule, index) => ({ index, windowMs: rule.windowMs }))
      .sort((a, b) => b.windowMs - a.windowMs)
      .map((entry) => entry.index),
    key: key ?? DEFAULT_RATE_LIMIT_OPTIONS.key,
    defaultKey: key === undefined,
    cost: resolveCost(options.cost ?? DEFAULT_RATE_LIMIT_OPTIONS.cost, rules, algorithm),
    skip: functionOption(options.skip, 'skip', WHERE),
    headers: oneOfOption(options.headers ?? DEFAULT_RATE_LIMIT_OPTIONS.headers, 'headers', WHERE, [
      'draft-8',
      'legacy',
      false,
    ]),
    onLimited: functionOption<RateLimitedHandler>(options.onLimited, 'onLimited', WHERE),
    onRedisError: oneOfOption(
      options.onRedisError ?? DEFAULT_RATE_LIMIT_OPTIONS.onRedisError,
      'onRedisError',
      WHERE,
      ['fail-open', 'fail-closed'],
    ),
    prefix: validatePrefix(options.prefix ?? DEFAULT_RATE_LIMIT_OPTIONS.prefix, WHERE),
    timeoutMs: resolveTimeout(redis, options.timeout, WHERE),
    logger: loggerOption(options.logger, WHERE, DEFAULT_RATE_LIMIT_OPTIONS.logger),
    stats: oneOfOption(options.stats ?? DEFAULT_RATE_LIMIT_OPTIONS.stats, 'stats', WHERE, [true, false]),
    statsIntervalMs: durationOption(
      options.statsInterval ?? DEFAULT_RATE_LIMIT_OPTIONS.statsInterval,
      'statsInterval',
      WHERE,
      { min: 100, max: 60_000 },
    ),
  };
}
