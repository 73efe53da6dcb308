// The rateLimit factory: sliding log, bucketed sliding window or GCRA on Redis, one round trip per request.
import { assertNotInRequestHandler } from '../core/index.js';
import { adminMethods } from './admin.js';
import { announceInferredAlgorithm } from './algorithm.js';
import { Limiter } from './limiter.js';
import { requestHandler } from './middleware.js';
import { type RateLimitOptions, resolveOptions } from './options.js';
import type { RateLimitMiddleware } from './types.js';

export { ipKey, normalizeIp } from './ip-key.js';
export {
  DEFAULT_RATE_LIMIT,
  DEFAULT_RATE_LIMIT_OPTIONS,
  type RateLimitAlgorithm,
  type RateLimitedHandler,
  type RateLimitHeaders,
  type RateLimitOptions,
  type RateLimitRule,
} from './options.js';
export { QUOTA_EXCEEDED_TYPE } from './respond.js';
export { MAX_LIMIT, MAX_LOG_LIMIT, MAX_PRECISION, MAX_RULES } from './rule-options.js';
export type {
  RateLimiter,
  RateLimitInfo,
  RateLimitMiddleware,
  RateLimitMinute,
  RateLimitRuleState,
  RateLimitStats,
} from './types.js';

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
export function rateLimit(options: RateLimitOptions): RateLimitMiddleware {
  // Options first: `app.use(rateLimit)` passes a request as the options, and deserves its own message.
  const config = resolveOptions(options);
  assertNotInRequestHandler('rateLimit');
  const limiter = new Limiter(config);
  announceInferredAlgorithm(config);
  return Object.assign(requestHandler(limiter), adminMethods(limiter));
}
