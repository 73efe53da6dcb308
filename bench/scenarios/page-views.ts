// Page-view scenario: an HTML route counted by pageViews (no peer package works this way).
import express, { type Express, type RequestHandler } from 'express';
import { pageViews } from 'express-redis-kit';
import { ioredis } from '../lib/clients.js';
import { finishListenerFloorVariant, passThroughVariant } from '../lib/floor.js';
import type { Scenario, Variant } from '../lib/types.js';

const PAGE =
  '<!doctype html><html><head><title>Espresso cup</title></head><body><h1>Espresso cup</h1></body></html>';

export function pageRoutes(app: Express): Express {
  // Behind a reverse proxy on loopback, as apps usually are: visitors differ by the address it forwards.
  app.set('trust proxy', 'loopback');
  app.get('/products/:id', (_req, res) => {
    res.type('html').send(PAGE);
  });
  return app;
}

/** The page routes behind one reference middleware. */
const behindMiddleware = (app: Express, middleware: RequestHandler): Express =>
  pageRoutes(app.use(middleware));

const bare: Variant = { name: 'bare express', kind: 'bare', app: () => pageRoutes(express()) };

const ours: Variant = {
  name: 'express-redis-kit pageViews',
  kind: 'ours',
  app({ redisUrl, prefix }) {
    const app = express();
    app.use(
      pageViews({ redis: ioredis(redisUrl), prefix, secret: 'bench-page-view-secret-of-32-characters' }),
    );
    return pageRoutes(app);
  },
};

export const pageViewsScenario: Scenario = {
  id: 'page-views',
  title: 'page views (tracked HTML route)',
  path: '/products/42',
  goal: 0.97,
  // Page views make no Redis call per request: their floor is a middleware that only waits for the response,
  // and below it one that only passes the request on (the cost of one more middleware in Express's router).
  variants: [bare, ours, finishListenerFloorVariant(behindMiddleware), passThroughVariant(behindMiddleware)],
  // 10,000 distinct visitors, as real traffic has: the visitor hash goes into HyperLogLogs.
  rotatingHeader: { name: 'x-forwarded-for', prefix: '2001:db8::', count: 10_000 },
};
