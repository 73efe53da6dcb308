// Reference variants ("floor" rows): the least a middleware of each kind can do, to measure ours against.
import express, { type Express, type RequestHandler } from 'express';
import { ioredis } from './clients.js';
import type { Variant, VariantContext } from './types.js';

/** How a scenario mounts a reference middleware on a fresh app, in front of its routes. */
type Routes = (app: Express, middleware: RequestHandler) => Express;

/**
 * A middleware that makes one Redis script call per request and does nothing else: what a single round trip
 * through ioredis costs on this machine, the floor for any Redis-backed check.
 */
export function floorVariant(routes: Routes): Variant {
  return {
    name: 'floor: one Redis script call per request, no other work',
    kind: 'reference',
    app({ redisUrl, prefix }: VariantContext) {
      const redis = ioredis(redisUrl);
      redis.defineCommand('benchFloor', { numberOfKeys: 1, lua: "return redis.call('INCR', KEYS[1])" });
      const call = (redis as unknown as { benchFloor(key: string): Promise<number> }).benchFloor.bind(redis);
      const key = `${prefix}floor`;
      const middleware: RequestHandler = (_req, _res, next) => {
        call(key).then(() => next(), next);
      };
      return routes(express(), middleware);
    },
  };
}

/**
 * A middleware that waits for each response to finish and does nothing else: the floor for anything that counts
 * finished responses, as page views do. It pays for one more layer in Express's router and one `finish`
 * listener, and makes no Redis call.
 */
export function finishListenerFloorVariant(routes: Routes): Variant {
  return middlewareOnlyVariant(
    'floor: a middleware that waits for each response to finish, no other work',
    (_req, res, next) => {
      res.on('finish', ignoreFinish);
      next();
    },
    routes,
  );
}

/**
 * A middleware that only passes each request on: what one more layer in Express's router costs before the
 * middleware does anything (the part of {@link finishListenerFloorVariant} that is not its listener).
 */
export function passThroughVariant(routes: Routes): Variant {
  return middlewareOnlyVariant(
    'floor: a middleware that only calls next(), no other work',
    (_req, _res, next) => {
      next();
    },
    routes,
  );
}

/** A reference variant: the scenario's routes behind `middleware` alone, with no Redis client. */
function middlewareOnlyVariant(name: string, middleware: RequestHandler, routes: Routes): Variant {
  return { name, kind: 'reference', app: () => routes(express(), middleware) };
}

/** The cost measured is adding and calling a listener, not what the listener does. */
function ignoreFinish(): void {
  // nothing
}
