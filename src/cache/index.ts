// The response cache middleware: whole responses in Redis, safe by default, coalesced, with tag invalidation.
import type { RequestHandler } from 'express';
import { assertNotInRequestHandler } from '../core/index.js';
import { CacheAdmin } from './admin.js';
import { CacheEngine } from './engine.js';
import { type ResponseCacheOptions, resolveOptions } from './options.js';
import { validateTags } from './tags.js';
import type { ResponseCacheStats } from './types.js';

export { CacheUnavailableError } from './errors.js';
export {
  DEFAULT_RESPONSE_CACHE_OPTIONS,
  type ResponseCacheClientSideCaching,
  type ResponseCacheOptions,
} from './options.js';
export type { CacheOutcome, ResponseCacheStats } from './types.js';

/** The middleware `responseCache()` returns, with its admin methods. */
export interface ResponseCacheMiddleware extends RequestHandler {
  /**
   * Removes every entry carrying any of `tags`, for every instance at once; a render that began before this
   * call is not stored after it. Resolves with the number of entries removed.
   */
  invalidate(tags: string | readonly string[]): Promise<number>;
  /** Removes this cache's entries, tag sets and locks (SCAN + UNLINK on every master); resolves with the count. */
  clear(): Promise<number>;
  /** Counters of this process since creation. */
  stats(): ResponseCacheStats;
  /**
   * Closes the two connections `clientSideCaching` opens (nothing to close without it). The client passed as
   * `redis` stays yours to close.
   */
  close(): Promise<void>;
}

/**
 * Caches whole GET responses in Redis: one GET per hit, safe defaults (no Set-Cookie, private or
 * credentialed responses), `Cache-Status`/`Age`/ETag/304, coalesced misses across instances,
 * stale-while-revalidate and stale-if-error, tag invalidation that works on Redis Cluster.
 *
 * @example
 * const productCache = responseCache({ redis, name: 'products', ttl: '5m', staleWhileRevalidate: '1m',
 *   tags: (req) => [`product:${req.params.id}`] });
 * app.get('/products/:id', productCache, showProduct);
 * app.post('/products/:id/stock', async (req, res) => {
 *   await updateStock(req.params.id, req.body);
 *   await productCache.invalidate(`product:${req.params.id}`);
 *   res.sendStatus(204);
 * });
 */
export function responseCache(options: ResponseCacheOptions): ResponseCacheMiddleware {
  // Options first: `app.use(responseCache)` (without the call) runs inside a request and must say so.
  const config = resolveOptions(options);
  assertNotInRequestHandler('responseCache');
  const engine = new CacheEngine(config);
  const admin = new CacheAdmin(engine.store, config.timeoutMs);
  const middleware = function responseCacheMiddleware(req, res, next) {
    engine.handle(req, res, next);
  } as ResponseCacheMiddleware;
  middleware.invalidate = (tags) => {
    let list: string[];
    try {
      list = validateTags(tags, 'responseCache.invalidate');
    } catch (error) {
      return Promise.reject(error);
    }
    return admin.invalidate(list);
  };
  middleware.clear = () => admin.clear();
  middleware.stats = () => engine.stats();
  middleware.close = () => engine.store.close();
  return middleware;
}
