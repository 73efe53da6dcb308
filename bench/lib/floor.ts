// Reference variants ("floor" rows): the least a middleware of each kind can do, to measure ours against.
import express, { type Express, type RequestHandler } from 'express';
import { ioredis } from './clients.js';
import type { Variant, VariantContext } from './types.js';

/**
 * A middleware that makes one Redis script call per request and does nothing else: what a single round trip
 * through ioredis costs on this machine, the floor for any Redis-backed check.
 */
export function floorVariant(routes: (app: Express, middleware: RequestHandler) => Express): Variant {
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
export function finishListenerFloorVariant(
  routes: (app: Express, middleware: RequestHandler) => Express,
): Variant {
  return {
    name: 'floor: a middleware that waits for each response to finish, no other work',
    kind: 'reference',
    app() {
      const middleware: RequestHandler = (_req, res, next) => {
        res.on('finish', ignoreFinish);
        next();
      };
      return routes(express(), middleware);
    },
  };
}

/**
 * A middleware that only passes each request on: what one more layer in Express's router costs before the
 * middleware does anything (the part of {@link finishListenerFloorVariant} that is not its listener).
 */
export function passThroughVariant(routes: (app: Express, middleware: RequestHandler) => Express): Variant {
  return {
    name: 'floor: a middleware that only calls next(), no other work',
    kind: 'reference',
    app() {
      const middleware: RequestHandler = (_req, _res, next) => {
        next();
      };
      return routes(express(), middleware);
    },
  };
}

/** The cost measured is adding and calling a listener, not what the listener does. */
function ignoreFinish(): void {
  // nothing
}
