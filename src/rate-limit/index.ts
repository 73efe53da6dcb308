// The rateLimit factory: sliding log, bucketed sliding window or GCRA on Redis, one round trip per request.
import type { NextFunction, Request, Response } from 'express';
import { assertNotInRequestHandler, ConfigError } from '../core/index.js';
import { buildKey, createErrorReporter, keyPart, redisCaller } from '../redis/index.js';
import { createAlgorithm } from './algorithm.js';
import { type HeaderWriter, headerWriter } from './headers.js';
import {
  formatWindow,
  MAX_LOG_LIMIT,
  type RateLimitOptions,
  type ResolvedRateLimit,
  resolveRateLimitOptions,
} from './options.js';
import { defaultOnLimited, sendUnavailable } from './respond.js';
import type { LimitReply } from './script.js';
import { StatsRecorder } from './stats.js';
import type { RateLimitInfo, RateLimitRuleState, RateLimitStats } from './types.js';
import { bucketMicros } from './window-script.js';

export { ipKey, normalizeIp } from './ip-key.js';
export {
  DEFAULT_RATE_LIMIT,
  MAX_LIMIT,
  MAX_LOG_LIMIT,
  MAX_PRECISION,
  MAX_RULES,
  type RateLimitAlgorithm,
  type RateLimitedHandler,
  type RateLimitHeaders,
  type RateLimitOptions,
  type RateLimitRule,
} from './options.js';
export { QUOTA_EXCEEDED_TYPE } from './respond.js';
export type {
  RateLimitInfo,
  RateLimitMinute,
  RateLimitRuleState,
  RateLimitStats,
} from './types.js';

/** The middleware `rateLimit()` returns, with its admin methods. */
export interface RateLimiter {
  (req: Request, res: Response, next: NextFunction): Promise<void>;
  /** What a request of `cost` units would get now, without recording anything. */
  peek(key: string, cost?: number): Promise<RateLimitInfo>;
  /**
   * Counts `cost` units for `key` outside a request (e.g. only failed sign-ins), with the same rules.
   * Resolves with the decision; nothing is recorded when it is refused.
   */
  consume(key: string, cost?: number): Promise<RateLimitInfo>;
  /** Forgets every admitted request of `key`. Resolves true when there was something to forget. */
  reset(key: string): Promise<boolean>;
  /** Allowed/blocked counts per minute over the last hour, over all instances, and the most blocked keys. */
  stats(options?: { top?: number }): Promise<RateLimitStats>;
  /** Writes pending stats and stops their timer; call it when shutting down. */
  close(): Promise<void>;
}

/** A stored key as `stats()` reports it (`#` + base64url SHA-256): accepted as is by `peek` and `reset`. */
const STORED_HASH = /^#[A-Za-z0-9_-]{43}$/;

/**
 * Creates a rate limiter: never more than `limit` units admitted in any trailing `window` (the exact sliding
 * log by default, or the bucketed `'sliding-window'`; `'gcra'` for a steady rate with bursts), clock from
 * Redis `TIME`, checked together with any extra `rules` in one Lua script per request. Rejected requests
 * are not recorded. Throws a `ConfigError` at app start on any misconfiguration.
 *
 * @example
 * const redis = new Redis({ enableAutoPipelining: true, commandTimeout: 500 });
 * app.post('/login', rateLimit({ redis, name: 'login', limit: 5, window: '15m',
 *   key: (req) => `${ipKey(req)}:${String(req.body?.email ?? '').toLowerCase()}` }), login);
 * app.use('/api', rateLimit({ redis, name: 'api', limit: 100, window: '1m',
 *   rules: [{ limit: 10, window: '1s' }] }));
 * app.use('/partner', rateLimit({ redis, name: 'partner', limit: 1_000_000, window: '1h',
 *   algorithm: 'sliding-window' }));
 */
export function rateLimit(options: RateLimitOptions): RateLimiter {
  // Options first: `app.use(rateLimit)` passes a request as the options, and deserves its own message.
  const config = resolveRateLimitOptions(options);
  assertNotInRequestHandler('rateLimit');
  return createLimiter(config);
}

function createLimiter(config: ResolvedRateLimit): RateLimiter {
  const { rules, scriptOrder, onRedisError, timeoutMs, skip, cost, key: keyOf, redis } = config;
  const { script, keyTail } = createAlgorithm(config);
  const report = createErrorReporter(config.logger);
  const source = `rateLimit '${config.name}'`;
  if (config.algorithmInferred) {
    const longest = rules[scriptOrder[0] as number] as (typeof rules)[number];
    config.logger.warn(
      `${source}: a limit above ${MAX_LOG_LIMIT} is too large for the exact sliding log, so this limiter ` +
        `uses algorithm 'sliding-window': ${config.precision} buckets per window (${formatWindow(
          Math.max(1, Math.round(bucketMicros(longest.windowMs, config.precision) / 1000)),
        )} for ${formatWindow(longest.windowMs)}). It never admits more than the limit in any window and ` +
        "may refuse up to one bucket's worth early. Set `algorithm` explicitly to silence this message.",
    );
  }
  const keyHead = buildKey(config.prefix, config.name, '{');
  const writeHeaders: HeaderWriter | undefined = headerWriter(config.headers, rules);
  const onLimited = config.onLimited ?? defaultOnLimited;
  const staticCost = typeof cost === 'number' ? cost : undefined;
  const costOf = typeof cost === 'function' ? cost : undefined;
  const stats = config.stats
    ? new StatsRecorder({
        client: config.redis,
        prefix: config.prefix,
        name: config.name,
        intervalMs: config.statsIntervalMs,
        timeoutMs,
        report,
      })
    : undefined;
  let proxyCheck = config.defaultKey;

  const caller = redisCaller(redis, timeoutMs);
  const decide = async (stored: string, units: number, record: boolean): Promise<RateLimitInfo> => {
    const reply = await caller.call(() => script.hit(keyHead + stored + keyTail, units, record));
    return toInfo(reply, stored, units);
  };

  const toInfo = (reply: LimitReply, stored: string, units: number): RateLimitInfo => {
    const states: RateLimitRuleState[] = new Array(rules.length);
    let binding = 0;
    let bindingRetry = 0;
    for (let s = 0; s < scriptOrder.length; s++) {
      const i = scriptOrder[s] as number;
      const rule = rules[i] as (typeof rules)[number];
      const retry = reply.retryMs[s] as number;
      const state: RateLimitRuleState = {
        name: rule.name,
        limit: rule.limit,
        windowMs: rule.windowMs,
        remaining: reply.remaining[s] as number,
        resetMs: reply.resetMs[s] as number,
        ...(retry === 0 ? {} : { retryAfterMs: retry < 0 ? Number.POSITIVE_INFINITY : retry }),
      };
      states[i] = state;
    }
    for (let i = 0; i < states.length; i++) {
      const state = states[i] as RateLimitRuleState;
      const current = states[binding] as RateLimitRuleState;
      const retry = state.retryAfterMs ?? 0;
      if (reply.allowed) {
        if (
          state.remaining < current.remaining ||
          (state.remaining === current.remaining && state.resetMs > current.resetMs)
        ) {
          binding = i;
        }
      } else if (retry > bindingRetry) {
        binding = i;
        bindingRetry = retry;
      }
    }
    const chosen = states[binding] as RateLimitRuleState;
    let remaining = chosen.remaining;
    for (const state of states) if (state.remaining < remaining) remaining = state.remaining;
    return {
      name: chosen.name,
      limit: chosen.limit,
      remaining,
      resetMs: chosen.resetMs,
      ...(reply.allowed ? {} : { retryAfterMs: bindingRetry }),
      allowed: reply.allowed,
      key: stored,
      cost: units,
      now: Math.floor(reply.nowUs / 1000),
      rules: states,
    };
  };

  const fail = (error: unknown, req: Request, res: Response, next: NextFunction): void => {
    report(error, source);
    if (onRedisError === 'fail-open') next();
    else sendUnavailable(req, res);
  };

  const limiter = async function rateLimitMiddleware(
    req: Request,
    res: Response,
    next: NextFunction,
  ): Promise<void> {
    let skipped = false;
    let stored = '';
    let units = 0;
    try {
      if (skip !== undefined) {
        const answer = skip(req);
        skipped = typeof answer === 'boolean' ? answer : await answer;
      }
      if (!skipped) {
        if (proxyCheck) proxyCheck = checkProxy(req, config);
        const raw = keyOf(req);
        const clientKey = typeof raw === 'string' ? raw : await raw;
        if (typeof clientKey !== 'string') {
          throw new TypeError(`${source}: the key function returned ${typeof clientKey}, not a string.`);
        }
        stored = keyPart(clientKey);
        units = staticCost ?? (await (costOf as (req: Request) => number | Promise<number>)(req));
        if (!Number.isInteger(units) || units < 0) {
          throw new TypeError(`${source}: the cost function returned ${String(units)}, not an integer >= 0.`);
        }
      }
    } catch (error) {
      next(error);
      return;
    }
    if (skipped) {
      next();
      return;
    }

    let info: RateLimitInfo;
    try {
      info = await decide(stored, units, true);
    } catch (error) {
      fail(error, req, res, next);
      return;
    }
    req.rateLimit = info;
    stats?.record(info.allowed, stored);
    if (!res.headersSent) {
      writeHeaders?.(res, info);
      if (!info.allowed && info.retryAfterMs !== Number.POSITIVE_INFINITY) {
        res.setHeader('Retry-After', String(Math.ceil((info.retryAfterMs ?? 0) / 1000)));
      }
    }
    if (info.allowed) {
      next();
      return;
    }
    try {
      await onLimited(req, res, next, info);
    } catch (error) {
      next(error);
    }
  } as RateLimiter;

  const adminKey = (key: string): string => {
    if (typeof key !== 'string') throw new TypeError(`${source}: the key must be a string.`);
    return STORED_HASH.test(key) ? key : keyPart(key);
  };
  const adminCost = (units: number): number => {
    if (!Number.isInteger(units) || units < 0)
      throw new TypeError(`${source}: cost must be an integer >= 0.`);
    return units;
  };

  limiter.peek = async (key, units = 1) => decide(adminKey(key), adminCost(units), false);
  limiter.consume = async (key, units = 1) => {
    const stored = adminKey(key);
    const info = await decide(stored, adminCost(units), true);
    stats?.record(info.allowed, stored);
    return info;
  };
  limiter.reset = async (key) => {
    const deleted = await caller.call(() => redis.del(keyHead + adminKey(key) + keyTail));
    return deleted > 0;
  };
  limiter.stats = async ({ top = 10 } = {}) => {
    if (stats === undefined) {
      throw new ConfigError('ERR_RATE_LIMIT_STATS_DISABLED', `${source}: created with \`stats: false\`.`);
    }
    return stats.read(top);
  };
  limiter.close = async () => {
    await stats?.close();
  };
  return limiter;
}

/**
 * One-time advice about the client IP behind proxies, given on the first requests that show a problem:
 * `trust proxy: true` lets any client choose its IP with X-Forwarded-For, and an X-Forwarded-For header
 * with `trust proxy` off means every client behind the proxy shares one limit. Returns whether to keep
 * checking: only while `trust proxy` is off and no proxy header has been seen.
 */
function checkProxy(req: Request, config: ResolvedRateLimit): boolean {
  const trust = req.app.get('trust proxy') as unknown;
  if (trust === true) {
    config.logger.warn(
      `rateLimit '${config.name}': 'trust proxy' is true, so any client can pick its own IP with ` +
        'X-Forwarded-For and dodge the limit. Set it to the number of proxies in front of the app, e.g. ' +
        "app.set('trust proxy', 1).",
    );
    return false;
  }
  if (trust !== false && trust !== undefined && trust !== 0) return false;
  if (req.headers['x-forwarded-for'] === undefined) return true;
  config.logger.warn(
    `rateLimit '${config.name}': requests carry X-Forwarded-For but 'trust proxy' is off, so every ` +
      "client behind the proxy shares one limit. Set app.set('trust proxy', 1) (the number of proxies).",
  );
  return false;
}
