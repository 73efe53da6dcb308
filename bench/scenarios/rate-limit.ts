// Rate-limit scenarios: 10,000 clients well under their limit, and one client under 1,000,000 per hour.
import express, { type Express, type RequestHandler } from 'express';
import { rateLimit as expressRateLimit } from 'express-rate-limit';
import { type RateLimitAlgorithm, rateLimit } from 'express-redis-kit';
import type { Redis } from 'ioredis';
import { RedisStore } from 'rate-limit-redis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { ioredis } from '../lib/clients.js';
import { floorVariant } from '../lib/floor.js';
import type { Scenario, Variant } from '../lib/types.js';

export const LIMIT = 1_000;
export const WINDOW_MS = 60_000;
export const CLIENT_HEADER = 'x-client-id';

export const clientKey = (req: express.Request): string => String(req.headers[CLIENT_HEADER] ?? 'none');

export function apiRoutes(app: Express, limiter?: RequestHandler): Express {
  const handlers: RequestHandler[] = limiter ? [limiter] : [];
  app.get('/api/ping', ...handlers, (_req, res) => {
    res.json({ ok: true });
  });
  return app;
}

const bare: Variant = { name: 'bare express', kind: 'bare', app: () => apiRoutes(express()) };

/** Our limiter with `algorithm` (the default one when undefined), `limit` per `windowMs`. */
function oursVariant(
  algorithm: RateLimitAlgorithm | undefined,
  limit = LIMIT,
  windowMs = WINDOW_MS,
): Variant {
  return {
    name: `express-redis-kit rateLimit${algorithm ? ` (${algorithm})` : ''}`,
    kind: 'ours',
    app({ redisUrl, prefix }) {
      const limiter = rateLimit({
        redis: ioredis(redisUrl),
        name: 'api',
        limit,
        window: windowMs,
        key: clientKey,
        prefix,
        ...(algorithm ? { algorithm } : {}),
      });
      return apiRoutes(express(), limiter);
    },
  };
}

/** express-rate-limit with rate-limit-redis on ioredis, configured like ours (also used by the full stack). */
export function expressRateLimitRedis(
  client: Redis,
  prefix: string,
  limit = LIMIT,
  windowMs = WINDOW_MS,
): RequestHandler {
  return expressRateLimit({
    windowMs,
    limit,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: clientKey,
    store: new RedisStore({
      prefix,
      sendCommand: (command: string, ...args: string[]) =>
        client.call(command, ...args) as Promise<number | string>,
    }),
  });
}

function erlVariant(limit = LIMIT, windowMs = WINDOW_MS): Variant {
  return {
    name: 'express-rate-limit + rate-limit-redis',
    kind: 'peer',
    app({ redisUrl, prefix }) {
      return apiRoutes(express(), expressRateLimitRedis(ioredis(redisUrl), prefix, limit, windowMs));
    },
  };
}

function rlfVariant(limit = LIMIT, windowMs = WINDOW_MS): Variant {
  return {
    name: 'rate-limiter-flexible',
    kind: 'peer',
    app({ redisUrl, prefix }) {
      const limiter = new RateLimiterRedis({
        storeClient: ioredis(redisUrl),
        keyPrefix: prefix,
        points: limit,
        duration: windowMs / 1000,
      });
      const middleware: RequestHandler = (req, res, next) => {
        limiter.consume(clientKey(req)).then(
          (result) => {
            res.setHeader(
              'RateLimit',
              `"api";r=${result.remainingPoints};t=${Math.ceil(result.msBeforeNext / 1000)}`,
            );
            next();
          },
          (rejection: unknown) => {
            if (!(rejection instanceof RateLimiterRes)) return next(rejection);
            res.setHeader('Retry-After', String(Math.ceil(rejection.msBeforeNext / 1000)));
            res.status(429).send('Too Many Requests');
          },
        );
      };
      return apiRoutes(express(), middleware);
    },
  };
}

export const rateLimitScenario: Scenario = {
  id: 'rate-limit',
  title: 'rate limit, under the limit (10,000 clients)',
  path: '/api/ping',
  goal: 0.9,
  peerGoal: 1.0,
  variants: [
    bare,
    oursVariant(undefined),
    oursVariant('sliding-window'),
    oursVariant('gcra'),
    erlVariant(),
    rlfVariant(),
    floorVariant(apiRoutes),
  ],
  rotatingHeader: { name: CLIENT_HEADER, prefix: 'client-', count: 10_000 },
};

/** A partner quota: 1,000,000 per hour. The sliding log cannot hold it, so it has no row here. */
export const BIG_LIMIT = 1_000_000;
const HOUR_MS = 3_600_000;

/** Every request from one client (no client header), far below its 1,000,000 per hour. */
export const rateLimitOneKeyScenario: Scenario = {
  id: 'rate-limit-one-key',
  title: 'rate limit, one client at 1,000,000 per hour',
  path: '/api/ping',
  goal: 0.9,
  peerGoal: 1.0,
  variants: [
    bare,
    oursVariant('sliding-window', BIG_LIMIT, HOUR_MS),
    oursVariant('gcra', BIG_LIMIT, HOUR_MS),
    erlVariant(BIG_LIMIT, HOUR_MS),
    rlfVariant(BIG_LIMIT, HOUR_MS),
    floorVariant(apiRoutes),
  ],
};
