// Sign-in limits that count failed attempts only: per account and per client IP, checked before the password.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKey, type RateLimitMiddleware } from 'express-redis-kit';

/** Says why a sign-in was refused and when to try again. */
export type SignInRefused = (req: Request, res: Response, retryAfterMs: number) => void | Promise<void>;

export interface SignInLimit {
  /** In front of the sign-in handler: refuses the attempt while the account or the IP is locked. */
  check: RequestHandler;
  /** Counts a failed attempt against the account and the IP. A correct password counts nothing. */
  failed(req: Request): Promise<void>;
}

/** The account a sign-in names, as the users are stored: trimmed and lower-case. */
export function usernameOf(req: Request): string {
  return String(req.body?.username ?? '')
    .trim()
    .toLowerCase();
}

/**
 * `perAccount` is keyed by the username over every IP (five wrong passwords lock the account, whoever typed
 * them); `perIp` by the client IP over every account (one address cannot try many accounts).
 */
export function signInLimit(
  perAccount: RateLimitMiddleware,
  perIp: RateLimitMiddleware,
  refused: SignInRefused,
  log: (line: string) => void,
): SignInLimit {
  const limits = (req: Request) =>
    [
      [perAccount, `account:${usernameOf(req)}`],
      [perIp, ipKey(req)],
    ] as const;

  return {
    async check(req: Request, res: Response, next: NextFunction) {
      let wait = 0;
      try {
        for (const [limiter, key] of limits(req)) {
          const state = await limiter.peek(key);
          if (!state.allowed) {
            // Counted as a block in the limiter's stats (a refused consume records nothing else).
            await limiter.consume(key);
            wait = Math.max(wait, state.retryAfterMs ?? 0);
          }
        }
      } catch (error) {
        // Like the limiters themselves (fail-open): a Redis outage does not stop people signing in.
        log(`warning: sign-in limit not checked: ${(error as Error).message}`);
      }
      if (wait > 0) {
        res.set('Retry-After', String(Math.ceil(wait / 1000)));
        await refused(req, res, wait);
        return;
      }
      next();
    },
    async failed(req: Request) {
      try {
        await Promise.all(limits(req).map(([limiter, key]) => limiter.consume(key)));
      } catch (error) {
        log(`warning: failed sign-in not counted: ${(error as Error).message}`);
      }
    },
  };
}
