// Rate-limit scenario: a limited API route whose 10,000 clients all stay well under their limit.
import express, { type Express, type RequestHandler } from 'express';
import { rateLimit as expressRateLimit } from 'express-rate-limit';
import { rateLimit } from 'express-redis-kit';
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

const ours: Variant = {
  name: 'express-redis-kit rateLimit',
  kind: 'ours',
  app({ redisUrl, prefix }) {
    const limiter = rateLimit({
      redis: ioredis(redisUrl),
      name: 'api',
      limit: LIMIT,
      window: WINDOW_MS,
      key: clientKey,
      prefix,
    });
    return apiRoutes(express(), limiter);
  },
};

/** express-rate-limit with rate-limit-redis on ioredis, configured like ours (also used by the full stack). */
export function expressRateLimitRedis(client: Redis, prefix: string): RequestHandler {
  return expressRateLimit({
    windowMs: WINDOW_MS,
    limit: LIMIT,
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

const erl: Variant = {
  name: 'express-rate-limit + rate-limit-redis',
  kind: 'peer',
  app({ redisUrl, prefix }) {
    return apiRoutes(express(), expressRateLimitRedis(ioredis(redisUrl), prefix));
  },
};

const rlf: Variant = {
  name: 'rate-limiter-flexible',
  kind: 'peer',
  app({ redisUrl, prefix }) {
    const limiter = new RateLimiterRedis({
      storeClient: ioredis(redisUrl),
      keyPrefix: prefix,
      points: LIMIT,
      duration: WINDOW_MS / 1000,
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

export const rateLimitScenario: Scenario = {
  id: 'rate-limit',
  title: 'rate limit, under the limit (10,000 clients)',
  path: '/api/ping',
  target: 0.85,
  variants: [bare, ours, erl, rlf, floorVariant(apiRoutes)],
  rotatingHeader: { name: CLIENT_HEADER, prefix: 'client-', count: 10_000 },
};
