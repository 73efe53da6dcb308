// The request path: the request's key and cost, one script call, then headers and next() or the refusal.
import type { NextFunction, Request, Response } from 'express';
import { errorMessage, requestValue } from '../core/index.js';
import { keyPart } from '../redis/index.js';
import { headerWriter } from './headers.js';
import type { Limiter } from './limiter.js';
import { checkProxy } from './proxy-check.js';
import { defaultOnLimited, sendUnavailable } from './respond.js';
import type { RateLimitInfo } from './types.js';

/** The Express handler of a limiter, before its admin methods are attached. */
export type RequestHandler = (req: Request, res: Response, next: NextFunction) => Promise<void>;

/** Marks an input the options' functions have not been asked for yet. */
const NOT_ASKED: unique symbol = Symbol('not asked');

/** What the handler returns on its synchronous path (the decision comes later, through callbacks). */
const DONE: Promise<void> = Promise.resolve();

/**
 * Builds the handler. It stays synchronous up to the script call while `skip`, `key` and `cost` answer
 * synchronously (the common case: no promise of its own before the script's), and continues in an async
 * function from the first of them that returns a promise.
 */
export function requestHandler(limiter: Limiter): RequestHandler {
  const { config, source } = limiter;
  const { skip, key: keyOf, name, logger } = config;
  const costOf = typeof config.cost === 'function' ? config.cost : undefined;
  const fixedCost = typeof config.cost === 'number' ? config.cost : 0;
  const writeHeaders = headerWriter(config.headers, config.rules);
  const onLimited = config.onLimited ?? defaultOnLimited;
  const failOpen = config.onRedisError === 'fail-open';
  let proxyCheck = config.defaultKey;
  const reqRateLimit = requestValue<RateLimitInfo>('rateLimit');

  const storedKey = (key: unknown): string => {
    if (typeof key !== 'string') {
      throw new TypeError(`${source}: the key function returned ${typeof key}, not a string.`);
    }
    return keyPart(key);
  };
  const validCost = (units: unknown): number => {
    if (!Number.isInteger(units) || (units as number) < 0) {
      throw new TypeError(`${source}: the cost function returned ${String(units)}, not an integer >= 0.`);
    }
    return units as number;
  };

  const respond = (req: Request, res: Response, next: NextFunction, info: RateLimitInfo) => {
    reqRateLimit.set(req, info);
    limiter.count(info);
    if (!res.headersSent) writeHeaders(res, info);
    if (info.allowed) {
      next();
      return;
    }
    void refuse(req, res, next, info);
  };
  const refuse = async (req: Request, res: Response, next: NextFunction, info: RateLimitInfo) => {
    try {
      await onLimited(req, res, next, info);
    } catch (error) {
      next(error);
    }
  };
  const fail = (error: unknown, req: Request, res: Response, next: NextFunction): void => {
    limiter.report(error);
    if (failOpen) next();
    else sendUnavailable(req, res);
  };
  /** Runs `step` from a Redis reply's callback, where nothing may throw: a throw is logged, not lost. */
  const guarded = (step: () => void): void => {
    try {
      step();
    } catch (error) {
      logger.error(`${source}: going on with the request after the rate-limit decision threw`, {
        error: errorMessage(error),
      });
    }
  };
  const limit = (req: Request, res: Response, next: NextFunction, stored: string, units: number): void =>
    limiter.send(
      stored,
      units,
      true,
      (reply) => guarded(() => respond(req, res, next, limiter.decide(reply, stored, units))),
      (error) => guarded(() => fail(error, req, res, next)),
    );

  /** The async continuation: awaits what is pending and asks for the rest, in the synchronous path's order. */
  const limitLater = async (
    req: Request,
    res: Response,
    next: NextFunction,
    skipped: unknown,
    key: unknown,
    cost: unknown,
  ): Promise<void> => {
    let stored: string;
    let units: number;
    try {
      if (await skipped) {
        next();
        return;
      }
      if (key === NOT_ASKED) {
        if (proxyCheck) proxyCheck = checkProxy(req, name, logger);
        key = keyOf(req);
      }
      stored = storedKey(await key);
      if (cost === NOT_ASKED) cost = costOf === undefined ? fixedCost : costOf(req);
      units = validCost(await cost);
    } catch (error) {
      next(error);
      return;
    }
    limit(req, res, next, stored, units);
  };

  return function rateLimitMiddleware(req, res, next) {
    let stored: string;
    let units: number;
    try {
      if (skip !== undefined) {
        const skipped = skip(req);
        if (typeof skipped !== 'boolean') return limitLater(req, res, next, skipped, NOT_ASKED, NOT_ASKED);
        if (skipped) {
          next();
          return DONE;
        }
      }
      if (proxyCheck) proxyCheck = checkProxy(req, name, logger);
      const key = keyOf(req);
      if (typeof key !== 'string') return limitLater(req, res, next, false, key, NOT_ASKED);
      const cost = costOf === undefined ? fixedCost : costOf(req);
      if (typeof cost !== 'number') return limitLater(req, res, next, false, key, cost);
      stored = keyPart(key);
      units = validCost(cost);
    } catch (error) {
      next(error);
      return DONE;
    }
    limit(req, res, next, stored, units);
    return DONE;
  };
}
