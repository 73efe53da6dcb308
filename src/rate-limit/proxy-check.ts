// One-time advice about the client IP behind proxies, for limiters keyed by the default `ipKey`.
import type { Request } from 'express';
import type { Logger } from '../core/index.js';

/**
 * Warns on the first request that shows a problem: `trust proxy: true` lets any client choose its IP with
 * X-Forwarded-For, and an X-Forwarded-For header with `trust proxy` off means every client behind the proxy
 * shares one limit. Returns whether to keep checking: only while `trust proxy` is off and no proxy header
 * has been seen.
 */
export function checkProxy(req: Request, name: string, logger: Logger): boolean {
  const trust = req.app.get('trust proxy') as unknown;
  if (trust === true) {
    logger.warn(
      `rateLimit '${name}': 'trust proxy' is true, so any client can pick its own IP with ` +
        'X-Forwarded-For and dodge the limit. Set it to the number of proxies in front of the app, e.g. ' +
        "app.set('trust proxy', 1).",
    );
    return false;
  }
  if (trust !== false && trust !== undefined && trust !== 0) return false;
  if (req.headers['x-forwarded-for'] === undefined) return true;
  logger.warn(
    `rateLimit '${name}': requests carry X-Forwarded-For but 'trust proxy' is off, so every ` +
      "client behind the proxy shares one limit. Set app.set('trust proxy', 1) (the number of proxies).",
  );
  return false;
}
