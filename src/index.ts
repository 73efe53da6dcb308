// The public entry of express-redis-kit: named exports only.

export {
  type CacheOutcome,
  CacheUnavailableError,
  DEFAULT_RESPONSE_CACHE_OPTIONS,
  type ResponseCacheMiddleware,
  type ResponseCacheOptions,
  type ResponseCacheStats,
  responseCache,
} from './cache/index.js';
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
