// Types of the response cache: the public ones, the request property it sets, and what its request path passes on.
import type { NextFunction, Request, Response } from 'express';

/** What the cache did with a request, also on `req.responseCache`. */
export type CacheOutcome = 'hit' | 'stale' | 'miss' | 'collapsed' | 'bypass' | 'error';

/** Counts of this process since the middleware was created (each instance of an app counts its own). */
export interface ResponseCacheStats {
  /** Answered from a fresh entry (including 304s). */
  hits: number;
  /** Answered from a stale entry (stale-while-revalidate or stale-if-error). */
  stale: number;
  /** Went to the handler: no usable entry, vary mismatch, uncacheable URL, or Redis unavailable. */
  misses: number;
  /** Answered from an entry another concurrent request filled (here or on another instance). */
  collapsed: number;
  /** Not handled by the cache: other methods, credentials, or a `key` function returning undefined. */
  bypass: number;
  /** Entries written to Redis (fills and refreshes). */
  stored: number;
  /** Redis calls that failed or timed out. */
  errors: number;
  /** (hits + stale + collapsed) / (hits + stale + collapsed + misses); 0 before any request. */
  hitRatio: number;
}

/** The counts behind {@link ResponseCacheStats}, kept by one middleware instance. */
export type CacheCounters = Omit<ResponseCacheStats, 'hitRatio'>;

/** One GET or HEAD the cache handles, from lookup to fill: what every step on its path needs. */
export interface CacheRequest {
  readonly req: Request;
  readonly res: Response;
  readonly next: NextFunction;
  /** Names its entry in Redis (see key.ts). */
  readonly hash: string;
  /** Its cache key before hashing. */
  readonly key: string;
}

declare global {
  namespace Express {
    interface Request {
      /** Set by `responseCache`: what it did with this request. */
      responseCache?: CacheOutcome;
    }
  }
}
