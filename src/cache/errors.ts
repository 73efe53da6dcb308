// The error the response cache passes to `next()` when Redis fails under `onRedisError: 'fail-closed'`.

/** Thrown to `next()` under `onRedisError: 'fail-closed'` when Redis cannot be reached. */
export class CacheUnavailableError extends Error {
  override readonly name = 'CacheUnavailableError';
  readonly code = 'ERR_CACHE_UNAVAILABLE';
  readonly status = 503;
  readonly statusCode = 503;
  readonly expose = true;

  constructor(cause: unknown) {
    super('The response cache is unavailable', { cause });
  }
}
