// Redis failures: the timeout and unavailable errors, the per-middleware policy, and the rate-limited reporter.
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/** Raised when Redis did not answer within the middleware's deadline. */
export class RedisTimeoutError extends Error {
  override readonly name = 'RedisTimeoutError';
  readonly code = 'ERR_REDIS_TIMEOUT';

  constructor(timeoutMs: number) {
    super(`Redis did not answer within ${timeoutMs} ms`);
  }
}

/**
 * Raised without asking Redis while a call on the same client that timed out or lost its connection has not
 * yet been followed by an answer from Redis: requests fail at once instead of each waiting for a timeout.
 */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
  readonly code = 'ERR_REDIS_UNAVAILABLE';

  constructor() {
    super('Redis is not answering; another call is checking whether it is back');
  }
}

/**
 * What a middleware does when Redis fails or times out: `'fail-open'` lets the request through without the
 * middleware's effect, `'fail-closed'` refuses it. Each middleware documents its default.
 */
export type RedisErrorPolicy = 'fail-open' | 'fail-closed';

/** A function that logs a Redis failure, at most once per interval so an outage does not flood the log. */
export type RedisErrorReporter = (error: unknown, source: string) => void;

/**
 * Returns a reporter that writes the first failure through `logger.warn` and then stays quiet for
 * `intervalMs`, counting what it suppressed and saying so with the next message.
 */
export function createErrorReporter(logger: Logger, intervalMs = 10_000): RedisErrorReporter {
  let quietUntil = 0;
  let suppressed = 0;
  return (error, source) => {
    const now = Date.now();
    if (now < quietUntil) {
      suppressed += 1;
      return;
    }
    quietUntil = now + intervalMs;
    const details: Record<string, unknown> = { source, error: errorMessage(error) };
    if (suppressed > 0) details.suppressed = suppressed;
    suppressed = 0;
    logger.warn(`Redis error in ${source}; applying its error policy`, details);
  };
}
