// The public entry of express-redis-kit: named exports only.

// Rate limiting (src/rate-limit)
export {
  DEFAULT_RATE_LIMIT,
  ipKey,
  MAX_LOG_LIMIT,
  normalizeIp,
  QUOTA_EXCEEDED_TYPE,
  type RateLimitedHandler,
  type RateLimiter,
  type RateLimitHeaders,
  type RateLimitInfo,
  type RateLimitMinute,
  type RateLimitOptions,
  type RateLimitRule,
  type RateLimitRuleState,
  type RateLimitStats,
  rateLimit,
} from './rate-limit/index.js';
export type { RedisClient } from './redis/client.js';
export type { Duration } from './redis/duration.js';
export { parseDuration } from './redis/duration.js';
export {
  ConfigError,
  consoleLogger,
  type Logger,
  type RedisErrorPolicy,
  RedisTimeoutError,
} from './redis/errors.js';
export {
  DEFAULT_SESSION_OPTIONS,
  type KeepOptions,
  type ListSessionsOptions,
  type RevokeAllOptions,
  type Session,
  type SessionAdmin,
  type SessionBind,
  type SessionCookieOptions,
  type SessionData,
  SessionError,
  type SessionErrorCode,
  type SessionInfo,
  type SessionMethods,
  type SessionMiddleware,
  type SessionOptions,
  type SessionRedisErrorPolicy,
  session,
} from './session/index.js';
