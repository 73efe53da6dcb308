// The options of pageViews(), their defaults, and their validation into one fully resolved config.
import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import {
  checkOptions,
  consoleLogger,
  type Duration,
  durationOption,
  functionOption,
  integerOption,
  type Logger,
  loggerOption,
  oneOfOption,
  optionError,
  optionNames,
  secretsOption,
} from '../core/index.js';
import {
  assertRedisClient,
  type RedisClient,
  type RedisErrorPolicy,
  resolveTimeout,
  validatePrefix,
} from '../redis/index.js';
import { defaultRoute, isPageView } from './include.js';
import { createDayClock, type DayClock, GRANULARITIES, type Granularity } from './periods.js';
import { remoteVisitor } from './visitor.js';

const WHERE = 'pageViews';

/** Options of {@link pageViews}. Only `redis` is required. */
export interface PageViewsOptions {
  /** The ioredis client (`Redis` or `Cluster`). Required. */
  redis: RedisClient;
  /**
   * Prefix of every key; the keys also carry the hash tag `{<prefix without trailing ':'>}`.
   * @default 'pv:'
   */
  prefix?: string;
  /**
   * Names the route a view is counted under, read when the response finishes. Return `undefined` for
   * `(unmatched)`.
   * @default req.baseUrl + req.route.path, or '(unmatched)' when no route matched
   */
  route?: (req: Request, res: Response) => string | undefined;
  /**
   * Decides, when the response finishes, whether it was a page view.
   * @default {@link isPageView}: GET answered 2xx with HTML (or a 304 to a browser navigation), not a bot
   * per `isbot`, not a prefetch
   */
  include?: (req: Request, res: Response) => boolean;
  /**
   * The raw visitor identity, hashed with a per-period random salt before it leaves the process (never stored).
   * Return `undefined` to count the view without a visitor.
   * @default req.ip + ' ' + User-Agent
   */
  visitor?: (req: Request) => string | undefined;
  /**
   * The periods to keep numbers for.
   * @default ['day', 'week', 'month', 'year']
   */
  granularities?: readonly Granularity[];
  /**
   * IANA time zone in which days (and so weeks, months and years) begin.
   * @default 'UTC'
   */
  timeZone?: string;
  /**
   * How long each granularity's keys live after the end of their period.
   * @default { day: '90d', week: '52w', month: '730d', year: '3650d' }
   */
  retention?: Partial<Record<Granularity, Duration>>;
  /**
   * How often the in-process counts are written to Redis (one pipeline each time).
   * @default '1s'
   */
  flushInterval?: Duration;
  /**
   * Most buffered entries (a route of a day, or a visitor of a route) kept while Redis is unreachable; beyond
   * it the oldest unsent batch is dropped with a warning.
   * @default 100000
   */
  maxBuffer?: number;
  /**
   * Most distinct routes one instance counts per day; views of further routes count under `(other)`.
   * @default 1000
   */
  maxRoutes?: number;
  /**
   * Path of the beacon endpoint (POST); the client script is served at `<beaconPath>.js`.
   * @default '/_pv'
   */
  beaconPath?: string;
  /**
   * Largest time on page one view may report; longer values are clamped.
   * @default '30m'
   */
  maxTimeOnPage?: Duration;
  /**
   * How long after the script was served its page may still send beacons.
   * @default '6h'
   */
  tokenTtl?: Duration;
  /**
   * Secret(s) signing beacon tokens; the first signs, all verify (for rotation). Give one (at least 32
   * characters) whenever more than one instance serves the app or tokens must survive a restart.
   * @default 32 random bytes per instance
   */
  secret?: string | readonly string[];
  /**
   * The window of the live visitor count and live top pages.
   * @default '5m'
   */
  liveWindow?: Duration;
  /**
   * Deadline of each Redis call.
   * @default the client's `commandTimeout`, or 1 s when it sets none
   */
  timeout?: Duration;
  /**
   * When a beacon cannot be stored because Redis fails: `'fail-open'` answers 204 anyway, `'fail-closed'`
   * answers 503. Counting never waits for Redis either way.
   * @default 'fail-open'
   */
  onRedisError?: RedisErrorPolicy;
  /**
   * Receives warnings (Redis errors at most once per 10 s, dropped batches).
   * @default consoleLogger
   */
  logger?: Logger;
}

/** The defaults of every optional field of {@link PageViewsOptions}. */
export const DEFAULT_PAGE_VIEWS_OPTIONS = Object.freeze({
  prefix: 'pv:',
  route: defaultRoute,
  include: isPageView,
  visitor: remoteVisitor,
  granularities: GRANULARITIES,
  timeZone: 'UTC',
  retention: Object.freeze({ day: '90d', week: '52w', month: '730d', year: '3650d' }) as Readonly<
    Record<Granularity, Duration>
  >,
  flushInterval: '1s' as Duration,
  maxBuffer: 100_000,
  maxRoutes: 1_000,
  beaconPath: '/_pv',
  maxTimeOnPage: '30m' as Duration,
  tokenTtl: '6h' as Duration,
  liveWindow: '5m' as Duration,
  onRedisError: 'fail-open' as RedisErrorPolicy,
  logger: consoleLogger,
});

/** Every option resolved: durations in milliseconds, defaults applied. */
export interface ResolvedPageViewsConfig {
  readonly redis: RedisClient;
  readonly prefix: string;
  readonly route: (req: Request, res: Response) => string | undefined;
  readonly include: (req: Request, res: Response) => boolean;
  readonly visitor: (req: Request) => string | undefined;
  /** True when `include` is the default, so the middleware may skip non-GET requests before they finish. */
  readonly defaultInclude: boolean;
  readonly granularities: readonly Granularity[];
  readonly clock: DayClock;
  readonly retentionMs: Readonly<Record<Granularity, number>>;
  readonly flushIntervalMs: number;
  readonly maxBuffer: number;
  readonly maxRoutes: number;
  readonly beaconPath: string;
  readonly scriptPath: string;
  readonly maxTimeOnPageMs: number;
  readonly tokenTtlMs: number;
  readonly secrets: readonly Buffer[];
  readonly secretGenerated: boolean;
  readonly liveWindowMs: number;
  readonly timeoutMs: number;
  readonly onRedisError: RedisErrorPolicy;
  readonly logger: Logger;
}

const KNOWN = optionNames<PageViewsOptions>({
  redis: true,
  prefix: true,
  route: true,
  include: true,
  visitor: true,
  granularities: true,
  timeZone: true,
  retention: true,
  flushInterval: true,
  maxBuffer: true,
  maxRoutes: true,
  beaconPath: true,
  maxTimeOnPage: true,
  tokenTtl: true,
  secret: true,
  liveWindow: true,
  timeout: true,
  onRedisError: true,
  logger: true,
});

/** A beacon path: `/` and up to 100 URL path characters, so it never carries a query or a fragment. */
const BEACON_PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]{1,100}$/;

/** Validates `options` (throwing a coded ConfigError) and applies the defaults. */
export function resolveOptions(options: unknown): ResolvedPageViewsConfig {
  checkOptions<PageViewsOptions>(options, KNOWN, WHERE);
  const o = options;
  const d = DEFAULT_PAGE_VIEWS_OPTIONS;
  assertRedisClient(o.redis, WHERE);
  const include = functionOption<(req: Request, res: Response) => boolean>(o.include, 'include', WHERE);
  const beaconPath = resolveBeaconPath(o.beaconPath ?? d.beaconPath);
  const secrets =
    o.secret === undefined ? undefined : secretsOption(o.secret, 'secret', WHERE, 'ERR_PV_SECRET');

  return {
    redis: o.redis,
    prefix: validatePrefix(o.prefix ?? d.prefix, WHERE),
    route: functionOption(o.route, 'route', WHERE) ?? d.route,
    include: include ?? d.include,
    visitor: functionOption(o.visitor, 'visitor', WHERE) ?? d.visitor,
    defaultInclude: include === undefined,
    granularities: resolveGranularities(o.granularities ?? d.granularities),
    clock: resolveTimeZone(o.timeZone ?? d.timeZone),
    retentionMs: resolveRetention(o.retention),
    flushIntervalMs: durationOption(o.flushInterval ?? d.flushInterval, 'flushInterval', WHERE, { min: 10 }),
    maxBuffer: integerOption(o.maxBuffer ?? d.maxBuffer, 'maxBuffer', WHERE, 100, 100_000_000),
    maxRoutes: integerOption(o.maxRoutes ?? d.maxRoutes, 'maxRoutes', WHERE, 1, 1_000_000),
    beaconPath,
    scriptPath: `${beaconPath}.js`,
    maxTimeOnPageMs: durationOption(o.maxTimeOnPage ?? d.maxTimeOnPage, 'maxTimeOnPage', WHERE, {
      min: 1_000,
    }),
    tokenTtlMs: durationOption(o.tokenTtl ?? d.tokenTtl, 'tokenTtl', WHERE, { min: 1_000 }),
    // Without a secret, a random one per instance: tokens then only work on this instance until it restarts.
    secrets: secrets === undefined ? [randomBytes(32)] : secrets.map((secret) => Buffer.from(secret, 'utf8')),
    secretGenerated: secrets === undefined,
    liveWindowMs: durationOption(o.liveWindow ?? d.liveWindow, 'liveWindow', WHERE, {
      min: 60_000,
      max: 3_600_000,
    }),
    timeoutMs: resolveTimeout(o.redis, o.timeout, WHERE),
    onRedisError: oneOfOption(o.onRedisError ?? d.onRedisError, 'onRedisError', WHERE, [
      'fail-open',
      'fail-closed',
    ]),
    logger: loggerOption(o.logger, WHERE, d.logger),
  };
}

function resolveBeaconPath(value: unknown): string {
  if (typeof value !== 'string' || !BEACON_PATH.test(value)) {
    throw optionError(
      'ERR_PV_BEACON_PATH',
      WHERE,
      'beaconPath',
      "a path like '/_pv' (a '/' and up to 100 URL path characters, no query)",
      value,
    );
  }
  return value;
}

function resolveGranularities(value: unknown): readonly Granularity[] {
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.some((g) => !(GRANULARITIES as readonly unknown[]).includes(g))
  ) {
    throw optionError(
      'ERR_PV_GRANULARITY',
      WHERE,
      'granularities',
      "a non-empty list of 'day', 'week', 'month', 'year'",
      value,
    );
  }
  return GRANULARITIES.filter((g) => value.includes(g));
}

function resolveTimeZone(value: unknown): DayClock {
  if (typeof value === 'string' && value.length > 0) {
    try {
      return createDayClock(value);
    } catch {
      // reported below
    }
  }
  throw optionError(
    'ERR_PV_TIME_ZONE',
    WHERE,
    'timeZone',
    "an IANA time zone such as 'UTC' or 'Europe/Berlin'",
    value,
  );
}

function resolveRetention(value: unknown): Readonly<Record<Granularity, number>> {
  if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
    throw optionError(
      'ERR_OPTION_VALUE',
      WHERE,
      'retention',
      "an object like { day: '90d', month: '730d' }",
      value,
    );
  }
  const given = (value ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(GRANULARITIES as readonly string[]).includes(key)) {
      throw optionError(
        'ERR_OPTION_UNKNOWN',
        WHERE,
        'retention',
        'keyed by day, week, month or year',
        key,
        `a key '${key}'`,
      );
    }
  }
  const out = {} as Record<Granularity, number>;
  for (const g of GRANULARITIES) {
    const duration = given[g] ?? DEFAULT_PAGE_VIEWS_OPTIONS.retention[g];
    out[g] = durationOption(duration, `retention.${g}`, WHERE, { min: 60_000 });
  }
  return out;
}
