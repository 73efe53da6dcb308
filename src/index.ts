// The public entry of express-redis-kit: named exports only.
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
