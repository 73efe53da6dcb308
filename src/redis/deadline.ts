// Bounds how long a request may wait for Redis, so a paused or unreachable server never hangs a request.
import { clientCommandTimeout, type RedisClient } from './client.js';
import { parseDuration } from './duration.js';
import { RedisTimeoutError } from './errors.js';

/** Default deadline for one Redis call made on a request's behalf, when the client sets no `commandTimeout`. */
export const DEFAULT_REDIS_TIMEOUT_MS = 1_000;

/**
 * Resolves a middleware's `timeout` option: an explicit value wins; otherwise the client's own
 * `commandTimeout` applies (and we add no timer of our own: 0); otherwise {@link DEFAULT_REDIS_TIMEOUT_MS}.
 */
export function resolveTimeout(client: RedisClient, option: unknown, where: string): number {
  if (option !== undefined) {
    const ms = parseDuration(option, `${where} timeout`);
    const own = clientCommandTimeout(client);
    return own !== undefined && own <= ms ? 0 : ms;
  }
  return clientCommandTimeout(client) === undefined ? DEFAULT_REDIS_TIMEOUT_MS : 0;
}

/**
 * Settles with `promise`, or rejects with a `RedisTimeoutError` after `timeoutMs` (0 = no timer: the client
 * enforces its own timeout). A late rejection of `promise` is absorbed, so it never becomes unhandled.
 */
export function withDeadline<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  if (timeoutMs <= 0) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new RedisTimeoutError(timeoutMs)), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
