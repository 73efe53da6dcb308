// The error the response cache passes to `next()` when Redis fails under `onRedisError: 'fail-closed'`.
import type { UnavailableError } from '../core/index.js';

/** Passed to `next()` under `onRedisError: 'fail-closed'` when Redis cannot be reached; `cause` holds why. */
export class CacheUnavailableError extends Error implements UnavailableError {
  override readonly name = 'CacheUnavailableError';
  readonly code = 'ERR_CACHE_UNAVAILABLE';
  readonly status = 503;
  readonly statusCode = 503;
  /** The message says nothing about Redis, but an error handler should still answer with its own text. */
  readonly expose = false;
  declare readonly cause: unknown;

  constructor(cause: unknown) {
    super('The response cache is unavailable', { cause });
  }
}
