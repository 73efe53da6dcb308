// Cache scenarios: hits on a trivial JSON route, on a route that renders for 5 ms of CPU, and on one that waits
// 5 ms for I/O (a database, say).
import apicache from 'apicache-plus';
import express, { type Express, type RequestHandler } from 'express';
import { responseCache } from 'express-redis-kit';
import { ioredis } from '../lib/clients.js';
import { floorVariant } from '../lib/floor.js';
import type { Scenario, Variant } from '../lib/types.js';

const PRODUCT = {
  id: 42,
  name: 'Espresso cup',
  description: 'A thick-walled porcelain cup that keeps a double espresso hot.',
  priceCents: 1290,
  stock: 17,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Keeps the CPU busy for `ms`, as rendering a heavy page does. */
function render(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy: a cache hit saves exactly this
  }
}

export function productRoutes(app: Express, cache?: RequestHandler): Express {
  const before: RequestHandler[] = cache ? [cache] : [];
  app.get('/product', ...before, (_req, res) => {
    res.json(PRODUCT);
  });
  app.get('/rendered-product', ...before, (_req, res) => {
    render(5);
    res.json(PRODUCT);
  });
  app.get('/waiting-product', ...before, async (_req, res) => {
    await sleep(5);
    res.json(PRODUCT);
  });
  return app;
}

const bare: Variant = { name: 'bare express', kind: 'bare', app: () => productRoutes(express()) };

const ours: Variant = {
  name: 'express-redis-kit responseCache',
  kind: 'ours',
  app({ redisUrl, prefix }) {
    const cache = responseCache({ redis: ioredis(redisUrl), name: 'bench', prefix, ttl: '5m' });
    return productRoutes(express(), cache);
  },
};

/** The same, with fresh entries kept in memory (clientSideCaching). */
const oursFromMemory: Variant = {
  name: 'express-redis-kit responseCache, clientSideCaching',
  kind: 'ours',
  app({ redisUrl, prefix }) {
    const cache = responseCache({
      redis: ioredis(redisUrl),
      name: 'bench',
      prefix,
      ttl: '5m',
      clientSideCaching: true,
    });
    return productRoutes(express(), cache);
  },
};

const apicachePlus: Variant = {
  name: 'apicache-plus (ioredis)',
  kind: 'peer',
  app({ redisUrl }) {
    const cache = apicache.newInstance({ redisClient: ioredis(redisUrl), defaultDuration: '5 minutes' });
    return productRoutes(express(), cache.middleware('5 minutes') as RequestHandler);
  },
};

export const cacheTrivial: Scenario = {
  id: 'cache-hit',
  title: 'cache hit, trivial handler',
  path: '/product',
  goal: 1.0,
  variants: [bare, ours, oursFromMemory, apicachePlus, floorVariant(productRoutes)],
};

export const cacheRendered: Scenario = {
  id: 'cache-hit-5ms',
  title: 'cache hit, handler renders for 5 ms (CPU)',
  path: '/rendered-product',
  goal: 5.0,
  variants: [bare, ours, apicachePlus],
};

export const cacheWaiting: Scenario = {
  id: 'cache-hit-5ms-io',
  title: 'cache hit, handler waits 5 ms for I/O',
  path: '/waiting-product',
  variants: [bare, ours, apicachePlus],
};
