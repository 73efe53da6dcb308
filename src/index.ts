// The public entry of express-redis-kit: named exports only.

// Response caching (src/cache)
export {
  type CacheOutcome,
  CacheUnavailableError,
  DEFAULT_RESPONSE_CACHE_OPTIONS,
  type ResponseCacheClientSideCaching,
  type ResponseCacheMiddleware,
  type ResponseCacheOptions,
  type ResponseCacheStats,
  responseCache,
} from './cache/index.js';
// Shared: the client type and Redis failures (src/redis); durations, errors and the logger hook (src/core)
export { type Duration, parseDuration } from './core/duration.js';
export { ConfigError } from './core/errors.js';
export { consoleLogger, type Logger } from './core/logger.js';
// Page views (src/page-views)
export {
  DEFAULT_PAGE_VIEWS_OPTIONS,
  type Granularity as PageViewGranularity,
  isPageView,
  type LiveOptions,
  OTHER_ROUTE,
  type PageViewRow,
  type PageViewsMiddleware,
  type PageViewsOptions,
  type PageViewsStats,
  type PageViewTotals,
  type PeriodInput,
  pageViews,
  type RecordedView,
  type ReportQuery,
  TIME_ON_PAGE_BUCKET_EDGES_MS,
  type TimeOnPageBucket,
  type TopQuery,
  type TotalsQuery,
  UNMATCHED_ROUTE,
} from './page-views/index.js';
// Rate limiting (src/rate-limit)
export {
  DEFAULT_RATE_LIMIT,
  DEFAULT_RATE_LIMIT_OPTIONS,
  ipKey,
  MAX_LIMIT,
  MAX_LOG_LIMIT,
  MAX_PRECISION,
  normalizeIp,
  QUOTA_EXCEEDED_TYPE,
  type RateLimitAlgorithm,
  type RateLimitedHandler,
  type RateLimiter,
  type RateLimitHeaders,
  type RateLimitInfo,
  type RateLimitMiddleware,
  type RateLimitMinute,
  type RateLimitOptions,
  type RateLimitRule,
  type RateLimitRuleState,
  type RateLimitStats,
  rateLimit,
} from './rate-limit/index.js';
export type { RedisClient } from './redis/client.js';
export { type RedisErrorPolicy, RedisTimeoutError, RedisUnavailableError } from './redis/errors.js';

// Sessions (src/session)
export {
  type ClientSideCachingOptions,
  DEFAULT_SESSION_OPTIONS,
  type KeepOptions,
  type ListSessionsOptions,
  type RevokeAllOptions,
  type Session,
  type SessionAdmin,
  type SessionBind,
  type SessionCallback,
  type SessionCookie,
  type SessionCookieOptions,
  type SessionData,
  SessionError,
  type SessionErrorCode,
  type SessionInfo,
  type SessionMethods,
  type SessionMiddleware,
  type SessionOptions,
  type SessionRedisErrorPolicy,
  type SignInOptions,
  session,
} from './session/index.js';
