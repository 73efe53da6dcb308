// Public types of the rate limiter: the middleware and what `req.rateLimit`, `peek`, `consume` and `stats` return.
import type { NextFunction, Request, Response } from 'express';

/** The middleware `rateLimit()` returns, with its admin methods. */
export interface RateLimitMiddleware {
  (req: Request, res: Response, next: NextFunction): Promise<void>;
  /** What a request of `cost` units would get now, without recording anything. */
  peek(key: string, cost?: number): Promise<RateLimitInfo>;
  /**
   * Counts `cost` units for `key` outside a request (e.g. only failed sign-ins), with the same rules.
   * Resolves with the decision; nothing is recorded when it is refused.
   */
  consume(key: string, cost?: number): Promise<RateLimitInfo>;
  /** Forgets every admitted request of `key`. Resolves true when there was something to forget. */
  reset(key: string): Promise<boolean>;
  /** Allowed/blocked counts per minute over the last hour, over all instances, and the most blocked keys. */
  stats(options?: { top?: number }): Promise<RateLimitStats>;
  /** Writes pending stats and stops their timer; call it when shutting down. */
  close(): Promise<void>;
}

/** @deprecated use {@link RateLimitMiddleware} */
export type RateLimiter = RateLimitMiddleware;

/** The state of one rule (the main `limit`/`window` pair or one of `rules`) after a request. */
export interface RateLimitRuleState {
  /** The policy name sent in the `RateLimit` headers: the limiter's `name`, or the rule's own name. */
  readonly name: string;
  /** Most units admitted in any trailing window. */
  readonly limit: number;
  /** The window length in milliseconds. */
  readonly windowMs: number;
  /** Units this rule would still admit right now (0 when full). */
  readonly remaining: number;
  /** Milliseconds until the oldest unit counted by this rule leaves its window (0 when none is counted). */
  readonly resetMs: number;
  /**
   * Set when this rule refused the request: milliseconds until enough units leave its window for the
   * request to fit. `Infinity` when the request costs more than the rule's limit and can never fit.
   */
  readonly retryAfterMs?: number;
}

/**
 * The limiter's decision for one request (`req.rateLimit`), or for one `peek`/`consume` call. The top-level
 * `name`, `limit`, `remaining` and `resetMs` describe the binding rule: the refusing rule with the longest
 * wait when refused, otherwise the rule with the fewest units left.
 */
export interface RateLimitInfo {
  /** The binding rule's policy name. */
  readonly name: string;
  /** The binding rule's limit. */
  readonly limit: number;
  /** Units left under the binding rule (the smallest `remaining` of all rules). */
  readonly remaining: number;
  /** Milliseconds until the binding rule's oldest counted unit leaves its window. */
  readonly resetMs: number;
  /**
   * Set when the request was refused: milliseconds until it would be admitted (the longest wait over the
   * refusing rules). `Infinity` when its cost exceeds a rule's limit, so it can never be admitted.
   */
  readonly retryAfterMs?: number;
  /** True when the request was admitted (and recorded against every rule). */
  readonly allowed: boolean;
  /** The client key, in the form stored in Redis (long or unusual keys are hashed: `#<sha256>`). */
  readonly key: string;
  /** The units this request costs. */
  readonly cost: number;
  /** Redis server time of the decision, in milliseconds since the epoch. */
  readonly now: number;
  /** Every rule's state, the main rule first, in the order of the options. */
  readonly rules: readonly RateLimitRuleState[];
}

/** Allowed and blocked requests in one minute. */
export interface RateLimitMinute {
  /** Start of the minute, in milliseconds since the epoch. */
  readonly start: number;
  readonly allowed: number;
  readonly blocked: number;
}

/** What `limiter.stats()` returns: the last hour, per minute, over every app instance sharing the Redis. */
export interface RateLimitStats {
  /** The limiter's name. */
  readonly name: string;
  /** 60 entries, oldest first; the last one is the current minute. */
  readonly minutes: readonly RateLimitMinute[];
  /** Sums over `minutes`. */
  readonly allowed: number;
  readonly blocked: number;
  /** The keys refused most often in the hour, most refused first (stored form, see `RateLimitInfo.key`). */
  readonly topBlocked: readonly { readonly key: string; readonly blocked: number }[];
}

declare global {
  namespace Express {
    interface Request {
      /** Set by `rateLimit()` once it has decided (absent when skipped or when Redis failed open). */
      rateLimit?: RateLimitInfo;
    }
  }
}
