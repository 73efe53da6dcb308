// A reference variant: a middleware that makes one Redis script call per request and does nothing else. It
// shows what a single round trip through ioredis costs on this machine, the floor for any Redis-backed check.
import express, { type Express, type RequestHandler } from 'express';
import { ioredis } from './clients.js';
import type { Variant, VariantContext } from './types.js';

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
