// The rate limiter's options, their defaults, and their validation into a fully resolved config at app start.
import type { NextFunction, Request, Response } from 'express';
import {
  ConfigError,
  checkOptions,
  consoleLogger,
  type Duration,
  functionOption,
  integerOption,
  type Logger,
  oneOfOption,
  parseDuration,
} from '../core/index.js';
import {
  assertRedisClient,
  type RedisClient,
  type RedisErrorPolicy,
  resolveTimeout,
  validatePrefix,
} from '../redis/index.js';
import { ipKey } from './ip-key.js';
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

/**
 * The largest limit a rule of the sliding log may have. A client at its limit holds `limit` entries in Redis,
 * about 20 bytes each up to 128 entries and about 130 bytes each beyond (measured with MEMORY USAGE, see
 * docs/rate-limiting.md), so this caps one client of one limiter at about 650 KB.
 */
export const MAX_LOG_LIMIT = 5_000;

/** The largest limit (and burst) of the sliding window and GCRA: counts stay exact integers in Lua. */
export const MAX_LIMIT = 1_000_000_000;

/** The most buckets per window of the sliding window. */
export const MAX_PRECISION = 1_000;

/** At most this many rules per limiter, the main one included. */
export const MAX_RULES = 8;

/** The longest window: keeps microsecond arithmetic in Lua exact. */
const MAX_WINDOW_MS = 366 * 86_400_000;

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const WHERE = 'rateLimit';

const KNOWN: readonly (keyof RateLimitOptions)[] = [
  'redis',
  'name',
  'limit',
  'window',
  'algorithm',
  'precision',
  'burst',
  'rules',
  'key',
  'cost',
  'skip',
  'headers',
  'onLimited',
  'onRedisError',
  'prefix',
  'timeout',
  'logger',
  'stats',
  'statsInterval',
];
const RULE_KNOWN: readonly (keyof RateLimitRule)[] = ['limit', 'window', 'name', 'burst'];
const ALGORITHMS: readonly RateLimitAlgorithm[] = ['sliding-log', 'sliding-window', 'gcra'];

/** A validated rule. */
export interface ResolvedRule {
  readonly name: string;
  readonly limit: number;
  readonly windowMs: number;
  /** GCRA's burst (the limit for the other algorithms): the most units one request can ever cost. */
  readonly burst: number;
}

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
  readonly cost: number | ((req: Request) => number | Promise<number>);
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

  if (typeof options.name !== 'string' || !NAME.test(options.name)) {
    throw new ConfigError(
      'ERR_RATE_LIMIT_NAME',
      `${WHERE}: \`name\` is required: 1 to 64 letters, digits, '.', '_' or '-' (got ${show(options.name)}). ` +
        'It namespaces the keys and names the policy in the headers.',
    );
  }
  const name = options.name;

  const extra = options.rules ?? DEFAULT_RATE_LIMIT_OPTIONS.rules;
  const explicit =
    options.algorithm === undefined
      ? undefined
      : oneOfOption(options.algorithm, 'algorithm', WHERE, ALGORITHMS);
  // Without an explicit choice, a limit the log cannot hold picks the bucketed window instead of an error.
  const limits = [options.limit, ...(Array.isArray(extra) ? extra.map((r: unknown) => limitOf(r)) : [])];
  const algorithmInferred =
    explicit === undefined && limits.some((l) => typeof l === 'number' && l > MAX_LOG_LIMIT);
  const algorithm: RateLimitAlgorithm = explicit ?? (algorithmInferred ? 'sliding-window' : 'sliding-log');
  if (options.precision !== undefined && algorithm !== 'sliding-window') {
    throw new ConfigError(
      'ERR_RATE_LIMIT_ALGORITHM',
      `${WHERE}: \`precision\` only applies to algorithm 'sliding-window' (this limiter uses '${algorithm}').`,
    );
  }
  const precision = integerOption(
    options.precision ?? DEFAULT_RATE_LIMIT_OPTIONS.precision,
    'precision',
    WHERE,
    1,
    MAX_PRECISION,
  );

  const main = resolveRule(
    { limit: options.limit, window: options.window, burst: options.burst, name },
    '',
    algorithm,
  );
  const rules: ResolvedRule[] = [main];
  if (!Array.isArray(extra)) {
    throw new ConfigError(
      'ERR_RATE_LIMIT_RULES',
      `${WHERE}: \`rules\` must be an array of { limit, window }.`,
    );
  }
  if (extra.length + 1 > MAX_RULES) {
    throw new ConfigError(
      'ERR_RATE_LIMIT_RULES',
      `${WHERE}: at most ${MAX_RULES - 1} extra rules (got ${extra.length}).`,
    );
  }
  extra.forEach((rule: unknown, i) => {
    checkOptions<RateLimitRule>(rule, RULE_KNOWN, `${WHERE} rules[${i}]`);
    const resolved = resolveRule(rule, `rules[${i}].`, algorithm, name);
    const clash = rules.find((r) => r.windowMs === resolved.windowMs || r.name === resolved.name);
    if (clash) {
      throw new ConfigError(
        'ERR_RATE_LIMIT_RULES',
        `${WHERE}: rules[${i}] has the same ${clash.windowMs === resolved.windowMs ? 'window' : 'name'} ` +
          `as rule '${clash.name}'. Give each rule its own window (the smaller limit would win anyway).`,
      );
    }
    rules.push(resolved);
  });
  const scriptOrder = rules
    .map((rule, index) => ({ index, windowMs: rule.windowMs }))
    .sort((a, b) => b.windowMs - a.windowMs)
    .map((entry) => entry.index);

  if (algorithm === 'sliding-window') {
    const short = rules.find((r) => r.windowMs < precision);
    if (short) {
      throw new ConfigError(
        'ERR_OPTION_RANGE',
        `${WHERE}: \`precision\` ${precision} cuts rule '${short.name}' (${short.windowMs} ms) into buckets ` +
          'shorter than 1 ms. Use a lower precision or a longer window.',
      );
    }
  }

  const cost = options.cost ?? DEFAULT_RATE_LIMIT_OPTIONS.cost;
  if (typeof cost === 'number') {
    integerOption(cost, 'cost', WHERE, 0, algorithm === 'sliding-log' ? MAX_LOG_LIMIT : MAX_LIMIT);
    const tight = rules.find((r) => cost > r.burst);
    if (tight) {
      const what = algorithm === 'gcra' ? 'burst' : 'limit';
      throw new ConfigError(
        'ERR_RATE_LIMIT_COST',
        `${WHERE}: \`cost\` ${cost} is above the ${what} ${tight.burst} of rule '${tight.name}', so no ` +
          'request could ever be admitted.',
      );
    }
  } else if (typeof cost !== 'function') {
    throw new ConfigError(
      'ERR_OPTION_VALUE',
      `${WHERE}: \`cost\` must be an integer or a function (got ${typeof cost}).`,
    );
  }

  const key = functionOption<(req: Request) => string | Promise<string>>(options.key, 'key', WHERE);
  const stats = options.stats ?? DEFAULT_RATE_LIMIT_OPTIONS.stats;
  oneOfOption(stats, 'stats', WHERE, [true, false]);
  const statsIntervalMs = parseDuration(
    options.statsInterval ?? DEFAULT_RATE_LIMIT_OPTIONS.statsInterval,
    `${WHERE} statsInterval`,
  );
  integerOption(statsIntervalMs, 'statsInterval (ms)', WHERE, 100, 60_000);

  return {
    redis,
    name,
    algorithm,
    precision,
    algorithmInferred,
    rules,
    scriptOrder,
    key: key ?? DEFAULT_RATE_LIMIT_OPTIONS.key,
    defaultKey: key === undefined,
    cost,
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
    logger: resolveLogger(options.logger),
    stats,
    statsIntervalMs,
  };
}

function limitOf(rule: unknown): unknown {
  return typeof rule === 'object' && rule !== null ? (rule as { limit?: unknown }).limit : undefined;
}

function resolveRule(
  rule: Partial<RateLimitRule>,
  label: string,
  algorithm: RateLimitAlgorithm,
  limiterName?: string,
): ResolvedRule {
  const limit = rule.limit;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
    throw new ConfigError(
      'ERR_RATE_LIMIT_LIMIT',
      `${WHERE}: \`${label}limit\` must be an integer of at least 1 (got ${show(limit)}).`,
    );
  }
  if (algorithm !== 'sliding-log' && limit > MAX_LIMIT) {
    throw new ConfigError(
      'ERR_RATE_LIMIT_LIMIT',
      `${WHERE}: \`${label}limit\` ${limit} is above ${MAX_LIMIT.toLocaleString('en')}.`,
    );
  }
  if (algorithm === 'sliding-log' && limit > MAX_LOG_LIMIT) {
    throw new ConfigError(
      'ERR_RATE_LIMIT_TOO_LARGE',
      `${WHERE}: \`${label}limit\` ${limit} is above ${MAX_LOG_LIMIT}. The sliding log keeps one entry per ` +
        `admitted request (about 130 bytes each beyond 128), so one client could hold ${Math.round(
          (limit * 130) / 1024,
        )} KB. Use algorithm 'sliding-window' (a few counters per client, never over the limit in any ` +
        "window) or 'gcra' (one timestamp per client, for a steady rate with bursts).",
    );
  }
  if (rule.burst !== undefined && algorithm !== 'gcra') {
    throw new ConfigError(
      'ERR_RATE_LIMIT_ALGORITHM',
      `${WHERE}: \`${label}burst\` only applies to algorithm 'gcra' (this limiter uses '${algorithm}').`,
    );
  }
  const burst =
    rule.burst === undefined ? limit : integerOption(rule.burst, `${label}burst`, WHERE, 1, MAX_LIMIT);
  if (rule.window === undefined) {
    throw new ConfigError('ERR_RATE_LIMIT_WINDOW', `${WHERE}: \`${label}window\` is required (e.g. '1m').`);
  }
  const windowMs = parseDuration(rule.window, `${WHERE} ${label}window`);
  if (windowMs <= 0 || windowMs > MAX_WINDOW_MS) {
    throw new ConfigError(
      'ERR_RATE_LIMIT_WINDOW',
      `${WHERE}: \`${label}window\` must be above zero and at most 366 days (got ${show(rule.window)}).`,
    );
  }
  let name = rule.name;
  if (limiterName !== undefined) {
    name ??= `${limiterName}-${formatWindow(windowMs)}`;
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new ConfigError(
        'ERR_RATE_LIMIT_NAME',
        `${WHERE}: \`${label}name\` must be 1 to 64 letters, digits, '.', '_' or '-' (got ${show(name)}).`,
      );
    }
  }
  return { name: name as string, limit, windowMs, burst };
}

/** '1s', '15m', '1500ms': the shortest exact spelling of a window, for default rule names. */
export function formatWindow(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function resolveLogger(logger: unknown): Logger {
  if (logger === undefined) return DEFAULT_RATE_LIMIT_OPTIONS.logger;
  const candidate = logger as Partial<Logger> | null;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    typeof candidate.warn !== 'function' ||
    typeof candidate.error !== 'function'
  ) {
    throw new ConfigError(
      'ERR_OPTION_VALUE',
      `${WHERE}: \`logger\` must have warn() and error() methods (console, pino and winston fit).`,
    );
  }
  return candidate as Logger;
}

function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}
