// Bounds how long a request may wait for Redis, so a paused or unreachable server never hangs a request.
import { clientCommandTimeout, type RedisClient } from './client.js';
import { parseDuration } from './duration.js';
import { RedisTimeoutError } from './errors.js';

/** Default deadline for one Redis call made on a request's behalf, when the client sets no `commandTimeout`. */
export const DEFAULT_REDIS_TIMEOUT_MS = 1_000;

/**
 * Resolves a middleware's `timeout` option: an explicit value wins; otherwise the client's own
 * `commandTimeout` applies (and we add no timer of our own: 0); otherwise {@link DEFAULT_REDIS_TIMEOUT_MS}.
 * A client with `enableAutoPipelining` always gets our own timer: its command timers start only when a
 * command's batch is sent, and a batch waits for the one before it, so against a frozen server a command would
 * otherwise wait up to twice the client's timeout.
 */
export function resolveTimeout(client: RedisClient, option: unknown, where: string): number {
  const own = clientCommandTimeout(client);
  const lateTimers = autoPipelines(client);
  if (option !== undefined) {
    const ms = parseDuration(option, `${where} timeout`);
    return own !== undefined && own <= ms && !lateTimers ? 0 : ms;
  }
  if (own === undefined) return DEFAULT_REDIS_TIMEOUT_MS;
  return lateTimers ? own : 0;
}

function autoPipelines(client: RedisClient): boolean {
  return (client.options as { enableAutoPipelining?: boolean }).enableAutoPipelining === true;
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
