// Builds the shop: the express-redis-kit middlewares, the routes, and the order worker.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import {
  type Duration,
  ipKey,
  type PageViewsMiddleware,
  pageViews,
  type RateLimitMiddleware,
  type ResponseCacheMiddleware,
  rateLimit,
  responseCache,
  type SessionMiddleware,
  session,
} from 'express-redis-kit';
import './session-data.js';
import { verifyCsrf } from './middleware/csrf.js';
import { signInLimit } from './middleware/sign-in-limit.js';
import { createRenderer } from './render.js';
import { accountPages } from './routes/account.js';
import { adminPages } from './routes/admin.js';
import { apiRoutes } from './routes/api.js';
import { cartPages } from './routes/cart.js';
import { healthRoutes } from './routes/health.js';
import { catalogPages } from './routes/pages.js';
import type { ShopRedis } from './shop/catalog.js';
import { createShop, type Shop } from './shop/index.js';
import { OrderWorker } from './shop/order-worker.js';
import {
  errorPage,
  notFoundPage,
  signInLockedMessage,
  signInLockedPage,
  tooManyRequestsPage,
} from './views/errors.js';
import { raw } from './views/html.js';

export interface ShopOptions {
  redis: ShopRedis;
  /** Secrets that sign session cookies (first signs, all verify), each at least 32 characters. */
  sessionSecrets: string[];
  /** Secret that signs page-view tokens (at least 32 characters). */
  pageViewSecret: string;
  /** Prefix of every key the shop and its middlewares write (tests give each run its own). */
  prefix?: string;
  /** Start the order worker in this process (default true). */
  worker?: boolean;
  log?: (line: string) => void;
  /** Rate limits, per client (defaults: {@link DEFAULT_LIMITS}). */
  limits?: Partial<ShopLimits>;
}

export interface ShopLimits {
  /**
   * Failed sign-ins per account (over every IP address), and `perIp` per IP address (over every account),
   * within `window`. Correct passwords never count. `perIp` defaults to 50.
   */
  signIn: { limit: number; window: Duration; perIp?: number };
  /** API requests per IP address, plus a per-second burst limit. */
  api: { limit: number; window: Duration; perSecond: number };
  /** Orders per user (or IP address for guests). */
  checkout: { limit: number; window: Duration };
}

export const DEFAULT_LIMITS: ShopLimits = {
  signIn: { limit: 5, window: '15m' },
  api: { limit: 120, window: '1m', perSecond: 20 },
  checkout: { limit: 5, window: '1m' },
};

export interface ShopApp {
  app: Express;
  shop: Shop;
  sessions: SessionMiddleware;
  views: PageViewsMiddleware;
  limiters: RateLimitMiddleware[];
  caches: ResponseCacheMiddleware[];
  /** Stops the worker and flushes what the middlewares buffer. */
  close(): Promise<void>;
}

const publicDir = fileURLToPath(new URL('./public', import.meta.url));
const chartJsDir = dirname(createRequire(import.meta.url).resolve('chart.js'));

export async function createShopApp(options: ShopOptions): Promise<ShopApp> {
  const { redis, prefix = '', log = (line: string) => console.log(`[shop] ${line}`) } = options;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const shop = createShop(redis, `${prefix}shop:`);
  if (await shop.seedIfEmpty()) log('seeded the demo catalog and users');

  const logger = { warn: (m: string) => log(`warning: ${m}`), error: (m: string) => log(`error: ${m}`) };
  const sessions = session({ redis, secret: options.sessionSecrets, prefix: `${prefix}sess:`, logger });
  const views = pageViews({ redis, prefix: `${prefix}pv:`, secret: options.pageViewSecret, logger });
  const render = createRenderer(shop.carts, (req) => raw(views.scriptTag(req)));

  const friendly429 = (req: Request, res: Response, _next: NextFunction, info: { retryAfterMs?: number }) => {
    const seconds = Number.isFinite(info.retryAfterMs)
      ? Math.ceil((info.retryAfterMs ?? 0) / 1000)
      : undefined;
    return render(req, res, { title: 'Too many requests', body: tooManyRequestsPage(seconds), status: 429 });
  };
  const limiterBase = { redis, prefix: `${prefix}rl:`, logger };
  // Both count failed sign-ins only: the routes call `consume` when a password is wrong (sign-in-limit.ts).
  const signInAccountLimit = rateLimit({
    ...limiterBase,
    name: 'signin',
    limit: limits.signIn.limit,
    window: limits.signIn.window,
  });
  const signInIpLimit = rateLimit({
    ...limiterBase,
    name: 'signin-ip',
    limit: limits.signIn.perIp ?? 50,
    window: limits.signIn.window,
  });
  const signInGuard = signInLimit(signInAccountLimit, signInIpLimit, signInRefused(render), log);
  // The API smooths traffic rather than enforcing a quota: GCRA spaces requests out with bounded bursts, in
  // one small key per client. Sign-in and checkout are small exact quotas: the default sliding log.
  const apiLimit = rateLimit({
    ...limiterBase,
    name: 'api',
    algorithm: 'gcra',
    limit: limits.api.limit,
    window: limits.api.window,
    rules: [{ limit: limits.api.perSecond, window: '1s' }],
  });
  const checkoutLimit = rateLimit({
    ...limiterBase,
    name: 'checkout',
    ...limits.checkout,
    key: (req) => req.session.userId ?? ipKey(req),
    onLimited: friendly429,
  });

  // Catalog pages and product reads are cached for visitors without a session (a session cookie bypasses the
  // cache), tagged per product so a checkout that changes stock refreshes exactly the pages that show it.
  const productTags = (req: Request) =>
    req.params.id ? ['catalog', `product:${req.params.id}`] : ['catalog'];
  const cacheBase = { redis, prefix: `${prefix}cache:`, logger, tags: productTags };
  // Only pages of the catalog as seeded get entries: random ids, categories and query parameters are
  // rendered (an unknown product's 404 too) but never stored, so they cannot fill Redis. The demo catalog
  // only changes by re-seeding it with the same products.
  const known = {
    products: new Set((await shop.catalog.list()).map((product) => product.id)),
    categories: new Set(await shop.catalog.categories()),
  };
  /** Whether the catalog has the request's product (or the request names none) and knows its list filters. */
  const knownPage = (req: Request): boolean => {
    const id = req.params.id;
    if (id === undefined) return knownListQuery(req, known.categories);
    // A product page reads no parameter: `?sort=...` there would only make copies of it.
    return typeof id === 'string' && known.products.has(id) && !Object.keys(req.query).some(isListFilter);
  };
  const pageCache = responseCache({
    ...cacheBase,
    name: 'pages',
    ttl: '5m',
    staleWhileRevalidate: '30s',
    // The pages read these two parameters only: other parameters never make entries of their own.
    query: ['sort', 'category'],
    key: (req, key) => (knownPage(req) ? key : undefined),
  });
  const apiCache = responseCache({
    ...cacheBase,
    name: 'api',
    ttl: '1m',
    // The handlers ignore the query string, so it is not part of the key.
    query: [],
    key: (req, key) => (req.params.id === undefined || knownPage(req) ? key : undefined),
  });
  const caches = [pageCache, apiCache];
  const onStockChange = async (productIds: string[]) => {
    const tags = ['catalog', ...productIds.map((id) => `product:${id}`)];
    await Promise.all(caches.map((cache) => cache.invalidate(tags)));
  };

  const app = express();
  app.disable('x-powered-by');
  app.use('/static', express.static(publicDir, { maxAge: '1h' }));
  app.use('/vendor/chart.js', express.static(chartJsDir, { maxAge: '1d' }));
  app.use(healthRoutes(redis));
  // Before sessions: the page-view script and beacons need no session, so they cost no session round trip.
  app.use(views);
  app.use(sessions);
  app.use(
    '/api',
    apiRoutes({
      shop,
      limit: [apiLimit],
      signInLimit: signInGuard,
      checkoutLimit: [checkoutLimit],
      productCache: [apiCache],
      onStockChange,
    }),
  );
  app.use(express.urlencoded({ extended: false, limit: '8kb' }), emptyFormBody, verifyCsrf(render));
  app.use(catalogPages(shop, render, [pageCache]));
  app.use(cartPages({ shop, render, checkoutLimit: [checkoutLimit], onStockChange }));
  app.use(accountPages({ shop, render, sessions, signInLimit: signInGuard }));
  app.use(
    adminPages(
      {
        views,
        limiters: [signInAccountLimit, signInIpLimit, apiLimit, checkoutLimit],
        orders: shop.orders,
        cache: () => sumCacheStats(caches),
      },
      render,
    ),
  );

  app.use((req, res) => render(req, res, { title: 'Not found', body: notFoundPage(), status: 404 }));
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = (error as { status?: number }).status ?? 500;
    if (status >= 500) log(`error on ${req.method} ${req.originalUrl}: ${(error as Error).message}`);
    if (res.headersSent) return;
    const message =
      status === 503
        ? 'The shop cannot reach its database right now. Please try again shortly.'
        : 'That did not work.';
    res.status(status).type('html').send(errorPage(message).value);
  });

  const worker = new OrderWorker(redis, shop.keys, {
    log,
    onFulfilled: (order) =>
      log(`e-mail: order ${order.id} confirmed, total $${(order.totalCents / 100).toFixed(2)}`),
  });
  if (options.worker ?? true) {
    await worker.start();
    log(`order worker ${worker.consumer} is reading the order stream`);
  }

  const limiters = [signInAccountLimit, signInIpLimit, apiLimit, checkoutLimit];
  return {
    app,
    shop,
    sessions,
    views,
    limiters,
    caches,
    async close() {
      await worker.stop();
      await Promise.all([...limiters.map((l) => l.close()), views.close()]);
    },
  };
}

/** The sign-in refusal: an HTML page for the form, JSON for the API. */
function signInRefused(render: ReturnType<typeof createRenderer>) {
  return async (req: Request, res: Response, retryAfterMs: number) => {
    const minutes = Math.max(1, Math.ceil(retryAfterMs / 60_000));
    if (req.baseUrl === '/api') {
      res.status(429).json({ error: 'too_many_failed_sign_ins', message: signInLockedMessage(minutes) });
      return;
    }
    await render(req, res, { title: 'Sign-in locked', body: signInLockedPage(minutes), status: 429 });
  };
}

/**
 * Express 5 leaves `req.body` undefined when a post carries no form (no body, or another content type): the
 * form routes then see an empty form and answer 400, instead of throwing on `req.body.productId`.
 */
function emptyFormBody(req: Request, _res: Response, next: NextFunction): void {
  req.body ??= {};
  next();
}

/**
 * Whether a query parameter is one the page cache keys on: `sort` or `category`, or either with brackets
 * (`sort[]=...` is a name of its own to Express 5's parser, yet the cache keys on it as `sort`, as qs reads it).
 */
function isListFilter(name: string): boolean {
  return /^(?:sort|category)(?:\[|$)/.test(name);
}

/** Whether the list page's `sort` and `category` are absent or ones it knows (only those pages are stored). */
function knownListQuery(req: Request, categories: ReadonlySet<string>): boolean {
  const { sort, category } = req.query;
  if (Object.keys(req.query).some((name) => isListFilter(name) && name.includes('['))) return false;
  return (
    (sort === undefined ||
      (typeof sort === 'string' && ['name', 'price-asc', 'price-desc'].includes(sort))) &&
    (category === undefined || (typeof category === 'string' && categories.has(category)))
  );
}

function sumCacheStats(caches: ResponseCacheMiddleware[]) {
  const all = caches.map((cache) => cache.stats());
  const sum = (field: 'hits' | 'misses' | 'stale' | 'bypass' | 'stored') =>
    all.reduce((n, s) => n + s[field], 0);
  return {
    hits: sum('hits'),
    misses: sum('misses'),
    stale: sum('stale'),
    bypass: sum('bypass'),
    stored: sum('stored'),
  };
}
