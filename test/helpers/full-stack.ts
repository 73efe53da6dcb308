// An Express app with all four middlewares on one client, for the cluster, fault and bad-input suites.
import express5, { type NextFunction, type Request, type Response } from 'express';
import type { Cluster, Redis } from 'ioredis';
import {
  type Duration,
  type Logger,
  type PageViewsMiddleware,
  pageViews,
  type RateLimitMiddleware,
  type ResponseCacheMiddleware,
  rateLimit,
  responseCache,
  type SessionMiddleware,
  session,
} from '../../src/index.js';
import type { ExpressFactory } from './express.js';

export const FULL_STACK_SECRET = 'full-stack-secret-0123456789-abcdefghijkl';
/** Product ids the app knows; others answer 404 (and are never cached). */
export const PRODUCT_IDS = ['1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;

/** A logger that keeps every line, so a suite can assert that no Redis error was swallowed by a policy. */
export interface RecordingLogger extends Logger {
  /** Each line with the time it was logged (ms). */
  readonly lines: {
    level: 'warn' | 'error';
    at: number;
    message: string;
    details?: Record<string, unknown>;
  }[];
  /** The lines that report a failure: every error line, and the warnings that name Redis. */
  redisErrors(): string[];
}

export function recordingLogger(): RecordingLogger {
  const lines: RecordingLogger['lines'] = [];
  return {
    lines,
    warn: (message, details) => {
      lines.push({ level: 'warn', at: Date.now(), message, ...(details ? { details } : {}) });
    },
    error: (message, details) => {
      lines.push({ level: 'error', at: Date.now(), message, ...(details ? { details } : {}) });
    },
    redisErrors: () =>
      lines
        // an error a policy absorbed may be logged in the middleware's own words ("could not store")
        .filter((l) => l.level === 'error' || /redis/i.test(l.message))
        .map((l) => `${l.message} ${JSON.stringify(l.details ?? {})}`),
  };
}

export interface FullStackOptions {
  redis: Redis | Cluster;
  /** Prefix of every key: the middlewares use `<prefix>sess:`, `<prefix>pv:`, `<prefix>rl:`, `<prefix>cache:`. */
  prefix: string;
  express?: ExpressFactory;
  /** Session policy when Redis fails (default: the middleware's default, fail-closed). */
  sessionPolicy?: 'fail-closed' | 'anonymous';
  /** Page-view flush interval (default 1 h: suites flush by hand). */
  flushInterval?: Duration;
  /** Requests per minute on `/api` (default 1,000). */
  apiLimit?: number;
  /** The `timeout` option of every middleware (default: the client's commandTimeout). */
  timeout?: Duration;
}

export interface FullStack {
  readonly app: ReturnType<ExpressFactory>;
  readonly sessions: SessionMiddleware;
  readonly views: PageViewsMiddleware;
  readonly limiter: RateLimitMiddleware;
  readonly cache: ResponseCacheMiddleware;
  readonly logger: RecordingLogger;
  /** Renders so far by the cached product route (a hit renders nothing). */
  renders(): number;
  /** Stops the limiter's stats timer and flushes page views (errors ignored). */
  close(): Promise<void>;
}

const page = (title: string, body: string, script: string) =>
  `<!doctype html><html><head><title>${title}</title></head><body>${body}${script}</body></html>`;

/**
 * Routes: `GET /` (reads the session), `GET /products/:id` (cached for visitors without a session cookie),
 * `POST /cart/:id` (writes the session), `GET /state`, `POST /sign-in/:user`, `POST /sign-out`,
 * `GET /api/items` (rate limited). Errors answer JSON with the error's status (sessions: 503).
 */
export function fullStackApp(options: FullStackOptions): FullStack {
  const { redis, prefix } = options;
  const express = options.express ?? (express5 as unknown as ExpressFactory);
  const logger = recordingLogger();
  const timeout = options.timeout === undefined ? {} : { timeout: options.timeout };
  let renders = 0;

  const views = pageViews({
    redis,
    prefix: `${prefix}pv:`,
    secret: FULL_STACK_SECRET,
    flushInterval: options.flushInterval ?? '1h',
    logger,
    ...timeout,
  });
  const sessions = session({
    redis,
    prefix: `${prefix}sess:`,
    secret: FULL_STACK_SECRET,
    logger,
    ...(options.sessionPolicy ? { onRedisError: options.sessionPolicy } : {}),
    ...timeout,
  });
  const limiter = rateLimit({
    redis,
    prefix: `${prefix}rl:`,
    name: 'api',
    limit: options.apiLimit ?? 1_000,
    window: '1m',
    rules: [{ limit: options.apiLimit ?? 1_000, window: '10s' }],
    logger,
    ...timeout,
  });
  const cache = responseCache({
    redis,
    prefix: `${prefix}cache:`,
    name: 'pages',
    ttl: '1m',
    statuses: [200],
    // Only known products make an entry: random ids cannot fill Redis.
    key: (req) => (PRODUCT_IDS.includes(req.params.id as never) ? `product:${req.params.id}` : undefined),
    tags: (req) => ['catalog', `product:${req.params.id}`],
    logger,
    ...timeout,
  });

  const app = express();
  app.disable('x-powered-by');
  app.use(views);
  app.use(sessions);
  app.get('/', (req, res) => {
    const cart = (req.session as { cart?: Record<string, number> }).cart ?? {};
    const items = Object.values(cart).reduce((a, b) => a + b, 0);
    res.type('html').send(page('Home', `<p>cart: ${items}</p>`, views.scriptTag(req)));
  });
  app.get('/products/:id', cache, (req, res) => {
    renders += 1;
    const id = String(req.params.id);
    if (!PRODUCT_IDS.includes(id as never)) {
      res
        .status(404)
        .type('html')
        .send(page('Not found', '<p>no such product</p>', ''));
      return;
    }
    res.type('html').send(page(`Product ${id}`, `<h1>Product ${id}</h1>`, views.scriptTag(req)));
  });
  app.post('/cart/:id', (req, res) => {
    const data = req.session as { cart?: Record<string, number> };
    const id = String(req.params.id);
    if (!PRODUCT_IDS.includes(id as never)) {
      res.status(404).json({ error: 'no such product' });
      return;
    }
    const cart = { ...data.cart };
    cart[id] = (cart[id] ?? 0) + 1;
    data.cart = cart;
    res.json({ cart });
  });
  app.get('/state', (req, res) => {
    res.json({
      cart: (req.session as { cart?: Record<string, number> }).cart ?? {},
      userId: req.session.userId ?? null,
      isNew: req.session.isNew,
      handle: req.session.handle,
    });
  });
  app.post('/sign-in/:user', (req, res, next) => {
    req.session
      .signIn(String(req.params.user))
      .then(() => res.json({ userId: req.session.userId, handle: req.session.handle }))
      .catch(next);
  });
  app.post('/sign-out', (req, res, next) => {
    req.session
      .signOut()
      .then(() => res.json({ userId: null }))
      .catch(next);
  });
  app.get('/api/items', limiter, (req, res) => {
    res.json({ items: PRODUCT_IDS, remaining: req.rateLimit?.remaining ?? null });
  });
  app.use(
    (
      error: Error & { status?: number; code?: string },
      _req: Request,
      res: Response,
      _next: NextFunction,
    ) => {
      if (res.headersSent) return;
      res.status(error.status ?? 500).json({ error: error.code ?? error.message });
    },
  );

  return {
    app,
    sessions,
    views,
    limiter,
    cache,
    logger,
    renders: () => renders,
    async close() {
      await limiter.close().catch(() => {});
      await views.close().catch(() => {});
    },
  };
}
