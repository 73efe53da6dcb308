// The Cache-Status field (RFC 9211) the cache sends: how each answer came about.
import type { DecodedEntry } from './entry.js';

/** The name this cache gives itself in `Cache-Status`. */
export const CACHE_NAME = 'express-redis-kit';

/** `Cache-Status` values of answers that went to the handler (undefined when `cacheStatus` is off). */
export interface ForwardStatus {
  readonly bypass: string | undefined;
  readonly method: string | undefined;
  readonly miss: string | undefined;
  readonly uncacheable: string | undefined;
  readonly varyMiss: string | undefined;
  readonly redisError: string | undefined;
  readonly collapsed: string | undefined;
}

/** The values of {@link ForwardStatus}, built once per cache. */
export function forwardStatus(enabled: boolean): ForwardStatus {
  const s = (text: string) => (enabled ? `${CACHE_NAME}; ${text}` : undefined);
  return {
    bypass: s('fwd=bypass'),
    method: s('fwd=method'),
    miss: s('fwd=miss'),
    uncacheable: s('fwd=miss; detail=uncacheable'),
    varyMiss: s('fwd=vary-miss'),
    redisError: s('fwd=miss; detail=redis-error'),
    collapsed: s('fwd=miss; collapsed'),
  };
}

/** An entry served fresh. */
export function hitStatus(entry: DecodedEntry, now: number): string {
  return `${CACHE_NAME}; hit; ttl=${ttlSeconds(entry, now)}`;
}

/** An entry served stale while one request refreshes it. */
export function staleWhileRevalidateStatus(entry: DecodedEntry, now: number): string {
  return `${CACHE_NAME}; fwd=stale; ttl=${ttlSeconds(entry, now)}; detail=stale-while-revalidate`;
}

/** An entry served stale instead of the handler's `status` (a 5xx). */
export function staleIfErrorStatus(entry: DecodedEntry, now: number, status: number): string {
  return `${CACHE_NAME}; fwd=stale; fwd-status=${status}; ttl=${ttlSeconds(entry, now)}; detail=stale-if-error`;
}

/** Seconds of freshness left (negative once stale). */
function ttlSeconds(entry: DecodedEntry, now: number): number {
  return Math.floor((entry.freshUntil - now) / 1_000);
}
