// Error types, the logger hook and the Redis-error policy shared by every middleware.

/**
 * Thrown at app start when a middleware is misconfigured. `code` is stable and documented in the README, so
 * tests and error handlers can match on it instead of on the message.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

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

/**
 * The logger hook. `console` fits, and so do pino or winston loggers. Messages are short sentences; `details`
 * carries structured context such as the middleware name and the error.
 */
export interface Logger {
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}

/** The default logger: `console`, with the package name in front so the source is obvious. */
export const consoleLogger: Logger = {
  warn: (message, details) => console.warn(`[express-redis-kit] ${message}`, details ?? ''),
  error: (message, details) => console.error(`[express-redis-kit] ${message}`, details ?? ''),
};

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

/** The message of an unknown thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
