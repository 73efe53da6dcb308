// The error model shared by every middleware: configuration errors at app start, and the message of anything thrown.

/** The stable codes of {@link ConfigError}, each with a section in docs/errors.md. */
export type ConfigErrorCode =
  // Any middleware: the options object and its values
  | 'ERR_OPTIONS_INVALID'
  | 'ERR_OPTION_UNKNOWN'
  | 'ERR_OPTION_RANGE'
  | 'ERR_OPTION_VALUE'
  | 'ERR_DURATION_INVALID'
  | 'ERR_PREFIX_INVALID'
  | 'ERR_FACTORY_NOT_CALLED'
  | 'ERR_CREATED_IN_REQUEST_HANDLER'
  // The Redis client and its scripts
  | 'ERR_REDIS_CLIENT'
  | 'ERR_SCRIPT_NAME'
  // session()
  | 'ERR_SESSION_SECRET'
  | 'ERR_SESSION_COOKIE'
  // rateLimit()
  | 'ERR_RATE_LIMIT_NAME'
  | 'ERR_RATE_LIMIT_LIMIT'
  | 'ERR_RATE_LIMIT_WINDOW'
  | 'ERR_RATE_LIMIT_TOO_LARGE'
  | 'ERR_RATE_LIMIT_ALGORITHM'
  | 'ERR_RATE_LIMIT_RULES'
  | 'ERR_RATE_LIMIT_COST'
  | 'ERR_RATE_LIMIT_STATS_DISABLED'
  // pageViews()
  | 'ERR_PV_TIME_ZONE'
  | 'ERR_PV_GRANULARITY'
  | 'ERR_PV_SECRET'
  | 'ERR_PV_BEACON_PATH'
  // responseCache()
  | 'ERR_CACHE_NAME_INVALID'
  | 'ERR_CACHE_QUERY_INVALID'
  | 'ERR_CACHE_STATUS_INVALID'
  | 'ERR_CACHE_VARY_INVALID'
  | 'ERR_CACHE_TAGS_INVALID'
  | 'ERR_CACHE_COOKIES_INVALID';

/**
 * Thrown at app start when a middleware is misconfigured (and by admin calls given bad arguments). `code` is
 * stable and documented in docs/errors.md, so tests and error handlers can match on it instead of the message.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code: ConfigErrorCode;

  constructor(code: ConfigErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** The message of an unknown thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The one shape of the errors a middleware passes to `next(err)` when Redis fails under
 * `onRedisError: 'fail-closed'` (`SessionError` with `ERR_SESSION_STORE`, `CacheUnavailableError`): Express's
 * default handler and http-errors-style handlers answer 503 from `status`/`statusCode`, `expose: false` keeps
 * the message (which may name Redis internals) out of the response, and `cause` holds the Redis error.
 */
export interface UnavailableError extends Error {
  readonly code: string;
  readonly status: 503;
  readonly statusCode: 503;
  readonly expose: false;
  readonly cause: unknown;
}
